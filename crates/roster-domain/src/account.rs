//! Accounts: the tenants of a roster deployment, with the settings that gate their calls.

use jiff::{tz::TimeZone, Timestamp};

use crate::{AccountSid, ApiKeyId, RegionName};

/// An IANA time zone name, such as `Asia/Kolkata`, with the zone it names.
#[derive(Debug, Clone)]
pub struct TimeZoneName {
    name: String,
    zone: TimeZone,
}

impl TimeZoneName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let zone = TimeZone::get(raw).map_err(|_| "is not a known IANA time zone")?;
        Ok(Self {
            name: raw.to_owned(),
            zone,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Writes a moment as the wire shows it: RFC 3339 to the second in this zone's offset,
    /// such as `2021-07-26T18:27:24+05:30`.
    pub fn format(&self, at: Timestamp) -> String {
        let offset = self.zone.to_offset(at);
        let local = offset.to_datetime(at);
        let seconds = offset.seconds();
        let minutes = seconds.unsigned_abs() / 60;
        // Written digit by digit: every answer carries timestamps, and the general
        // formatting machinery costs several times more.
        let mut text = [0u8; 25];
        put_digits(&mut text[0..4], i64::from(local.year()).unsigned_abs());
        text[4] = b'-';
        put_digits(&mut text[5..7], local.month().unsigned_abs().into());
        text[7] = b'-';
        put_digits(&mut text[8..10], local.day().unsigned_abs().into());
        text[10] = b'T';
        put_digits(&mut text[11..13], local.hour().unsigned_abs().into());
        text[13] = b':';
        put_digits(&mut text[14..16], local.minute().unsigned_abs().into());
        text[16] = b':';
        put_digits(&mut text[17..19], local.second().unsigned_abs().into());
        text[19] = if seconds < 0 { b'-' } else { b'+' };
        put_digits(&mut text[20..22], (minutes / 60).into());
        text[22] = b':';
        put_digits(&mut text[23..25], (minutes % 60).into());
        text.iter().map(|&byte| char::from(byte)).collect()
    }
}

/// Fills `slot` with the last decimal digits of `value`, zero-padded.
fn put_digits(slot: &mut [u8], mut value: u64) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl PartialEq for TimeZoneName {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for TimeZoneName {}

/// An account's request budget per minute, shared by all its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit(u32);

impl RateLimit {
    pub const DEFAULT: RateLimit = RateLimit(200);

    pub fn new(per_minute: u32) -> Result<Self, &'static str> {
        if !(1..=1_000_000).contains(&per_minute) {
            return Err("must be from 1 to 1000000 requests a minute");
        }
        Ok(Self(per_minute))
    }

    pub fn per_minute(self) -> u32 {
        self.0
    }
}

/// An account and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub sid: AccountSid,
    pub name: String,
    pub region: RegionName,
    pub timezone: TimeZoneName,
    pub voip_enabled: bool,
    pub trial: bool,
    pub kyc_complete: bool,
    pub rate_limit: RateLimit,
    pub date_created: Timestamp,
    pub date_updated: Timestamp,
}

/// An API credential of an account. Only a keyed hash of the token is ever kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub account: AccountSid,
    pub token_hash: [u8; 32],
    pub date_created: Timestamp,
    pub date_revoked: Option<Timestamp>,
}

/// Settings to apply to an account: on create, the missing ones take their defaults; on
/// update, the missing ones keep their values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountSettings {
    pub name: Option<String>,
    pub region: Option<RegionName>,
    pub timezone: Option<TimeZoneName>,
    pub voip_enabled: Option<bool>,
    pub trial: Option<bool>,
    pub kyc_complete: Option<bool>,
    pub rate_limit: Option<RateLimit>,
}

impl Account {
    /// A new account with the defaults: region `local`, `Asia/Kolkata`, VOIP off, not a
    /// trial, KYC complete, 200 requests a minute.
    pub fn new(
        sid: AccountSid,
        settings: AccountSettings,
        now: Timestamp,
    ) -> Result<Self, &'static str> {
        let mut account = Account {
            name: sid.as_str().to_owned(),
            sid,
            region: RegionName::parse("local")?,
            timezone: TimeZoneName::parse("Asia/Kolkata")?,
            voip_enabled: false,
            trial: false,
            kyc_complete: true,
            rate_limit: RateLimit::DEFAULT,
            date_created: now,
            date_updated: now,
        };
        account.apply(settings, now);
        Ok(account)
    }

    /// Applies the settings that are present and, when anything changed, stamps the change.
    pub fn apply(&mut self, settings: AccountSettings, now: Timestamp) {
        let before = self.clone();
        let AccountSettings {
            name,
            region,
            timezone,
            voip_enabled,
            trial,
            kyc_complete,
            rate_limit,
        } = settings;
        if let Some(name) = name {
            self.name = name;
        }
        if let Some(region) = region {
            self.region = region;
        }
        if let Some(timezone) = timezone {
            self.timezone = timezone;
        }
        self.voip_enabled = voip_enabled.unwrap_or(self.voip_enabled);
        self.trial = trial.unwrap_or(self.trial);
        self.kyc_complete = kyc_complete.unwrap_or(self.kyc_complete);
        self.rate_limit = rate_limit.unwrap_or(self.rate_limit);
        if *self != before {
            self.date_updated = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_in_the_zones_offset() {
        let at: Timestamp = "2021-07-26T12:57:24Z".parse().unwrap();
        let kolkata = TimeZoneName::parse("Asia/Kolkata").unwrap();
        assert_eq!(kolkata.format(at), "2021-07-26T18:27:24+05:30");
        let new_york = TimeZoneName::parse("America/New_York").unwrap();
        assert_eq!(new_york.format(at), "2021-07-26T08:57:24-04:00");
        let utc = TimeZoneName::parse("UTC").unwrap();
        assert_eq!(utc.format(at), "2021-07-26T12:57:24+00:00");
    }

    #[test]
    fn the_digit_writer_agrees_with_the_formatting_machinery() {
        let zones = ["Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "UTC"];
        for zone in zones {
            let zone = TimeZoneName::parse(zone).unwrap();
            for second in (0..4_102_444_800_i64).step_by(7_919_993) {
                let at = Timestamp::from_second(second).unwrap();
                let expected = at
                    .to_zoned_datetime(zone.zone.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string();
                assert_eq!(zone.format(at), expected, "{second}");
            }
        }
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
        assert!(TimeZoneName::parse("").is_err());
    }

    #[test]
    fn new_accounts_take_the_documented_defaults() {
        let sid = AccountSid::parse("acme").unwrap();
        let account = Account::new(sid, AccountSettings::default(), Timestamp::UNIX_EPOCH).unwrap();
        assert_eq!(account.region.as_str(), "local");
        assert_eq!(account.timezone.as_str(), "Asia/Kolkata");
        assert_eq!(
            (account.voip_enabled, account.trial, account.kyc_complete),
            (false, false, true)
        );
        assert_eq!(account.rate_limit.per_minute(), 200);
    }

    #[test]
    fn rate_limits_must_be_positive() {
        assert!(RateLimit::new(0).is_err());
        assert!(RateLimit::new(1).is_ok());
    }
}
