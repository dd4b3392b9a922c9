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
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Whether the process should receive traffic.
#[derive(Debug, Default)]
pub struct Readiness {
    /// Each broker connection the component needs (by name): connected, blocked.
    connections: Mutex<BTreeMap<String, (bool, bool)>>,
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

    /// A broker connection the component needs: not ready until every one expected is
    /// connected.
    pub fn expect_connection(&self, name: &str) {
        self.connections
            .lock()
            .expect("not poisoned")
            .entry(name.to_owned())
            .or_insert((false, false));
    }

    /// Set by a connection's supervisor when it is up (topology declared, channels open) or
    /// lost. Returns whether every expected connection is up now.
    pub fn set_connected(&self, name: &str, connected: bool) -> bool {
        let mut connections = self.connections.lock().expect("not poisoned");
        let entry = connections.entry(name.to_owned()).or_insert((false, false));
        entry.0 = connected;
        if !connected {
            entry.1 = false;
        }
        connections.values().all(|(up, _)| *up)
    }

    /// Set while the broker blocks a connection (resource alarm): not ready meanwhile. Returns
    /// whether any connection is blocked now.
    pub fn set_blocked(&self, name: &str, blocked: bool) -> bool {
        let mut connections = self.connections.lock().expect("not poisoned");
        let entry = connections.entry(name.to_owned()).or_insert((false, false));
        entry.1 = blocked;
        connections.values().any(|(_, b)| *b)
    }

    fn all_connected(&self) -> bool {
        let connections = self.connections.lock().expect("not poisoned");
        !connections.is_empty() && connections.values().all(|(up, _)| *up)
    }

    fn any_blocked(&self) -> bool {
        let connections = self.connections.lock().expect("not poisoned");
        connections.values().any(|(_, blocked)| *blocked)
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
        self.all_connected()
            && !self.any_blocked()
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
    } else if state.readiness.any_blocked() {
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

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[test]
    fn ready_only_while_every_expected_connection_is_up_and_none_is_blocked() {
        let readiness = Readiness::new();
        assert!(!readiness.is_ready(), "nothing expected yet: not ready");
        readiness.expect_connection("worker@");
        readiness.expect_connection("worker-publish@");
        assert!(!readiness.set_connected("worker@", true));
        assert!(
            !readiness.is_ready(),
            "the publishing connection is still down"
        );
        assert!(readiness.set_connected("worker-publish@", true));
        assert!(readiness.is_ready());
        assert!(readiness.set_blocked("worker-publish@", true));
        assert!(!readiness.is_ready(), "blocked");
        assert!(!readiness.set_connected("worker-publish@", false));
        assert!(!readiness.is_ready());
        assert!(readiness.set_connected("worker-publish@", true));
        assert!(
            readiness.is_ready(),
            "a lost connection's alarm goes with it"
        );
        readiness.start_draining();
        assert!(!readiness.is_ready());
    }
}
