//! The fault-injection run: the whole fleet in its production shape (ingest as a process, two
//! worker processes, the real broker, a real PostgreSQL, the simulators over HTTP) screening
//! applications submitted through the Entrata simulator while everything around it fails, and
//! then an account of every webhook that got a 2xx.
//!
//! What fails, in one run:
//! - Payscore answers 20 % 5xx and 5 % 429 with `Retry-After`, adds 0–300 ms to every call,
//!   leaves 2 % of calls hanging past the worker's timeout, and performs 3 % of creates without
//!   answering them; Entrata answers 10 % 5xx, adds 0–50 ms and has its rate limit spent twice;
//! - 20 % of application webhooks are delivered two or three times at once, a quarter of those
//!   once more a moment later; Payscore loses 10 % of its step webhooks (report checks make up
//!   for them) and sends 20 % twice;
//! - the broker closes every connection twice and is restarted once; PostgreSQL is restarted
//!   once; a worker is SIGKILLed and started again; ingest is SIGTERMed and started again;
//! - planted bad inputs: garbage bodies, applications without applicant email, emails Payscore
//!   rejects, an enabled-looking unknown property, a property that is not enabled, events that
//!   are not triggers.
//!
//! Webhooks answered 429, 5xx or not at all are retried by the Entrata simulator (as Entrata
//! is assumed to; the sandbox's `SANDBOX_ENTRATA_WEBHOOK_RETRIES`). Afterwards: lost = 0,
//! duplicate groups = 0, duplicate uploads = 0, and the dead-letter queues hold exactly the
//! planted bad inputs that should land there.
//!
//! `FAULT_RUN_APPLICATIONS` (default 200) sets the size, `FAULT_RUN_RATE` (default 5) the
//! applications submitted per second; `deploy/local/fault-run.sh` runs it at 10,000 on a release
//! build. The result table is written to `$CARGO_TARGET_TMPDIR/fault-run.md` and printed.

use fleet_tests::broker::header_text;
use fleet_tests::database;
use fleet_tests::fleet::{DISABLED_PROPERTY, Fleet, FleetOptions};
use fleet_tests::ingest::{IngestProcess, PASSWORD, USER};
use futures_util::StreamExt;
use sandbox::core::Simulator;
use sandbox::entrata::Resend;
use sandbox::entrata::submit::SubmitOptions;
use sandbox::payscore::webhooks::WebhookFaults;
use sandbox::{Faults, IngestSettings, Latency, SandboxConfig};
use shared::amqp::WorkQueue;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// What the run plants, and where each kind must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Planted {
    /// A body that is not JSON, posted straight to ingest: `unreadable_delivery`.
    Garbage,
    /// An application whose applicants have no email: `no_applicant_email`.
    NoEmail,
    /// An applicant email Payscore refuses: `payscore_rejected`.
    RejectedEmail,
    /// A webhook naming a property Entrata does not have: ignored, `property_not_enabled`.
    UnknownProperty,
    /// An application at a property the fleet does not enable: ignored.
    DisabledProperty,
    /// An event that does not trigger a screening: ignored, `not_a_trigger`.
    NotATrigger,
}

impl Planted {
    const ALL: [Planted; 6] = [
        Planted::Garbage,
        Planted::NoEmail,
        Planted::RejectedEmail,
        Planted::UnknownProperty,
        Planted::DisabledProperty,
        Planted::NotATrigger,
    ];

    /// The dead letter's `x-dead-reason`, or `None` when the input is ignored.
    fn dead_reason(self) -> Option<&'static str> {
        match self {
            Planted::Garbage => Some("unreadable_delivery"),
            Planted::NoEmail => Some("no_applicant_email"),
            Planted::RejectedEmail => Some("payscore_rejected"),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Planted::Garbage => "garbage body",
            Planted::NoEmail => "no applicant email",
            Planted::RejectedEmail => "email Payscore rejects",
            Planted::UnknownProperty => "unknown property",
            Planted::DisabledProperty => "property not enabled",
            Planted::NotATrigger => "not a trigger event",
        }
    }
}

/// How a dead letter (or a planted input) is recognised: the application id of its body, or
/// the garbage body itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Application(u64),
    Body(String),
}

fn key_of(body: &[u8]) -> Key {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let id = &v["applicationId"];
            id.as_u64().or_else(|| id.as_str()?.parse().ok())
        })
        .map_or_else(
            || Key::Body(String::from_utf8_lossy(body).into_owned()),
            Key::Application,
        )
}

/// Everything the submitter did, for the account.
#[derive(Debug, Default)]
struct Sent {
    /// Applications that must end with one group and one uploaded report.
    good: Vec<(u64, u64)>,
    /// Planted inputs by kind.
    planted: BTreeMap<Planted, Vec<Key>>,
    /// Application ids of the planted inputs that went through the simulator.
    planted_apps: BTreeSet<u64>,
    /// Copies asked for beyond the first (duplicated deliveries).
    extra_copies: usize,
    /// Garbage posts: answers by status (0 = no answer).
    garbage_answers: BTreeMap<u16, usize>,
    /// Planted inputs posted more than once because an attempt got no 2xx.
    retried: BTreeSet<Key>,
}

/// One event of the run's timeline.
#[derive(Debug)]
struct Disruption {
    at: Duration,
    what: String,
}

fn env_number(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn payscore_faults(create: bool) -> Faults {
    Faults {
        error_rate: 0.20,
        throttle_rate: 0.05,
        retry_after_seconds: 1,
        latency: Some(Latency::Uniform {
            min_ms: 0,
            max_ms: 300,
        }),
        hang_rate: 0.02,
        hang_ms: Some(3_000),
        hang_after_handling_rate: if create { 0.03 } else { 0.0 },
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_webhook_is_accounted_for_through_faults_restarts_and_duplicates() {
    let applications = env_number("FAULT_RUN_APPLICATIONS", 200);
    let rate = env_number("FAULT_RUN_RATE", 5).max(1) as f64;
    let planted_each = (applications / 50).max(2);

    let mut config = SandboxConfig::default();
    // Entrata retries a webhook that got no answer, a 429 or a 5xx for up to a minute.
    config.entrata.webhook_retry_delays = vec![Duration::from_millis(1_000); 60];
    // Households finish by themselves; their reports then land in the applicant files.
    config.payscore.begin_after = Some(Duration::from_millis(300));
    config.payscore.complete_after = Some(Duration::from_millis(1_500));
    config.payscore.webhook_retry_delays = vec![Duration::from_millis(300); 3];
    let retries: Vec<&str> = [["1s"; 4], ["2s"; 4], ["3s"; 4], ["5s"; 4], ["5s"; 4]]
        .concat()
        .into_iter()
        .collect();
    let fleet = Fleet::start(
        "fault-run",
        FleetOptions {
            start_worker: false,
            sandbox: config,
            env: vec![
                ("RETRY_SCHEDULE", retries.join(",")),
                ("REPORT_CHECK_FIRST_DELAY", "3s".into()),
                ("REPORT_CHECK_SCHEDULE", "2s".into()),
                ("WORKER_PREFETCH", "16".into()),
                ("WORKER_REPORTS_PREFETCH", "16".into()),
            ],
        },
    )
    .await;
    let control = fleet.control().clone();

    // Ingest as its own process, so that it can be signalled; everything talks to it.
    let mut ingest_env = fleet.worker_env.clone();
    ingest_env.remove("PROPERTIES_FILE");
    let ingest = Arc::new(Mutex::new(
        IngestProcess::start(ingest_env, &fleet.broker.prefix).await,
    ));
    let ingest_url = ingest.lock().await.url.clone();
    control
        .set_ingest(&IngestSettings {
            url: Some(format!("{ingest_url}/webhooks/entrata")),
            username: Some(USER.into()),
            password: Some(PASSWORD.into()),
            token: None,
        })
        .await
        .expect("point Entrata at the ingest process");
    let public = [("PUBLIC_BASE_URL", ingest_url.clone())];
    let worker_a = fleet.spawn_worker(&public).await;
    let worker_b = Arc::new(Mutex::new(Some(fleet.spawn_worker(&public).await)));

    for (route, faults) in [
        ("*", payscore_faults(false)),
        ("create_group", payscore_faults(true)),
    ] {
        control
            .set_faults(Simulator::Payscore, route, faults)
            .await
            .expect("Payscore faults");
    }
    let entrata_faults = Faults {
        error_rate: 0.10,
        latency: Some(Latency::Uniform {
            min_ms: 0,
            max_ms: 50,
        }),
        ..Faults::default()
    };
    control
        .set_faults(Simulator::Entrata, "*", entrata_faults)
        .await
        .expect("Entrata faults");
    control
        .set_webhook_faults(&WebhookFaults {
            loss_rate: 0.10,
            repeat_rate: 0.20,
        })
        .await
        .expect("webhook faults");

    // The timeline of disruptions, each when this share of the submissions has gone out.
    let started = Instant::now();
    let submitted = Arc::new(AtomicUsize::new(0));
    let total = applications + planted_each * Planted::ALL.len();
    let disruptions = {
        let submitted = submitted.clone();
        let control = control.clone();
        let ingest = ingest.clone();
        let worker_b = worker_b.clone();
        let broker = &fleet.broker;
        let fleet_ref = &fleet;
        async move {
            let mut log = Vec::new();
            let reached = |share: f64| {
                let submitted = submitted.clone();
                async move {
                    let goal = (total as f64 * share) as usize;
                    while submitted.load(Ordering::Relaxed) < goal {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            };
            let mut note = |what: String| {
                log.push(Disruption {
                    at: started.elapsed(),
                    what,
                })
            };
            reached(0.10).await;
            let n = broker.close_connections();
            note(format!("broker closed {n} connections"));
            reached(0.20).await;
            if let Some(mut b) = worker_b.lock().await.take() {
                b.kill();
            }
            note("worker B SIGKILLed".into());
            tokio::time::sleep(Duration::from_secs(2)).await;
            *worker_b.lock().await = Some(fleet_ref.spawn_worker(&public).await);
            note("worker B started again".into());
            reached(0.30).await;
            control
                .exhaust_rate_limit(None, 5)
                .await
                .expect("exhaust the rate limit");
            note("Entrata rate limit spent (resets in 5 s)".into());
            reached(0.40).await;
            broker.restart_broker(Duration::from_secs(3)).await;
            note("broker restarted (down 3 s)".into());
            reached(0.55).await;
            database::restart_server().await;
            note("PostgreSQL restarted".into());
            reached(0.65).await;
            let clean = ingest.lock().await.terminate().await;
            assert!(clean, "ingest exits cleanly on SIGTERM");
            note("ingest SIGTERMed, exited cleanly".into());
            ingest.lock().await.restart().await;
            note("ingest started again".into());
            reached(0.80).await;
            let n = broker.close_connections();
            note(format!("broker closed {n} connections"));
            reached(0.90).await;
            control
                .exhaust_rate_limit(None, 5)
                .await
                .expect("exhaust the rate limit");
            note("Entrata rate limit spent (resets in 5 s)".into());
            log
        }
    };

    let submit = submit_all(
        &control,
        &ingest_url,
        applications,
        planted_each,
        rate,
        submitted.clone(),
    );
    let (sent, timeline) = tokio::join!(submit, disruptions);
    let submitted_in = started.elapsed();

    // Wait for the outcome: every good application with a group and an uploaded report, every
    // planted dead letter in its queue, the fleet idle.
    let topology = fleet.broker.topology();
    let within = Duration::from_secs(180) + Duration::from_millis(100 * total as u64);
    let deadline = Instant::now() + within;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (no_group, no_report) = missing(&control, &sent.good, false).await;
        if no_group.is_empty() && no_report.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let (no_group, no_report) = missing(&control, &sent.good, true).await;
            let why = explain(&control, &no_group, &no_report).await;
            panic!(
                "after {within:?}: {} applications without a group {no_group:?}, {} without a \
                 report {no_report:?}\n{why}queues: {}\nlogs: /tmp/{}*.log",
                no_group.len(),
                no_report.len(),
                queue_depths(&fleet.broker.prefix),
                fleet.broker.prefix
            );
        }
    }
    let worker_b = worker_b.lock().await.take().expect("worker B runs");
    fleet.settled(&[&worker_a, &worker_b]).await;
    // Late retries and report checks (the longest wait is 5 s) have their chance to misbehave.
    tokio::time::sleep(Duration::from_secs(8)).await;
    fleet.settled(&[&worker_a, &worker_b]).await;
    let finished_in = started.elapsed();

    // The account.
    let groups = group_counts(&control).await.expect("groups");
    let mut lost = Vec::new();
    let mut duplicate_groups = 0;
    let mut reports_uploaded = 0;
    let mut duplicate_uploads = 0;
    let mut missing_reports = Vec::new();
    for (property, application) in &sent.good {
        match groups.get(&(*property, *application)).copied().unwrap_or(0) {
            0 => lost.push(*application),
            n => duplicate_groups += n - 1,
        }
        let uploads = control.uploads(*application).await.expect("uploads");
        match uploads.iter().filter(|u| u.status == "Success").count() {
            0 => missing_reports.push(*application),
            n => {
                reports_uploaded += 1;
                duplicate_uploads += n - 1;
            }
        }
    }
    let groups_of_planted: usize = groups
        .iter()
        .filter(|((_, a), _)| sent.planted_apps.contains(a))
        .map(|(_, n)| n)
        .sum();

    let mut dead: BTreeMap<(&'static str, String), Vec<Key>> = BTreeMap::new();
    for queue in [WorkQueue::Screenings, WorkQueue::Reports] {
        for message in fleet.broker.drain(&topology.dead_queue(queue)).await {
            let reason = header_text(&message, "x-dead-reason").unwrap_or_default();
            dead.entry((queue.as_str(), reason))
                .or_default()
                .push(key_of(&message.delivery.data));
        }
    }

    let journal = fleet
        .database
        .query(
            "SELECT queue, outcome, coalesce(reason, ''), count(*) FROM ledger_journal \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        )
        .await;
    let journal: Vec<(String, String, String, i64)> = journal
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let deliveries = control.ingest_deliveries().await.expect("deliveries");
    let payscore_webhooks = control.webhooks_sent().await.expect("Payscore webhooks");
    let payscore_calls = control
        .call_counts(Simulator::Payscore)
        .await
        .expect("calls");
    let entrata_calls = control
        .call_counts(Simulator::Entrata)
        .await
        .expect("calls");

    // The table.
    let mut table = String::new();
    let broker_version = broker_version();
    let _ = writeln!(
        table,
        "Fault-injection run: {applications} applications and {} planted bad inputs at \
         {rate}/s, two workers, {broker_version}; submitted in {:.0} s, settled after {:.0} s.\n",
        planted_each * Planted::ALL.len(),
        submitted_in.as_secs_f64(),
        finished_in.as_secs_f64()
    );
    let _ = writeln!(table, "| what | count |\n|---|---|");
    let row = |table: &mut String, what: &str, n: usize| {
        let _ = writeln!(table, "| {what} | {n} |");
    };
    let accepted = deliveries
        .iter()
        .filter(|d| d.status.is_some_and(|s| (200..300).contains(&s)))
        .count()
        + sent
            .garbage_answers
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum::<usize>();
    let retried = deliveries.iter().filter(|d| d.attempt > 1).count();
    let refused = deliveries
        .iter()
        .filter(|d| !d.status.is_some_and(|s| (200..300).contains(&s)))
        .count();
    row(
        &mut table,
        "Entrata webhooks answered 2xx (accepted, copies and garbage included)",
        accepted,
    );
    row(
        &mut table,
        "… of which duplicate copies sent on purpose",
        sent.extra_copies,
    );
    row(
        &mut table,
        "Entrata webhook attempts answered 429, 5xx or not at all",
        refused,
    );
    row(
        &mut table,
        "Entrata webhook attempts that were retries",
        retried,
    );
    let delivered = payscore_webhooks.iter().filter(|w| w.delivered).count();
    let lost_on_purpose = payscore_webhooks.iter().filter(|w| w.lost).count();
    let undelivered = payscore_webhooks
        .iter()
        .filter(|w| !w.delivered && !w.lost && !w.suppressed)
        .count();
    row(
        &mut table,
        "Payscore webhooks accepted by ingest",
        delivered,
    );
    row(
        &mut table,
        "Payscore webhooks lost on purpose",
        lost_on_purpose,
    );
    row(
        &mut table,
        "Payscore webhooks not accepted after its retries (restarts)",
        undelivered,
    );
    row(
        &mut table,
        "applications that must be screened",
        sent.good.len(),
    );
    row(
        &mut table,
        "screening groups created for them",
        groups
            .iter()
            .filter(|((_, a), _)| !sent.planted_apps.contains(a))
            .map(|(_, n)| n)
            .sum(),
    );
    row(
        &mut table,
        "reports uploaded (applications with one)",
        reports_uploaded,
    );
    for (queue, outcome, reason, n) in &journal {
        if matches!(outcome.as_str(), "duplicate" | "ignored") {
            let what = if reason.is_empty() {
                format!("journal: {queue} {outcome}")
            } else {
                format!("journal: {queue} {outcome} ({reason})")
            };
            row(&mut table, &what, *n as usize);
        }
    }
    for ((queue, reason), keys) in &dead {
        let distinct = keys.iter().collect::<BTreeSet<_>>().len();
        let _ = writeln!(
            table,
            "| dead-lettered: {queue} `{reason}` (distinct inputs) | {} ({distinct}) |",
            keys.len()
        );
    }
    for kind in Planted::ALL {
        row(
            &mut table,
            &format!("planted: {}", kind.name()),
            sent.planted[&kind].len(),
        );
    }
    let fault_count = |calls: &BTreeMap<String, BTreeMap<String, u64>>, status: &str| -> u64 {
        calls.values().filter_map(|m| m.get(status)).sum()
    };
    let _ = writeln!(
        table,
        "| Payscore calls answered 500 / 429 | {} / {} |",
        fault_count(&payscore_calls, "500"),
        fault_count(&payscore_calls, "429"),
    );
    let _ = writeln!(
        table,
        "| Entrata calls answered 500 / 429 | {} / {} |",
        fault_count(&entrata_calls, "500"),
        fault_count(&entrata_calls, "429")
    );
    row(
        &mut table,
        "**lost** (no group or no report)",
        lost.len() + missing_reports.len(),
    );
    row(&mut table, "**duplicate groups**", duplicate_groups);
    row(&mut table, "**duplicate uploads**", duplicate_uploads);
    let _ = writeln!(table, "\nTimeline:\n");
    for d in &timeline {
        let _ = writeln!(table, "- {:>6.1} s: {}", d.at.as_secs_f64(), d.what);
    }
    println!("{table}");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-run.md");
    let _ = std::fs::write(&out, &table);

    // The guarantees.
    assert!(
        lost.is_empty(),
        "applications without a group: {lost:?}\n{table}"
    );
    assert!(
        missing_reports.is_empty(),
        "applications without a report: {missing_reports:?}\n{table}"
    );
    assert_eq!(duplicate_groups, 0, "duplicate groups\n{table}");
    assert_eq!(duplicate_uploads, 0, "duplicate uploads\n{table}");
    assert_eq!(groups_of_planted, 0, "a planted input got a group\n{table}");
    let mut expected: BTreeMap<(&'static str, String), BTreeSet<Key>> = BTreeMap::new();
    for (kind, keys) in &sent.planted {
        if let Some(reason) = kind.dead_reason() {
            expected
                .entry((WorkQueue::Screenings.as_str(), reason.to_owned()))
                .or_default()
                .extend(keys.iter().cloned());
        }
    }
    let found: BTreeMap<(&'static str, String), BTreeSet<Key>> = dead
        .iter()
        .map(|(k, keys)| (k.clone(), keys.iter().cloned().collect()))
        .collect();
    assert_eq!(
        found, expected,
        "the dead-letter queues hold exactly the planted bad inputs\n{table}"
    );
    // A planted input is dead-lettered more than once only when its sender posted it again
    // after an answer that was not a 2xx (ingest answers 503 when the broker's confirm is lost
    // with its connection, although the broker may have stored the message): at least once.
    let mut retried = sent.retried.clone();
    for d in deliveries.iter().filter(|d| d.attempt > 1) {
        retried.insert(Key::Application(d.application_id));
    }
    for keys in dead.values() {
        let mut seen = BTreeSet::new();
        for key in keys {
            assert!(
                seen.insert(key) || retried.contains(key),
                "{key:?} was dead-lettered twice although it was sent once\n{table}"
            );
        }
    }
    drop((worker_a, worker_b));
    ingest.lock().await.terminate().await;
    fleet.stop().await;
}

/// Submit `applications` good applications and the planted bad inputs, interleaved, at `rate`
/// per second, duplicating 20 % of the webhooks.
async fn submit_all(
    control: &sandbox::ControlClient,
    ingest_url: &str,
    applications: usize,
    planted_each: usize,
    rate: f64,
    submitted: Arc<AtomicUsize>,
) -> Sent {
    // The plan: good applications with the planted inputs spread evenly among them.
    let planted_total = planted_each * Planted::ALL.len();
    let total = applications + planted_total;
    let mut plan: Vec<Option<Planted>> = vec![None; total];
    for k in 0..planted_total {
        plan[k * total / planted_total] = Some(Planted::ALL[k % Planted::ALL.len()]);
    }
    let sent = Arc::new(Mutex::new(Sent::default()));
    for kind in Planted::ALL {
        sent.lock().await.planted.insert(kind, Vec::new());
    }
    let client = reqwest::Client::new();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let jobs = plan.into_iter().enumerate().map(|(i, item)| {
        let (sent, client, submitted) = (sent.clone(), client.clone(), submitted.clone());
        async move {
            tokio::time::sleep_until((start + interval * i as u32).into()).await;
            match item {
                None => submit_good(control, i, &sent).await,
                Some(kind) => plant(control, &client, ingest_url, kind, i, &sent).await,
            }
            submitted.fetch_add(1, Ordering::Relaxed);
        }
    });
    futures_util::stream::iter(jobs)
        .buffer_unordered(256)
        .collect::<Vec<()>>()
        .await;
    Arc::try_unwrap(sent)
        .expect("submissions done")
        .into_inner()
}

async fn submit_good(control: &sandbox::ControlClient, i: usize, sent: &Mutex<Sent>) {
    let options = SubmitOptions {
        property_id: Some(100001 + (i % 4) as u64),
        every_email: true,
        send_webhook: Some(false),
        ..Default::default()
    };
    let app = control.submit_application(&options).await.expect("submit");
    sent.lock()
        .await
        .good
        .push((app.property_id, app.application_id));
    // One in five is delivered two or three times at once; a quarter of those again later.
    let copies = if fastrand::f64() < 0.2 {
        fastrand::u32(2..=3)
    } else {
        1
    };
    let resend = Resend {
        copies: Some(copies),
        event_type: None,
    };
    let _ = control
        .resend_application_webhook(app.application_id, &resend)
        .await
        .expect("deliver");
    let mut extra = copies as usize - 1;
    if copies > 1 && fastrand::f64() < 0.25 {
        tokio::time::sleep(Duration::from_millis(fastrand::u64(500..3_000))).await;
        let _ = control
            .resend_application_webhook(app.application_id, &Resend::default())
            .await
            .expect("deliver again");
        extra += 1;
    }
    sent.lock().await.extra_copies += extra;
}

async fn plant(
    control: &sandbox::ControlClient,
    client: &reqwest::Client,
    ingest_url: &str,
    kind: Planted,
    i: usize,
    sent: &Mutex<Sent>,
) {
    let through_entrata = |options: SubmitOptions| async move {
        control
            .submit_application(&options)
            .await
            .expect("submit")
            .application_id
    };
    let key = match kind {
        Planted::Garbage => {
            let body = format!("garbage #{i} {{{{ not json");
            let (status, attempts) = post_raw(client, ingest_url, body.clone()).await;
            let mut sent = sent.lock().await;
            *sent.garbage_answers.entry(status).or_default() += 1;
            if attempts > 1 {
                sent.retried.insert(Key::Body(body.clone()));
            }
            Key::Body(body)
        }
        Planted::UnknownProperty => {
            // Past every id the simulator hands out.
            let application = 9_000_000 + i as u64;
            let body = serde_json::json!({
                "webhookType": "oa.application.events",
                "eventType": "ApplicationSubmitted",
                "propertyId": 999_999,
                "applicationId": application,
            })
            .to_string();
            let (status, _) = post_raw(client, ingest_url, body).await;
            assert!((200..300).contains(&status), "unknown property accepted");
            Key::Application(application)
        }
        Planted::NoEmail => Key::Application(
            through_entrata(SubmitOptions {
                property_id: Some(100001),
                without_email: true,
                ..Default::default()
            })
            .await,
        ),
        Planted::RejectedEmail => Key::Application(
            through_entrata(SubmitOptions {
                property_id: Some(100002),
                every_email: true,
                nonexistent_email: true,
                ..Default::default()
            })
            .await,
        ),
        Planted::DisabledProperty => Key::Application(
            through_entrata(SubmitOptions {
                property_id: Some(DISABLED_PROPERTY),
                every_email: true,
                ..Default::default()
            })
            .await,
        ),
        Planted::NotATrigger => Key::Application(
            through_entrata(SubmitOptions {
                property_id: Some(100003),
                every_email: true,
                event_type: Some("ApplicationViewed".into()),
                ..Default::default()
            })
            .await,
        ),
    };
    let mut sent = sent.lock().await;
    if let Key::Application(id) = &key {
        sent.planted_apps.insert(*id);
    }
    sent.planted.get_mut(&kind).expect("kind").push(key);
}

/// POST `body` to ingest's Entrata route as Entrata would, retrying a 429, a 5xx or no answer
/// for up to a minute; the last status (0: never answered) and the number of attempts.
async fn post_raw(client: &reqwest::Client, ingest_url: &str, body: String) -> (u16, usize) {
    let mut status = 0;
    let mut attempts = 0;
    for _ in 0..60 {
        attempts += 1;
        let answer = client
            .post(format!("{ingest_url}/webhooks/entrata"))
            .basic_auth(USER, Some(PASSWORD))
            .header("content-type", "application/json")
            .body(body.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        status = answer.map_or(0, |a| a.status().as_u16());
        if status != 0 && status != 429 && status < 500 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    (status, attempts)
}

/// The good applications without a group and those without an uploaded report (`all`: every
/// one; otherwise the lists stop at the first of each).
async fn missing(
    control: &sandbox::ControlClient,
    good: &[(u64, u64)],
    all: bool,
) -> (Vec<u64>, Vec<u64>) {
    let Some(groups) = group_counts(control).await else {
        return (vec![0], vec![0]);
    };
    let mut no_group = Vec::new();
    let mut no_report = Vec::new();
    for (property, application) in good {
        if groups.get(&(*property, *application)).copied().unwrap_or(0) == 0 {
            no_group.push(*application);
        } else if no_report.is_empty() || all {
            let uploaded = control
                .uploads(*application)
                .await
                .is_ok_and(|u| u.iter().any(|u| u.status == "Success"));
            if !uploaded {
                no_report.push(*application);
            }
        }
        if !all && !no_group.is_empty() {
            break;
        }
    }
    (no_group, no_report)
}

/// What the simulators saw of the first few missing applications.
async fn explain(control: &sandbox::ControlClient, no_group: &[u64], no_report: &[u64]) -> String {
    let mut out = String::new();
    let deliveries = control.ingest_deliveries().await.unwrap_or_default();
    for application in no_group.iter().take(5) {
        let answers: Vec<_> = deliveries
            .iter()
            .filter(|d| d.application_id == *application)
            .map(|d| (d.attempt, d.status, d.error.clone()))
            .collect();
        let _ = writeln!(
            out,
            "application {application}: webhook attempts {answers:?}"
        );
    }
    let groups = control.groups().await.unwrap_or_default();
    for application in no_report.iter().take(5) {
        let suffix = format!(":{application}");
        for group in groups.iter().filter(|g| {
            g.correlation_id
                .as_deref()
                .is_some_and(|c| c.ends_with(&suffix))
        }) {
            let webhooks: Vec<_> = control
                .webhooks_sent()
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|w| w.screening_group_id == group.id)
                .map(|w| (w.code, w.delivered, w.lost))
                .collect();
            let _ = writeln!(
                out,
                "application {application}: group {} {:?}, report version {}, webhooks {webhooks:?}",
                group.id, group.status, group.report_version
            );
        }
    }
    out
}

/// `name messages` of the test's queues, from `rabbitmqctl list_queues`.
fn queue_depths(prefix: &str) -> String {
    fleet_tests::broker::rabbitmqctl()
        .args(["list_queues", "name", "messages", "-q"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.starts_with(prefix))
                .map(|l| l.replace('\t', "="))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Groups per (property, application), from the correlation ids Payscore holds.
async fn group_counts(control: &sandbox::ControlClient) -> Option<HashMap<(u64, u64), usize>> {
    let mut counts = HashMap::new();
    for group in control.groups().await.ok()? {
        let Some(correlation) = group.correlation_id else {
            continue;
        };
        let mut parts = correlation.split(':').skip(1);
        let (Some(p), Some(a)) = (parts.next(), parts.next()) else {
            continue;
        };
        if let (Ok(p), Ok(a)) = (p.parse(), a.parse()) {
            *counts.entry((p, a)).or_default() += 1;
        }
    }
    Some(counts)
}

fn broker_version() -> String {
    fleet_tests::broker::rabbitmqctl()
        .args(["-q", "version"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .map_or_else(|| "RabbitMQ".to_owned(), |v| format!("RabbitMQ {v}"))
}
