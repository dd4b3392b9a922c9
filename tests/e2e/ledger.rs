//! The ledger in the production shape: two or more real `worker` processes, the real broker,
//! a real PostgreSQL. One group per application and one upload per report, however many
//! replicas race, whatever crashes; database outages cost nothing; the journal tells.

use crate::reports::{completion_webhooks, suppress_completion, uploads};
use fleet_tests::eventually;
use fleet_tests::fleet::{Fleet, FleetOptions};
use fleet_tests::process::binary;
use fleet_tests::tcp_proxy::TcpProxy;
use fleet_tests::{TestDatabase, database};
use sandbox::core::Simulator;
use sandbox::entrata::Resend;
use sandbox::entrata::submit::{SubmitOptions, SubmittedApplication};
use sandbox::{Faults, Latency, Scripted, ScriptedAction};
use shared::amqp::WorkQueue;
use std::time::{Duration, Instant};

const SCREENINGS_DONE: &str = r#"worker_jobs_total{outcome="done",queue="screenings"}"#;

/// Applications submitted without their webhook (the test sends it).
async fn submit_silently(fleet: &Fleet, n: u64) -> Vec<SubmittedApplication> {
    let mut all = Vec::new();
    for i in 0..n {
        let options = SubmitOptions {
            property_id: Some(100001 + i % 4),
            every_email: true,
            send_webhook: Some(false),
            ..Default::default()
        };
        all.push(
            fleet
                .control()
                .submit_application(&options)
                .await
                .expect("submit"),
        );
    }
    all
}

fn slow(ms: u64) -> Faults {
    Faults {
        latency: Some(Latency::Fixed(ms)),
        ..Default::default()
    }
}

#[tokio::test]
async fn two_workers_racing_over_fifty_applications_sent_four_times_each_create_fifty_groups() {
    let fleet = Fleet::start(
        "ledger-race",
        FleetOptions {
            start_worker: false,
            env: vec![("WORKER_PREFETCH", "16".into())],
            ..Default::default()
        },
    )
    .await;
    // Slow creates and lookups: the window in which a per-process guard lets two pods both
    // see "no group" and both create one.
    for route in ["create_group", "applicant_groups"] {
        fleet
            .control()
            .set_faults(Simulator::Payscore, route, slow(150))
            .await
            .expect("faults");
    }
    let a = fleet.spawn_worker(&[]).await;
    let b = fleet.spawn_worker(&[]).await;
    let submitted = submit_silently(&fleet, 50).await;
    let resend = Resend {
        copies: Some(4),
        event_type: None,
    };
    let sends = submitted.iter().map(|s| {
        fleet
            .control()
            .resend_application_webhook(s.application_id, &resend)
    });
    for sent in futures_util::future::join_all(sends).await {
        sent.expect("resend");
    }
    eventually(Duration::from_secs(90), "fifty groups", || async {
        (fleet.control().groups().await.ok()?.len() >= 50).then_some(())
    })
    .await;
    fleet.settled(&[&a, &b]).await;
    let groups = fleet.control().groups().await.expect("groups");
    let mut duplicates = 0;
    for s in &submitted {
        let n = fleet.group_count(s.property_id, s.application_id).await;
        assert!(n >= 1, "application {} has no group", s.application_id);
        duplicates += n - 1;
    }
    assert_eq!(duplicates, 0, "duplicate groups");
    assert_eq!(groups.len(), 50);
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    assert_eq!(fleet.broker.count(&dead).await, 0, "nothing dead-lettered");
    let (done_a, done_b) = (
        a.sample(SCREENINGS_DONE).await,
        b.sample(SCREENINGS_DONE).await,
    );
    assert_eq!(done_a + done_b, 50.0, "one job created each group");
    assert!(
        done_a > 0.0 && done_b > 0.0,
        "both workers created groups ({done_a}, {done_b})"
    );
    assert_eq!(
        fleet
            .database
            .count("SELECT count(*) FROM ledger_applications WHERE state = 'created'")
            .await,
        50
    );
    drop((a, b));
    fleet.stop().await;
}

#[tokio::test]
async fn a_worker_killed_during_its_create_is_taken_over_within_the_claim_ttl_and_one_group_remains()
 {
    let ttl = 15;
    let fleet = Fleet::start(
        "ledger-kill",
        FleetOptions {
            start_worker: false,
            env: vec![
                ("PAYSCORE_TIMEOUT_MS", "10000".into()),
                ("LEDGER_CLAIM_TTL_SECONDS", ttl.to_string()),
            ],
            ..Default::default()
        },
    )
    .await;
    // Payscore creates the group, then holds the answer far longer than the worker waits.
    fleet
        .control()
        .fail_next(
            Simulator::Payscore,
            "create_group",
            Scripted {
                hang_ms: Some(60_000),
                ..Scripted::action(1, ScriptedAction::HangAfterHandling)
            },
        )
        .await
        .expect("fault");
    let mut first = fleet.spawn_worker(&[]).await;
    let a = fleet.submit(100001).await;
    // The sandbox stored the group; its answer is held back.
    eventually(Duration::from_secs(20), "the create under way", || async {
        (fleet.group_count(a.property_id, a.application_id).await == 1).then_some(())
    })
    .await;
    let second = fleet.spawn_worker(&[]).await;
    first.kill();
    let killed = Instant::now();
    fleet.one_group(a.property_id, a.application_id).await;
    second.wait_ready().await;
    eventually(
        Duration::from_secs(ttl + 20),
        "the second worker done",
        || async { (second.sample(SCREENINGS_DONE).await == 1.0).then_some(()) },
    )
    .await;
    let took = killed.elapsed();
    assert!(
        took <= Duration::from_secs(ttl + 10),
        "taken over {took:?} after the kill (claim TTL {ttl} s)"
    );
    assert!(
        second.sample("ledger_claims_waited_total").await >= 1.0,
        "the second worker waited for the dead one's claim"
    );
    assert_eq!(fleet.group_count(a.property_id, a.application_id).await, 1);
    assert!(
        fleet
            .calls(Simulator::Payscore, "create_group")
            .await
            .iter()
            .all(|c| c.status.is_none()),
        "no create was answered: the intent without a group was resolved by the lookup"
    );
    drop(second);
    fleet.stop().await;
}

#[tokio::test]
async fn a_create_that_timed_out_is_not_repeated_while_the_lookup_lags_behind() {
    let mut options = FleetOptions::default();
    options.sandbox.payscore.list_lag = Duration::from_secs(4);
    options.env.push(("PAYSCORE_LOOKUP_SETTLE", "15s".into()));
    let fleet = Fleet::start("ledger-lag", options).await;
    fleet.lose_next_create_answer().await;
    let a = fleet.submit(100002).await;
    fleet.worker().wait_for(SCREENINGS_DONE, 1.0).await;
    assert_eq!(fleet.group_count(a.property_id, a.application_id).await, 1);
    assert_eq!(
        fleet.calls(Simulator::Payscore, "create_group").await.len(),
        1,
        "no second create while the list could not show the first"
    );
    let pending = fleet
        .database
        .count(
            "SELECT count(*) FROM ledger_journal \
             WHERE reason = 'create_outcome_pending' AND outcome = 'retried'",
        )
        .await;
    assert!(pending >= 1, "the lagging lookups were waited out");
    fleet.stop().await;
}

#[tokio::test]
async fn completions_and_report_checks_racing_on_two_workers_upload_a_report_once() {
    let fleet = Fleet::start(
        "ledger-reports",
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
    let a = fleet.spawn_worker(&[]).await;
    let b = fleet.spawn_worker(&[]).await;
    let app = fleet.submit(100001).await;
    let group = fleet.one_group(app.property_id, app.application_id).await;
    // Slow uploads widen the race; the first upload times out although it lands.
    fleet
        .control()
        .set_faults(Simulator::Entrata, "leases/sendLeaseDocuments", slow(300))
        .await
        .expect("faults");
    fleet
        .control()
        .fail_next(
            Simulator::Entrata,
            "leases/sendLeaseDocuments",
            Scripted {
                hang_ms: Some(5_000),
                ..Scripted::action(1, ScriptedAction::HangAfterHandling)
            },
        )
        .await
        .expect("fault");
    suppress_completion(&fleet).await;
    fleet
        .control()
        .complete_group(&group.id)
        .await
        .expect("complete");
    completion_webhooks(&fleet, &group, 3).await;
    let done = uploads(&fleet, app.application_id, 1).await;
    // Report checks keep coming every second: give them and the retries time to race.
    eventually(Duration::from_secs(30), "the report recorded", || async {
        let n = fleet
            .database
            .count("SELECT count(*) FROM ledger_reports WHERE state = 'uploaded'")
            .await;
        (n == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    fleet.settled(&[&a, &b]).await;
    let all = fleet
        .control()
        .uploads(app.application_id)
        .await
        .expect("uploads");
    assert_eq!(
        all.iter().filter(|u| u.status == "Success").count(),
        1,
        "one upload: {all:?}"
    );
    assert_eq!(done.len(), 1);
    // The upload that timed out landed: the document list resolved it (duplicate), no
    // second upload was sent.
    let resolved = r#"worker_jobs_total{outcome="duplicate",queue="reports"}"#;
    assert!(
        a.sample(resolved).await + b.sample(resolved).await >= 1.0,
        "the unknown upload was resolved as already in the applicant file"
    );
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Reports);
    assert_eq!(fleet.broker.count(&dead).await, 0);
    drop((a, b));
    fleet.stop().await;
}

#[tokio::test]
async fn a_completion_for_a_group_nobody_knows_is_dead_lettered_as_unknown_group() {
    let fleet = Fleet::start("ledger-unknown", FleetOptions::default()).await;
    let body = br#"{"code":"SCREENING_GROUP_COMPLETED","screening_group_id":"no-such-group"}"#;
    let secret = fleet.worker_env["PAYSCORE_WEBHOOK_SECRET"].clone();
    let signature = {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    };
    let answer = reqwest::Client::new()
        .post(format!("{}/webhooks/payscore", fleet.ingest.url))
        .header("Verification-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 202);
    let dead = fleet.dead_letter(WorkQueue::Reports, "unknown_group").await;
    assert_eq!(dead.delivery.data, body, "kept byte for byte for a replay");
    fleet.stop().await;
}

#[tokio::test]
async fn a_database_outage_under_load_costs_no_attempt_and_no_application() {
    let upstream = {
        let url = database::admin_url();
        let config: tokio_postgres::Config = url.parse().expect("admin url");
        let host = match &config.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            #[allow(unreachable_patterns)]
            _ => "127.0.0.1".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}")
    };
    let proxy = TcpProxy::start(upstream).await;
    let fleet = Fleet::start(
        "ledger-outage",
        FleetOptions {
            start_worker: false,
            ..Default::default()
        },
    )
    .await;
    // The worker reaches its database only through the proxy.
    let through_proxy = {
        let mut config: tokio_postgres::Config = fleet.database.url.parse().expect("url");
        config.host("127.0.0.1").port(proxy.addr.port());
        let user = config.get_user().unwrap_or("postgres").to_owned();
        let name = fleet.database.name.clone();
        format!("postgres://{user}@127.0.0.1:{}/{name}", proxy.addr.port())
    };
    fleet
        .control()
        .set_faults(Simulator::Payscore, "create_group", slow(100))
        .await
        .expect("faults");
    let worker = fleet.spawn_worker(&[("DATABASE_URL", through_proxy)]).await;
    let submitted = submit_silently(&fleet, 20).await;
    for s in &submitted[..10] {
        fleet
            .control()
            .resend_application_webhook(s.application_id, &Resend::default())
            .await
            .expect("resend");
    }
    eventually(Duration::from_secs(30), "a few groups", || async {
        (fleet.control().groups().await.ok()?.len() >= 2).then_some(())
    })
    .await;
    proxy.cut();
    for s in &submitted[10..] {
        fleet
            .control()
            .resend_application_webhook(s.application_id, &Resend::default())
            .await
            .expect("resend");
    }
    let readyz = eventually(Duration::from_secs(20), "not ready", || async {
        worker.readyz().await.filter(|(status, _)| *status == 503)
    })
    .await;
    assert!(
        readyz.1.contains("ledger"),
        "/readyz says why: {:?}",
        readyz.1
    );
    assert_eq!(worker.sample("ledger_connected").await, 0.0);
    tokio::time::sleep(Duration::from_secs(5)).await;
    proxy.restore();
    worker.wait_ready().await;
    eventually(
        Duration::from_secs(60),
        "every application screened",
        || async { (fleet.control().groups().await.ok()?.len() >= 20).then_some(()) },
    )
    .await;
    fleet.settled(&[&worker]).await;
    for s in &submitted {
        assert_eq!(
            fleet.group_count(s.property_id, s.application_id).await,
            1,
            "application {}",
            s.application_id
        );
    }
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    assert_eq!(fleet.broker.count(&dead).await, 0, "nothing dead-lettered");
    assert_eq!(
        worker
            .sample(r#"worker_jobs_total{outcome="retried",queue="screenings"}"#)
            .await,
        0.0,
        "no attempt spent"
    );
    assert_eq!(worker.sample("ledger_connected").await, 1.0);
    drop(worker);
    fleet.stop().await;
}

#[tokio::test]
async fn two_processes_migrating_an_empty_database_at_once_make_one_schema() {
    let database = TestDatabase::new("ledger-migrate").await;
    let run = || {
        std::process::Command::new(binary("worker"))
            .arg("migrate")
            .env("DATABASE_URL", &database.url)
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(run);
        let b = s.spawn(run);
        (
            a.join().expect("thread").expect("worker migrate"),
            b.join().expect("thread").expect("worker migrate"),
        )
    });
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    let every: Vec<i32> = worker::ledger::migrate::MIGRATIONS
        .iter()
        .map(|(version, _, _)| *version)
        .collect();
    assert_eq!(
        said.matches(&format!("applied now: {every:?}")).count(),
        1,
        "exactly one of them applied the migrations: {said}"
    );
    assert_eq!(
        said.matches("applied now: []").count(),
        1,
        "the other found nothing to do: {said}"
    );
    assert_eq!(
        database
            .count("SELECT count(*) FROM ledger_migrations")
            .await,
        worker::ledger::migrate::latest() as i64
    );
}

#[tokio::test]
async fn worker_status_shows_a_finished_a_dead_lettered_and_a_retried_journey() {
    let fleet = Fleet::start(
        "ledger-status",
        FleetOptions {
            env: vec![("REPORT_CHECK_FIRST_DELAY", "1s".into())],
            ..Default::default()
        },
    )
    .await;
    // Finished: screened, completed, uploaded.
    let finished = fleet.submit(100001).await;
    let group = fleet
        .one_group(finished.property_id, finished.application_id)
        .await;
    fleet
        .control()
        .complete_group(&group.id)
        .await
        .expect("complete");
    uploads(&fleet, finished.application_id, 1).await;
    // Dead-lettered: no applicant email.
    let dead = fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100002),
            without_email: true,
            ..Default::default()
        })
        .await
        .expect("submit");
    fleet
        .dead_letter(WorkQueue::Screenings, "no_applicant_email")
        .await;
    // Retried: Entrata's read fails once past the quick retry, then succeeds.
    fleet
        .control()
        .fail_next(
            Simulator::Entrata,
            "leads/getLeads",
            Scripted::status(2, 500),
        )
        .await
        .expect("fault");
    let retried = fleet.submit(100003).await;
    fleet
        .one_group(retried.property_id, retried.application_id)
        .await;

    let status = |args: &[&str]| {
        let out = std::process::Command::new(binary("worker"))
            .arg("status")
            .args(args)
            .env("DATABASE_URL", &fleet.database.url)
            .output()
            .expect("worker status");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = status(&["--application", &finished.application_id.to_string()]);
    assert!(
        text.contains(&format!("screening group {}", group.id)),
        "{text}"
    );
    assert!(text.contains("created"), "{text}");
    assert!(text.contains("uploaded"), "{text}");
    assert!(
        text.contains(&format!("file payscore-{}-", group.id)),
        "{text}"
    );
    assert!(
        text.contains("entrata delivery"),
        "the webhook's arrival: {text}"
    );

    let json: serde_json::Value = serde_json::from_str(&status(&[
        "--application",
        &dead.application_id.to_string(),
        "--json",
    ]))
    .expect("json");
    let events = json["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["outcome"] == "dead_lettered" && e["reason"] == "no_applicant_email"),
        "{json}"
    );

    let json: serde_json::Value = serde_json::from_str(&status(&[
        "--application",
        &retried.application_id.to_string(),
        "--json",
    ]))
    .expect("json");
    let outcomes: Vec<(&str, u64)> = json["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["queue"] == "screenings")
        .map(|e| {
            (
                e["outcome"].as_str().unwrap_or_default(),
                e["attempt"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(outcomes, [("retried", 0), ("done", 1)], "{json}");

    let by_group = status(&["--group", &group.id]);
    assert!(
        by_group.contains(&format!("application {}", finished.application_id)),
        "{by_group}"
    );
    let unknown = std::process::Command::new(binary("worker"))
        .args(["status", "--application", "999999999"])
        .env("DATABASE_URL", &fleet.database.url)
        .output()
        .expect("worker status");
    assert_eq!(unknown.status.code(), Some(1), "nothing known: exit 1");
    fleet.stop().await;
}

#[tokio::test]
async fn without_a_lookup_an_unknown_create_waits_for_an_operator_who_resolves_and_replays_it() {
    let fleet = Fleet::start(
        "ledger-resolve",
        FleetOptions {
            env: vec![("PAYSCORE_LOOKUP", "none".into())],
            ..Default::default()
        },
    )
    .await;
    fleet.lose_next_create_answer().await;
    let a = fleet.submit(100001).await;
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    eventually(Duration::from_secs(20), "the dead letter", || async {
        (fleet.broker.count(&dead).await == 1).then_some(())
    })
    .await;
    let run = |args: &[&str]| {
        std::process::Command::new(binary("worker"))
            .args(args)
            .envs(&fleet.worker_env)
            .output()
            .expect("worker")
    };
    let listed = run(&["replay", "--queue", "screenings", "--dry-run"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("create_outcome_unknown"),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );
    // The operator finds the group in Payscore.
    let group = fleet.one_group(a.property_id, a.application_id).await;
    let resolved = run(&[
        "resolve",
        "--property",
        &a.property_id.to_string(),
        "--application",
        &a.application_id.to_string(),
        "--group",
        &group.id,
    ]);
    assert!(
        resolved.status.success(),
        "{}",
        String::from_utf8_lossy(&resolved.stderr)
    );
    let again = run(&[
        "resolve",
        "--property",
        &a.property_id.to_string(),
        "--application",
        &a.application_id.to_string(),
        "--not-created",
    ]);
    assert_eq!(again.status.code(), Some(1), "nothing left to resolve");
    // The replayed dead letter finds the recorded group and forwards its report check at last.
    let replayed = run(&["replay", "--queue", "screenings"]);
    assert!(replayed.status.success());
    let duplicate = r#"worker_jobs_total{outcome="duplicate",queue="screenings"}"#;
    fleet.worker().wait_for(duplicate, 1.0).await;
    let checks = fleet
        .broker
        .topology()
        .tier_for(WorkQueue::Reports, Duration::from_secs(3600))
        .queue;
    assert_eq!(
        fleet.broker.count(&checks).await,
        1,
        "the report check forwarded"
    );
    assert_eq!(fleet.group_count(a.property_id, a.application_id).await, 1);
    assert_eq!(
        fleet.calls(Simulator::Payscore, "create_group").await.len(),
        1,
        "never created again"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn only_the_journal_and_run_counter_skip_waiting_for_the_disk_and_a_setting_turns_it_off() {
    let database = TestDatabase::new("commit-modes").await;
    let ledger = |relaxed: &str| {
        let env: std::collections::HashMap<&str, String> = [
            ("DATABASE_URL", database.url.clone()),
            ("LEDGER_RELAXED_COMMITS", relaxed.to_owned()),
        ]
        .into();
        worker::ledger::Ledger::new(
            worker::ledger::LedgerConfig::from_env(&env).expect("config"),
            worker::ledger::LedgerMetrics::unregistered(),
        )
    };
    let modes = ledger("true").commit_modes().await.expect("modes");
    assert_eq!(modes, ("on".to_owned(), "off".to_owned()));
    let modes = ledger("false").commit_modes().await.expect("modes");
    assert_eq!(
        modes,
        ("on".to_owned(), "on".to_owned()),
        "behind PgBouncer every commit waits"
    );
}
