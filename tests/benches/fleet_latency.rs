//! End to end: from the moment the Entrata simulator sends an application's webhook to the
//! moment the Payscore simulator stores the screening group, at a fixed rate of applications
//! (open loop: each one leaves on schedule whether or not earlier ones are done), with every
//! Entrata and Payscore call slowed by `LATENCY`, ingest and two worker processes.
//!
//! Both instants are read off the simulators' one clock (the webhook's `at_ms`, the group's
//! `created_at_ms`), so the figure covers ingest, the broker, the worker, the ledger and the
//! three downstream calls. Rounds of `ROUND` each on the same fleet; p50, p90, p99 and the
//! largest per round, then the medians.
//!
//! Run by hand (release build): `cargo bench -p fleet-tests --bench fleet_latency` (or
//! `deploy/local/bench.sh fleet`). Needs a broker and a PostgreSQL server. About two minutes.

use fleet_tests::bench::{median, percentile};
use fleet_tests::fleet::{Fleet, FleetOptions};
use sandbox::entrata::submit::SubmitOptions;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Applications a second.
const RATE: f64 = 100.0;
/// Latency of every downstream call.
const LATENCY: Duration = Duration::from_millis(20);
/// Length of one round.
const ROUND: Duration = Duration::from_secs(20);
const ROUNDS: usize = 3;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("fleet_latency: run with `cargo bench -p fleet-tests --bench fleet_latency`");
        return;
    }
    let mut options = FleetOptions {
        start_worker: false,
        ..Default::default()
    };
    options.env.push(("RUST_LOG", "warn".into()));
    options.sandbox.entrata.rate_limit_per_minute = 1_000_000;
    let fleet = Fleet::start("bench-latency", options).await;
    fleet.slow_every_call(LATENCY).await;
    let quiet = [("RUST_LOG", "warn".to_owned())];
    let workers = [
        fleet.spawn_worker(&quiet).await,
        fleet.spawn_worker(&quiet).await,
    ];
    let prefetch = fleet
        .worker_env
        .get("WORKER_PREFETCH")
        .cloned()
        .unwrap_or_else(|| "32, the default".into());
    // Warm-up: token, property addresses, connections, pools.
    let warm = submit_round(&fleet, 10.0, Duration::from_secs(2)).await;
    created(&fleet, &warm).await;

    println!(
        "| round | applications | sent at /s | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|"
    );
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let started = Instant::now();
        let sent = submit_round(&fleet, RATE, ROUND).await;
        let sending = started.elapsed().as_secs_f64();
        let at = created(&fleet, &sent).await;
        let mut latencies: Vec<u64> = sent
            .iter()
            .map(|(id, sent_ms)| at[id].saturating_sub(*sent_ms))
            .collect();
        latencies.sort_unstable();
        let p = |q: f64| percentile(&latencies, q / 100.0);
        println!(
            "| {round} | {} | {:.1} | {} | {} | {} | {} |",
            latencies.len(),
            latencies.len() as f64 / sending,
            p(50.0),
            p(90.0),
            p(99.0),
            latencies.last().copied().unwrap_or_default()
        );
        p50s.push(p(50.0) as f64);
        p99s.push(p(99.0) as f64);
    }
    println!(
        "\nWebhook sent → screening group stored, {RATE}/s, {} ms per downstream call, two \
         workers (prefetch {prefetch}): median p50 {:.0} ms, median p99 {:.0} ms.",
        LATENCY.as_millis(),
        median(p50s),
        median(p99s)
    );
    drop(workers);
    fleet.stop().await;
}

/// Submit applications (webhook included) at `rate` a second for `length`; each application id
/// with the instant its webhook was sent (Unix ms, the simulator's clock).
async fn submit_round(fleet: &Fleet, rate: f64, length: Duration) -> Vec<(u64, u64)> {
    let n = (rate * length.as_secs_f64()) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let control = fleet.control().clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(start + interval * i as u32).await;
                let options = SubmitOptions {
                    property_id: Some(100001 + (i % 4) as u64),
                    every_email: true,
                    ..Default::default()
                };
                let app = control.submit_application(&options).await.expect("submit");
                let webhook = app.webhook.expect("a webhook was sent");
                assert_eq!(webhook.status, Some(202), "ingest accepted it");
                (app.application_id, webhook.at_ms)
            })
        })
        .collect();
    let mut sent = Vec::with_capacity(n);
    for task in tasks {
        sent.push(task.await.expect("submit task"));
    }
    sent
}

/// Wait until every application in `sent` has its group; the groups' creation instants.
async fn created(fleet: &Fleet, sent: &[(u64, u64)]) -> HashMap<u64, u64> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let groups = fleet.control().groups().await.expect("groups");
        let at: HashMap<u64, u64> = groups
            .iter()
            .filter_map(|g| {
                let application = g.correlation_id.as_deref()?.rsplit(':').next()?;
                Some((application.parse().ok()?, g.created_at_ms))
            })
            .collect();
        if sent.iter().all(|(id, _)| at.contains_key(id)) {
            return at;
        }
        assert!(Instant::now() < deadline, "groups not created in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
