//! Roster's domain: validated values, the records of an account's directory and the rules
//! that hold between them. Nothing here performs I/O or knows about HTTP or SQL.

mod account;
mod clock;
mod device;
mod email;
mod error;
mod event;
mod ids;
mod name;
mod password;
mod phone;
mod presence;
mod sip;
mod user;
mod version;
mod webhook;

pub use account::{Account, AccountSettings, ApiKey, RateLimit, TimeZoneName};
pub use clock::{Clock, ManualClock, SystemClock};
pub use device::{
    ContactUri, Device, DeviceChange, DeviceKind, DeviceName, DeviceStatus, NewDevice,
};
pub use email::Email;
pub use error::{Field, RuleError};
pub use event::{Event, EventKind, EventRecord};
pub use ids::{AccountSid, ApiKeyId, DeviceId, HexId, RegionName, UserId};
pub use name::{NamePolicy, PersonName};
pub use password::{SipCredentials, SipPassword};
pub use phone::E164;
pub use presence::{AgentState, Presence, PresenceSample};
pub use sip::SipUri;
pub use user::{NewUser, Role, User, UserChanges, UserFields};
pub use version::{Precondition, FIRST_VERSION};
pub use webhook::{Delivery, DeliveryStatus, Webhook};
