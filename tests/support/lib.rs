//! Test support: a per-test broker namespace, in-process services on port 0, the compiled
//! binaries for process-level tests, and `eventually` for waiting on conditions.

pub mod amqp_proxy;
pub mod bench;
pub mod broker;
pub mod database;
pub mod fleet;
pub mod ingest;
pub mod process;
pub mod tcp_proxy;
pub mod wait;
pub mod worker;

pub use broker::TestBroker;
pub use database::TestDatabase;
pub use wait::eventually;
