//! `worker sweep`: an application whose webhook never arrived is screened all the same, once;
//! an application the ledger knows is never queued again.

use fleet_tests::fleet::{Fleet, FleetOptions};
use sandbox::entrata::submit::SubmitOptions;
use shared::amqp::WorkQueue;
use std::time::Duration;
use worker::config::WorkerConfig;
use worker::sweep::{Found, SweepArgs, sweep};

fn has(found: &[Found], application_id: u64) -> bool {
    found
        .iter()
        .any(|f| f.application_id == application_id.to_string())
}

#[tokio::test]
async fn a_sweep_screens_an_application_whose_webhook_was_lost_and_a_second_sweep_queues_nothing() {
    // One lease per page: the property's four applicant leases take four pages, and the lost
    // application (the newest) is on the last.
    let fleet = Fleet::start(
        "sweep",
        FleetOptions {
            env: vec![("ENTRATA_PAGE_SIZE", "1".into())],
            ..Default::default()
        },
    )
    .await;
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

    let dry = sweep(
        &config,
        &SweepArgs::parse(&["--dry-run".to_owned()]).expect("valid"),
    )
    .await
    .expect("dry run");
    assert!(
        has(&dry.queued, lost.application_id),
        "an application completed today is found by default"
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
        dry_run: false,
    };
    let first = sweep(&config, &args).await.expect("sweep");
    assert!(has(&first.queued, lost.application_id));
    fleet.one_group(lost.property_id, lost.application_id).await;

    let second = sweep(&config, &args).await.expect("sweep again");
    assert!(
        has(&second.already_known, lost.application_id),
        "the ledger knows it now"
    );
    assert!(!has(&second.queued, lost.application_id));
    let screenings = fleet.broker.topology().queue(WorkQueue::Screenings);
    assert_eq!(fleet.broker.count(&screenings).await, 0, "nothing queued");
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
async fn a_dead_lettered_application_is_not_swept_again_even_after_its_dead_letter_is_gone() {
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
        dry_run: false,
    };
    let first = sweep(&config, &args).await.expect("sweep");
    assert!(has(&first.queued, no_email.application_id));
    // `dead_letter` takes it off the queue, as an operator's purge would.
    fleet
        .dead_letter(WorkQueue::Screenings, "no_applicant_email")
        .await;
    let again = sweep(&config, &args).await.expect("sweep");
    assert!(
        has(&again.already_known, no_email.application_id),
        "the ledger remembers the application whatever became of its message"
    );
    assert!(!has(&again.queued, no_email.application_id));
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    assert_eq!(fleet.broker.count(&dead).await, 0, "no new dead letter");
    fleet.stop().await;
}
