//! `ingest`: acknowledges Entrata and Payscore webhooks only after RabbitMQ has confirmed them.
//!
//! [`run`] takes already-bound listeners and a shutdown token, so tests start it on port 0
//! and stop it at will.

pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod routes;

use crate::config::IngestConfig;
use crate::metrics::IngestMetrics;
use shared::admin::{self, Readiness};
use shared::amqp::{PublishChannels, Publisher, Supervisor};
use shared::metrics::Metrics;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// The two listeners `run` serves, bound by the caller.
#[derive(Debug)]
pub struct Listeners {
    /// Webhooks (`INGEST_LISTEN`).
    pub public: TcpListener,
    /// Probes and metrics (`ADMIN_LISTEN`).
    pub admin: TcpListener,
}

impl Listeners {
    /// Bind both addresses of the configuration.
    pub async fn bind(config: &IngestConfig) -> std::io::Result<Self> {
        Ok(Self {
            public: TcpListener::bind(config.listen).await?,
            admin: TcpListener::bind(config.common.admin_listen).await?,
        })
    }
}

/// Serve until `shutdown` is cancelled, then drain.
///
/// Shutdown order: `/readyz` turns 503 at once; the public listener stops accepting;
/// requests in flight finish, each still waiting for its broker confirm; then the broker
/// connection closes and the admin server stops. All of it within `SHUTDOWN_GRACE_SECONDS`.
pub async fn run(
    config: IngestConfig,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let config = Arc::new(config);
    let metrics = Metrics::new();
    let ingest_metrics = IngestMetrics::register(&metrics);
    let readiness = Readiness::new();

    let stop_admin = CancellationToken::new();
    let admin = tokio::spawn(admin::serve(
        listeners.admin,
        metrics.clone(),
        readiness.clone(),
        stop_admin.clone(),
    ));

    let stop_amqp = CancellationToken::new();
    let (channels, batch, sizes) = (
        config.common.amqp.publish_channels,
        config.common.amqp.publish_batch,
        metrics.amqp_publish_batch.clone(),
    );
    let supervisor = Supervisor::spawn(
        config.common.amqp.clone(),
        "ingest",
        metrics.clone(),
        readiness.clone(),
        stop_amqp.clone(),
        move |connection| {
            let sizes = sizes.clone();
            async move { PublishChannels::open(&connection, channels, batch, sizes).await }
        },
    );

    let state = routes::AppState {
        publisher: Publisher::new(supervisor.sessions(), config.confirm_timeout)
            .publish_wait(config.publish_wait),
        metrics: ingest_metrics,
        permits: Arc::new(Semaphore::new(config.max_concurrent_requests)),
        exchange: config.common.amqp.topology().exchange().into(),
        config: config.clone(),
    };
    let app = routes::router(state).into_make_service_with_connect_info::<SocketAddr>();
    tracing::info!(
        listen = %listeners.public.local_addr()?,
        version = shared::VERSION,
        "ingest listening"
    );

    let drain_started = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let on_shutdown = {
        let readiness = readiness.clone();
        let drain_started = drain_started.clone();
        let shutdown = shutdown.clone();
        async move {
            shutdown.cancelled().await;
            readiness.start_draining();
            *drain_started.lock().expect("not poisoned") = Some(Instant::now());
            tracing::info!("draining: no new connections, finishing requests in flight");
        }
    };
    let server = axum::serve(listeners.public, app).with_graceful_shutdown(on_shutdown);
    let grace = config.common.shutdown_grace;
    // Keep a second of the grace period for closing the broker connection.
    let http_budget = grace
        .saturating_sub(Duration::from_secs(1))
        .max(Duration::from_millis(500));
    let server = tokio::spawn(async move { server.await });
    let served = tokio::select! {
        result = server => result.unwrap_or_else(|e| Err(std::io::Error::other(e))),
        _ = async {
            shutdown.cancelled().await;
            tokio::time::sleep(http_budget).await;
        } => {
            tracing::warn!("requests still in flight at the end of the grace period");
            Ok(())
        }
    };

    stop_amqp.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(1), supervisor.join()).await;
    stop_admin.cancel();
    let _ = tokio::time::timeout(Duration::from_millis(500), admin).await;
    let took = drain_started
        .lock()
        .expect("not poisoned")
        .map(|t| t.elapsed());
    tracing::info!(
        drain_ms = took.map(|d| d.as_millis() as u64),
        "ingest stopped"
    );
    served
}
