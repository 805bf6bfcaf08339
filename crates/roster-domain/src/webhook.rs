//! Webhooks: URLs an account's events are POSTed to, and what became of each delivery.

use jiff::Timestamp;

use crate::AccountSid;

/// A receiver of an account's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub account: AccountSid,
    /// `wh_` and 16 hex digits.
    pub id: String,
    /// An `http://` or `https://` URL.
    pub url: String,
    /// Signs every delivery; kept as given, since signing needs it (unlike API tokens,
    /// which only need checking).
    pub secret: String,
    /// The last event handled (delivered or parked); delivery goes on after it.
    pub cursor: u64,
    pub date_created: Timestamp,
}

impl Webhook {
    /// Checks a receiver URL: http or https, with a host, without credentials or spaces.
    pub fn check_url(url: &str) -> Result<(), &'static str> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .ok_or("must start with http:// or https://")?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() {
            return Err("must name a host");
        }
        if authority.contains('@') {
            return Err("must not carry credentials; the signature authenticates deliveries");
        }
        if url.len() > 2048 || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must be at most 2048 characters, without spaces");
        }
        Ok(())
    }
}

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed for as long as retries last; delivery went on without it.
    Parked,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Parked => "parked",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw {
            "delivered" => Ok(DeliveryStatus::Delivered),
            "parked" => Ok(DeliveryStatus::Parked),
            _ => Err("not a delivery status"),
        }
    }
}

/// One event's delivery to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub account: AccountSid,
    pub webhook_id: String,
    pub event_id: u64,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The receiver's last HTTP status, when it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_urls_are_http_with_a_host_and_no_credentials() {
        assert!(Webhook::check_url("https://hooks.example.com/roster").is_ok());
        assert!(Webhook::check_url("http://127.0.0.1:9000").is_ok());
        assert!(Webhook::check_url("ftp://example.com").is_err());
        assert!(Webhook::check_url("https:///path").is_err());
        assert!(Webhook::check_url("https://user:pw@example.com/").is_err());
        assert!(Webhook::check_url("https://example.com/a b").is_err());
    }
}
