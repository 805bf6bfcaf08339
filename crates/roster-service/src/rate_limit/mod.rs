//! Per-account request budgets. A budget is a count per wall-clock minute, so every node
//! can agree on the window without talking, and the whole budget may be spent at once.

mod shared;

pub use shared::SharedRateLimiter;

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;
use roster_domain::{AccountSid, RateLimit};

/// What the limiter decided for one request, with what the rate headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    /// Requests still allowed in this window after this one (0 when refused).
    pub remaining: u32,
    /// Epoch second when the budget refills.
    pub reset: i64,
}

impl RateDecision {
    /// Seconds a refused client should wait, at least 1.
    pub fn retry_after(&self, now: Timestamp) -> i64 {
        (self.reset - now.as_second()).max(1)
    }
}

/// Counts requests against an account's budget.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    async fn acquire(&self, account: &AccountSid, limit: RateLimit, now: Timestamp)
        -> RateDecision;
}

/// A budget kept in this process's memory: exact on one node.
#[derive(Debug, Default)]
pub struct LocalRateLimiter {
    windows: Mutex<HashMap<AccountSid, (i64, u32)>>,
}

impl LocalRateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The decision, as a plain function of the counter so tests can drive it.
    pub fn decide(&self, key: &AccountSid, limit: RateLimit, now: Timestamp) -> RateDecision {
        let window = now.as_second().div_euclid(60);
        let reset = (window + 1) * 60;
        let limit = limit.per_minute();
        let Ok(mut windows) = self.windows.lock() else {
            // A poisoned lock means a panic elsewhere; refusing nothing beats refusing all.
            return RateDecision {
                allowed: true,
                limit,
                remaining: limit,
                reset,
            };
        };
        if !windows.contains_key(key) {
            windows.insert(key.clone(), (window, 0));
        }
        let Some(entry) = windows.get_mut(key) else {
            return RateDecision {
                allowed: true,
                limit,
                remaining: limit,
                reset,
            };
        };
        if entry.0 != window {
            *entry = (window, 0);
        }
        if entry.1 >= limit {
            return RateDecision {
                allowed: false,
                limit,
                remaining: 0,
                reset,
            };
        }
        entry.1 += 1;
        RateDecision {
            allowed: true,
            limit,
            remaining: limit - entry.1,
            reset,
        }
    }
}

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn acquire(
        &self,
        account: &AccountSid,
        limit: RateLimit,
        now: Timestamp,
    ) -> RateDecision {
        self.decide(account, limit, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_budget_can_be_spent_at_once_then_refills_next_minute() {
        let limiter = LocalRateLimiter::new();
        let sid = AccountSid::parse("acme").unwrap();
        let limit = RateLimit::new(3).unwrap();
        let start = Timestamp::from_second(1_700_000_080).unwrap();

        let remaining: Vec<u32> = (0..3)
            .map(|_| limiter.decide(&sid, limit, start).remaining)
            .collect();
        let refused = limiter.decide(&sid, limit, start);
        let next_minute =
            limiter.decide(&sid, limit, Timestamp::from_second(1_700_000_100).unwrap());

        assert_eq!(remaining, [2, 1, 0]);
        assert!(!refused.allowed);
        assert_eq!(
            (refused.reset, refused.retry_after(start)),
            (1_700_000_100, 20)
        );
        assert!(next_minute.allowed && next_minute.remaining == 2);
    }

    #[test]
    fn accounts_have_separate_budgets() {
        let limiter = LocalRateLimiter::new();
        let limit = RateLimit::new(1).unwrap();
        let now = Timestamp::from_second(0).unwrap();
        assert!(
            limiter
                .decide(&AccountSid::parse("a").unwrap(), limit, now)
                .allowed
        );
        assert!(
            limiter
                .decide(&AccountSid::parse("b").unwrap(), limit, now)
                .allowed
        );
        assert!(
            !limiter
                .decide(&AccountSid::parse("a").unwrap(), limit, now)
                .allowed
        );
    }
}
