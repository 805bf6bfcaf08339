//! Logging. Request threads only format a line and append it to a shared buffer; one
//! background thread writes the buffer out in batches, so a slow terminal or pipe never
//! holds up a request and a busy server makes one write call per batch, not per line.
//! `RUST_LOG` filters as usual.

mod batch;
mod line;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub use batch::{BatchWriter, FlushGuard};
pub use line::CompactLine;

/// Installs the global subscriber writing to stdout. Keep the guard alive until exit: it
/// writes out the lines still buffered.
pub fn init_server(format: LogFormat) -> FlushGuard {
    let (writer, guard) = BatchWriter::spawn(std::io::stdout());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.event_format(CompactLine).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    guard
}

/// For operator commands: warnings and errors only, on stderr, so stdout stays clean JSON.
pub fn init_cli() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
