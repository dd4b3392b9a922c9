//! The admin server on `ADMIN_LISTEN`: `/livez`, `/readyz`, `/metrics`.
//!
//! `/livez` answers 200 while the process runs and never looks at the broker: a broker outage
//! must not make Kubernetes restart every pod. `/readyz` answers 200 only while the component
//! says it is ready (connected, topology declared, consuming or publishing) and the process is
//! not draining.

use crate::metrics::Metrics;
use axum::{
    Router, extract::State, http::StatusCode, http::header, response::IntoResponse, routing::get,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Whether the process should receive traffic.
#[derive(Debug, Default)]
pub struct Readiness {
    ready: AtomicBool,
    blocked: AtomicBool,
    draining: AtomicBool,
    /// A dependency other than the broker that the component cannot work without (the
    /// worker's ledger), with what `/readyz` says while it is missing.
    unavailable: Mutex<Option<&'static str>>,
}

impl Readiness {
    /// A new, not yet ready, state.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Set by the component when it can (or can no longer) do its work.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Set while the broker blocks the connection (resource alarm): not ready meanwhile.
    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::SeqCst);
    }

    /// Set while a dependency other than the broker is missing (`Some(why)`, shown by
    /// `/readyz`), cleared with `None`.
    pub fn set_unavailable(&self, why: Option<&'static str>) {
        *self.unavailable.lock().expect("not poisoned") = why;
    }

    fn unavailable(&self) -> Option<&'static str> {
        *self.unavailable.lock().expect("not poisoned")
    }

    /// Set once, at the start of shutdown; `/readyz` answers 503 from then on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// True once shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// True when `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
            && !self.blocked.load(Ordering::SeqCst)
            && self.unavailable().is_none()
            && !self.is_draining()
    }
}

#[derive(Clone)]
struct AdminState {
    metrics: Metrics,
    readiness: Arc<Readiness>,
}

/// The admin routes.
pub fn router(metrics: Metrics, readiness: Arc<Readiness>) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .with_state(AdminState { metrics, readiness })
}

async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready\n".to_owned())
    } else if state.readiness.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n".to_owned())
    } else if let Some(why) = state.readiness.unavailable() {
        (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"))
    } else if state.readiness.blocked.load(Ordering::SeqCst) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "blocked: the broker has a resource alarm\n".to_owned(),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not connected\n".to_owned(),
        )
    }
}

async fn render_metrics(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// Serve the admin routes until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    readiness: Arc<Readiness>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, readiness))
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}
