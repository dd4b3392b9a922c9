//! End-to-end tests: the real binaries' `run` (or the binaries themselves) against the real
//! RabbitMQ, each test in its own `AMQP_PREFIX`.

mod bad_input;
mod broker_semantics;
mod doctor;
mod fidelity;
mod ingest_auth;
mod ingest_delivery;
mod ingest_resilience;
mod journey;
mod ledger;
mod payscore_v2;
mod payscore_v2_client;
mod reports;
mod screening;
mod screening_failures;
mod screening_resilience;
mod sweep;
mod traces;
