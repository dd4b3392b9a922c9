//! The worker's metric families (names pinned by DESIGN.md and the dashboards). Labels come
//! from small fixed sets: never an id.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
};
use shared::metrics::{LATENCY_BUCKETS, Metrics};

/// The worker's metrics.
#[derive(Clone, Debug)]
pub struct WorkerMetrics {
    /// `worker_jobs_total{queue,outcome}`.
    pub jobs: IntCounterVec,
    /// `worker_job_duration_seconds{queue}`.
    pub job_duration: HistogramVec,
    /// `worker_downstream_requests_total{api,operation,status_class}`.
    pub downstream_requests: IntCounterVec,
    /// `worker_downstream_duration_seconds{api,operation}`.
    pub downstream_duration: HistogramVec,
    /// `worker_in_flight{queue}`.
    pub in_flight: IntGaugeVec,
    /// `worker_end_to_end_seconds`: from ingest's `x-received-at` to the group created.
    pub end_to_end: Histogram,
    /// `worker_payscore_webhooks_total{code}`.
    pub payscore_webhooks: IntCounterVec,
    /// `worker_reports_uploaded_total`.
    pub reports_uploaded: IntCounter,
    /// `worker_report_bytes`.
    pub report_bytes: Histogram,
}

impl WorkerMetrics {
    /// Create and register the families.
    pub fn register(metrics: &Metrics) -> Self {
        let jobs = IntCounterVec::new(
            Opts::new(
                "worker_jobs_total",
                "Deliveries handled, by queue and outcome (done, duplicate, ignored, retried, \
                 throttled, rescheduled, expired, dead_lettered, requeued)",
            ),
            &["queue", "outcome"],
        )
        .expect("valid metric");
        let job_duration = HistogramVec::new(
            HistogramOpts::new("worker_job_duration_seconds", "Time to handle one delivery")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["queue"],
        )
        .expect("valid metric");
        let downstream_requests = IntCounterVec::new(
            Opts::new(
                "worker_downstream_requests_total",
                "Calls to Entrata and Payscore by status class (2xx, 4xx, 5xx, timeout, error)",
            ),
            &["api", "operation", "status_class"],
        )
        .expect("valid metric");
        let downstream_duration = HistogramVec::new(
            HistogramOpts::new(
                "worker_downstream_duration_seconds",
                "Duration of calls to Entrata and Payscore",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["api", "operation"],
        )
        .expect("valid metric");
        let in_flight = IntGaugeVec::new(
            Opts::new("worker_in_flight", "Deliveries being handled now"),
            &["queue"],
        )
        .expect("valid metric");
        let end_to_end = Histogram::with_opts(
            HistogramOpts::new(
                "worker_end_to_end_seconds",
                "From the webhook received by ingest to the screening group created",
            )
            .buckets(vec![
                0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0,
                86400.0,
            ]),
        )
        .expect("valid metric");
        let payscore_webhooks = IntCounterVec::new(
            Opts::new(
                "worker_payscore_webhooks_total",
                "Payscore webhooks consumed, by code (unknown codes as `other`)",
            ),
            &["code"],
        )
        .expect("valid metric");
        let reports_uploaded = IntCounter::new(
            "worker_reports_uploaded_total",
            "Reports uploaded into Entrata",
        )
        .expect("valid metric");
        let report_bytes = Histogram::with_opts(
            HistogramOpts::new("worker_report_bytes", "Size of downloaded report PDFs")
                .buckets(prometheus::exponential_buckets(1024.0, 4.0, 9).expect("valid buckets")),
        )
        .expect("valid metric");
        metrics.register(jobs.clone());
        metrics.register(job_duration.clone());
        metrics.register(downstream_requests.clone());
        metrics.register(downstream_duration.clone());
        metrics.register(in_flight.clone());
        metrics.register(end_to_end.clone());
        metrics.register(payscore_webhooks.clone());
        metrics.register(reports_uploaded.clone());
        metrics.register(report_bytes.clone());
        Self {
            jobs,
            job_duration,
            downstream_requests,
            downstream_duration,
            in_flight,
            end_to_end,
            payscore_webhooks,
            reports_uploaded,
            report_bytes,
        }
    }
}
