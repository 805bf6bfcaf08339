//! Where "now" comes from, injected so tests can hold time still or move it.

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;

/// A source of the current time, truncated to whole seconds as the wire shows it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let now = Timestamp::now();
        Timestamp::from_second(now.as_second()).unwrap_or(now)
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    second: AtomicI64,
}

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        Self {
            second: AtomicI64::new(at.as_second()),
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.second.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        let second = self.second.load(Ordering::SeqCst);
        Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH)
    }
}
