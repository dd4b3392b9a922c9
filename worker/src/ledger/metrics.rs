//! The ledger's metric families: `ledger_connected`, `ledger_query_duration_seconds{query}`,
//! `ledger_query_errors_total{query}` and `ledger_claims_waited_total{queue}`. The `query`
//! label takes the fixed names of the statements in this module, never an id.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts};
use shared::metrics::Metrics;

/// Buckets for ledger queries: a healthy query takes about a millisecond.
const QUERY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The ledger's metrics.
#[derive(Clone, Debug)]
pub struct LedgerMetrics {
    /// `ledger_connected`: 1 while the database answers.
    pub connected: IntGauge,
    /// `ledger_query_duration_seconds{query}`, connection wait included.
    pub duration: HistogramVec,
    /// `ledger_query_errors_total{query}`.
    pub errors: IntCounterVec,
    /// `ledger_claims_waited_total{queue}`: deliveries that found their application or group
    /// claimed by another job and had to wait.
    pub claims_waited: IntCounterVec,
}

impl LedgerMetrics {
    /// Create and register the families.
    pub fn register(metrics: &Metrics) -> Self {
        let connected = IntGauge::new(
            "ledger_connected",
            "1 while the ledger database answers, else 0",
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "ledger_query_duration_seconds",
                "Duration of ledger queries, waiting for a pooled connection included",
            )
            .buckets(QUERY_BUCKETS.to_vec()),
            &["query"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new(
                "ledger_query_errors_total",
                "Ledger queries that failed or timed out",
            ),
            &["query"],
        )
        .expect("valid metric");
        let claims_waited = IntCounterVec::new(
            Opts::new(
                "ledger_claims_waited_total",
                "Deliveries that found their application or group claimed by another job and waited",
            ),
            &["queue"],
        )
        .expect("valid metric");
        metrics.register(connected.clone());
        metrics.register(duration.clone());
        metrics.register(errors.clone());
        metrics.register(claims_waited.clone());
        Self {
            connected,
            duration,
            errors,
            claims_waited,
        }
    }

    /// Families registered nowhere, for one-shot commands (`worker status`, `worker migrate`).
    pub fn unregistered() -> Self {
        Self::register(&Metrics::new())
    }
}
