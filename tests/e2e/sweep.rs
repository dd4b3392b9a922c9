//! `worker sweep`: an application whose webhook never arrived is screened all the same, once.

use fleet_tests::fleet::{Fleet, FleetOptions};
use sandbox::entrata::submit::SubmitOptions;
use shared::amqp::WorkQueue;
use std::time::Duration;
use worker::config::WorkerConfig;
use worker::sweep::{SweepArgs, sweep};

const SERIES_DUPLICATE: &str = r#"worker_jobs_total{outcome="duplicate",queue="screenings"}"#;

#[tokio::test]
async fn a_sweep_screens_an_application_whose_webhook_was_lost_and_a_second_sweep_adds_nothing() {
    let fleet = Fleet::start("sweep", FleetOptions::default()).await;
    let lost = fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100002),
            every_email: true,
            send_webhook: Some(false),
            ..Default::default()
        })
        .await
        .expect("submit");
    let config = WorkerConfig::from_env(&fleet.worker_env).expect("valid configuration");
    let listed = |report: &worker::sweep::SweepReport| {
        report
            .queued
            .iter()
            .any(|f| f.application_id == lost.application_id.to_string())
    };

    let dry = sweep(
        &config,
        &SweepArgs {
            since: Duration::from_secs(86_400),
            include_today: true,
            dry_run: true,
        },
    )
    .await
    .expect("dry run");
    assert!(listed(&dry), "the application completed today is found");
    let by_default = sweep(
        &config,
        &SweepArgs {
            include_today: false,
            ..SweepArgs::parse(&["--dry-run".to_owned()]).expect("valid")
        },
    )
    .await
    .expect("dry run");
    assert!(
        !listed(&by_default),
        "today's applications wait for the next day unless asked"
    );
    assert!(dry.failed.is_empty(), "{:?}", dry.failed);
    assert_eq!(
        fleet
            .group_count(lost.property_id, lost.application_id)
            .await,
        0,
        "a dry run queues nothing"
    );

    let args = SweepArgs {
        since: Duration::from_secs(86_400),
        include_today: true,
        dry_run: false,
    };
    let first = sweep(&config, &args).await.expect("sweep");
    assert!(listed(&first));
    fleet.one_group(lost.property_id, lost.application_id).await;

    let duplicates = fleet.worker().sample(SERIES_DUPLICATE).await;
    let second = sweep(&config, &args).await.expect("sweep again");
    assert!(listed(&second));
    fleet_tests::eventually(
        Duration::from_secs(20),
        "the repeat seen as a duplicate",
        || async {
            (fleet.worker().sample(SERIES_DUPLICATE).await >= duplicates + 1.0).then_some(())
        },
    )
    .await;
    assert_eq!(
        fleet
            .group_count(lost.property_id, lost.application_id)
            .await,
        1,
        "a repeated sweep never invites twice"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn an_application_waiting_in_the_dead_letter_queue_is_not_swept_again() {
    let fleet = Fleet::start("sweep-dead", FleetOptions::default()).await;
    let no_email = fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100003),
            without_email: true,
            send_webhook: Some(false),
            ..Default::default()
        })
        .await
        .expect("submit");
    let config = WorkerConfig::from_env(&fleet.worker_env).expect("valid configuration");
    let args = SweepArgs {
        since: Duration::from_secs(86_400),
        include_today: true,
        dry_run: false,
    };
    let ours = |found: &[worker::sweep::Found]| {
        found
            .iter()
            .any(|f| f.application_id == no_email.application_id.to_string())
    };
    let first = sweep(&config, &args).await.expect("sweep");
    assert!(ours(&first.queued));
    fleet
        .dead_letter(WorkQueue::Screenings, "no_applicant_email")
        .await;
    // `dead_letter` took that one off the queue: with nothing waiting, the next sweep queues
    // the application again, and the worker dead-letters it again.
    let again = sweep(&config, &args).await.expect("sweep");
    assert!(
        ours(&again.queued),
        "a dead letter taken away no longer guards"
    );
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    fleet_tests::eventually(
        Duration::from_secs(20),
        "the second dead letter",
        || async { (fleet.broker.count(&dead).await == 1).then_some(()) },
    )
    .await;
    let third = sweep(&config, &args).await.expect("sweep");
    assert!(
        ours(&third.already_queued),
        "left out while its dead letter waits"
    );
    assert!(!ours(&third.queued));
    assert_eq!(
        fleet.broker.count(&dead).await,
        1,
        "the dead letter is left in place"
    );
    fleet.stop().await;
}
