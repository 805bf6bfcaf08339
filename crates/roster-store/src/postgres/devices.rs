//! Devices and softphone credentials in PostgreSQL.

use std::collections::HashMap;

use jiff::Timestamp;
use roster_domain::{
    AccountSid, ContactUri, Device, DeviceChange, DeviceId, DeviceStatus, EventKind, NewDevice,
    Precondition, RuleError, SipCredentials, SipUri, UserId,
};
use tokio_postgres::Row;

use super::{events, pg, users, Db};
use crate::events::Subject;
use crate::rows::{device_id, stored, DeviceRow};
use crate::StoreError;

const DEVICE_COLUMNS: &str = "id, user_id, contact_uri, name, verified, available, busy, version";

/// The devices of several users, grouped by user, each group by id.
pub(super) async fn of_users(
    db: &impl Db,
    account: &AccountSid,
    user_ids: &[String],
) -> Result<HashMap<UserId, Vec<Device>>, StoreError> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE account_sid = $1 AND user_id = ANY($2) ORDER BY id"
    );
    let rows = db.rows(&sql, &[&account.as_str(), &user_ids]).await?;
    let mut grouped: HashMap<UserId, Vec<Device>> = HashMap::new();
    for row in &rows {
        let device = read_device(row)?.into_device()?;
        grouped.entry(device.user_id).or_default().push(device);
    }
    Ok(grouped)
}

pub(super) async fn list(
    db: &impl Db,
    account: &AccountSid,
    user: UserId,
) -> Result<Option<Vec<Device>>, StoreError> {
    // One statement, so a user deleted meanwhile is missing rather than deviceless.
    let sql = "SELECT d.id, d.user_id, d.contact_uri, d.name, d.verified, d.available, d.busy,
             d.version
         FROM users u LEFT JOIN devices d ON d.account_sid = u.account_sid AND d.user_id = u.id
         WHERE u.account_sid = $1 AND u.id = $2 ORDER BY d.id";
    let rows = db
        .rows(sql, &[&account.as_str(), &user.to_string()])
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut devices = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.try_get::<_, Option<i64>>(0).map_err(pg)?.is_some() {
            devices.push(read_device(row)?.into_device()?);
        }
    }
    Ok(Some(devices))
}

pub(super) async fn insert(
    db: &impl Db,
    account: &AccountSid,
    user: UserId,
    device: &Device,
    at: Timestamp,
) -> Result<(), StoreError> {
    db.run(
        "INSERT INTO devices (account_sid, id, user_id, contact_uri, name, verified, available,
             busy, date_created, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &account.as_str(),
            &(device.id.get() as i64),
            &user.to_string(),
            &device.contact_uri.as_str(),
            &device.name.as_str(),
            &device.verified,
            &device.available,
            &(device.status == DeviceStatus::Busy),
            &at.as_second(),
            &(device.version as i64),
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn add(
    db: &impl Db,
    account: &AccountSid,
    user: UserId,
    device: &NewDevice,
    at: Timestamp,
) -> Result<Device, StoreError> {
    // Locked, as every change locks the user first: a delete of the user cannot slip in
    // between this check and the insert.
    if !users::lock(db, account, user).await? {
        return Err(RuleError::UserNotFound.into());
    }
    let device = device.clone().into_device(user);
    insert(db, account, user, &device, at).await?;
    users::touch(db, account, user, at).await?;
    events::emit(
        db,
        account,
        EventKind::DeviceCreated,
        Subject::Device(&device),
        at,
    )
    .await?;
    Ok(device)
}

pub(super) async fn update(
    db: &impl Db,
    account: &AccountSid,
    user: UserId,
    id: DeviceId,
    change: &DeviceChange,
    expect: &Precondition,
    at: Timestamp,
) -> Result<Device, StoreError> {
    let current = find_of_user(db, account, user, id).await?;
    expect.check(current.version)?;
    let next = current.apply(change)?;
    save_if_changed(db, account, &current, next, at).await
}

pub(super) async fn delete(
    db: &impl Db,
    account: &AccountSid,
    user: UserId,
    id: DeviceId,
    expect: &Precondition,
    at: Timestamp,
) -> Result<(), StoreError> {
    let current = find_of_user(db, account, user, id).await?;
    expect.check(current.version)?;
    events::emit(
        db,
        account,
        EventKind::DeviceDeleted,
        Subject::Device(&current),
        at,
    )
    .await?;
    db.run(
        "DELETE FROM devices WHERE account_sid = $1 AND id = $2",
        &[&account.as_str(), &(id.get() as i64)],
    )
    .await?;
    users::touch(db, account, user, at).await
}

pub(super) async fn verify(
    db: &impl Db,
    account: &AccountSid,
    contact: &ContactUri,
    at: Timestamp,
) -> Result<Option<Device>, StoreError> {
    let owner = db
        .row(
            "SELECT user_id, id FROM devices WHERE account_sid = $1 AND contact_uri = $2",
            &[&account.as_str(), &contact.as_str()],
        )
        .await?;
    let Some(current) = lock_found(db, account, owner).await? else {
        return Ok(None);
    };
    let next = current.verified();
    save_if_changed(db, account, &current, next, at)
        .await
        .map(Some)
}

pub(super) async fn set_busy(
    db: &impl Db,
    account: &AccountSid,
    id: DeviceId,
    busy: bool,
    at: Timestamp,
) -> Result<Option<Device>, StoreError> {
    let owner = db
        .row(
            "SELECT user_id, id FROM devices WHERE account_sid = $1 AND id = $2",
            &[&account.as_str(), &(id.get() as i64)],
        )
        .await?;
    let Some(current) = lock_found(db, account, owner).await? else {
        return Ok(None);
    };
    let mut next = current.clone();
    next.status = if busy {
        DeviceStatus::Busy
    } else {
        DeviceStatus::Free
    };
    save_if_changed(db, account, &current, next, at)
        .await
        .map(Some)
}

pub(super) async fn set_credentials(
    db: &impl Db,
    account: &AccountSid,
    credentials: &SipCredentials,
    at: Timestamp,
) -> Result<(), StoreError> {
    find_of_user(db, account, credentials.user_id, credentials.device_id).await?;
    db.run(
        "INSERT INTO sip_credentials (account_sid, device_id, username, realm, ha1_md5, ha1_sha256, date_updated)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (account_sid, device_id) DO UPDATE SET username = excluded.username,
             realm = excluded.realm, ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256,
             date_updated = excluded.date_updated",
        &[
            &account.as_str(),
            &(credentials.device_id.get() as i64),
            &credentials.username(),
            &credentials.realm,
            &credentials.ha1_md5,
            &credentials.ha1_sha256,
            &at.as_second(),
        ],
    )
    .await?;
    users::touch(db, account, credentials.user_id, at).await?;
    // The user's `date_updated` moved, so the change is recorded as the user's.
    let user = users::find(db, account, credentials.user_id, Default::default()).await?;
    if let Some(user) = user {
        users::updated(db, account, user, at).await?;
    }
    Ok(())
}

pub(super) async fn credentials(
    db: &impl Db,
    account: &AccountSid,
    username: &str,
) -> Result<Option<SipCredentials>, StoreError> {
    let row = db
        .row(
            "SELECT c.device_id, d.user_id, d.contact_uri, c.realm, c.ha1_md5, c.ha1_sha256
             FROM sip_credentials c
             JOIN devices d ON d.account_sid = c.account_sid AND d.id = c.device_id
             WHERE c.account_sid = $1 AND c.username = $2",
            &[&account.as_str(), &username],
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(SipCredentials {
        device_id: stored("device id", device_id(row.try_get(0).map_err(pg)?))?,
        user_id: stored("user id", UserId::parse(row.try_get(1).map_err(pg)?))?,
        contact_uri: stored("sip contact", SipUri::parse(row.try_get(2).map_err(pg)?))?,
        realm: row.try_get(3).map_err(pg)?,
        ha1_md5: row.try_get(4).map_err(pg)?,
        ha1_sha256: row.try_get(5).map_err(pg)?,
    }))
}

/// Locks a device found without a lock (its `user_id`, `id` row) the way every change
/// does, user first; `None` when it is gone by then.
async fn lock_found(
    db: &impl Db,
    account: &AccountSid,
    found: Option<Row>,
) -> Result<Option<Device>, StoreError> {
    let Some(found) = found else {
        return Ok(None);
    };
    let user: String = found.try_get(0).map_err(pg)?;
    let id: i64 = found.try_get(1).map_err(pg)?;
    let user = stored("device user", UserId::parse(&user))?;
    let id = stored("device id", device_id(id))?;
    match find_of_user(db, account, user, id).await {
        Ok(device) => Ok(Some(device)),
        Err(StoreError::Rule(RuleError::UserNotFound | RuleError::DeviceNotFound)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// The user's device, or the rule naming which is missing. Locks the user, then the
/// device, for the rest of the transaction: every change takes its locks in this order
/// (deleting a user locks the user before its devices), so changes never deadlock.
async fn find_of_user(
    db: &impl Db,
    account: &AccountSid,
    user: UserId,
    id: DeviceId,
) -> Result<Device, StoreError> {
    let user_sql = "SELECT 1 FROM users WHERE account_sid = $1 AND id = $2 FOR UPDATE";
    if db
        .row(user_sql, &[&account.as_str(), &user.to_string()])
        .await?
        .is_none()
    {
        return Err(RuleError::UserNotFound.into());
    }
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE account_sid = $1 AND user_id = $2 AND id = $3 FOR UPDATE"
    );
    let row = db
        .row(
            &sql,
            &[&account.as_str(), &user.to_string(), &(id.get() as i64)],
        )
        .await?;
    read_device(&row.ok_or(RuleError::DeviceNotFound)?)?.into_device()
}

/// Writes `next` over `current` when they differ, a version on, and moves its user's
/// `date_updated` and version; a change that changes nothing writes nothing.
async fn save_if_changed(
    db: &impl Db,
    account: &AccountSid,
    current: &Device,
    mut next: Device,
    at: Timestamp,
) -> Result<Device, StoreError> {
    if next == *current {
        return Ok(next);
    }
    next.version = current.version + 1;
    let device = &next;
    db.run(
        "UPDATE devices SET contact_uri = $3, verified = $4, available = $5, busy = $6,
             version = $7
         WHERE account_sid = $1 AND id = $2",
        &[
            &account.as_str(),
            &(device.id.get() as i64),
            &device.contact_uri.as_str(),
            &device.verified,
            &device.available,
            &(device.status == DeviceStatus::Busy),
            &(device.version as i64),
        ],
    )
    .await?;
    users::touch(db, account, device.user_id, at).await?;
    events::emit(
        db,
        account,
        EventKind::DeviceUpdated,
        Subject::Device(&next),
        at,
    )
    .await?;
    Ok(next)
}

fn read_device(row: &Row) -> Result<DeviceRow, StoreError> {
    read_device_at(row, 0)
}

/// Reads the device columns that start at column `at` (after a user's, in a join).
pub(super) fn read_device_at(row: &Row, at: usize) -> Result<DeviceRow, StoreError> {
    Ok(DeviceRow {
        id: row.try_get(at).map_err(pg)?,
        user_id: row.try_get(at + 1).map_err(pg)?,
        contact_uri: row.try_get(at + 2).map_err(pg)?,
        name: row.try_get(at + 3).map_err(pg)?,
        verified: row.try_get(at + 4).map_err(pg)?,
        available: row.try_get(at + 5).map_err(pg)?,
        busy: row.try_get(at + 6).map_err(pg)?,
        version: row.try_get(at + 7).map_err(pg)?,
    })
}
