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
    /// Checks a receiver URL: `http://` or `https://`, then a host (and port) without
    /// credentials, then an optional path, query or fragment; visible ASCII only (anything
    /// else must be percent-encoded), at most 2048 characters.
    pub fn check_url(url: &str) -> Result<(), &'static str> {
        if url.len() > 2048 || !url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be at most 2048 visible ASCII characters (percent-encode the rest)");
        }
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
        // Brackets only around an IPv6 address, as URLs write one, with an optional port.
        let host_ok = match authority.strip_prefix('[') {
            Some(rest) => rest.split_once(']').is_some_and(|(ip, after)| {
                ip.parse::<std::net::Ipv6Addr>().is_ok()
                    && (after.is_empty()
                        || after
                            .strip_prefix(':')
                            .is_some_and(|port| port.bytes().all(|b| b.is_ascii_digit())))
            }),
            None => !authority.contains(['[', ']']),
        };
        if !host_ok {
            return Err("must name a host: a name, an IPv4 address or an IPv6 one in brackets");
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
        assert!(Webhook::check_url("https://exämple.com/").is_err());
        assert!(Webhook::check_url("").is_err());
        assert!(Webhook::check_url("http://[::1]:9000/hook").is_ok());
        assert!(Webhook::check_url("http://[::1/hook").is_err());
        assert!(Webhook::check_url("http://[:::]/").is_err());
        assert!(Webhook::check_url("http://a]b/").is_err());
    }
}
