//! `worker`: stateless consumers of the fleet's queues. State lives in RabbitMQ (what is to be
//! done), in the PostgreSQL ledger (what was done, and who is doing what right now) and in the
//! two systems of record, so any number of replicas can run.
//!
//! [`run`] takes an already-bound admin listener and a shutdown token, so tests start it on
//! port 0 and stop it at will.

pub mod address;
pub mod clients;
pub mod config;
pub mod consumer;
pub mod doctor;
pub mod jobs;
pub mod json;
pub mod ledger;
pub mod metrics;
pub mod outcome;
pub mod properties;
pub mod replay;
pub mod settle;
pub mod status;
pub mod sweep;

use crate::clients::entrata::EntrataClient;
use crate::clients::http::Downstream;
use crate::clients::payscore::PayscoreClient;
use crate::config::WorkerConfig;
use crate::consumer::{KeyedLocks, WorkerChannels};
use crate::jobs::reports::ReportsJob;
use crate::jobs::screening::ScreeningJob;
use crate::ledger::{Ledger, LedgerMetrics};
use crate::metrics::WorkerMetrics;
use crate::settle::Settler;
use shared::admin::{self, Readiness};
use shared::amqp::{PublishChannels, Publisher, Supervisor, WhileBlocked, WorkQueue};
use shared::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a confirm for a follow-up, retry or dead letter may take.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// Consume until `shutdown` is cancelled, then drain.
///
/// Shutdown order: `/readyz` turns 503; the consumers are cancelled; jobs in flight finish
/// within `SHUTDOWN_GRACE_SECONDS` (less a second for closing); the connection closes, and the
/// broker redelivers whatever was not acknowledged.
pub async fn run(
    config: WorkerConfig,
    admin_listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let config = Arc::new(config);
    let metrics = Metrics::new();
    let worker_metrics = WorkerMetrics::register(&metrics);
    worker_metrics
        .properties_enabled
        .set(i64::try_from(config.properties.len()).unwrap_or(i64::MAX));
    worker_metrics.expect_triggers(&config.trigger_events);
    let ledger_metrics = LedgerMetrics::register(&metrics);
    let readiness = Readiness::new();
    let stop_admin = CancellationToken::new();
    let admin = tokio::spawn(admin::serve(
        admin_listener,
        metrics.clone(),
        readiness.clone(),
        stop_admin.clone(),
    ));
    let ledger = Ledger::new(config.ledger.clone(), ledger_metrics.clone());
    // Nothing is consumed before the schema is there; the admin port already answers
    // (`/readyz` 503) meanwhile.
    if !migrate_until_done(&ledger, &shutdown).await {
        stop_admin.cancel();
        let _ = tokio::time::timeout(Duration::from_millis(500), admin).await;
        return Ok(());
    }
    let stop_ledger = CancellationToken::new();
    tokio::spawn(ledger.clone().watch(readiness.clone(), stop_ledger.clone()));
    tokio::spawn(ledger.clone().purge_daily(stop_ledger.clone()));

    let topology = config.common.amqp.topology();
    let queues: Vec<(WorkQueue, String, u16)> = vec![
        (
            WorkQueue::Screenings,
            topology.queue(WorkQueue::Screenings),
            config.prefetch,
        ),
        (
            WorkQueue::Reports,
            topology.queue(WorkQueue::Reports),
            config.reports_prefetch,
        ),
    ];
    let stop_amqp = CancellationToken::new();
    let (publish_channels, publish_batch, batch_sizes) = (
        config.common.amqp.publish_channels,
        config.common.amqp.publish_batch,
        metrics.amqp_publish_batch.clone(),
    );
    let supervisor = Supervisor::spawn(
        config.common.amqp.clone(),
        "worker",
        metrics.clone(),
        readiness.clone(),
        stop_amqp.clone(),
        move |connection| {
            let queues = queues.clone();
            async move { WorkerChannels::open(&connection, &queues).await }
        },
    );
    // Outcomes go out on a connection of their own, supervised apart.
    let publishing = Supervisor::spawn(
        config.common.amqp.clone(),
        "worker-publish",
        metrics.clone(),
        readiness.clone(),
        stop_amqp.clone(),
        move |connection| {
            let sizes = batch_sizes.clone();
            async move {
                PublishChannels::open(&connection, publish_channels, publish_batch, sizes).await
            }
        },
    );

    let settler = Arc::new(Settler {
        publisher: Publisher::new(publishing.sessions(), CONFIRM_TIMEOUT)
            .while_blocked(WhileBlocked::Wait),
        topology,
        policy: config.retry.clone(),
        in_process_retries: config.in_process_retries,
        max_runs: config.max_runs,
        in_process_max_wait: config.in_process_max_wait,
        ledger: ledger.clone(),
        ledger_metrics,
        requeue_pauses: Default::default(),
    });
    let entrata = Arc::new(
        EntrataClient::new(
            Downstream::new("entrata", config.entrata_timeout, worker_metrics.clone()),
            config.entrata_base_url.clone(),
            config.entrata_api_key.clone(),
            config.property_cache_ttl,
        )
        .with_page_size(config.entrata_page_size),
    );
    let payscore = Arc::new(PayscoreClient::new(
        Downstream::new("payscore", config.payscore_timeout, worker_metrics.clone()),
        config.payscore_base_url.clone(),
        config.payscore_client_id.clone(),
        config.payscore_secret_key.clone(),
        config.payscore_token_refresh,
        config.lookup,
    ));
    let screening = Arc::new(ScreeningJob {
        config: config.clone(),
        entrata: entrata.clone(),
        payscore: payscore.clone(),
        ledger: ledger.clone(),
        metrics: worker_metrics.clone(),
    });
    let reports = Arc::new(ReportsJob {
        config: config.clone(),
        entrata: entrata.clone(),
        payscore: payscore.clone(),
        ledger: ledger.clone(),
        metrics: worker_metrics.clone(),
    });
    tracing::info!(
        version = shared::VERSION,
        properties = config.properties.len(),
        prefetch = config.prefetch,
        "worker starting"
    );

    let tracker = TaskTracker::new();
    // One lock map per queue for the life of the process, across reconnections.
    let (screening_locks, reports_locks) = (
        Arc::new(KeyedLocks::default()),
        Arc::new(KeyedLocks::default()),
    );
    let mut sessions = supervisor.sessions();
    loop {
        let session = tokio::select! {
            _ = shutdown.cancelled() => break,
            changed = sessions.changed() => {
                if changed.is_err() { break }
                match sessions.borrow_and_update().clone() {
                    Some(session) => session,
                    None => continue,
                }
            }
        };
        tracing::info!("consuming");
        tokio::join!(
            consumer::consume(
                session.clone(),
                screening.clone(),
                screening_locks.clone(),
                settler.clone(),
                worker_metrics.clone(),
                tracker.clone(),
                shutdown.clone(),
            ),
            consumer::consume(
                session.clone(),
                reports.clone(),
                reports_locks.clone(),
                settler.clone(),
                worker_metrics.clone(),
                tracker.clone(),
                shutdown.clone(),
            ),
        );
        if shutdown.is_cancelled() {
            break;
        }
        tracing::warn!("consumers stopped; waiting for the next connection");
    }

    readiness.start_draining();
    let grace = config
        .common
        .shutdown_grace
        .saturating_sub(Duration::from_secs(1));
    if !consumer::drain(&tracker, grace).await {
        tracing::warn!(
            "jobs still in flight at the end of the grace period; the broker will redeliver them"
        );
    }
    stop_amqp.cancel();
    stop_ledger.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        tokio::join!(supervisor.join(), publishing.join())
    })
    .await;
    stop_admin.cancel();
    let _ = tokio::time::timeout(Duration::from_millis(500), admin).await;
    tracing::info!("worker stopped");
    Ok(())
}

/// Apply the ledger's migrations, trying again (with backoff) while the database cannot be
/// reached. False when `shutdown` came first.
async fn migrate_until_done(ledger: &Ledger, shutdown: &CancellationToken) -> bool {
    let mut wait = Duration::from_millis(250);
    loop {
        match ledger.migrate().await {
            Ok(migrated) => {
                tracing::info!(
                    version = migrated.version,
                    applied = ?migrated.applied,
                    "ledger ready"
                );
                return true;
            }
            Err(error) => {
                tracing::warn!(error = %error, retry_ms = wait.as_millis() as u64, "ledger not reachable or not migrated; trying again");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return false,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(Duration::from_secs(10));
    }
}
