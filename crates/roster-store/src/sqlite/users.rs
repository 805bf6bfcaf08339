//! Users and their devices in SQLite.

use roster_domain::{
    AccountSid, ContactUri, Device, DeviceId, DeviceName, DeviceStatus, Email, NamePolicy, NewUser,
    PersonName, Role, User, UserFields, UserId,
};
use rusqlite::{Connection, OptionalExtension, Row};

use super::backend;
use super::rows::{optional_timestamp, stored, timestamp, write_error};
use crate::StoreError;

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
                 email_verified, role, date_created, date_updated, last_login)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL)",
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
        ))
        .map_err(write_error)?;

    let mut insert_device = conn
        .prepare_cached(
            "INSERT INTO devices (account_sid, id, user_id, contact_uri, name, verified, available,
                 busy, date_created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(backend)?;
    for device in user.devices.iter().flatten() {
        insert_device
            .execute((
                account.as_str(),
                device.id.get() as i64,
                &id,
                device.contact_uri.as_str(),
                device.name.as_str(),
                device.verified,
                device.available,
                device.status == DeviceStatus::Busy,
                user.date_created.as_second(),
            ))
            .map_err(write_error)?;
    }
    Ok(user)
}

pub(super) fn find(
    conn: &Connection,
    account: &AccountSid,
    id: UserId,
    fields: UserFields,
) -> Result<Option<User>, StoreError> {
    let id_text = id.to_string();
    let mut statement = conn
        .prepare_cached(
            "SELECT id, first_name, last_name, email, email_verified, role, date_created,
                 date_updated, last_login
             FROM users WHERE account_sid = ?1 AND id = ?2",
        )
        .map_err(backend)?;
    let row = statement
        .query_row((account.as_str(), &id_text), UserRow::read)
        .optional()
        .map_err(backend)?;
    let Some(row) = row else {
        return Ok(None);
    };

    let mut user = row.into_user()?;
    if fields.needs_devices() {
        user.devices = Some(devices_of(conn, account, id)?);
    }
    Ok(Some(user))
}

fn devices_of(
    conn: &Connection,
    account: &AccountSid,
    user: UserId,
) -> Result<Vec<Device>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT id, contact_uri, name, verified, available, busy
             FROM devices WHERE account_sid = ?1 AND user_id = ?2 ORDER BY id",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map((account.as_str(), user.to_string()), |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, bool>(3)?,
                row.get::<_, Option<bool>>(4)?,
                row.get::<_, bool>(5)?,
            ))
        })
        .map_err(backend)?;
    rows.map(|row| {
        let (id, contact, name, verified, available, busy) = row.map_err(backend)?;
        Ok(Device {
            id: stored(
                "device id",
                u64::try_from(id)
                    .map_err(|_| "negative")
                    .and_then(DeviceId::from_u64),
            )?,
            user_id: user,
            contact_uri: stored("device contact", ContactUri::parse(&contact))?,
            name: stored("device name", DeviceName::parse(&name))?,
            verified,
            available,
            status: if busy {
                DeviceStatus::Busy
            } else {
                DeviceStatus::Free
            },
        })
    })
    .collect()
}

/// A user row as read, before its values are checked.
struct UserRow {
    id: String,
    first_name: String,
    last_name: String,
    email: Option<String>,
    email_verified: bool,
    role: String,
    date_created: i64,
    date_updated: i64,
    last_login: Option<i64>,
}

impl UserRow {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            first_name: row.get(1)?,
            last_name: row.get(2)?,
            email: row.get(3)?,
            email_verified: row.get(4)?,
            role: row.get(5)?,
            date_created: row.get(6)?,
            date_updated: row.get(7)?,
            last_login: row.get(8)?,
        })
    }

    fn into_user(self) -> Result<User, StoreError> {
        // Stored names passed the policy in force when written; reading accepts the widest.
        let policy = NamePolicy::UnicodeLetters;
        Ok(User {
            id: stored("user id", UserId::parse(&self.id))?,
            first_name: stored("first name", PersonName::parse(&self.first_name, policy))?,
            last_name: stored("last name", PersonName::parse(&self.last_name, policy))?,
            email: self
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(|r| StoreError::corrupt(format!("email: {r}")))?,
            email_verified: self.email_verified,
            role: stored("role", Role::parse(&self.role))?,
            date_created: timestamp(self.date_created)?,
            date_updated: timestamp(self.date_updated)?,
            last_login: optional_timestamp(self.last_login)?,
            devices: None,
        })
    }
}
