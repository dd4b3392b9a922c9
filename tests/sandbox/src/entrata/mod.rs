//! The Entrata simulator: the API-key gateway (`POST /ext/orgs/{subdomain}/v1/{service}`)
//! with seeded data, document uploads, rate limits, and the `oa.application.events`
//! webhook it sends when an application is submitted.

mod control;
pub mod data;
pub mod documents;
pub mod envelope;
pub mod leads;
pub mod leases;
pub mod model;
pub mod multipart;
pub mod paging;
pub mod rate_limit;
pub mod render;
mod routes;
pub mod seed;
pub mod submit;

use crate::config::{EntrataConfig, IngestTarget};
use crate::core::Core;
use axum::Router;
pub use control::{Exhaust, RateLimit, Resend, UploadFailures};
use data::Data;
use rate_limit::RateLimiter;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use submit::IngestDelivery;

/// Everything the Entrata handlers share.
#[derive(Debug)]
pub struct EntrataState {
    /// Faults, calls, metrics, shutdown.
    pub core: Arc<Core>,
    /// Settings.
    pub config: EntrataConfig,
    /// Payscore's "non-existent" emails, for applications that should fail there.
    pub nonexistent_emails: Vec<String>,
    /// Properties, applications, documents.
    pub data: RwLock<Data>,
    /// Budgets per service.
    pub rate: RateLimiter,
    /// Where application webhooks go.
    pub ingest: RwLock<IngestTarget>,
    /// Application webhooks sent and their answers.
    pub deliveries: Mutex<Vec<IngestDelivery>>,
    /// Messages of per-file upload failures still to be served.
    pub upload_failures: Mutex<VecDeque<String>>,
    /// Client for the webhooks.
    pub client: reqwest::Client,
}

impl EntrataState {
    /// State with data seeded from `seed`.
    pub fn new(
        config: EntrataConfig,
        core: Arc<Core>,
        seed: u64,
        ingest: IngestTarget,
        nonexistent_emails: Vec<String>,
    ) -> Self {
        Self {
            data: RwLock::new(Data::seeded(
                seed,
                config.properties,
                config.applications_per_property,
            )),
            rate: RateLimiter::new(config.rate_limit_per_minute),
            ingest: RwLock::new(ingest),
            deliveries: Mutex::new(Vec::new()),
            upload_failures: Mutex::new(VecDeque::new()),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("the HTTP client builds with a plain configuration"),
            nonexistent_emails,
            config,
            core,
        }
    }

    /// Read access to the data.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Data> {
        self.data
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Write access to the data.
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Data> {
        self.data
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Lock a mutex, tolerating poison (every mutation here is a single push or pop).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The simulator's routes: API, control and `/metrics`.
pub fn router(state: Arc<EntrataState>) -> Router {
    routes::router(state.clone())
        .merge(control::router(state.clone()))
        .merge(crate::control::router(state.core.clone()))
}
