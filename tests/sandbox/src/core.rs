//! What every simulator has: its name, fault table, call log, metrics and the shutdown
//! token; and [`Core::intercept`], which puts faults, call recording and metrics around one
//! API request.

use crate::calls::{CallLog, Outcome, now_ms};
use crate::faults::{FaultTable, Verdict};
use crate::metrics::SandboxMetrics;
use crate::server::Connection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Which simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Simulator {
    /// The Payscore screening-group API.
    Payscore,
    /// The Entrata API-key gateway.
    Entrata,
}

impl Simulator {
    /// The lower-case name used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Simulator::Payscore => "payscore",
            Simulator::Entrata => "entrata",
        }
    }
}

/// The parts of a simulator that fault injection and inspection need.
#[derive(Debug)]
pub struct Core {
    /// Which simulator this is.
    pub simulator: Simulator,
    /// Faults per route.
    pub faults: FaultTable,
    /// Calls received.
    pub calls: CallLog,
    /// Metrics (shared by both simulators).
    pub metrics: SandboxMetrics,
    /// Cancelled when the sandbox stops; ends endless hangs.
    pub shutdown: CancellationToken,
}

impl Core {
    /// A core with no faults and an empty call log.
    pub fn new(simulator: Simulator, metrics: SandboxMetrics, shutdown: CancellationToken) -> Self {
        Self {
            simulator,
            faults: FaultTable::default(),
            calls: CallLog::default(),
            metrics,
            shutdown,
        }
    }

    /// Run `handle` for one request of `route` with the route's faults applied, then record
    /// the call and count it.
    pub async fn intercept<F, Fut>(
        &self,
        route: &'static str,
        connection: Option<&Connection>,
        handle: F,
    ) -> Response
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Response>,
    {
        self.intercept_versioned(route, None, connection, handle)
            .await
    }

    /// [`Core::intercept`] for a call that named a method version (Entrata's
    /// `method.version`), which the call log keeps.
    pub async fn intercept_versioned<F, Fut>(
        &self,
        route: &'static str,
        version: Option<&str>,
        connection: Option<&Connection>,
        handle: F,
    ) -> Response
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Response>,
    {
        let started = Instant::now();
        let received_at_ms = now_ms();
        let decision = self.faults.decide(route);
        if let Some(delay) = decision.delay {
            tokio::time::sleep(delay).await;
        }
        let finish = |status: Option<u16>, outcome: Outcome| {
            self.calls
                .record(route, version, received_at_ms, status, outcome);
            let seconds = started.elapsed().as_secs_f64();
            self.metrics
                .request(self.simulator.as_str(), route, status, seconds);
        };
        match decision.verdict {
            Verdict::Pass | Verdict::HangAfterHandling(_) => {}
            Verdict::Status {
                status,
                retry_after,
            } => {
                let response = self.injected(status, retry_after);
                finish(Some(response.status().as_u16()), Outcome::Injected);
                return response;
            }
            Verdict::Hang(duration) => {
                if duration.is_none() {
                    finish(None, Outcome::Hung);
                }
                self.hang(duration, connection).await;
            }
            Verdict::Drop => {
                finish(None, Outcome::Dropped);
                return self.drop_connection(connection).await;
            }
        }
        let response = handle().await;
        if let Verdict::HangAfterHandling(duration) = decision.verdict {
            if duration.is_none() {
                finish(None, Outcome::Hung);
            }
            self.hang(duration, connection).await;
        }
        finish(Some(response.status().as_u16()), Outcome::Answered);
        response
    }

    /// Wait `duration`, or until shutdown when `None` (then drop the connection).
    async fn hang(&self, duration: Option<Duration>, connection: Option<&Connection>) {
        match duration {
            Some(duration) => {
                tokio::select! {
                    () = tokio::time::sleep(duration) => return,
                    () = self.shutdown.cancelled() => {}
                }
            }
            None => self.shutdown.cancelled().await,
        }
        self.drop_connection(connection).await;
    }

    /// Close the connection without answering; never returns when a connection is known.
    async fn drop_connection(&self, connection: Option<&Connection>) -> Response {
        match connection {
            Some(connection) => {
                connection.drop_now();
                std::future::pending().await
            }
            // Only reachable when a route is served outside `server::serve`.
            None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    }

    /// The answer of an injected status: the simulator's usual error body.
    fn injected(&self, status: u16, retry_after: Option<u64>) -> Response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let reason = status.canonical_reason().unwrap_or("Error");
        let body = match self.simulator {
            Simulator::Payscore => serde_json::json!({ "error": reason }),
            Simulator::Entrata => serde_json::json!({
                "response": { "error": { "code": status.as_u16(), "message": reason } }
            }),
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
