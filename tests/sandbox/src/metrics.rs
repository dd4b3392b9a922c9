//! The sandbox's Prometheus families, served at `/metrics` on both simulators.
//!
//! Labels come from fixed sets: `simulator` (`payscore`, `entrata`), `route` (the route
//! names of the README) and `status` (the HTTP status, or `none` when nothing was answered).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The sandbox's metrics.
#[derive(Debug, Clone)]
pub struct SandboxMetrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    webhooks: IntCounterVec,
}

impl SandboxMetrics {
    /// A fresh registry with the sandbox families.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "sandbox_requests_total",
                "API requests received by a simulator",
            ),
            &["simulator", "route", "status"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "sandbox_request_duration_seconds",
                "Time to answer an API request, injected latency included",
            )
            .buckets(shared::metrics::LATENCY_BUCKETS.to_vec()),
            &["simulator", "route"],
        )
        .expect("valid metric");
        let webhooks = IntCounterVec::new(
            Opts::new(
                "sandbox_webhooks_total",
                "Webhooks a simulator sent, by final outcome",
            ),
            &["simulator", "outcome"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duration.clone()),
            Box::new(webhooks.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            duration,
            webhooks,
        }
    }

    /// Count one API request.
    pub fn request(&self, simulator: &str, route: &str, status: Option<u16>, seconds: f64) {
        let status = status_label(status);
        self.requests
            .with_label_values(&[simulator, route, status.as_str()])
            .inc();
        self.duration
            .with_label_values(&[simulator, route])
            .observe(seconds);
    }

    /// Count one webhook by outcome (`delivered`, `failed`).
    pub fn webhook(&self, simulator: &str, outcome: &str) {
        self.webhooks.with_label_values(&[simulator, outcome]).inc();
    }

    /// The registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("text format is UTF-8")
    }
}

impl Default for SandboxMetrics {
    fn default() -> Self {
        Self::new()
    }
}

fn status_label(status: Option<u16>) -> String {
    status.map_or_else(|| "none".to_owned(), |s| s.to_string())
}
