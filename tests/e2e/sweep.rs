//! `worker sweep`: an application whose webhook never arrived is screened all the same, once.

use fleet_tests::fleet::{Fleet, FleetOptions};
use sandbox::entrata::submit::SubmitOptions;
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
            dry_run: true,
        },
    )
    .await
    .expect("dry run");
    assert!(listed(&dry), "the application completed today is found");
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
