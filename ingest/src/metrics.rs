//! Ingest's metric families (names pinned by DESIGN.md and the dashboards).

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts};
use shared::metrics::{LATENCY_BUCKETS, Metrics};

/// Ingest's metrics, registered in the binary's registry.
#[derive(Clone, Debug)]
pub struct IngestMetrics {
    /// `ingest_webhooks_total{source,outcome}`.
    pub webhooks: IntCounterVec,
    /// `ingest_request_duration_seconds{source}`.
    pub request_duration: HistogramVec,
    /// `ingest_publish_confirm_duration_seconds`.
    pub confirm_duration: Histogram,
}

impl IngestMetrics {
    /// Create and register the families.
    pub fn register(metrics: &Metrics) -> Self {
        let webhooks = IntCounterVec::new(
            Opts::new(
                "ingest_webhooks_total",
                "Webhook deliveries by source and outcome (accepted, unauthorized, too_large, \
                 bad_request, timeout, overloaded, unavailable)",
            ),
            &["source", "outcome"],
        )
        .expect("valid metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "ingest_request_duration_seconds",
                "Time from request to answer, by source",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["source"],
        )
        .expect("valid metric");
        let confirm_duration = Histogram::with_opts(
            HistogramOpts::new(
                "ingest_publish_confirm_duration_seconds",
                "Time from publish to the broker's confirm",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        metrics.register(webhooks.clone());
        metrics.register(request_duration.clone());
        metrics.register(confirm_duration.clone());
        Self {
            webhooks,
            request_duration,
            confirm_duration,
        }
    }
}
