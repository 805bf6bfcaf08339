//! The `roster` program: configuration, telemetry, the operator CLI, and the wiring that
//! turns settings into a running server. Tests start the server through [`startup`] exactly
//! as `roster serve` does.

pub mod cli;
pub mod config;
pub mod startup;
pub mod telemetry;
pub mod tls;
pub mod webhooks;
