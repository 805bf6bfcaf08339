//! Black-box tests of the HTTP API: each starts the real server on port 0 over a fresh
//! SQLite file and talks HTTP to it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code fails loudly on purpose"
)]

mod create_user;
mod envelope;
mod gate;
mod get_user;
mod helpers;
