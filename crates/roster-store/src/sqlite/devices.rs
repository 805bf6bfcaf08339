//! Devices and softphone credentials in SQLite.

use std::collections::HashMap;

use jiff::Timestamp;
use roster_domain::{
    AccountSid, ContactUri, Device, DeviceChange, DeviceId, DeviceStatus, EventKind, NewDevice,
    Precondition, RuleError, SipCredentials, SipUri, UserId,
};
use rusqlite::{Connection, OptionalExtension, Row};

use super::rows::write_error;
use super::{backend, events, users};
use crate::events::Subject;
use crate::rows::{device_id, stored, DeviceRow};
use crate::StoreError;

const DEVICE_COLUMNS: &str = "id, user_id, contact_uri, name, verified, available, busy, version";

/// The devices of several users (ids as a JSON array), grouped by user, each group by id.
pub(super) fn of_users(
    conn: &Connection,
    account: &AccountSid,
    user_ids: &str,
) -> Result<HashMap<UserId, Vec<Device>>, StoreError> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices
         WHERE account_sid = ?1 AND user_id IN (SELECT value FROM json_each(?2))
         ORDER BY user_id, id"
    );
    let mut statement = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = statement
        .query_map((account.as_str(), user_ids), read_device)
        .map_err(backend)?;
    let mut grouped: HashMap<UserId, Vec<Device>> = HashMap::new();
    for row in rows {
        let device = row.map_err(backend).and_then(DeviceRow::into_device)?;
        grouped.entry(device.user_id).or_default().push(device);
    }
    Ok(grouped)
}

pub(super) fn list(
    conn: &Connection,
    account: &AccountSid,
    user: UserId,
) -> Result<Option<Vec<Device>>, StoreError> {
    // One statement, so a user deleted meanwhile is missing rather than deviceless.
    let sql = "SELECT d.id, d.user_id, d.contact_uri, d.name, d.verified, d.available, d.busy,
             d.version
         FROM users u LEFT JOIN devices d ON d.account_sid = u.account_sid AND d.user_id = u.id
         WHERE u.account_sid = ?1 AND u.id = ?2 ORDER BY d.id";
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    let mut rows = statement
        .query((account.as_str(), user.to_string()))
        .map_err(backend)?;
    let mut devices = None;
    while let Some(row) = rows.next().map_err(backend)? {
        let found: &mut Vec<Device> = devices.get_or_insert_with(Vec::new);
        if row.get_ref(0).map_err(backend)?.data_type() != rusqlite::types::Type::Null {
            found.push(read_device(row).map_err(backend)?.into_device()?);
        }
    }
    Ok(devices)
}

pub(super) fn insert(
    conn: &Connection,
    account: &AccountSid,
    user: UserId,
    device: &Device,
    at: Timestamp,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO devices (account_sid, id, user_id, contact_uri, name, verified, available,
             busy, date_created, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut s| {
        s.execute((
            account.as_str(),
            device.id.get() as i64,
            user.to_string(),
            device.contact_uri.as_str(),
            device.name.as_str(),
            device.verified,
            device.available,
            device.status == DeviceStatus::Busy,
            at.as_second(),
            device.version as i64,
        ))
    })
    .map_err(write_error)?;
    Ok(())
}

pub(super) fn add(
    conn: &Connection,
    account: &AccountSid,
    user: UserId,
    device: &NewDevice,
    at: Timestamp,
) -> Result<Device, StoreError> {
    if !users::exists(conn, account, user)? {
        return Err(RuleError::UserNotFound.into());
    }
    let device = device.clone().into_device(user);
    insert(conn, account, user, &device, at)?;
    users::touch(conn, account, user, at)?;
    events::emit(
        conn,
        account,
        EventKind::DeviceCreated,
        Subject::Device(&device),
        at,
    )?;
    Ok(device)
}

pub(super) fn update(
    conn: &Connection,
    account: &AccountSid,
    user: UserId,
    id: DeviceId,
    change: &DeviceChange,
    expect: &Precondition,
    at: Timestamp,
) -> Result<Device, StoreError> {
    let current = find_of_user(conn, account, user, id)?;
    expect.check(current.version)?;
    let next = current.apply(change)?;
    save_if_changed(conn, account, &current, next, at)
}

pub(super) fn delete(
    conn: &Connection,
    account: &AccountSid,
    user: UserId,
    id: DeviceId,
    expect: &Precondition,
    at: Timestamp,
) -> Result<(), StoreError> {
    let current = find_of_user(conn, account, user, id)?;
    expect.check(current.version)?;
    events::emit(
        conn,
        account,
        EventKind::DeviceDeleted,
        Subject::Device(&current),
        at,
    )?;
    conn.execute(
        "DELETE FROM devices WHERE account_sid = ?1 AND id = ?2",
        (account.as_str(), id.get() as i64),
    )
    .map_err(write_error)?;
    users::touch(conn, account, user, at)
}

pub(super) fn verify(
    conn: &Connection,
    account: &AccountSid,
    contact: &ContactUri,
    at: Timestamp,
) -> Result<Option<Device>, StoreError> {
    let sql =
        format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE account_sid = ?1 AND contact_uri = ?2");
    let Some(current) = find_one(conn, &sql, (account.as_str(), contact.as_str()))? else {
        return Ok(None);
    };
    let next = current.verified();
    save_if_changed(conn, account, &current, next, at).map(Some)
}

pub(super) fn set_busy(
    conn: &Connection,
    account: &AccountSid,
    id: DeviceId,
    busy: bool,
    at: Timestamp,
) -> Result<Option<Device>, StoreError> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE account_sid = ?1 AND id = ?2");
    let Some(current) = find_one(conn, &sql, (account.as_str(), id.get() as i64))? else {
        return Ok(None);
    };
    let mut next = current.clone();
    next.status = if busy {
        DeviceStatus::Busy
    } else {
        DeviceStatus::Free
    };
    save_if_changed(conn, account, &current, next, at).map(Some)
}

pub(super) fn set_credentials(
    conn: &Connection,
    account: &AccountSid,
    credentials: &SipCredentials,
    at: Timestamp,
) -> Result<(), StoreError> {
    find_of_user(conn, account, credentials.user_id, credentials.device_id)?;
    conn.execute(
        "INSERT INTO sip_credentials (account_sid, device_id, username, realm, ha1_md5, ha1_sha256, date_updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (account_sid, device_id) DO UPDATE SET username = excluded.username,
             realm = excluded.realm, ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256,
             date_updated = excluded.date_updated",
        (
            account.as_str(),
            credentials.device_id.get() as i64,
            credentials.username(),
            &credentials.realm,
            &credentials.ha1_md5,
            &credentials.ha1_sha256,
            at.as_second(),
        ),
    )
    .map_err(write_error)?;
    users::touch(conn, account, credentials.user_id, at)?;
    // The user's `date_updated` moved, so the change is recorded as the user's.
    let user = users::find(conn, account, credentials.user_id, Default::default())?;
    if let Some(user) = user {
        users::updated(conn, account, user, at)?;
    }
    Ok(())
}

pub(super) fn credentials(
    conn: &Connection,
    account: &AccountSid,
    username: &str,
) -> Result<Option<SipCredentials>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT c.device_id, d.user_id, d.contact_uri, c.realm, c.ha1_md5, c.ha1_sha256
             FROM sip_credentials c
             JOIN devices d ON d.account_sid = c.account_sid AND d.id = c.device_id
             WHERE c.account_sid = ?1 AND c.username = ?2",
        )
        .and_then(|mut s| {
            s.query_row((account.as_str(), username), |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })
            .optional()
        })
        .map_err(backend)?;
    let Some((device, user, contact, realm, ha1_md5, ha1_sha256)) = row else {
        return Ok(None);
    };
    Ok(Some(SipCredentials {
        device_id: stored("device id", device_id(device))?,
        user_id: stored("user id", UserId::parse(&user))?,
        contact_uri: stored("sip contact", SipUri::parse(&contact))?,
        realm,
        ha1_md5,
        ha1_sha256,
    }))
}

/// The user's device, or the rule naming which of the two is missing.
fn find_of_user(
    conn: &Connection,
    account: &AccountSid,
    user: UserId,
    id: DeviceId,
) -> Result<Device, StoreError> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS} FROM devices WHERE account_sid = ?1 AND user_id = ?2 AND id = ?3"
    );
    if let Some(device) = find_one(
        conn,
        &sql,
        (account.as_str(), user.to_string(), id.get() as i64),
    )? {
        return Ok(device);
    }
    if users::exists(conn, account, user)? {
        Err(RuleError::DeviceNotFound.into())
    } else {
        Err(RuleError::UserNotFound.into())
    }
}

fn find_one(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<Device>, StoreError> {
    let mut statement = conn.prepare_cached(sql).map_err(backend)?;
    let row = statement
        .query_row(params, read_device)
        .optional()
        .map_err(backend)?;
    row.map(DeviceRow::into_device).transpose()
}

/// Writes `next` over `current` when they differ, a version on, and moves its user's
/// `date_updated` and version; a change that changes nothing writes nothing.
fn save_if_changed(
    conn: &Connection,
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
    conn.prepare_cached(
        "UPDATE devices SET contact_uri = ?3, verified = ?4, available = ?5, busy = ?6,
             version = ?7
         WHERE account_sid = ?1 AND id = ?2",
    )
    .and_then(|mut s| {
        s.execute((
            account.as_str(),
            device.id.get() as i64,
            device.contact_uri.as_str(),
            device.verified,
            device.available,
            device.status == DeviceStatus::Busy,
            device.version as i64,
        ))
    })
    .map_err(write_error)?;
    users::touch(conn, account, device.user_id, at)?;
    events::emit(
        conn,
        account,
        EventKind::DeviceUpdated,
        Subject::Device(&next),
        at,
    )?;
    Ok(next)
}

fn read_device(row: &Row<'_>) -> rusqlite::Result<DeviceRow> {
    read_device_at(row, 0)
}

/// Reads the device columns that start at column `at` (after a user's, in a join).
pub(super) fn read_device_at(row: &Row<'_>, at: usize) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        id: row.get(at)?,
        user_id: row.get(at + 1)?,
        contact_uri: row.get(at + 2)?,
        name: row.get(at + 3)?,
        verified: row.get(at + 4)?,
        available: row.get(at + 5)?,
        busy: row.get(at + 6)?,
        version: row.get(at + 7)?,
    })
}
