//! Users in PostgreSQL.

use jiff::Timestamp;
use roster_domain::{
    AccountSid, Email, EventKind, NewUser, Precondition, RuleError, User, UserChanges, UserFields,
    UserId,
};
use tokio_postgres::Row;

use super::{devices, events, pg, Db};
use crate::dashboard::contains_pattern;
use crate::events::Subject;
use crate::rows::UserRow;
use crate::{StoreError, UserPage, UserQuery};

const USER_COLUMNS: &str = "id, first_name, last_name, email, email_verified, role, date_created, \
     date_updated, last_login, version";

pub(super) async fn insert(
    db: &impl Db,
    account: &AccountSid,
    user: NewUser,
) -> Result<User, StoreError> {
    let user = user.into_user();
    let id = user.id.to_string();
    db.run(
        "INSERT INTO users (account_sid, id, first_name, last_name, email, email_folded,
             email_verified, role, date_created, date_updated, last_login, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11)",
        &[
            &account.as_str(),
            &id,
            &user.first_name.as_str(),
            &user.last_name.as_str(),
            &user.email.as_ref().map(Email::as_str),
            &user.email.as_ref().map(Email::folded),
            &user.email_verified,
            &user.role.as_str(),
            &user.date_created.as_second(),
            &user.date_updated.as_second(),
            &(user.version as i64),
        ],
    )
    .await?;
    for device in user.devices.iter().flatten() {
        devices::insert(db, account, user.id, device, user.date_created).await?;
    }
    let at = user.date_created;
    events::emit(
        db,
        account,
        EventKind::UserCreated,
        Subject::User(&user),
        at,
    )
    .await?;
    Ok(user)
}

pub(super) async fn find(
    db: &impl Db,
    account: &AccountSid,
    id: UserId,
    fields: UserFields,
) -> Result<Option<User>, StoreError> {
    if !fields.needs_devices() {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE account_sid = $1 AND id = $2");
        let row = db.row(&sql, &[&account.as_str(), &id.to_string()]).await?;
        return row.map(|row| read_user(&row)?.into_user()).transpose();
    }

    // One statement, so a concurrent delete is seen whole or not at all.
    let sql = "SELECT u.id, u.first_name, u.last_name, u.email, u.email_verified, u.role,
             u.date_created, u.date_updated, u.last_login, u.version,
             d.id, d.user_id, d.contact_uri, d.name, d.verified, d.available, d.busy, d.version
         FROM users u LEFT JOIN devices d ON d.account_sid = u.account_sid AND d.user_id = u.id
         WHERE u.account_sid = $1 AND u.id = $2 ORDER BY d.id";
    let rows = db.rows(sql, &[&account.as_str(), &id.to_string()]).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut user = read_user(first)?.into_user()?;
    let mut devices = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<_, Option<i64>>(10).map_err(pg)?.is_some() {
            devices.push(devices::read_device_at(row, 10)?.into_device()?);
        }
    }
    user.devices = Some(devices);
    Ok(Some(user))
}

pub(super) async fn list(
    db: &impl Db,
    account: &AccountSid,
    query: &UserQuery,
) -> Result<UserPage, StoreError> {
    // ILIKE folds case as the database's locale does: ASCII letters at least.
    let filter = "u.account_sid = $1
         AND ($2::text[] IS NULL OR u.email_folded = ANY($2))
         AND ($3::text[] IS NULL OR EXISTS (
             SELECT 1 FROM devices d
             WHERE d.account_sid = u.account_sid AND d.user_id = u.id AND d.contact_uri = ANY($3)))
         AND ($4::text IS NULL
             OR (u.first_name || ' ' || u.last_name) ILIKE $4 ESCAPE '\\'
             OR u.email ILIKE $4 ESCAPE '\\'
             OR EXISTS (SELECT 1 FROM devices d
                 WHERE d.account_sid = u.account_sid AND d.user_id = u.id
                   AND d.contact_uri ILIKE $4 ESCAPE '\\'))";
    let search = query.search.as_deref().map(contains_pattern);
    let count_sql = format!("SELECT COUNT(*) FROM users u WHERE {filter}");
    let total_row = db
        .row(
            &count_sql,
            &[&account.as_str(), &query.emails, &query.contacts, &search],
        )
        .await?;
    let total: i64 = total_row
        .map(|r| r.try_get(0))
        .transpose()
        .map_err(pg)?
        .unwrap_or_default();

    let page_sql = format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE {filter}
         ORDER BY u.date_created, u.id LIMIT $5 OFFSET $6"
    );
    let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
        &account.as_str(),
        &query.emails,
        &query.contacts,
        &search,
        &i64::from(query.limit),
        &offset,
    ];
    let rows = db.rows(&page_sql, &params).await?;
    let mut users = rows
        .iter()
        .map(|row| read_user(row)?.into_user())
        .collect::<Result<Vec<User>, _>>()?;

    if query.fields.needs_devices() && !users.is_empty() {
        let ids: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
        let mut grouped = devices::of_users(db, account, &ids).await?;
        for user in &mut users {
            user.devices = Some(grouped.remove(&user.id).unwrap_or_default());
        }
    }
    Ok(UserPage {
        total: u64::try_from(total).unwrap_or(0),
        users,
    })
}

pub(super) async fn update(
    db: &impl Db,
    account: &AccountSid,
    id: UserId,
    changes: &UserChanges,
    expect: &Precondition,
    at: Timestamp,
) -> Result<User, StoreError> {
    // FOR UPDATE serialises concurrent updates of one user, so none is lost.
    let sql =
        format!("SELECT {USER_COLUMNS} FROM users WHERE account_sid = $1 AND id = $2 FOR UPDATE");
    let row = db.row(&sql, &[&account.as_str(), &id.to_string()]).await?;
    let current = read_user(&row.ok_or(RuleError::UserNotFound)?)?.into_user()?;
    expect.check(current.version)?;
    let mut next = current.apply(changes)?;
    if next == current {
        return Ok(current);
    }
    next.date_updated = at;
    next.version = current.version + 1;
    db.run(
        "UPDATE users SET first_name = $3, last_name = $4, email = $5, email_folded = $6,
             date_updated = $7, version = $8
         WHERE account_sid = $1 AND id = $2",
        &[
            &account.as_str(),
            &id.to_string(),
            &next.first_name.as_str(),
            &next.last_name.as_str(),
            &next.email.as_ref().map(Email::as_str),
            &next.email.as_ref().map(Email::folded),
            &at.as_second(),
            &(next.version as i64),
        ],
    )
    .await?;
    updated(db, account, next, at).await
}

/// Records that the user changed, with its devices as they are now.
pub(super) async fn updated(
    db: &impl Db,
    account: &AccountSid,
    mut user: User,
    at: Timestamp,
) -> Result<User, StoreError> {
    user.devices = devices::list(db, account, user.id).await?;
    events::emit(
        db,
        account,
        EventKind::UserUpdated,
        Subject::User(&user),
        at,
    )
    .await?;
    Ok(user)
}

pub(super) async fn delete(
    db: &impl Db,
    account: &AccountSid,
    id: UserId,
    expect: &Precondition,
    at: Timestamp,
) -> Result<bool, StoreError> {
    // Locked, so nothing changes the user between the check and the delete; the event keeps
    // the user as it was.
    let sql =
        format!("SELECT {USER_COLUMNS} FROM users WHERE account_sid = $1 AND id = $2 FOR UPDATE");
    let Some(row) = db.row(&sql, &[&account.as_str(), &id.to_string()]).await? else {
        return Ok(false);
    };
    let mut user = read_user(&row)?.into_user()?;
    expect.check(user.version)?;
    user.devices = devices::list(db, account, id).await?;
    events::emit(
        db,
        account,
        EventKind::UserDeleted,
        Subject::User(&user),
        at,
    )
    .await?;
    let deleted = db
        .run(
            "DELETE FROM users WHERE account_sid = $1 AND id = $2",
            &[&account.as_str(), &id.to_string()],
        )
        .await?;
    Ok(deleted == 1)
}

pub(super) async fn record_login(
    db: &impl Db,
    account: &AccountSid,
    id: UserId,
    at: Timestamp,
) -> Result<Option<User>, StoreError> {
    db.run(
        "UPDATE users SET last_login = $3, version = version + 1 WHERE account_sid = $1 AND id = $2",
        &[&account.as_str(), &id.to_string(), &at.as_second()],
    )
    .await?;
    match find(db, account, id, UserFields::default()).await? {
        Some(user) => updated(db, account, user, at).await.map(Some),
        None => Ok(None),
    }
}

/// Locks the user for the rest of the transaction; `false` when there is none.
pub(super) async fn lock(
    db: &impl Db,
    account: &AccountSid,
    id: UserId,
) -> Result<bool, StoreError> {
    let row = db
        .row(
            "SELECT 1 FROM users WHERE account_sid = $1 AND id = $2 FOR UPDATE",
            &[&account.as_str(), &id.to_string()],
        )
        .await?;
    Ok(row.is_some())
}

/// Moves the user's `date_updated` and version, as every change to one of its devices does.
pub(super) async fn touch(
    db: &impl Db,
    account: &AccountSid,
    id: UserId,
    at: Timestamp,
) -> Result<(), StoreError> {
    db.run(
        "UPDATE users SET date_updated = $3, version = version + 1
         WHERE account_sid = $1 AND id = $2",
        &[&account.as_str(), &id.to_string(), &at.as_second()],
    )
    .await?;
    Ok(())
}

fn read_user(row: &Row) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        id: row.try_get(0).map_err(pg)?,
        first_name: row.try_get(1).map_err(pg)?,
        last_name: row.try_get(2).map_err(pg)?,
        email: row.try_get(3).map_err(pg)?,
        email_verified: row.try_get(4).map_err(pg)?,
        role: row.try_get(5).map_err(pg)?,
        date_created: row.try_get(6).map_err(pg)?,
        date_updated: row.try_get(7).map_err(pg)?,
        last_login: row.try_get(8).map_err(pg)?,
        version: row.try_get(9).map_err(pg)?,
    })
}
