//! The screening job through worker crashes, broker connection losses and dead-letter replay.

use fleet_tests::amqp_proxy::AmqpProxy;
use fleet_tests::broker::publish_confirmed;
use fleet_tests::eventually;
use fleet_tests::fleet::{Fleet, FleetOptions};
use fleet_tests::process::{Running, binary, free_port};
use sandbox::core::Simulator;
use sandbox::entrata::submit::SubmitOptions;
use sandbox::{Faults, Latency};
use shared::amqp::WorkQueue;
use std::process::{Command, Stdio};
use std::time::Duration;

fn spawn_worker(fleet: &Fleet, admin_port: u16) -> Running {
    Command::new(binary("worker"))
        .envs(&fleet.worker_env)
        .env("ADMIN_LISTEN", format!("127.0.0.1:{admin_port}"))
        .stdout(std::fs::File::create(format!("/tmp/worker-{admin_port}.log")).expect("log"))
        .stderr(Stdio::null())
        .spawn()
        .map(Running)
        .expect("start worker")
}

async fn ready(admin_port: u16) {
    fleet_tests::worker::wait_until_ready(&format!("http://127.0.0.1:{admin_port}")).await;
}

#[tokio::test]
async fn a_worker_killed_mid_flight_and_restarted_leaves_exactly_one_group_per_application() {
    let fleet = Fleet::start(
        "sigkill",
        FleetOptions {
            start_worker: false,
            ..Default::default()
        },
    )
    .await;
    // Slow, spread-out creates keep jobs in flight when the worker dies.
    let slow = Faults {
        latency: Some(Latency::Uniform {
            min_ms: 200,
            max_ms: 1800,
        }),
        ..Default::default()
    };
    fleet
        .control()
        .set_faults(Simulator::Payscore, "create_group", slow)
        .await
        .expect("faults");
    let admin = free_port();
    let mut first = spawn_worker(&fleet, admin);
    ready(admin).await;
    let mut submitted = Vec::new();
    for i in 0..12u64 {
        let options = SubmitOptions {
            property_id: Some(100001 + i % 4),
            every_email: true,
            ..Default::default()
        };
        submitted.push(
            fleet
                .control()
                .submit_application(&options)
                .await
                .expect("submit"),
        );
    }
    eventually(Duration::from_secs(30), "a few groups created", || async {
        (fleet.control().groups().await.ok()?.len() >= 2).then_some(())
    })
    .await;
    first.0.kill().expect("SIGKILL");
    first.0.wait().expect("reaped");
    assert!(
        fleet.control().groups().await.expect("groups").len() < 12,
        "jobs were still in flight"
    );

    let admin = free_port();
    let second = spawn_worker(&fleet, admin);
    ready(admin).await;
    for s in &submitted {
        fleet.one_group(s.property_id, s.application_id).await;
    }
    // Let redeliveries settle: nothing left in the queue, nothing in flight.
    let queue = fleet.broker.topology().queue(WorkQueue::Screenings);
    eventually(Duration::from_secs(30), "the queue drained", || async {
        let metrics = reqwest::get(format!("http://127.0.0.1:{admin}/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let idle = metrics.contains(r#"worker_in_flight{queue="screenings"} 0"#);
        (idle && fleet.broker.count(&queue).await == 0).then_some(())
    })
    .await;
    for s in &submitted {
        assert_eq!(
            fleet.group_count(s.property_id, s.application_id).await,
            1,
            "application {}",
            s.application_id
        );
    }
    drop(second);
    fleet.stop().await;
}

#[tokio::test]
async fn after_the_broker_closes_its_connections_the_worker_consumes_again_by_itself() {
    let fleet = Fleet::start("worker-conn", FleetOptions::default()).await;
    let a = fleet.submit(100001).await;
    fleet.one_group(a.property_id, a.application_id).await;

    // ingest's, and the worker's two: one consuming, one publishing.
    assert_eq!(fleet.broker.close_connections(), 3);
    fleet_tests::worker::wait_until_ready(&fleet.worker().admin_url).await;
    fleet.ingest.wait_ready().await;
    let b = fleet.submit(100002).await;
    assert_eq!(b.webhook.as_ref().and_then(|w| w.status), Some(202));
    fleet.one_group(b.property_id, b.application_id).await;
    assert_eq!(fleet.worker().sample("amqp_connected").await, 1.0);
    fleet.stop().await;
}

#[tokio::test]
async fn dead_letters_are_replayed_into_their_work_queue_with_a_fresh_schedule() {
    let fleet = Fleet::start("replay", FleetOptions::default()).await;
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100001),
            without_email: true,
            ..Default::default()
        })
        .await
        .expect("submit");
    fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100002),
            nonexistent_email: true,
            every_email: true,
            ..Default::default()
        })
        .await
        .expect("submit");
    eventually(Duration::from_secs(20), "two dead letters", || async {
        (fleet.broker.count(&dead).await == 2).then_some(())
    })
    .await;
    let config: std::collections::HashMap<String, String> = fleet.worker_env.clone();
    let amqp = shared::amqp::AmqpConfig::from_env(&config).expect("config");

    let dry = worker::replay::ReplayArgs {
        queue: WorkQueue::Screenings,
        reason: None,
        limit: 100,
        dry_run: true,
    };
    let report = worker::replay::replay(&amqp, &dry).await.expect("dry run");
    assert_eq!(report.replayed.values().sum::<usize>(), 2);
    eventually(Duration::from_secs(10), "dry run leaves them", || async {
        (fleet.broker.count(&dead).await == 2).then_some(())
    })
    .await;

    let only = worker::replay::ReplayArgs {
        queue: WorkQueue::Screenings,
        reason: Some("no_applicant_email".into()),
        limit: 100,
        dry_run: false,
    };
    let report = worker::replay::replay(&amqp, &only).await.expect("replay");
    assert_eq!(report.replayed.get("no_applicant_email"), Some(&1));
    assert_eq!(report.skipped.get("payscore_rejected"), Some(&1));
    // The replayed one runs again (and, the email still missing, comes back dead).
    let dead_series = r#"worker_jobs_total{outcome="dead_lettered",queue="screenings"}"#;
    fleet.worker().wait_for(dead_series, 3.0).await;
    eventually(Duration::from_secs(10), "both dead again", || async {
        (fleet.broker.count(&dead).await == 2).then_some(())
    })
    .await;
    fleet.stop().await;
}

#[tokio::test]
async fn a_redelivery_after_a_reconnect_waits_for_the_same_applications_job_still_running() {
    let fleet = Fleet::start("reconnect-inflight", FleetOptions::default()).await;
    let slow = Faults {
        latency: Some(Latency::Fixed(1500)),
        ..Default::default()
    };
    fleet
        .control()
        .set_faults(Simulator::Payscore, "create_group", slow)
        .await
        .expect("faults");
    let a = fleet.submit(100001).await;
    // The create is on its way to Payscore: drop the worker's connection under it.
    eventually(Duration::from_secs(10), "the create in flight", || async {
        let series = r#"worker_in_flight{queue="screenings"}"#;
        (fleet.worker().sample(series).await == 1.0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(fleet.broker.close_connections() >= 1);
    fleet.one_group(a.property_id, a.application_id).await;
    // The redelivered copy runs after the first finished and either finds the group (the
    // first run recorded it) or resolves the first run's unknown create with the lookup (the
    // close came after the create had timed out): never a second create.
    eventually(
        Duration::from_secs(30),
        "the redelivery finished",
        || async {
            let worker = fleet.worker();
            let finished = worker
                .sample(r#"worker_jobs_total{outcome="duplicate",queue="screenings"}"#)
                .await
                + worker
                    .sample(r#"worker_jobs_total{outcome="done",queue="screenings"}"#)
                    .await;
            (finished >= 1.0).then_some(())
        },
    )
    .await;
    assert_eq!(fleet.group_count(a.property_id, a.application_id).await, 1);
    let creates = fleet.calls(Simulator::Payscore, "create_group").await;
    assert_eq!(creates.len(), 1, "Payscore was asked to create once");
    fleet.stop().await;
}

/// A fleet whose worker reaches the broker through an [`AmqpProxy`] (ingest does not, so it
/// keeps storing webhooks during the proxy's alarm), with creates that take 4 s.
async fn fleet_behind_a_proxy(test: &str, extra: &[(&str, &str)]) -> (Fleet, AmqpProxy) {
    let mut fleet = Fleet::start(
        test,
        FleetOptions {
            start_worker: false,
            ..Default::default()
        },
    )
    .await;
    let proxy = AmqpProxy::start(&fleet_tests::broker::amqp_url()).await;
    let mut env = fleet.worker_env.clone();
    env.insert("AMQP_URL".into(), proxy.url.clone());
    env.insert("PAYSCORE_TIMEOUT_MS".into(), "10000".into());
    env.insert("LEDGER_CLAIM_TTL_SECONDS".into(), "15".into());
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    fleet.worker = Some(fleet_tests::worker::WorkerHandle::start(env).await);
    // A slow create keeps a job busy while the alarm starts, so its outcome has to be
    // published during the alarm.
    let slow = Faults {
        latency: Some(Latency::Fixed(4_000)),
        ..Default::default()
    };
    fleet
        .control()
        .set_faults(Simulator::Payscore, "create_group", slow)
        .await
        .expect("faults");
    (fleet, proxy)
}

#[tokio::test]
async fn a_worker_under_a_broker_alarm_still_stops_within_its_grace_period() {
    let (mut fleet, proxy) =
        fleet_behind_a_proxy("alarm-stop", &[("SHUTDOWN_GRACE_SECONDS", "2")]).await;
    fleet.submit(100001).await;
    fleet
        .worker()
        .wait_for(r#"worker_in_flight{queue="screenings"}"#, 1.0)
        .await;
    proxy.block();
    fleet.worker().wait_for("amqp_blocked", 1.0).await;
    // Nothing can be written to the broker now: no consumer cancel, no connection close.
    let worker = fleet.worker.take().expect("running");
    let stopped = tokio::time::timeout(Duration::from_secs(15), worker.stop()).await;
    assert!(
        stopped.is_ok(),
        "the worker hung in shutdown during the alarm"
    );
    proxy.unblock();
    fleet.stop().await;
}

#[tokio::test]
async fn a_broker_alarm_pauses_the_worker_without_reconnecting_or_spending_deliveries() {
    let (fleet, proxy) = fleet_behind_a_proxy("alarm", &[]).await;
    let in_flight = r#"worker_in_flight{queue="screenings"}"#;
    let a = fleet.submit(100001).await;
    fleet.worker().wait_for(in_flight, 1.0).await;
    proxy.block();
    // Once its create is answered, the job publishes its outcome into the alarm, and that
    // publish is what gets the alarm announced to the worker, as with RabbitMQ.
    fleet.worker().wait_for("amqp_blocked", 1.0).await;
    let creates = || async { fleet.calls(Simulator::Payscore, "create_group").await.len() };
    assert_eq!(creates().await, 1);
    let b = fleet.submit(100002).await;

    // Longer than the worker's 10 s confirm timeout: a publisher that gave up here would fail
    // the connection, and the supervisor would reconnect.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let readyz = reqwest::get(format!("{}/readyz", fleet.worker().admin_url))
        .await
        .expect("readyz");
    assert_eq!(readyz.status(), 503, "not ready while blocked");
    assert_eq!(
        fleet.worker().sample(in_flight).await,
        1.0,
        "the first job waits to publish its outcome; the second has not started"
    );
    assert_eq!(creates().await, 1, "no job started during the alarm");
    // Two: the worker consumes and publishes on connections of its own.
    assert_eq!(proxy.connections(), 2, "no reconnect during the alarm");

    proxy.unblock();
    fleet.one_group(a.property_id, a.application_id).await;
    fleet.one_group(b.property_id, b.application_id).await;
    fleet
        .worker()
        .wait_for(
            r#"worker_jobs_total{outcome="done",queue="screenings"}"#,
            2.0,
        )
        .await;
    assert_eq!(fleet.worker().sample("amqp_blocked").await, 0.0);
    assert_eq!(proxy.connections(), 2, "the same connections throughout");
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    assert_eq!(fleet.broker.count(&dead).await, 0);
    fleet.stop().await;
}

#[tokio::test]
async fn a_connection_lost_mid_call_leaves_each_message_in_exactly_one_place() {
    let fleet = Fleet::start(
        "one-lineage",
        FleetOptions {
            // Retries wait an hour: every failed attempt stays visible in the wait queue.
            env: vec![("RETRY_SCHEDULE", "1h".into())],
            ..Default::default()
        },
    )
    .await;
    let failing = Faults {
        latency: Some(Latency::Fixed(1500)),
        error_rate: 1.0,
        error_status: 503,
        ..Default::default()
    };
    fleet
        .control()
        .set_faults(Simulator::Payscore, "create_group", failing)
        .await
        .expect("faults");
    let mut ids = Vec::new();
    for i in 0..8u64 {
        let submitted = fleet.submit(100001 + i % 4).await;
        let delivery = submitted.webhook.expect("webhook sent");
        let answer: serde_json::Value =
            serde_json::from_str(&delivery.body.expect("ingest answered")).expect("json");
        ids.push(answer["id"].as_str().expect("a message id").to_owned());
    }
    let series = r#"worker_in_flight{queue="screenings"}"#;
    eventually(Duration::from_secs(20), "jobs mid-call", || async {
        (fleet.worker().sample(series).await >= 4.0).then_some(())
    })
    .await;
    assert!(
        fleet.broker.close_connections() >= 1,
        "the worker's connection closed"
    );
    // Everything settles: each job, run again after the redelivery, fails once more and waits.
    let wait_queue = fleet
        .broker
        .topology()
        .tier_for(WorkQueue::Screenings, Duration::from_secs(3600))
        .queue;
    eventually(Duration::from_secs(40), "every message waiting", || async {
        (fleet.broker.count(&wait_queue).await as usize >= ids.len()
            && fleet.worker().sample(series).await == 0.0)
            .then_some(())
    })
    .await;
    // A late extra copy would land within a few seconds of the others.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let waiting = fleet.broker.drain(&wait_queue).await;
    let mut counts = std::collections::HashMap::new();
    for message in &waiting {
        let id = message
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        *counts.entry(id).or_insert(0) += 1;
    }
    for id in &ids {
        assert_eq!(counts.get(id), Some(&1), "message {id}: {counts:?}");
    }
    let screenings = fleet.broker.topology().queue(WorkQueue::Screenings);
    assert_eq!(fleet.broker.count(&screenings).await, 0);
    fleet.stop().await;
}

#[tokio::test]
async fn a_wait_queue_deleted_under_a_running_worker_is_declared_again_by_the_next_retry() {
    let fleet = Fleet::start(
        "lost-wait-queue",
        FleetOptions {
            env: vec![("RETRY_SCHEDULE", "1h".into())],
            ..Default::default()
        },
    )
    .await;
    let wait_queue = fleet
        .broker
        .topology()
        .tier_for(WorkQueue::Screenings, Duration::from_secs(3600))
        .queue;
    {
        let connection = lapin::Connection::connect(
            &fleet_tests::broker::amqp_url(),
            lapin::ConnectionProperties::default(),
        )
        .await
        .expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .queue_delete(wait_queue.as_str().into(), Default::default())
            .await
            .expect("delete the wait queue");
        let _ = connection.close(200, "done".into()).await;
    }
    // Entrata fails: the job's outcome is a retry, for the deleted wait queue.
    fleet.fail_entrata_reads().await;
    fleet.submit(100001).await;
    let retried = r#"worker_jobs_total{outcome="retried",queue="screenings"}"#;
    fleet.worker().wait_for(retried, 1.0).await;
    assert_eq!(
        fleet.broker.count(&wait_queue).await,
        1,
        "the retry landed in the wait queue, declared again"
    );
    let requeued = r#"worker_jobs_total{outcome="requeued",queue="screenings"}"#;
    assert_eq!(
        fleet.worker().sample(requeued).await,
        0.0,
        "no give-back loop"
    );
    fleet.stop().await;
}

/// Take one message off `queue` on a channel of the test's own and close the channel without
/// acknowledging it: the broker puts it back, marked redelivered, as when a worker that had it
/// lost its connection.
async fn hold_and_give_back(queue: &str) {
    let connection =
        lapin::Connection::connect(&fleet_tests::broker::amqp_url(), Default::default())
            .await
            .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    let held = eventually(Duration::from_secs(10), "a message to hold", || async {
        channel
            .basic_get(
                queue.into(),
                lapin::options::BasicGetOptions { no_ack: false },
            )
            .await
            .expect("basic.get")
    })
    .await;
    assert!(!held.delivery.redelivered, "first delivery");
    let _ = connection.close(200, "given back".into()).await;
}

/// The `applicationId` of an application webhook body.
fn application_of(body: &[u8]) -> u64 {
    let value: serde_json::Value = serde_json::from_slice(body).expect("JSON");
    value["applicationId"].as_u64().expect("applicationId")
}

#[tokio::test]
async fn a_copy_republished_from_a_redelivered_delivery_keeps_saying_it_was_redelivered() {
    let fleet = Fleet::start(
        "redelivered-mark",
        FleetOptions {
            start_worker: false,
            env: vec![
                ("RETRY_SCHEDULE", "1h".into()),
                ("RETRY_JITTER_PERCENT", "0".into()),
                ("WORKER_INPROCESS_RETRIES", "0".into()),
            ],
            ..Default::default()
        },
    )
    .await;
    // Entrata fails: both deliveries end in a wait queue, as copies.
    fleet.fail_entrata_reads().await;
    let redelivered = fleet.submit(100001).await;
    let screenings = fleet.broker.topology().queue(WorkQueue::Screenings);
    hold_and_give_back(&screenings).await;
    let fresh = fleet.submit(100002).await;
    let worker = fleet.spawn_worker(&[]).await;
    // The wait queues of the fleet's own schedule (RETRY_SCHEDULE above).
    let tiers = shared::amqp::AmqpConfig::from_env(&fleet.worker_env)
        .expect("the fleet's AMQP settings")
        .topology()
        .delay_tiers(WorkQueue::Screenings);
    let copies = eventually(Duration::from_secs(30), "two retry copies", || async {
        let mut all = Vec::new();
        for tier in &tiers {
            if fleet.broker.count(&tier.queue).await > 0 {
                all.extend(fleet.broker.drain(&tier.queue).await);
            }
        }
        (all.len() >= 2).then_some(all)
    })
    .await;
    for copy in &copies {
        let mark = copy
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get("x-redelivered").cloned());
        let application = application_of(&copy.data);
        if application == redelivered.application_id {
            assert_eq!(
                mark,
                Some(lapin::types::AMQPValue::Boolean(true)),
                "the copy of the redelivered delivery is marked"
            );
        } else {
            assert_eq!(application, fresh.application_id);
            assert_eq!(mark, None, "a first delivery's copy is not");
        }
    }
    drop(worker);
    fleet.stop().await;
}

#[tokio::test]
async fn a_marked_copy_that_finds_the_group_made_forwards_the_report_check_an_unmarked_one_does_not()
 {
    let fleet = Fleet::start(
        "redelivered-forward",
        FleetOptions {
            env: vec![
                ("REPORT_CHECK_FIRST_DELAY", "1s".into()),
                ("REPORT_CHECK_SCHEDULE", "1h".into()),
            ],
            ..Default::default()
        },
    )
    .await;
    crate::reports::suppress_completion(&fleet).await;
    let app = fleet.submit(100001).await;
    let group = fleet.one_group(app.property_id, app.application_id).await;
    // The first report check finds the household unfinished and parks the next one an hour
    // away: from now on only a forwarded check can bring the report.
    fleet
        .worker()
        .wait_for(
            r#"worker_jobs_total{outcome="rescheduled",queue="reports"}"#,
            1.0,
        )
        .await;
    fleet
        .control()
        .complete_group(&group.id)
        .await
        .expect("complete");
    let payload = app.webhook.expect("webhook").payload;
    let exchange = fleet.broker.topology().exchange();
    let copy = |marked: bool| {
        let mut headers = lapin::types::FieldTable::default();
        headers.insert("x-source".into(), shared::envelope::text("entrata"));
        if marked {
            headers.insert(
                "x-redelivered".into(),
                lapin::types::AMQPValue::Boolean(true),
            );
        }
        lapin::BasicProperties::default()
            .with_message_id(uuid_like().into())
            .with_content_type("application/json".into())
            .with_headers(headers)
    };
    let routing = shared::envelope::ENTRATA_ROUTING_KEY;
    publish_confirmed(&exchange, routing, payload.as_bytes(), copy(false)).await;
    let duplicates = r#"worker_jobs_total{outcome="duplicate",queue="screenings"}"#;
    fleet.worker().wait_for(duplicates, 1.0).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let uploads = fleet
        .control()
        .uploads(app.application_id)
        .await
        .expect("uploads");
    assert!(uploads.is_empty(), "an unmarked duplicate forwards nothing");
    publish_confirmed(&exchange, routing, payload.as_bytes(), copy(true)).await;
    crate::reports::uploads(&fleet, app.application_id, 1).await;
    fleet.stop().await;
}

fn uuid_like() -> String {
    format!("test-{:016x}", fastrand::u64(..))
}
