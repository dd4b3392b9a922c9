//! What the broker counts as a delivery attempt differs between RabbitMQ versions (3.x and 4.0
//! count every return, a closed channel's included; 4.3 counts rejects and lost consumers, not
//! nacks). These tests run the production shape (two worker processes, the real broker, the
//! real ledger) and hold on either broker: reconnects spend nothing, a message that can never
//! be settled stops after a bounded number of real runs, and a copy settled once is never run
//! again.

use fleet_tests::broker::header_text;
use fleet_tests::broker::publish_confirmed as publish;
use fleet_tests::eventually;
use fleet_tests::fleet::{Fleet, FleetOptions, WorkerProcess};
use sandbox::core::Simulator;
use sandbox::{Faults, Latency};
use shared::amqp::WorkQueue;
use std::time::Duration;

async fn all_ready(workers: &[&WorkerProcess]) -> bool {
    for worker in workers {
        if worker.sample("amqp_connected").await < 1.0 {
            return false;
        }
    }
    true
}

async fn in_flight(workers: &[&WorkerProcess]) -> f64 {
    let mut sum = 0.0;
    for worker in workers {
        sum += worker.sample("worker_in_flight").await;
    }
    sum
}

async fn jobs(workers: &[&WorkerProcess], outcome: &str) -> f64 {
    let mut sum = 0.0;
    for worker in workers {
        sum += worker
            .sample(&format!(
                r#"worker_jobs_total{{outcome="{outcome}",queue="screenings"}}"#
            ))
            .await;
    }
    sum
}

/// A fleet without its in-process worker, and two worker processes on it.
async fn two_workers(
    test: &str,
    env: Vec<(&'static str, String)>,
) -> (Fleet, WorkerProcess, WorkerProcess) {
    let fleet = Fleet::start(
        test,
        FleetOptions {
            start_worker: false,
            env,
            ..Default::default()
        },
    )
    .await;
    let a = fleet.spawn_worker(&[]).await;
    let b = fleet.spawn_worker(&[]).await;
    (fleet, a, b)
}

/// Stop the workers, then the fleet: a worker still running after the clean-up would declare
/// the queues again.
async fn stop(fleet: Fleet, workers: (WorkerProcess, WorkerProcess)) {
    drop(workers);
    fleet.stop().await;
}

#[tokio::test]
async fn twenty_five_reconnects_in_a_row_with_a_backlog_dead_letter_nothing() {
    let (fleet, a, b) = two_workers(
        "reconnects",
        vec![
            ("WORKER_PREFETCH", "4".into()),
            ("ENTRATA_TIMEOUT_MS", "20000".into()),
        ],
    )
    .await;
    let workers = [&a, &b];
    // Entrata's lease and lead reads answer after 15 s, longer than the time between two
    // closures: every closure finds each worker's deliveries unsettled (prefetch 4 each), and
    // the rest wait behind. With the broker's limit at its old default (20) this dead-letters
    // every message: 3.10 and 4.0 count each closure as a delivery.
    let slow = |ms| Faults {
        latency: Some(Latency::Fixed(ms)),
        ..Default::default()
    };
    for route in ["leads/getLeads", "leases/getLeases"] {
        fleet
            .control()
            .set_faults(Simulator::Entrata, route, slow(15_000))
            .await
            .expect("faults");
    }
    // And no create succeeds meanwhile, so no run can finish early by finding its group made.
    let refuse = Faults {
        error_rate: 1.0,
        error_status: 503,
        ..Default::default()
    };
    fleet
        .control()
        .set_faults(Simulator::Payscore, "create_group", refuse)
        .await
        .expect("faults");
    let total = 12u64;
    let mut submitted = Vec::new();
    for i in 0..total {
        submitted.push(fleet.submit(100001 + i % 4).await);
    }
    let closures = 25;
    for round in 0..closures {
        eventually(
            Duration::from_secs(30),
            &format!("both workers back and busy before closure {round}"),
            || async {
                (all_ready(&workers).await && in_flight(&workers).await >= 1.0).then_some(())
            },
        )
        .await;
        assert!(
            fleet.broker.close_connections() >= 1,
            "closure {round}: the workers' connections closed"
        );
    }
    for route in ["leads/getLeads", "leases/getLeases"] {
        fleet
            .control()
            .set_faults(Simulator::Entrata, route, Faults::default())
            .await
            .expect("faults");
    }
    fleet
        .control()
        .set_faults(Simulator::Payscore, "create_group", Faults::default())
        .await
        .expect("faults");
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    let work = fleet.broker.topology().queue(WorkQueue::Screenings);
    eventually(
        Duration::from_secs(120),
        "every application screened",
        || async {
            let dead_letters = fleet.broker.count(&dead).await;
            assert_eq!(
                dead_letters, 0,
                "{closures} reconnects dead-lettered messages"
            );
            (jobs(&workers, "done").await + jobs(&workers, "duplicate").await >= total as f64
                && fleet.broker.count(&work).await == 0
                && in_flight(&workers).await == 0.0)
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        fleet.broker.count(&dead).await,
        0,
        "{closures} reconnects dead-lettered a message"
    );
    assert_eq!(jobs(&workers, "dead_lettered").await, 0.0);
    for s in &submitted {
        assert_eq!(
            fleet.group_count(s.property_id, s.application_id).await,
            1,
            "application {} screened once",
            s.application_id
        );
    }
    stop(fleet, (a, b)).await;
}

#[tokio::test]
async fn an_outcome_no_queue_will_take_stops_after_the_worker_run_cap_on_either_broker() {
    let (fleet, a, b) = two_workers(
        "refused-outcome",
        vec![
            ("WORKER_MAX_RUNS", "3".into()),
            ("WORKER_INPROCESS_RETRIES", "0".into()),
            ("RETRY_SCHEDULE", "1h".into()),
        ],
    )
    .await;
    let workers = [&a, &b];
    // The wait queue refuses every message (over a length limit, reject-publish, as an
    // operator's policy might set it): a retry can never be stored. A quorum queue refuses
    // once it holds more than the limit, hence one message parked in it first.
    let wait_queue = fleet
        .broker
        .topology()
        .tier_for(WorkQueue::Screenings, Duration::from_secs(3600))
        .queue;
    publish("", &wait_queue, b"parked", Default::default()).await;
    let _policy = fleet.broker.set_policy(
        "refuse-retries",
        r"screenings\.retry\.",
        r#"{"max-length": 0, "overflow": "reject-publish"}"#,
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    fleet.fail_entrata_reads().await;
    fleet.submit(100001).await;
    let dead = fleet
        .dead_letter(WorkQueue::Screenings, "delivery_limit")
        .await;
    assert!(
        header_text(&dead, "x-last-error")
            .unwrap_or_default()
            .contains("runs ended without a stored outcome"),
        "{:?}",
        header_text(&dead, "x-last-error")
    );
    // Three runs could not store their retry; the fourth stopped it without calling anyone.
    assert_eq!(jobs(&workers, "requeued").await, 3.0);
    assert_eq!(jobs(&workers, "dead_lettered").await, 1.0);
    let calls = fleet
        .calls(Simulator::Entrata, "leads/getLeads")
        .await
        .len();
    assert_eq!(calls, 3, "one Entrata call per real run");
    assert_eq!(fleet.broker.count(&wait_queue).await, 1, "nothing stored");
    stop(fleet, (a, b)).await;
}

#[tokio::test]
async fn a_copy_delivered_again_after_its_outcome_was_stored_is_acknowledged_without_running() {
    let (fleet, a, b) = two_workers(
        "settled-copy",
        vec![
            // Retries wait an hour: the retry copy stays visible in its wait queue.
            ("RETRY_SCHEDULE", "1h".into()),
            ("WORKER_INPROCESS_RETRIES", "0".into()),
        ],
    )
    .await;
    let workers = [&a, &b];
    fleet.fail_entrata_reads().await;
    // The same copy twice, as the broker redelivers a message whose acknowledgement was lost
    // with its connection after the worker had stored its retry.
    let body = serde_json::json!({
        "webhookType": "oa.application.events",
        "eventType": "ApplicationSubmitted",
        "propertyId": 100001,
        "applicationId": 4242,
    })
    .to_string();
    let properties = lapin::BasicProperties::default()
        .with_message_id(format!("{}settled-copy", fleet.broker.prefix).into())
        .with_content_type("application/json".into());
    let exchange = fleet.broker.topology().exchange();
    let publish = || {
        publish(
            &exchange,
            shared::envelope::ENTRATA_ROUTING_KEY,
            body.as_bytes(),
            properties.clone(),
        )
    };
    publish().await;
    eventually(Duration::from_secs(20), "the retry stored", || async {
        (jobs(&workers, "retried").await == 1.0).then_some(())
    })
    .await;
    publish().await;
    eventually(
        Duration::from_secs(20),
        "the second copy settled",
        || async { (jobs(&workers, "duplicate").await == 1.0).then_some(()) },
    )
    .await;
    let wait_queue = fleet
        .broker
        .topology()
        .tier_for(WorkQueue::Screenings, Duration::from_secs(3600))
        .queue;
    assert_eq!(fleet.broker.count(&wait_queue).await, 1, "one lineage");
    assert_eq!(jobs(&workers, "retried").await, 1.0);
    stop(fleet, (a, b)).await;
}

#[tokio::test]
async fn every_queue_declares_its_delivery_limit_explicitly() {
    let fleet = Fleet::start("queue-arguments", FleetOptions::default()).await;
    let listing = fleet_tests::broker::rabbitmqctl()
        .args(["list_queues", "name", "arguments", "-q"])
        .output()
        .expect("rabbitmqctl list_queues");
    let text = String::from_utf8_lossy(&listing.stdout);
    let topology = fleet.broker.topology();
    let work = [
        topology.queue(WorkQueue::Screenings),
        topology.queue(WorkQueue::Reports),
    ];
    let ours: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(name, _)| name.starts_with(&fleet.broker.prefix))
        .collect();
    let wait_queues = ours.iter().filter(|(n, _)| n.contains(".retry.")).count();
    assert!(wait_queues >= 2, "wait queues declared: {text}");
    for (name, arguments) in ours {
        let at = arguments
            .find("x-delivery-limit")
            .unwrap_or_else(|| panic!("{name} has an explicit delivery limit: {arguments}"));
        let limit: String = arguments[at..]
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(char::is_ascii_digit)
            .collect();
        let wanted = if work.iter().any(|w| w == name) {
            "100"
        } else {
            "1000000"
        };
        assert_eq!(limit, wanted, "{name}: {arguments}");
    }
    fleet.stop().await;
}
