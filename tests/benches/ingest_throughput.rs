//! Throughput and latency of ingest's hot path (authenticate, bound, publish to a quorum
//! queue, await the broker's confirm, answer 202) against the machine's RabbitMQ.
//!
//! Pool shapes (confirm-mode channels × the most messages each has unconfirmed at once) are
//! measured side by side, interleaved run by run so that the machine's noise hits all alike. Each run is 3 s of
//! load from 64 keep-alive loopback connections, one request in flight on each; medians of
//! five runs are reported with p50/p99 latency.
//!
//! Run by hand (release build): `cargo bench -p fleet-tests --bench ingest_throughput`.
//! Bounded: 5 settings × (1 warm-up + 5 runs) × 3 s, 127.0.0.1 only.

use fleet_tests::TestBroker;
use fleet_tests::bench::median;
use fleet_tests::ingest::{IngestHandle, TOKEN, default_env};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const CONNECTIONS: usize = 64;
const RUNS: usize = 5;
const RUN: Duration = Duration::from_secs(3);
/// `AMQP_PUBLISH_CHANNELS` × `AMQP_PUBLISH_BATCH` compared; the first is one unconfirmed
/// message per channel, the ratios are to it.
const SETTINGS: [(&str, &str); 5] = [
    ("64", "1"),
    ("64", "64"),
    ("16", "64"),
    ("4", "64"),
    ("1", "256"),
];

struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "ingest_throughput: run with `cargo bench -p fleet-tests --bench ingest_throughput`"
        );
        return;
    }
    let broker = TestBroker::new("bench").await;
    let mut ingests = Vec::new();
    for (channels, batch) in SETTINGS {
        let mut env = default_env(&broker);
        env.insert("AMQP_PUBLISH_CHANNELS".into(), channels.into());
        env.insert("AMQP_PUBLISH_BATCH".into(), batch.into());
        env.insert("RUST_LOG".into(), "warn".into());
        let ingest = IngestHandle::start(env).await;
        ingest.wait_ready().await;
        ingests.push((format!("{channels} × {batch}"), ingest));
    }
    let body = br#"{"webhookType":"oa.application.events","eventType":"ApplicationSubmitted","propertyId":100001,"applicationId":500016}"#;
    let mut results: Vec<Vec<Run>> = SETTINGS.iter().map(|_| Vec::new()).collect();
    for round in 0..=RUNS {
        for (i, (_, ingest)) in ingests.iter().enumerate() {
            let run = load(&ingest.url, body).await;
            if round > 0 {
                results[i].push(run); // round 0 warms up connections, broker and caches
            }
        }
        let queue = broker.topology().queue(shared::amqp::WorkQueue::Screenings);
        purge(&queue).await;
    }
    println!("| channels × batch | median req/s | median p50 ms | median p99 ms | runs (req/s) |");
    println!("|---|---|---|---|---|");
    for (i, (channels, _)) in ingests.iter().enumerate() {
        let runs = &results[i];
        let rates: Vec<String> = runs
            .iter()
            .map(|r| format!("{:.0}", r.per_second))
            .collect();
        println!(
            "| {channels} | {:.0} | {:.1} | {:.1} | {} |",
            median(runs.iter().map(|r| r.per_second).collect()),
            median(runs.iter().map(|r| r.p50_ms).collect()),
            median(runs.iter().map(|r| r.p99_ms).collect()),
            rates.join(", ")
        );
    }
    let base = median(results[0].iter().map(|r| r.per_second).collect());
    for (i, (name, _)) in ingests.iter().enumerate().skip(1) {
        let ratio = median(results[i].iter().map(|r| r.per_second).collect()) / base;
        println!("ratio {name} / {}: {ratio:.2}", ingests[0].0);
    }
    for (_, ingest) in ingests {
        ingest.stop().await;
    }
}

async fn load(url: &str, body: &'static [u8]) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .expect("client");
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (client, stop, url) = (
            client.clone(),
            stop.clone(),
            format!("{url}/webhooks/entrata"),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let response = client
                    .post(&url)
                    .header("X-Webhook-Token", TOKEN)
                    .body(body)
                    .send()
                    .await;
                if matches!(response, Ok(r) if r.status() == 202) {
                    latencies.push(t.elapsed());
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(f64::NAN)
    };
    Run {
        per_second: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

async fn purge(queue: &str) {
    let connection =
        lapin::Connection::connect(&fleet_tests::broker::amqp_url(), Default::default())
            .await
            .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let _ = channel.queue_purge(queue.into(), Default::default()).await;
    let _ = connection.close(200, "purged".into()).await;
}
