//! One application's trace across processes: ingest logs the trace id it gives the delivery,
//! the worker's screening job and the report check it schedules (a follow-up message) continue
//! it, every log line of those jobs carries it, and spans go to an OTLP collector when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use crate::reports::{complete_without_webhook, uploads};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use fleet_tests::eventually;
use fleet_tests::fleet::{Fleet, FleetOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Log lines written by the code running on this test's thread (the in-process ingest).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

/// A stand-in OTLP/HTTP collector: keeps the body of every `POST /v1/traces`.
async fn collector() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let received: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(
                |State(received): State<Arc<Mutex<Vec<Bytes>>>>, body: Bytes| async move {
                    received.lock().expect("not poisoned").push(body);
                    ""
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, received)
}

#[tokio::test]
async fn one_applications_trace_id_runs_from_ingest_through_its_screening_and_its_report_check() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    // The in-process ingest runs on this test's (current-thread) runtime, so on this thread.
    let _logs = tracing::subscriber::set_default(subscriber);
    let (otlp, exported) = collector().await;
    let fleet = Fleet::start(
        "trace",
        FleetOptions {
            start_worker: false,
            env: vec![
                ("REPORT_CHECK_FIRST_DELAY", "1s".into()),
                ("REPORT_CHECK_SCHEDULE", "1s".into()),
            ],
            ..Default::default()
        },
    )
    .await;
    let worker = fleet
        .spawn_worker(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.clone()),
            ("OTEL_BSP_SCHEDULE_DELAY", "200".into()),
        ])
        .await;
    let submitted = fleet.submit(100001).await;
    let answer: serde_json::Value = serde_json::from_str(
        &submitted
            .webhook
            .expect("webhook sent")
            .body
            .expect("ingest answered"),
    )
    .expect("json");
    let message_id = answer["id"].as_str().expect("a message id").to_owned();
    let group = fleet
        .one_group(submitted.property_id, submitted.application_id)
        .await;
    // No completion webhook: the report check the screening job schedules finds the report.
    complete_without_webhook(&fleet, &group).await;
    uploads(&fleet, submitted.application_id, 1).await;

    // Ingest's log names the delivery and its trace id.
    let ingest_log = captured.text();
    let accepted: serde_json::Value = ingest_log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "delivery accepted" && l["message_id"] == message_id.as_str())
        .unwrap_or_else(|| panic!("ingest logged the delivery: {ingest_log}"));
    let trace_id = accepted["trace_id"]
        .as_str()
        .expect("a trace id")
        .to_owned();
    assert_eq!(trace_id.len(), 32, "{trace_id}");

    // The worker's lines for the screening and for the report check carry it.
    let port = worker.admin_url.rsplit(':').next().expect("port");
    let path = std::env::temp_dir().join(format!("{}worker-{port}.log", fleet.broker.prefix));
    let worker_log = eventually(Duration::from_secs(10), "the worker's log", || async {
        let text = std::fs::read_to_string(&path).ok()?;
        text.contains("report uploaded to the applicant file")
            .then_some(text)
    })
    .await;
    let lines: Vec<&str> = worker_log.lines().collect();
    let with = |message: &str| {
        lines
            .iter()
            .filter(|l| l.contains(&format!("\"message\":\"{message}\"")))
            .map(|l| l.contains(&trace_id))
            .collect::<Vec<_>>()
    };
    assert_eq!(with("screening group created"), [true], "{worker_log}");
    assert_eq!(
        with("report uploaded to the applicant file"),
        [true],
        "the report check continued the trace: {worker_log}"
    );

    // And the spans reached the collector, under the same trace id.
    let wanted = hex::decode(&trace_id).expect("hex");
    eventually(Duration::from_secs(15), "spans exported", || async {
        exported
            .lock()
            .expect("not poisoned")
            .iter()
            .any(|body| body.windows(wanted.len()).any(|w| w == wanted.as_slice()))
            .then_some(())
    })
    .await;
    drop(worker);
    fleet.stop().await;
}
