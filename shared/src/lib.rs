//! Everything `ingest` and `worker` share: configuration, telemetry, the metrics registry, the
//! admin server, shutdown, the AMQP layer (topology, supervisor, confirmed publisher) and the
//! envelope, which is the wire contract between the two binaries.

pub mod admin;
pub mod amqp;
pub mod config;
pub mod envelope;
pub mod metrics;
pub mod retry;
pub mod shutdown;
pub mod telemetry;

/// The version every binary reports in `build_info` and at start-up.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
