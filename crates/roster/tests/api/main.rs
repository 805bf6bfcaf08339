//! Black-box tests of the HTTP API: each starts the real server on port 0 over a fresh
//! database and talks HTTP to it. The database is a SQLite file, or with
//! `ROSTER_TEST_BACKEND=postgres` a schema of its own in `TEST_DATABASE_URL`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code fails loudly on purpose"
)]

/// Real databases shared with the storage tests; `ROSTER_TEST_BACKEND` picks one.
#[path = "../../../roster-store/tests/support/mod.rs"]
#[allow(dead_code, reason = "the storage tests use the rest of it")]
mod store_support;

mod abuse;
mod create_user;
mod dashboard;
mod delete_user;
mod devices;
mod digests;
mod envelope;
mod etags;
mod events;
mod every_endpoint;
mod gate;
mod get_user;
mod helpers;
mod idempotency;
mod list;
mod metrics;
mod openapi;
mod operator;
mod scenarios;
mod security;
mod update_user;
mod webhooks;
