//! The domain's parsers and rules on arbitrary text: none may panic, each accepted value
//! must have the shape its type promises, and what is rendered parses back to the same
//! value.
#![no_main]

use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;
use roster_domain::{
    AccountSid, ApiKeyId, ContactUri, Device, DeviceChange, DeviceId, DeviceKind, DeviceName,
    DeviceStatus, Email, NamePolicy, PersonName, RateLimit, RegionName, Role, SipPassword, SipUri,
    TimeZoneName, UserFields, UserId, E164,
};

fn names(text: &str) {
    let exotel = PersonName::parse(text, NamePolicy::Exotel);
    let unicode = PersonName::parse(text, NamePolicy::UnicodeLetters);
    if let Ok(name) = &exotel {
        assert_eq!(name.as_str(), text);
        assert!(
            unicode.is_ok(),
            "the wider policy refused what Exotel's accepts"
        );
    }
    if let Ok(name) = &unicode {
        assert_eq!(name.as_str(), text);
        assert!((3..=20).contains(&text.chars().count()));
        assert!(!text.starts_with(' ') && !text.ends_with(' '));
    }
    if let Ok(name) = DeviceName::parse(text) {
        assert_eq!(name.as_str(), text);
        assert!((1..=50).contains(&text.chars().count()));
        assert!(!text.chars().any(char::is_control));
    }
}

fn email(text: &str) {
    let Ok(email) = Email::parse(text) else {
        return;
    };
    assert_eq!(email.as_str(), text);
    assert!(text.len() <= 254);
    let (local, domain) = text.rsplit_once('@').expect("an accepted address has '@'");
    assert!((1..=64).contains(&local.len()) && domain.contains('.'));
    let folded = email.folded();
    assert_eq!(folded, text.to_ascii_lowercase());
    let again = Email::parse(&folded).expect("a folded address stays valid");
    assert_eq!(again.folded(), folded);
}

fn contacts(text: &str) {
    let number = E164::parse(text);
    if let Ok(number) = &number {
        let digits = number
            .as_str()
            .strip_prefix('+')
            .expect("E.164 starts with +");
        assert!((8..=15).contains(&digits.len()));
        assert!(digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'));
        assert_eq!(
            E164::parse(number.as_str()).as_ref(),
            Ok(number),
            "not idempotent"
        );
        let kept: String = text
            .chars()
            .filter(|c| *c == '+' || c.is_ascii_digit())
            .collect();
        assert_eq!(
            number.as_str(),
            kept,
            "normalising changed more than separators"
        );
    }
    let sip = SipUri::parse(text);
    if let Ok(uri) = &sip {
        assert_eq!(uri.as_str(), text);
        assert_eq!(uri.user(), &text[4..]);
        assert!(!uri.user().is_empty() && uri.user().len() <= 64);
        assert_eq!(SipUri::parse(&uri.to_string()).as_ref(), Ok(uri));
    }
    match ContactUri::parse(text) {
        Ok(contact) => {
            assert_eq!(ContactUri::parse(contact.as_str()).as_ref(), Ok(&contact));
            match &contact {
                ContactUri::Sip(uri) => {
                    assert_eq!(contact.kind(), DeviceKind::Sip);
                    assert_eq!(sip.as_ref(), Ok(uri));
                }
                ContactUri::Tel(tel) => {
                    assert_eq!(contact.kind(), DeviceKind::Tel);
                    assert_eq!(number.as_ref(), Ok(tel));
                }
            }
        }
        Err(_) => assert!(sip.is_err() && (text.starts_with("sip:") || number.is_err())),
    }
}

fn password(text: &str) {
    let Ok(password) = SipPassword::parse(text) else {
        return;
    };
    assert_eq!(password.expose(), text);
    assert!(text.chars().count() >= 8);
    assert_eq!(format!("{password:?}"), "SipPassword(redacted)");
}

fn ids(text: &str, bytes: &[u8]) {
    if let Ok(id) = UserId::parse(text) {
        assert_eq!(
            id.to_hex().as_str(),
            text,
            "a user id is shown as it was given"
        );
        assert_eq!(id.to_string(), text);
    }
    if bytes.len() >= 16 {
        let hex: String = bytes[..16].iter().map(|b| format!("{b:02x}")).collect();
        let id = UserId::parse(&hex).expect("32 lower-case hex digits are an id");
        assert_eq!(id.to_hex().as_str(), hex);
        assert_eq!(
            UserId::parse(&hex.to_uppercase()).is_ok(),
            !hex.bytes().any(|b| b.is_ascii_alphabetic())
        );
    }
    if let Ok(id) = DeviceId::parse(text) {
        assert!((1..DeviceId::LIMIT).contains(&id.get()));
        assert_eq!(DeviceId::parse(&id.to_string()), Ok(id));
        assert_eq!(text.trim_start_matches('0'), id.to_string());
    }
    if let Some(raw) = bytes.get(..8) {
        let value = u64::from_le_bytes(raw.try_into().expect("eight bytes"));
        let id = DeviceId::from_u64(value);
        assert_eq!(id.is_ok(), (1..DeviceId::LIMIT).contains(&value));
        if let Ok(id) = id {
            assert_eq!(DeviceId::parse(&id.to_string()), Ok(id));
        }
    }
    if let Ok(sid) = AccountSid::parse(text) {
        assert_eq!(sid.as_str(), text);
        assert!((1..=64).contains(&text.len()));
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    }
    if let Ok(region) = RegionName::parse(text) {
        assert_eq!(region.as_str(), text);
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    }
    if let Ok(key) = ApiKeyId::parse(text) {
        assert_eq!(key.as_str(), text);
        assert!(
            !text.contains(':'),
            "a key with ':' could not be sent in Basic auth"
        );
    }
    if let Ok(role) = Role::parse(text) {
        assert_eq!(role.as_str(), text);
    }
}

fn fields(text: &str) {
    let fields = UserFields::parse(text);
    let names: Vec<&str> = text.split(',').map(str::trim).collect();
    assert_eq!(fields.devices, names.contains(&"devices"));
    assert_eq!(fields.active_call, names.contains(&"active_call"));
    assert_eq!(fields.last_login, names.contains(&"last_login"));
    assert_eq!(fields.needs_devices(), fields.devices || fields.active_call);
}

/// Zones: an accepted name formats the moments roster stamps (years 2000 to 9998: records
/// are stamped with the clock's now) as RFC 3339 to the second, which reads back as the
/// same moment.
fn zone(text: &str, bytes: &[u8]) {
    let Ok(zone) = TimeZoneName::parse(text) else {
        return;
    };
    assert_eq!(zone.as_str(), text);
    let seconds = bytes
        .get(..8)
        .map(|raw| i64::from_le_bytes(raw.try_into().expect("eight bytes")))
        .unwrap_or(1_700_000_000);
    // 2000-01-01 to 9998-12-31 UTC.
    let first = 946_684_800;
    let last = 253_370_678_400;
    let second = first + seconds.rem_euclid(last - first);
    let at = Timestamp::from_second(second).expect("in range");
    let text = zone.format(at);
    assert_eq!(text.len(), 25, "{text}");
    let back: Timestamp = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(back, at, "{text}");
}

/// Device rules: whatever is asked, an unverified device is never ON, and a new number
/// leaves the device unverified.
fn device_rules(bytes: &[u8]) {
    let [a, b, ..] = bytes else { return };
    let sip = a & 1 == 1;
    let verified = sip || a & 2 == 2;
    let contact = if sip {
        "sip:asha1a2b3c4d"
    } else {
        "+919812345678"
    };
    let contact_uri = ContactUri::parse(contact).expect("fixed contact");
    let device = Device {
        id: DeviceId::from_u64(7).expect("fixed id"),
        user_id: UserId::parse("0123456789abcdef0123456789abcdef").expect("fixed id"),
        name: DeviceName::default_for(contact_uri.kind()),
        contact_uri,
        verified,
        available: verified.then_some(a & 4 == 4),
        status: DeviceStatus::Free,
        version: 3,
    };
    let available = match b % 3 {
        0 => None,
        1 => Some(false),
        _ => Some(true),
    };
    let number = match (b >> 2) % 3 {
        0 => None,
        1 => E164::parse("+919812345678").ok(),
        _ => E164::parse("+14155550100").ok(),
    };
    let change = DeviceChange {
        available,
        contact_uri: number.clone(),
    };
    let Ok(next) = device.apply(&change) else {
        return;
    };
    assert!(next.available.is_none() || next.verified, "{next:?}");
    // Versions are storage's to move.
    assert_eq!(next.version, device.version);
    assert!(next.available != Some(true) || next.verified);
    assert_eq!(next.kind(), device.kind());
    if let Some(number) = number {
        if number.as_str() != device.contact_uri.as_str() {
            assert!(!next.verified && next.available.is_none());
            assert_eq!(next.contact_uri.as_str(), number.as_str());
        }
    }
    let verified_again = next.verified();
    assert!(verified_again.verified && verified_again.available.is_some());
}

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    names(&text);
    email(&text);
    contacts(&text);
    password(&text);
    ids(&text, bytes);
    fields(&text);
    zone(&text, bytes);
    device_rules(bytes);
    if let Some(raw) = bytes.get(..4) {
        let value = u32::from_le_bytes(raw.try_into().expect("four bytes"));
        assert_eq!(
            RateLimit::new(value).is_ok(),
            (1..=1_000_000).contains(&value)
        );
    }
});
