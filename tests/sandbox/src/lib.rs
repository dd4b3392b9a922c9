//! The sandbox: stateful Entrata and Payscore simulators with fault injection, for the
//! end-to-end tests, the benchmarks and the local run.
//!
//! Start one in-process with [`Sandbox::start`] (each simulator on its own port), point the
//! fleet at [`Sandbox::payscore_url`] and [`Sandbox::entrata_url`], and drive or inspect it
//! through [`Sandbox::control`]. The `sandbox` binary serves the same thing.

pub mod calls;
pub mod client;
pub mod config;
pub mod control;
pub mod core;
pub mod entrata;
pub mod faults;
pub mod metrics;
pub mod payscore;
pub mod pdf;
mod sandbox;
pub mod server;
pub mod states;

pub use crate::calls::{CallRecord, Outcome};
pub use crate::client::{ControlClient, ControlClientError};
pub use crate::config::{IngestSettings, IngestTarget, InitialFaults, SandboxConfig};
pub use crate::core::Simulator;
pub use crate::faults::{Faults, Latency, Scripted, ScriptedAction};
pub use crate::sandbox::Sandbox;
