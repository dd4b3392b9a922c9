//! The worker's metric families (names pinned by DESIGN.md and the dashboards). Labels come
//! from small fixed sets: never an id.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};
use shared::metrics::{LATENCY_BUCKETS, Metrics};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Event names other than the triggers that get their own label; later ones count as `other`.
pub const OTHER_EVENT_NAMES_MAX: usize = 20;

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
    /// `worker_ignored_total{queue,reason}`.
    pub ignored: IntCounterVec,
    /// `worker_properties_enabled`: properties enabled in `PROPERTIES_FILE`.
    pub properties_enabled: IntGauge,
    /// `worker_application_events_total{event_type,trigger}`.
    pub application_events: IntCounterVec,
    /// The configured trigger names and the other event names already given a label.
    event_names: Arc<Mutex<EventNames>>,
}

#[derive(Debug, Default)]
struct EventNames {
    /// Normalised trigger names (`SCREENING_TRIGGER_EVENTS`, without `*`).
    triggers: HashSet<String>,
    /// Other names given a label, as sent.
    others: HashSet<String>,
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
        let ignored = IntCounterVec::new(
            Opts::new(
                "worker_ignored_total",
                "Deliveries acknowledged without work, by queue and reason (not_a_trigger, \
                 property_not_enabled, no_action_needed, group_unknown)",
            ),
            &["queue", "reason"],
        )
        .expect("valid metric");
        let application_events = IntCounterVec::new(
            Opts::new(
                "worker_application_events_total",
                "Entrata application events consumed, by event type as sent (the triggers and \
                 the first 20 other names; later names as `other`, none as `(none)`) and \
                 whether it triggers a screening",
            ),
            &["event_type", "trigger"],
        )
        .expect("valid metric");
        let properties_enabled = IntGauge::new(
            "worker_properties_enabled",
            "Properties enabled in PROPERTIES_FILE",
        )
        .expect("valid metric");
        metrics.register(properties_enabled.clone());
        metrics.register(ignored.clone());
        metrics.register(application_events.clone());
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
            ignored,
            properties_enabled,
            application_events,
            event_names: Arc::default(),
        }
    }

    /// Count a delivery that needed no work, and say so.
    pub fn ignore(&self, queue: &str, why: crate::outcome::Ignore) -> crate::outcome::Outcome {
        self.ignored.with_label_values(&[queue, why.as_str()]).inc();
        crate::outcome::Outcome::Ignored(why)
    }

    /// Name the configured triggers (normalised, as `SCREENING_TRIGGER_EVENTS` holds them):
    /// each gets its series at 0 at once, so that the first event counts as an increase.
    pub fn expect_triggers(&self, triggers: &[String]) {
        let mut names = self.event_names.lock().unwrap_or_else(|e| e.into_inner());
        for trigger in triggers.iter().filter(|t| t.as_str() != "*") {
            names.triggers.insert(trigger.clone());
            self.application_events
                .with_label_values(&[trigger.as_str(), "true"]);
        }
    }

    /// Count one Entrata application event. A configured trigger is labelled by its
    /// normalised name (one series however Entrata spells it); any other name gets a label as
    /// sent while fewer than [`OTHER_EVENT_NAMES_MAX`] have one, then `other` (also under the
    /// trigger `*`).
    pub fn application_event(&self, event_type: Option<&str>, trigger: bool) {
        let name = event_label(event_type);
        let mut names = self.event_names.lock().unwrap_or_else(|e| e.into_inner());
        let normalised = crate::config::normalise_event(&name);
        let label = if name == NO_EVENT_TYPE {
            name
        } else if trigger && names.triggers.contains(&normalised) {
            normalised
        } else if names.others.contains(&name) || names.others.len() < OTHER_EVENT_NAMES_MAX {
            names.others.insert(name.clone());
            name
        } else {
            "other".to_owned()
        };
        drop(names);
        self.application_events
            .with_label_values(&[label.as_str(), if trigger { "true" } else { "false" }])
            .inc();
    }
}

/// The label of a delivery without an event type.
const NO_EVENT_TYPE: &str = "(none)";

/// An event name as a label: printable ASCII, at most 64 characters (never applicant data: an
/// event type is a name Entrata chooses).
fn event_label(event_type: Option<&str>) -> String {
    let name: String = event_type
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect();
    if name.is_empty() {
        NO_EVENT_TYPE.to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_bounded() {
        let metrics = WorkerMetrics::register(&Metrics::new());
        metrics.expect_triggers(&["applicationsubmitted".to_owned(), "*".to_owned()]);
        assert!(
            metrics
                .application_events
                .with_label_values(&["applicationsubmitted", "true"])
                .get()
                == 0,
            "a configured trigger's series exists from the start"
        );
        metrics.application_event(Some("ApplicationSubmitted"), true);
        metrics.application_event(Some("application.submitted"), true);
        for i in 0..30 {
            metrics.application_event(Some(&format!("Event{i}")), false);
        }
        metrics.application_event(Some("Event3"), false);
        metrics.application_event(None, false);
        let count = |name: &str, trigger: &str| {
            metrics
                .application_events
                .with_label_values(&[name, trigger])
                .get()
        };
        assert_eq!(
            count("applicationsubmitted", "true"),
            2,
            "one series per trigger"
        );
        assert_eq!(count("Event3", "false"), 2);
        assert_eq!(count("Event19", "false"), 1);
        assert_eq!(count("Event20", "false"), 0);
        assert_eq!(count("other", "false"), 10);
        assert_eq!(count("(none)", "false"), 1);
    }
}
