//! What the ledger costs the worker, against the machine's PostgreSQL and RabbitMQ.
//!
//! 1. The ledger's share of a job: the exact sequence of ledger queries a screening job makes
//!    (claim, application row, fenced intent, group id, release, journal) and a report job
//!    makes (claim, application of the group, report row, fenced intent, uploaded, release,
//!    journal), timed per job, with 1, 8, 16 and 64 jobs at once; median and p99.
//! 2. The worker's screening throughput at prefetch 1, 8 and 64 (and 8 on two workers),
//!    against the bound Little's law gives: with every Entrata and Payscore call slowed to a
//!    fixed `LATENCY`, a job spends at least `CALLS × LATENCY` waiting on them plus its ledger
//!    queries (their median at as many jobs at once, from part 1), so `prefetch` jobs in
//!    flight finish at most `prefetch / (CALLS × LATENCY + ledger)` a second; the bound of the
//!    downstream calls alone is printed beside it. The fleets are driven in alternating
//!    rounds; medians of the rounds.
//!
//! Run by hand (release build): `cargo bench -p fleet-tests --bench worker_ledger`. Needs a
//! broker and a PostgreSQL server (`deploy/local/broker.sh`, `deploy/local/database.sh`).
//! Bounded: about a minute and a half, 127.0.0.1 only.

use fleet_tests::TestDatabase;
use fleet_tests::bench::{cpu_seconds, median, memory_mib, percentile};
use fleet_tests::fleet::WorkerProcess;
use fleet_tests::fleet::{Fleet, FleetOptions};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use sandbox::entrata::submit::{SubmitOptions, SubmittedApplication};
use std::time::{Duration, Instant};
use worker::ledger::journal::Entry;
use worker::ledger::records::ApplicationRef;
use worker::ledger::{ClaimAttempt, Ledger, LedgerConfig, LedgerMetrics};

/// Jobs per ledger measurement.
const LEDGER_JOBS: usize = 2_000;
/// Latency of every downstream call in the throughput runs.
const LATENCY: Duration = Duration::from_millis(20);
/// Downstream calls of one screening job once the property address is cached: getLeads,
/// getLeases, create.
const CALLS: u32 = 3;
const ROUNDS: usize = 3;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("worker_ledger: run with `cargo bench -p fleet-tests --bench worker_ledger`");
        return;
    }
    let ledger = ledger_cost().await;
    throughput(&ledger).await;
}

// === the ledger's share of a job ===

/// The median ms of one screening job's ledger queries, by jobs at once.
async fn ledger_cost() -> Vec<(usize, f64)> {
    let database = TestDatabase::new("bench-ledger").await;
    let env: std::collections::HashMap<&str, String> =
        [("DATABASE_URL", database.url.clone())].into();
    let ledger = Ledger::new(
        LedgerConfig::from_env(&env).expect("config"),
        LedgerMetrics::unregistered(),
    );
    ledger.migrate().await.expect("migrate");
    println!("| ledger queries of one job | jobs at once | median ms | p99 ms | jobs |");
    println!("|---|---|---|---|---|");
    let mut screening = Vec::new();
    for concurrency in [1usize, 8, 16, 64] {
        for (name, report) in [("screening", false), ("report", true)] {
            let per_task = LEDGER_JOBS / concurrency;
            let tasks: Vec<_> = (0..concurrency)
                .map(|t| {
                    let ledger = ledger.clone();
                    tokio::spawn(async move {
                        let mut times = Vec::with_capacity(per_task);
                        for i in 0..per_task {
                            let id = format!("{concurrency}-{t}-{i}");
                            let started = Instant::now();
                            if report {
                                report_job(&ledger, &id).await;
                            } else {
                                screening_job(&ledger, &id).await;
                            }
                            times.push(started.elapsed().as_micros() as u64);
                        }
                        times
                    })
                })
                .collect();
            let mut all = Vec::new();
            for task in tasks {
                all.extend(task.await.expect("task"));
            }
            all.sort_unstable();
            if !report {
                screening.push((concurrency, percentile(&all, 0.5) as f64 / 1000.0));
            }
            println!(
                "| {name} | {concurrency} | {:.2} | {:.2} | {} |",
                percentile(&all, 0.5) as f64 / 1000.0,
                percentile(&all, 0.99) as f64 / 1000.0,
                all.len()
            );
        }
    }
    screening
}

async fn screening_job(ledger: &Ledger, id: &str) {
    let ClaimAttempt::Held(claim) = ledger
        .claim(&format!("application:p:{id}"), id)
        .await
        .expect("claim")
    else {
        panic!("nobody else holds it")
    };
    ledger.application("p", id).await.expect("application");
    assert!(
        ledger
            .begin_create(&claim, "p", id, worker::properties::PayscoreApi::V1)
            .await
            .expect("intent")
    );
    ledger
        .group_created(
            "p",
            id,
            &format!("g-{id}"),
            worker::properties::PayscoreApi::V1,
        )
        .await
        .expect("group");
    claim.release().await;
    ledger.journal(&entry(id)).await.expect("journal");
}

async fn report_job(ledger: &Ledger, id: &str) {
    let group = format!("g-{id}");
    let ClaimAttempt::Held(claim) = ledger
        .claim(&format!("group:{group}"), id)
        .await
        .expect("claim")
    else {
        panic!("nobody else holds it")
    };
    let app = ledger
        .application_of_group(&group)
        .await
        .expect("owner")
        .unwrap_or(ApplicationRef {
            property_id: "p".into(),
            application_id: id.into(),
        });
    ledger.report(&group, "abc123").await.expect("report");
    assert!(
        ledger
            .begin_upload(&claim, &group, "abc123", "f.pdf", &app)
            .await
            .expect("intent")
    );
    ledger.uploaded(&group, "abc123").await.expect("uploaded");
    claim.release().await;
    ledger.journal(&entry(id)).await.expect("journal");
}

fn entry(id: &str) -> Entry {
    Entry {
        queue: "screenings".into(),
        message_id: format!("m-{id}"),
        application_id: Some(id.into()),
        property_id: Some("p".into()),
        outcome: "done".into(),
        ..Default::default()
    }
}

// === throughput against the downstream bound ===

struct Subject {
    prefetch: u32,
    /// The in-process worker, plus a `worker` process when two.
    workers: usize,
    jobs: usize,
    fleet: Fleet,
    second: Option<WorkerProcess>,
    applications: Vec<SubmittedApplication>,
}

impl Subject {
    fn label(&self) -> String {
        if self.workers == 1 {
            format!("{}", self.prefetch)
        } else {
            format!("{} × {} workers", self.prefetch, self.workers)
        }
    }

    /// Jobs done by every worker of the subject.
    async fn done(&self) -> f64 {
        let series = r#"worker_jobs_total{outcome="done",queue="screenings"}"#;
        let mut done = self.fleet.worker().sample(series).await;
        if let Some(second) = &self.second {
            done += second.sample(series).await;
        }
        done
    }

    async fn wait_done(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(300);
        while self.done().await < n as f64 {
            assert!(Instant::now() < deadline, "{n} jobs not done in time");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// (prefetch, workers, jobs a round).
const SUBJECTS: [(u32, usize, usize); 4] = [(1, 1, 60), (8, 1, 240), (64, 1, 960), (8, 2, 480)];

async fn throughput(ledger_ms: &[(usize, f64)]) {
    let mut subjects = Vec::new();
    for (prefetch, workers, jobs) in SUBJECTS {
        let mut options = FleetOptions::default();
        options.env.push(("WORKER_PREFETCH", prefetch.to_string()));
        options.env.push(("RUST_LOG", "warn".into()));
        options.sandbox.entrata.rate_limit_per_minute = 1_000_000;
        let fleet = Fleet::start(&format!("bench-p{prefetch}w{workers}"), options).await;
        fleet.slow_every_call(LATENCY).await;
        let mut applications = Vec::new();
        for _ in 0..jobs * ROUNDS + 1 {
            applications.push(
                fleet
                    .control()
                    .submit_application(&SubmitOptions {
                        property_id: Some(100001),
                        every_email: true,
                        send_webhook: Some(false),
                        ..Default::default()
                    })
                    .await
                    .expect("submit"),
            );
        }
        // Warm-up: token, property address cache, connections.
        let first = applications.remove(0);
        let mut subject = Subject {
            prefetch,
            workers,
            jobs,
            fleet,
            second: None,
            applications,
        };
        publish(&subject.fleet, std::slice::from_ref(&first)).await;
        subject.wait_done(1).await;
        if workers == 2 {
            subject.second = Some(
                subject
                    .fleet
                    .spawn_worker(&[("RUST_LOG", "warn".into())])
                    .await,
            );
        }
        subjects.push(subject);
    }
    let mut rates: Vec<Vec<f64>> = subjects.iter().map(|_| Vec::new()).collect();
    let mut second_cpu = 0.0;
    for round in 0..ROUNDS {
        for (i, subject) in subjects.iter().enumerate() {
            let batch = &subject.applications[round * subject.jobs..(round + 1) * subject.jobs];
            let cpu_before = subject
                .second
                .as_ref()
                .map(|w| cpu_seconds(w.running.id()))
                .unwrap_or_default();
            let started = Instant::now();
            publish(&subject.fleet, batch).await;
            subject.wait_done(1 + (round + 1) * subject.jobs).await;
            rates[i].push(subject.jobs as f64 / started.elapsed().as_secs_f64());
            if let Some(second) = &subject.second {
                second_cpu += cpu_seconds(second.running.id()) - cpu_before;
            }
        }
    }
    println!();
    println!(
        "| prefetch | median jobs/s | ledger ms (part 1, as many jobs at once) | bound workers × prefetch / ({CALLS} × {} ms + ledger) | ratio | downstream-only bound | ratio to it | rounds (jobs/s) |",
        LATENCY.as_millis()
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, subject) in subjects.iter().enumerate() {
        let in_flight = subject.workers * subject.prefetch as usize;
        // The ledger's median at the nearest measured number of jobs at once.
        let ledger = ledger_ms
            .iter()
            .min_by_key(|(at_once, _)| at_once.abs_diff(in_flight))
            .map_or(0.0, |(_, ms)| *ms);
        let downstream = f64::from(CALLS) * LATENCY.as_secs_f64();
        let bound = in_flight as f64 / (downstream + ledger / 1000.0);
        let downstream_bound = in_flight as f64 / downstream;
        let median = median(rates[i].clone());
        let runs: Vec<String> = rates[i].iter().map(|r| format!("{r:.1}")).collect();
        println!(
            "| {} | {median:.1} | {ledger:.2} | {bound:.1} | {:.2} | {downstream_bound:.1} | {:.2} | {} |",
            subject.label(),
            median / bound,
            median / downstream_bound,
            runs.join(", ")
        );
    }
    println!();
    println!("| prefetch | mean job ms | downstream calls ms | ledger queries ms | the rest ms |");
    println!("|---|---|---|---|---|");
    for subject in &subjects {
        let text = subject.fleet.worker().metrics().await;
        let jobs = sum(
            &text,
            "worker_job_duration_seconds_count{queue=\"screenings\"}",
        );
        let per_job = |total: f64| total / jobs * 1000.0;
        let job = per_job(sum(
            &text,
            "worker_job_duration_seconds_sum{queue=\"screenings\"}",
        ));
        let downstream = per_job(sum(&text, "worker_downstream_duration_seconds_sum"));
        let ledger = per_job(sum(&text, "ledger_query_duration_seconds_sum"));
        println!(
            "| {} | {job:.1} | {downstream:.1} | {ledger:.1} | {:.1} |",
            subject.label(),
            job - downstream - ledger
        );
    }
    // The worker process of the two-worker subject: its memory, and its CPU per job.
    for subject in &subjects {
        if let Some(second) = &subject.second {
            let jobs = second
                .sample(r#"worker_jobs_total{outcome="done",queue="screenings"}"#)
                .await;
            let (rss, peak) = memory_mib(second.running.id());
            println!();
            println!(
                "| worker process | RSS MiB now | peak RSS MiB | jobs it did | CPU s per 1,000 jobs |"
            );
            println!("|---|---|---|---|---|");
            println!(
                "| prefetch {} | {rss:.1} | {peak:.1} | {jobs:.0} | {:.2} |",
                subject.prefetch,
                second_cpu / jobs * 1000.0
            );
        }
    }
    for subject in subjects {
        drop(subject.second);
        subject.fleet.stop().await;
    }
}

/// The sum of the samples of the series starting with `prefix` in a metrics text.
fn sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Publish each application's event to the fleet's exchange, as ingest would, confirmed.
async fn publish(fleet: &Fleet, applications: &[SubmittedApplication]) {
    let connection = Connection::connect(
        &fleet_tests::broker::amqp_url(),
        ConnectionProperties::default(),
    )
    .await
    .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let exchange = fleet.broker.topology().exchange();
    let mut confirms = Vec::new();
    for a in applications {
        let body = format!(
            r#"{{"eventType":"ApplicationSubmitted","propertyId":{},"applicationId":{}}}"#,
            a.property_id, a.application_id
        );
        let mut headers = FieldTable::default();
        headers.insert(
            "x-received-at".into(),
            AMQPValue::LongLongInt(shared::envelope::now_millis()),
        );
        let properties = BasicProperties::default()
            .with_message_id(format!("bench-{}", a.application_id).into())
            .with_delivery_mode(2)
            .with_headers(headers);
        confirms.push(
            channel
                .basic_publish(
                    exchange.as_str().into(),
                    shared::envelope::ENTRATA_ROUTING_KEY.into(),
                    BasicPublishOptions::default(),
                    body.as_bytes(),
                    properties,
                )
                .await
                .expect("publish"),
        );
    }
    for confirm in confirms {
        confirm.await.expect("confirm");
    }
    let _ = connection.close(200, "published".into()).await;
}
