//! The Payscore simulator: the v1 screening-group API with token authentication, the v2
//! applicant-group API (create, list, reports, verification progress), reports, applicant
//! progress and signed webhooks.

mod control;
pub mod model;
mod progress;
mod report;
mod routes;
pub mod store;
pub mod token;
pub mod v2;
pub mod validate;
pub mod views;
pub mod webhooks;

use crate::config::PayscoreConfig;
use crate::core::Core;
use axum::Router;
use std::sync::{Arc, RwLock};
use store::Store;
use token::Tokens;
use v2::report::Presigner;
use webhooks::Webhooks;

pub use control::{SendWebhook, StepOutcome, StepRequest};
pub use progress::webhook_body;
pub use v2::control::{ApplicantGroupOutcome, ExpireReportRequest, VerificationTarget};
pub use v2::views::ControlApplicantGroup;
pub use views::ControlGroup;

/// Everything the Payscore handlers share.
#[derive(Debug)]
pub struct PayscoreState {
    /// Faults, calls, metrics, shutdown.
    pub core: Arc<Core>,
    /// Settings.
    pub config: PayscoreConfig,
    /// Token issuer.
    pub tokens: Tokens,
    /// The groups.
    pub store: RwLock<Store>,
    /// The webhook sender.
    pub webhooks: Webhooks,
    /// This simulator's base URL, for report links.
    pub base_url: String,
    /// Signs and checks the "pre-signed" v2 PDF URLs.
    pub presigner: Presigner,
}

impl PayscoreState {
    /// State for a simulator reachable at `base_url`.
    pub fn new(config: PayscoreConfig, core: Arc<Core>, seed: u64, base_url: String) -> Self {
        let key = format!("{seed}:{}", config.secret_key.expose());
        Self {
            tokens: Tokens::new(key.as_bytes(), config.token_ttl),
            store: RwLock::new(Store::new(seed)),
            presigner: Presigner::new(format!("{key}:pdf").as_bytes()),
            webhooks: Webhooks::new(
                config.webhook_secret.clone(),
                config.webhook_timeout,
                config.webhook_retry_delays.clone(),
                core.metrics.clone(),
            ),
            core,
            config,
            base_url,
        }
    }

    /// Read access to the store; a poisoned lock is still usable (each mutation is atomic).
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Write access to the store.
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The simulator's routes: API, report files, control and `/metrics`.
pub fn router(state: Arc<PayscoreState>) -> Router {
    routes::router(state.clone())
        .merge(control::router(state.clone()))
        .merge(v2::control::router(state.clone()))
        .merge(crate::control::router(state.core.clone()))
}
