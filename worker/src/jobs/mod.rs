//! Job handlers: business outcomes only (no AMQP).

pub mod classify;
pub mod delivery;
pub mod documents;
pub mod report_check;
pub mod reports;
pub mod screening;
