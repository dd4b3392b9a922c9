//! HTTP clients for Entrata and Payscore. A client knows nothing about queues.

pub mod entrata;
pub mod entrata_read;
pub mod http;
pub mod payscore;
pub mod rate_limit;
