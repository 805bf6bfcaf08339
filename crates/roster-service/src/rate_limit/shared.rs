//! One budget per account shared by every node, kept in Redis. Each window's count is a
//! Redis key that nodes increment; a node that learns the budget is spent refuses locally
//! until the window ends, so refusals cost no round trip. While Redis cannot be reached
//! each node falls back to its own in-memory budget (the account's whole limit per node),
//! and says so in the log: never no limit, never refusing everything.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::Timestamp;
use redis::aio::ConnectionManager;
use roster_domain::{AccountSid, RateLimit};

use super::{LocalRateLimiter, RateDecision, RateLimiter};

/// Longest wait for Redis before a request falls back to the local budget.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// How often a node tries to reach Redis again while it is unreachable.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);
/// Budgets up to this size are counted one request at a time, so they are exact across
/// nodes; larger ones are leased in batches of a thousandth of the budget.
const EXACT_UP_TO: u32 = 10_000;

pub struct SharedRateLimiter {
    client: redis::Client,
    connection: tokio::sync::Mutex<Connection>,
    fallback: LocalRateLimiter,
    /// Per account: the window and the tokens this node leased but has not used.
    leases: Mutex<HashMap<AccountSid, Lease>>,
    degraded: AtomicBool,
}

enum Connection {
    Up(ConnectionManager),
    Down { since: Instant },
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    window: i64,
    tokens: u32,
    /// The shared count when the lease was taken; `u32::MAX` marks a spent budget.
    seen_total: u64,
}

impl SharedRateLimiter {
    /// Uses the Redis server at `url` (`redis://127.0.0.1:6379`). Connects lazily, so a node
    /// starts even while Redis is down.
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: tokio::sync::Mutex::new(Connection::Down {
                since: Instant::now() - RECONNECT_EVERY,
            }),
            fallback: LocalRateLimiter::new(),
            leases: Mutex::new(HashMap::new()),
            degraded: AtomicBool::new(false),
        })
    }

    /// Takes tokens from the shared budget: how many this node got, and the count after.
    async fn lease(&self, account: &AccountSid, window: i64, batch: u32) -> Result<u64, String> {
        let mut connection = self.connect().await?;
        let key = format!("roster:ratelimit:{account}:{window}");
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("EX")
            .arg(120)
            .arg("NX")
            .ignore();
        pipeline.cmd("INCRBY").arg(&key).arg(batch);
        let request = pipeline.query_async::<(u64,)>(&mut connection);
        match tokio::time::timeout(REDIS_TIMEOUT, request).await {
            Ok(Ok((total,))) => Ok(total),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("redis did not answer in time".to_owned()),
        }
    }

    async fn connect(&self) -> Result<ConnectionManager, String> {
        let mut connection = self.connection.lock().await;
        match &*connection {
            Connection::Up(manager) => return Ok(manager.clone()),
            Connection::Down { since } if since.elapsed() < RECONNECT_EVERY => {
                return Err("redis is unreachable".to_owned())
            }
            Connection::Down { .. } => {}
        }
        let attempt = tokio::time::timeout(
            REDIS_TIMEOUT * 4,
            ConnectionManager::new(self.client.clone()),
        )
        .await;
        match attempt {
            Ok(Ok(manager)) => {
                *connection = Connection::Up(manager.clone());
                Ok(manager)
            }
            Ok(Err(error)) => {
                *connection = Connection::Down {
                    since: Instant::now(),
                };
                Err(error.to_string())
            }
            Err(_) => {
                *connection = Connection::Down {
                    since: Instant::now(),
                };
                Err("redis did not answer in time".to_owned())
            }
        }
    }

    fn take_local(
        &self,
        account: &AccountSid,
        window: i64,
        limit: u32,
        reset: i64,
    ) -> Option<RateDecision> {
        let mut leases = self.leases.lock().ok()?;
        let lease = leases.get_mut(account).filter(|l| l.window == window)?;
        if lease.seen_total == u64::from(u32::MAX) {
            return Some(RateDecision {
                allowed: false,
                limit,
                remaining: 0,
                reset,
            });
        }
        if lease.tokens == 0 {
            return None;
        }
        lease.tokens -= 1;
        let remaining = u64::from(limit).saturating_sub(lease.seen_total) + u64::from(lease.tokens);
        Some(RateDecision {
            allowed: true,
            limit,
            remaining: remaining.min(u64::from(limit)) as u32,
            reset,
        })
    }

    fn remember(&self, account: &AccountSid, lease: Lease) {
        if let Ok(mut leases) = self.leases.lock() {
            if leases.len() > 100_000 {
                leases.clear();
            }
            leases.insert(account.clone(), lease);
        }
    }

    fn note_health(&self, problem: Option<&str>) {
        match problem {
            Some(problem) if !self.degraded.swap(true, Ordering::Relaxed) => tracing::warn!(
                error = problem,
                "redis unreachable: rate limits fall back to each node's own budget until it returns"
            ),
            None if self.degraded.swap(false, Ordering::Relaxed) => {
                tracing::info!("redis reachable again: rate limits are shared across nodes")
            }
            _ => {}
        }
    }
}

#[async_trait]
impl RateLimiter for SharedRateLimiter {
    async fn acquire(
        &self,
        account: &AccountSid,
        limit: RateLimit,
        now: Timestamp,
    ) -> RateDecision {
        let window = now.as_second().div_euclid(60);
        let reset = (window + 1) * 60;
        let per_minute = limit.per_minute();
        if let Some(decision) = self.take_local(account, window, per_minute, reset) {
            return decision;
        }

        let batch = if per_minute <= EXACT_UP_TO {
            1
        } else {
            per_minute / 1_000
        };
        let total = match self.lease(account, window, batch).await {
            Ok(total) => {
                self.note_health(None);
                total
            }
            Err(problem) => {
                self.note_health(Some(&problem));
                return self.fallback.decide(account, limit, now);
            }
        };

        let before = total - u64::from(batch);
        let granted = u64::from(per_minute)
            .saturating_sub(before)
            .min(u64::from(batch)) as u32;
        if granted == 0 {
            self.remember(
                account,
                Lease {
                    window,
                    tokens: 0,
                    seen_total: u64::from(u32::MAX),
                },
            );
            return RateDecision {
                allowed: false,
                limit: per_minute,
                remaining: 0,
                reset,
            };
        }
        self.remember(
            account,
            Lease {
                window,
                tokens: granted - 1,
                seen_total: total,
            },
        );
        let remaining = u64::from(per_minute).saturating_sub(total) + u64::from(granted - 1);
        RateDecision {
            allowed: true,
            limit: per_minute,
            remaining: remaining.min(u64::from(per_minute)) as u32,
            reset,
        }
    }
}
