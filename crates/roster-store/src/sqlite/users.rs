//! Users and their devices in SQLite.

use roster_domain::{
    AccountSid, Email, EventKind, NewUser, Precondition, RuleError, User, UserChanges, UserFields,
    UserId,
};
use rusqlite::{Connection, OptionalExtension, Row};

use super::rows::write_error;
use super::{backend, devices, events};
use crate::dashboard::contains_pattern;
use crate::events::Subject;
use crate::rows::UserRow;
use crate::{StoreError, UserPage, UserQuery};
use jiff::Timestamp;

pub(super) fn insert(
    conn: &Connection,
    account: &AccountSid,
    user: NewUser,
) -> Result<User, StoreError> {
    let user = user.into_user();
    let id = user.id.to_string();
    let mut insert_user = conn
        .prepare_cached(
            "INSERT INTO users (account_sid, id, first_name, last_name, email, email_folded,
                 email_verified, role, date_created, date_updated, last_login, version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, ?11)",
        )
        .map_err(backend)?;
    insert_user
        .execute((
            account.as_str(),
            &id,
            user.first_name.as_str(),
            user.last_name.as_str(),
            user.email.as_ref().map(Email::as_str),
            user.email.as_ref().map(Email::folded),
            user.email_verified,
            user.role.as_str(),
            user.date_created.as_second(),
            user.date_updated.as_second(),
            user.version as i64,
        ))
        .map_err(write_error)?;

    for device in user.devices.iter().flatten() {
        devices::insert(conn, account, user.id, device, user.date_created)?;
    }
    let at = user.date_created;
    events::emit(
        conn,
        account,
        EventKind::UserCreated,
        Subject::User(&user),
        at,
    )?;
    Ok(user)
}

pub(super) fn find(
    conn: &Connection,
    account: &AccountSid,
    id: UserId,
    fields: UserFields,
) -> Result<Option<User>, StoreError> {
    let id_hex = id.to_hex();
    let id_text = id_hex.as_str();
    if fields.needs_devices() {
        return find_with_devices(conn, account, id_text);
    }
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE account_sid = ?1 AND id = ?2"
        ))
        .map_err(backend)?;
    let row = statement
        .query_row((account.as_str(), id_text), read_user)
        .optional()
        .map_err(backend)?;
    row.map(UserRow::into_user).transpose()
}

/// The user and its devices in one statement: one snapshot, so a concurrent delete is seen
/// whole or not at all, and one pass over the indexes.
fn find_with_devices(
    conn: &Connection,
    account: &AccountSid,
    id: &str,
) -> Result<Option<User>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT u.id, u.first_name, u.last_name, u.email, u.email_verified, u.role,
                 u.date_created, u.date_updated, u.last_login, u.version,
                 d.id, d.user_id, d.contact_uri, d.name, d.verified, d.available, d.busy,
                 d.version
             FROM users u LEFT JOIN devices d ON d.account_sid = u.account_sid AND d.user_id = u.id
             WHERE u.account_sid = ?1 AND u.id = ?2 ORDER BY d.id",
        )
        .map_err(backend)?;
    let mut rows = statement.query((account.as_str(), id)).map_err(backend)?;
    let mut user: Option<User> = None;
    while let Some(row) = rows.next().map_err(backend)? {
        let found = match &mut user {
            Some(found) => found,
            None => user.insert(read_user(row).map_err(backend)?.into_user()?),
        };
        if row.get_ref(10).map_err(backend)?.data_type() != rusqlite::types::Type::Null {
            let device = devices::read_device_at(row, 10)
                .map_err(backend)?
                .into_device()?;
            found.devices.get_or_insert_with(Vec::new).push(device);
        }
    }
    if let Some(found) = &mut user {
        found.devices.get_or_insert_with(Vec::new);
    }
    Ok(user)
}

/// The user columns in the order [`read_user`] reads them.
const USER_COLUMNS: &str = "id, first_name, last_name, email, email_verified, role, date_created, \
     date_updated, last_login, version";

pub(super) fn list(
    conn: &Connection,
    account: &AccountSid,
    query: &UserQuery,
) -> Result<UserPage, StoreError> {
    // One read transaction, so the count and the page come from the same snapshot.
    let tx = conn.unchecked_transaction().map_err(backend)?;
    let emails = query.emails.as_deref().map(json_array);
    let contacts = query.contacts.as_deref().map(json_array);
    // Only the filters asked for are in the statement: a generic `?2 IS NULL OR ...`
    // would be evaluated on every row the count walks.
    let mut filter = String::from("u.account_sid = ?1");
    let mut used = 1;
    if emails.is_some() {
        filter.push_str(" AND u.email_folded IN (SELECT value FROM json_each(?2))");
        used = 2;
    }
    if contacts.is_some() {
        filter.push_str(
            " AND EXISTS (SELECT 1 FROM devices d
                 WHERE d.account_sid = u.account_sid AND d.user_id = u.id
                   AND d.contact_uri IN (SELECT value FROM json_each(?3)))",
        );
        used = 3;
    }
    let search = query.search.as_deref().map(contains_pattern);
    if search.is_some() {
        // SQLite's LIKE ignores the case of ASCII letters only.
        filter.push_str(
            " AND ((u.first_name || ' ' || u.last_name) LIKE ?4 ESCAPE '\\'
                 OR u.email LIKE ?4 ESCAPE '\\'
                 OR EXISTS (SELECT 1 FROM devices d
                     WHERE d.account_sid = u.account_sid AND d.user_id = u.id
                       AND d.contact_uri LIKE ?4 ESCAPE '\\'))",
        );
        used = 4;
    }
    let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
    let limit = i64::from(query.limit);
    let values: [&dyn rusqlite::ToSql; 6] = [
        &account.as_str(),
        &emails,
        &contacts,
        &search,
        &limit,
        &offset,
    ];

    let count_sql = format!("SELECT COUNT(*) FROM users u WHERE {filter}");
    let total: i64 = tx
        .prepare_cached(&count_sql)
        .and_then(|mut s| s.query_row(&values[..used], |row| row.get(0)))
        .map_err(backend)?;

    let page_sql = format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE {filter}
         ORDER BY u.date_created, u.id LIMIT ?5 OFFSET ?6"
    );
    let mut statement = tx.prepare_cached(&page_sql).map_err(backend)?;
    let rows = statement
        .query_map(&values[..], read_user)
        .map_err(backend)?;
    let mut users = rows
        .map(|row| row.map_err(backend).and_then(UserRow::into_user))
        .collect::<Result<Vec<User>, StoreError>>()?;
    drop(statement);

    if query.fields.needs_devices() && !users.is_empty() {
        let ids: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
        let mut devices = devices::of_users(&tx, account, &json_array(&ids))?;
        for user in &mut users {
            user.devices = Some(devices.remove(&user.id).unwrap_or_default());
        }
    }
    Ok(UserPage {
        total: u64::try_from(total).unwrap_or(0),
        users,
    })
}

pub(super) fn update(
    conn: &Connection,
    account: &AccountSid,
    id: UserId,
    changes: &UserChanges,
    expect: &Precondition,
    at: Timestamp,
) -> Result<User, StoreError> {
    let current = find(conn, account, id, UserFields::default())?.ok_or(RuleError::UserNotFound)?;
    expect.check(current.version)?;
    let mut next = current.apply(changes)?;
    if next == current {
        return Ok(current);
    }
    next.date_updated = at;
    next.version = current.version + 1;
    conn.prepare_cached(
        "UPDATE users SET first_name = ?3, last_name = ?4, email = ?5, email_folded = ?6,
             date_updated = ?7, version = ?8
         WHERE account_sid = ?1 AND id = ?2",
    )
    .and_then(|mut s| {
        s.execute((
            account.as_str(),
            id.to_string(),
            next.first_name.as_str(),
            next.last_name.as_str(),
            next.email.as_ref().map(Email::as_str),
            next.email.as_ref().map(Email::folded),
            at.as_second(),
            next.version as i64,
        ))
    })
    .map_err(write_error)?;
    updated(conn, account, next, at)
}

/// Records that the user changed, with its devices as they are now.
pub(super) fn updated(
    conn: &Connection,
    account: &AccountSid,
    mut user: User,
    at: Timestamp,
) -> Result<User, StoreError> {
    user.devices = devices::list(conn, account, user.id)?;
    events::emit(
        conn,
        account,
        EventKind::UserUpdated,
        Subject::User(&user),
        at,
    )?;
    Ok(user)
}

pub(super) fn delete(
    conn: &Connection,
    account: &AccountSid,
    id: UserId,
    expect: &Precondition,
    at: Timestamp,
) -> Result<bool, StoreError> {
    // Inside the writer's transaction, so nothing changes between the check and the delete;
    // the event keeps the user as it was.
    let Some(user) = find(conn, account, id, UserFields::parse("devices"))? else {
        return Ok(false);
    };
    expect.check(user.version)?;
    events::emit(
        conn,
        account,
        EventKind::UserDeleted,
        Subject::User(&user),
        at,
    )?;
    let deleted = conn
        .execute(
            "DELETE FROM users WHERE account_sid = ?1 AND id = ?2",
            (account.as_str(), id.to_string()),
        )
        .map_err(write_error)?;
    Ok(deleted == 1)
}

pub(super) fn record_login(
    conn: &Connection,
    account: &AccountSid,
    id: UserId,
    at: Timestamp,
) -> Result<Option<User>, StoreError> {
    conn.execute(
        "UPDATE users SET last_login = ?3, version = version + 1 WHERE account_sid = ?1 AND id = ?2",
        (account.as_str(), id.to_string(), at.as_second()),
    )
    .map_err(write_error)?;
    find(conn, account, id, UserFields::default())?
        .map(|user| updated(conn, account, user, at))
        .transpose()
}

/// Whether the account has this user.
pub(super) fn exists(
    conn: &Connection,
    account: &AccountSid,
    id: UserId,
) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM users WHERE account_sid = ?1 AND id = ?2")
        .and_then(|mut s| s.exists((account.as_str(), id.to_string())))
        .map_err(backend)
}

/// Moves the user's `date_updated` and version, as every change to one of its devices does.
pub(super) fn touch(
    conn: &Connection,
    account: &AccountSid,
    id: UserId,
    at: Timestamp,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE users SET date_updated = ?3, version = version + 1
         WHERE account_sid = ?1 AND id = ?2",
    )
    .and_then(|mut s| s.execute((account.as_str(), id.to_string(), at.as_second())))
    .map_err(write_error)?;
    Ok(())
}

/// A JSON array of strings, for `json_each` to turn into a set inside one bound parameter.
pub(super) fn json_array(values: &[String]) -> String {
    let mut out = String::from("[");
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

fn read_user(row: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        first_name: row.get(1)?,
        last_name: row.get(2)?,
        email: row.get(3)?,
        email_verified: row.get(4)?,
        role: row.get(5)?,
        date_created: row.get(6)?,
        date_updated: row.get(7)?,
        last_login: row.get(8)?,
        version: row.get(9)?,
    })
}
