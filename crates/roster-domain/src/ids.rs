//! Identifiers: account sids, user and device ids, API keys and region names.

use std::fmt;

use rand::Rng;

/// Writes the shared `Display`, `AsRef<str>` and `as_str` of a string newtype.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

/// An account's sid, as it appears in `/v2/accounts/{sid}`: 1 to 64 ASCII letters, digits,
/// `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountSid(String);

impl AccountSid {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() || raw.len() > 64 {
            return Err("must be 1 to 64 characters");
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err("may hold only ASCII letters, digits, '_' and '-'");
        }
        Ok(Self(raw.to_owned()))
    }
}

string_newtype!(AccountSid);

/// A deployment region's name, such as `local` or `mumbai`: 1 to 32 lower-case ASCII
/// letters, digits or `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegionName(String);

impl RegionName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let valid = (1..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err("must be 1 to 32 lower-case letters, digits or '-'");
        }
        Ok(Self(raw.to_owned()))
    }
}

string_newtype!(RegionName);

/// The public half of an API credential (the Basic auth user name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyId(String);

impl ApiKeyId {
    /// Makes a new key of 40 random lower-case hex characters.
    pub fn generate() -> Self {
        let bytes: [u8; 20] = rand::rng().random();
        Self(hex(&bytes))
    }

    /// Accepts any key a client could have been given: 1 to 128 ASCII letters and digits.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() || raw.len() > 128 || !raw.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("must be 1 to 128 ASCII letters and digits");
        }
        Ok(Self(raw.to_owned()))
    }
}

string_newtype!(ApiKeyId);

/// A user's id: a v4 UUID written as 32 lower-case hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(u128);

impl UserId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().as_u128())
    }

    /// Accepts exactly 32 lower-case hex characters, the only form roster ever hands out.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const BAD: &str = "must be 32 lower-case hex characters";
        if raw.len() != 32 {
            return Err(BAD);
        }
        raw.bytes()
            .try_fold(0u128, |value, byte| {
                let nibble = match byte {
                    b'0'..=b'9' => byte - b'0',
                    b'a'..=b'f' => byte - b'a' + 10,
                    _ => return Err(BAD),
                };
                Ok(value << 4 | u128::from(nibble))
            })
            .map(Self)
    }

    /// The id as the wire shows it, without going through the formatting machinery: ids
    /// are written on every answer.
    pub fn to_hex(self) -> HexId {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 32];
        for (at, slot) in hex.iter_mut().enumerate() {
            let shift = 4 * (31 - at);
            *slot = DIGITS[((self.0 >> shift) & 0xf) as usize];
        }
        HexId(hex)
    }
}

/// A user id's 32 hex characters, on the stack.
#[derive(Clone, Copy)]
pub struct HexId([u8; 32]);

impl HexId {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into it.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.to_hex().as_str())
    }
}

impl serde::Serialize for UserId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.to_hex().as_str())
    }
}

/// A device's id: a positive integer below 2^53, so JavaScript clients read it exactly.
///
/// Ids are made from the seconds since 2020 (32 bits, enough until 2156) and 21 random
/// bits, so several nodes can make them without talking to each other and ids grow with
/// time; the storage's unique key catches the rare clash (about one in four thousand
/// for two devices made in the same second) and the caller draws again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(u64);

impl DeviceId {
    /// The largest id plus one: 2^53.
    pub const LIMIT: u64 = 1 << 53;
    const EPOCH_SECOND: i64 = 1_577_836_800;
    const RANDOM_BITS: u32 = 21;

    pub fn generate(now: jiff::Timestamp) -> Self {
        let seconds = (now.as_second() - Self::EPOCH_SECOND).clamp(0, (1 << 32) - 1) as u64;
        let random: u64 = rand::rng().random_range(0..(1 << Self::RANDOM_BITS));
        Self(((seconds << Self::RANDOM_BITS) | random).max(1))
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let canonical =
            !raw.is_empty() && raw.len() <= 16 && raw.bytes().all(|b| b.is_ascii_digit());
        if !canonical {
            return Err("must be a positive whole number");
        }
        let value: u64 = raw.parse().map_err(|_| "must be a positive whole number")?;
        Self::from_u64(value)
    }

    pub fn from_u64(value: u64) -> Result<Self, &'static str> {
        if value == 0 || value >= Self::LIMIT {
            return Err("must be between 1 and 2^53 - 1");
        }
        Ok(Self(value))
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn user_ids_round_trip_through_their_text(raw in any::<u128>()) {
            let id = UserId(raw);
            prop_assert_eq!(UserId::parse(&id.to_string()), Ok(id));
        }

        #[test]
        fn user_id_parse_rejects_anything_but_32_lower_hex(raw in "\\PC{0,40}") {
            let canonical = raw.len() == 32
                && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            prop_assert_eq!(UserId::parse(&raw).is_ok(), canonical);
        }

        #[test]
        fn generated_device_ids_stay_below_two_to_the_53(second in 0i64..4_000_000_000) {
            let at = jiff::Timestamp::from_second(second).unwrap();
            let id = DeviceId::generate(at);
            prop_assert!(id.get() >= 1 && id.get() < DeviceId::LIMIT);
            prop_assert_eq!(DeviceId::parse(&id.to_string()), Ok(id));
        }

        #[test]
        fn account_sids_accept_exactly_their_alphabet(raw in "[A-Za-z0-9_-]{1,64}") {
            prop_assert!(AccountSid::parse(&raw).is_ok());
        }
    }

    #[test]
    fn generated_user_ids_are_32_lower_hex() {
        let text = UserId::generate().to_string();
        assert_eq!(text.len(), 32);
        assert!(text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    }

    #[test]
    fn device_ids_outside_the_javascript_safe_range_are_refused() {
        assert!(DeviceId::parse("0").is_err());
        assert!(DeviceId::parse("9007199254740992").is_err());
        assert!(DeviceId::parse("9007199254740991").is_ok());
        assert!(DeviceId::parse("+12").is_err());
        assert!(DeviceId::parse("-1").is_err());
    }

    #[test]
    fn account_sids_with_other_characters_are_refused() {
        for bad in ["", "a/b", "a b", "ä", &"a".repeat(65)] {
            assert!(AccountSid::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn api_keys_are_40_hex_characters() {
        let key = ApiKeyId::generate();
        assert_eq!(key.as_str().len(), 40);
        assert!(ApiKeyId::parse(key.as_str()).is_ok());
        assert!(ApiKeyId::parse("with:colon").is_err());
    }
}
