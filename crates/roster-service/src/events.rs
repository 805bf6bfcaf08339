//! Reading the account's change events, and forgetting old ones.

use jiff::{SignedDuration, Timestamp};
use roster_domain::{Account, Event};
use roster_store::EventBounds;

use crate::{Directory, ServiceError};

/// Most events read in one go; a stream reads again at once while it gets full pages.
pub const EVENT_PAGE: u32 = 500;

impl Directory {
    /// The account's events after `after`, oldest first, at most [`EVENT_PAGE`].
    pub async fn events_after(
        &self,
        account: &Account,
        after: u64,
    ) -> Result<Vec<Event>, ServiceError> {
        Ok(self.store.events(&account.sid, after, EVENT_PAGE).await?)
    }

    /// Where the account's event ids stand: the newest issued and the oldest kept.
    pub async fn event_bounds(&self, account: &Account) -> Result<EventBounds, ServiceError> {
        Ok(self.store.event_bounds(&account.sid).await?)
    }

    /// Forgets events older than `retention`; returns how many.
    pub async fn purge_events(&self, retention: SignedDuration) -> Result<u64, ServiceError> {
        let before = self
            .clock
            .now()
            .checked_sub(retention)
            .unwrap_or(Timestamp::MIN);
        Ok(self.store.purge_events(before).await?)
    }
}
