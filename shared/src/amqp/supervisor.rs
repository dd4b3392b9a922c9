//! The connection supervisor: one connection, rebuilt after any loss (a process may run
//! several, each with its own name: the worker publishes and consumes on two).
//!
//! The supervisor connects (with heartbeats and a connection name made of the binary and the
//! prefix, so an operator or a test can find it in `rabbitmqctl list_connections`), declares
//! the topology, then lets the component build what it needs on the connection (publisher
//! channels, consumers) and publishes the result as a [`Session`]. When the connection fails,
//! the broker closes it, a heartbeat is missed, or a component reports a broken channel
//! through [`Session::fail`], the session is withdrawn and everything is built again after a
//! capped exponential backoff with jitter. lapin's own auto-recovery is left off: a fresh
//! connection is simpler to reason about than a replayed one.

use super::AmqpConfig;
use crate::admin::Readiness;
use crate::metrics::Metrics;
use backon::{BackoffBuilder, ExponentialBuilder};
use futures_util::StreamExt;
use lapin::{Connection, ConnectionProperties, Event};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A live connection with what the component built on it.
#[derive(Debug)]
pub struct Session<T> {
    /// What the component's setup returned (channels, consumers).
    pub value: T,
    connection: Arc<Connection>,
    failed: CancellationToken,
    blocked: watch::Sender<bool>,
}

impl<T> Session<T> {
    /// Report that something on this connection broke (a channel closed, a publish failed for
    /// a reason other than the broker's answer): the supervisor reconnects.
    pub fn fail(&self, why: &str) {
        if !self.failed.is_cancelled() {
            tracing::warn!(reason = why, "amqp session failed; reconnecting");
            self.failed.cancel();
        }
    }

    /// The connection, to open more channels on.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// True once the session has failed or been withdrawn.
    pub fn is_failed(&self) -> bool {
        self.failed.is_cancelled()
    }

    /// Resolves when the session fails.
    pub async fn failed(&self) {
        self.failed.cancelled().await
    }

    /// True while the broker blocks this connection's publishing (`connection.blocked`, sent
    /// under a memory or disk alarm): nothing published now would be confirmed until it lifts.
    pub fn is_blocked(&self) -> bool {
        *self.blocked.borrow()
    }

    /// Follows the blocked state (see [`Session::is_blocked`]).
    pub fn blocked_changes(&self) -> watch::Receiver<bool> {
        self.blocked.subscribe()
    }

    /// Resolves once the connection is not blocked (at once if it is not), or when the session
    /// fails.
    pub async fn unblocked(&self) {
        let mut blocked = self.blocked.subscribe();
        tokio::select! {
            _ = blocked.wait_for(|b| !*b) => {}
            _ = self.failed.cancelled() => {}
        }
    }
}

/// The current session, if any. `None` while disconnected.
pub type SessionWatch<T> = watch::Receiver<Option<Arc<Session<T>>>>;

/// Handle to the supervisor task.
#[derive(Debug)]
pub struct Supervisor<T> {
    sessions: SessionWatch<T>,
    task: JoinHandle<()>,
}

impl<T: Send + Sync + 'static> Supervisor<T> {
    /// Start supervising. `setup` runs on every new connection after the topology has been
    /// declared; its error counts as a failed connection attempt. The supervisor stops, and
    /// closes the connection, when `stop` is cancelled.
    pub fn spawn<F, Fut>(
        config: AmqpConfig,
        binary: &str,
        metrics: Metrics,
        readiness: Arc<Readiness>,
        stop: CancellationToken,
        setup: F,
    ) -> Self
    where
        F: Fn(Arc<Connection>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, lapin::Error>> + Send,
    {
        let (tx, sessions) = watch::channel(None);
        let name = connection_name(binary, &config.prefix);
        readiness.expect_connection(&name);
        let task = tokio::spawn(async move {
            let mut backoff = backoff(&config);
            while !stop.is_cancelled() {
                // The whole set-up is bounded: a broker that accepts the connection and then
                // stalls (a declare that never answers) must not hang the supervisor.
                let attempt = tokio::time::timeout(SETUP_TIMEOUT, connect(&config, &name, &setup));
                match attempt.await.unwrap_or(Err(ConnectError::Timeout)) {
                    Ok(session) => {
                        backoff = self::backoff(&config);
                        let session = Arc::new(session);
                        tracing::info!(connection = %name, "amqp connected, topology declared");
                        let all = readiness.set_connected(&name, true);
                        metrics.amqp_connected.set(i64::from(all));
                        let _ = tx.send(Some(session.clone()));
                        let lost =
                            watch_connection(&session, &name, &stop, &readiness, &metrics).await;
                        readiness.set_connected(&name, false);
                        metrics.amqp_connected.set(0);
                        let blocked = readiness.set_blocked(&name, false);
                        metrics.amqp_blocked.set(i64::from(blocked));
                        let _ = tx.send(None);
                        session.failed.cancel();
                        if let Some(why) = lost {
                            tracing::warn!(connection = %name, reason = %why, "amqp connection lost");
                        }
                        // Bounded: a connection that cannot write (the broker gone quiet, a
                        // resource alarm) must not hold up the reconnect or the shutdown.
                        let close = session.connection.close(200, "closing".into());
                        if tokio::time::timeout(CLOSE_TIMEOUT, close).await.is_err() {
                            tracing::warn!(connection = %name, "the broker did not confirm the close in time; dropping the connection");
                        }
                    }
                    Err(error) => {
                        tracing::warn!(connection = %name, error = %error, "amqp connection attempt failed");
                    }
                }
                let delay = backoff.next().unwrap_or(config.reconnect_max);
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            tracing::info!(connection = %name, "amqp supervisor stopped");
        });
        Self { sessions, task }
    }

    /// A receiver that always holds the current session.
    pub fn sessions(&self) -> SessionWatch<T> {
        self.sessions.clone()
    }

    /// Wait until the supervisor has stopped (after its `stop` token was cancelled).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// Longest wait for the broker to confirm that a connection is closed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest a connection attempt, topology declaration and set-up may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// `<binary>` or `<binary>@<prefix>`: the name shown by `rabbitmqctl list_connections name`.
pub fn connection_name(binary: &str, prefix: &str) -> String {
    if prefix.is_empty() {
        binary.to_owned()
    } else {
        format!("{binary}@{prefix}")
    }
}

fn backoff(config: &AmqpConfig) -> impl Iterator<Item = Duration> + use<> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(config.reconnect_max)
        .with_jitter()
        .without_max_times()
        .build()
}

async fn connect<T, F, Fut>(
    config: &AmqpConfig,
    name: &str,
    setup: &F,
) -> Result<Session<T>, ConnectError>
where
    F: Fn(Arc<Connection>) -> Fut,
    Fut: Future<Output = Result<T, lapin::Error>>,
{
    let mut uri: lapin::uri::AMQPUri =
        config.url.expose().parse().map_err(|_| ConnectError::Uri)?;
    if uri.query.heartbeat.is_none() {
        uri.query.heartbeat = Some(config.heartbeat);
    }
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    let connection = Arc::new(
        tokio::time::timeout(
            Duration::from_secs(15),
            Connection::connect_uri(uri, properties),
        )
        .await
        .map_err(|_| ConnectError::Timeout)??,
    );
    let channel = connection.create_channel().await?;
    config.topology().declare(&channel).await?;
    let _ = channel.close(200, "topology declared".into()).await;
    let value = setup(connection.clone()).await?;
    Ok(Session {
        value,
        connection,
        failed: CancellationToken::new(),
        blocked: watch::Sender::new(false),
    })
}

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("AMQP_URL is not a valid AMQP URI")]
    Uri,
    #[error("the broker did not answer in time")]
    Timeout,
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
}

/// Wait until the connection is lost (returns why) or `stop` is cancelled (returns `None`).
async fn watch_connection<T>(
    session: &Session<T>,
    name: &str,
    stop: &CancellationToken,
    readiness: &Readiness,
    metrics: &Metrics,
) -> Option<String> {
    let mut events = session.connection.events_listener();
    // lapin reports most losses as events; the status poll catches any it does not.
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = session.failed.cancelled() => return Some("a component reported a broken channel".into()),
            event = events.next() => match event {
                Some(Event::Error(error)) => return Some(error.to_string()),
                // A resource alarm (memory, disk): the broker takes no messages for now, so
                // nothing published would be confirmed. Not ready until it lifts; publishers
                // and consumers look at the session's blocked state.
                Some(Event::ConnectionBlocked(reason)) => {
                    tracing::warn!(reason = %reason, "the broker blocked publishing (resource alarm)");
                    // Readiness and metric first: a publisher woken by the change may answer
                    // its caller at once, and whoever looks next must see the alarm.
                    readiness.set_blocked(name, true);
                    metrics.amqp_blocked.set(1);
                    session.blocked.send_replace(true);
                }
                Some(Event::ConnectionUnblocked) => {
                    tracing::info!("the broker accepts publishing again");
                    session.blocked.send_replace(false);
                    let blocked = readiness.set_blocked(name, false);
                    metrics.amqp_blocked.set(i64::from(blocked));
                }
                Some(_) => {}
                None => return Some("event stream ended".into()),
            },
            _ = poll.tick() => {
                if !session.connection.status().connected() {
                    return Some("connection is no longer connected".into());
                }
            }
        }
    }
}
