//! Webhook rows as both backends read them.

use jiff::Timestamp;
use roster_domain::{AccountSid, Delivery, DeliveryStatus, Webhook};

use crate::rows::stored;
use crate::StoreError;

/// The webhook columns in the order [`WebhookRow`] takes them.
pub(crate) const WEBHOOK_COLUMNS: &str =
    "account_sid, id, url, secret, last_event_id, date_created";

/// The delivery columns in the order [`DeliveryRow`] takes them.
pub(crate) const DELIVERY_COLUMNS: &str =
    "account_sid, webhook_id, event_id, status, attempts, last_status, last_error, at_micros";

pub(crate) struct WebhookRow {
    pub(crate) account: String,
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) secret: String,
    pub(crate) last_event_id: i64,
    pub(crate) date_created: i64,
}

impl WebhookRow {
    pub(crate) fn into_webhook(self) -> Result<Webhook, StoreError> {
        Ok(Webhook {
            account: stored("webhook account", AccountSid::parse(&self.account))?,
            id: self.id,
            url: self.url,
            secret: self.secret,
            cursor: u64::try_from(self.last_event_id).unwrap_or(0),
            date_created: micros(self.date_created)?,
        })
    }
}

pub(crate) struct DeliveryRow {
    pub(crate) account: String,
    pub(crate) webhook_id: String,
    pub(crate) event_id: i64,
    pub(crate) status: String,
    pub(crate) attempts: i64,
    pub(crate) last_status: Option<i64>,
    pub(crate) last_error: Option<String>,
    pub(crate) at_micros: i64,
}

impl DeliveryRow {
    pub(crate) fn into_delivery(self) -> Result<Delivery, StoreError> {
        Ok(Delivery {
            account: stored("delivery account", AccountSid::parse(&self.account))?,
            webhook_id: self.webhook_id,
            event_id: u64::try_from(self.event_id).unwrap_or(0),
            status: stored("delivery status", DeliveryStatus::parse(&self.status))?,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            last_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: self.last_error,
            at: micros(self.at_micros)?,
        })
    }
}

pub(crate) fn micros(value: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(value)
        .map_err(|_| StoreError::corrupt(format!("timestamp {value}")))
}
