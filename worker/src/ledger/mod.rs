//! The worker's ledger in PostgreSQL (`DATABASE_URL`): the fleet's record of its own work.
//!
//! - [`claims`]: at most one job per application (screenings) or per screening group (reports)
//!   runs at a time across every replica.
//! - [`records`]: the intent before each side effect (a Payscore create, an Entrata upload) and
//!   its outcome after; the primary guard against a second group or a second upload.
//! - [`deliveries`]: which copy of a message ran and whether its outcome is stored (one
//!   lineage per message, and the poison cap).
//! - [`journal`]: every job outcome, for `worker status`.
//! - [`migrate`]: versioned SQL migrations, applied under an advisory lock.
//!
//! Every query is bounded by [`QUERY_TIMEOUT`]; a connection whose query timed out is thrown
//! away, never returned to the pool half-used. Any failure is a [`LedgerError`], which a job
//! turns into "wait for the ledger" (no attempt spent, nothing dead-lettered).

pub mod claims;
pub mod config;
pub mod deliveries;
pub mod health;
pub mod journal;
pub mod metrics;
pub mod migrate;
pub mod records;

pub use claims::{Claim, ClaimAttempt};
pub use config::LedgerConfig;
pub use metrics::LedgerMetrics;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

/// Longest a single ledger query may take before the ledger counts as unreachable.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the ledger could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// No connection could be had from the pool (database down, pool exhausted).
    #[error("no database connection: {0}")]
    Connect(String),
    /// The query failed.
    #[error("query {query} failed: {source}")]
    Query {
        /// Which query (a fixed name, as in the metrics).
        query: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The query did not finish within [`QUERY_TIMEOUT`].
    #[error("query {0} timed out")]
    Timeout(&'static str),
}

/// A handle on the ledger; cheap to clone.
#[derive(Clone, Debug)]
pub struct Ledger {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    /// Connections whose commits do not wait for the disk (`synchronous_commit = off`), for
    /// rows that are not a duplicate guard: the journal and the delivery-run counter. A
    /// database crash may lose the last fraction of a second of them (an audit line, one run
    /// more for a message), never an intent, a group or an upload.
    relaxed: Pool,
    config: LedgerConfig,
    metrics: LedgerMetrics,
    connected: watch::Sender<bool>,
}

impl Ledger {
    /// A ledger on `config.url`; connects lazily (nothing is checked here).
    pub fn new(config: LedgerConfig, metrics: LedgerMetrics) -> Self {
        let pool = Self::pool(&config, config.pool_size, false);
        let relaxed = Self::pool(&config, config.pool_size.div_ceil(2), true);
        let (connected, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                pool,
                relaxed,
                config,
                metrics,
                connected,
            }),
        }
    }

    fn pool(config: &LedgerConfig, size: usize, relaxed: bool) -> Pool {
        let mut pg = config.pg_config();
        pg.connect_timeout(config.connect_timeout);
        pg.application_name("fleet-worker");
        if relaxed && config.relaxed_commits {
            pg.options("-c synchronous_commit=off");
        }
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(QUERY_TIMEOUT))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(QUERY_TIMEOUT))
            .build()
            .expect("a runtime is set, so the pool builds")
    }

    /// The configuration it was made with.
    pub fn config(&self) -> &LedgerConfig {
        &self.inner.config
    }

    /// Whether the last query (or health check) reached the database.
    pub fn is_connected(&self) -> bool {
        *self.inner.connected.borrow()
    }

    /// Changes of [`Ledger::is_connected`].
    pub fn connected(&self) -> watch::Receiver<bool> {
        self.inner.connected.subscribe()
    }

    /// Wait until the ledger is connected, at most `limit`. True when it is.
    pub async fn wait_connected(&self, limit: Duration) -> bool {
        let mut rx = self.connected();
        tokio::time::timeout(limit, rx.wait_for(|c| *c))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    fn set_connected(&self, connected: bool) {
        self.inner.connected.send_if_modified(|c| {
            let changed = *c != connected;
            *c = connected;
            changed
        });
        self.inner.metrics.connected.set(i64::from(connected));
    }

    async fn client(&self, query: &'static str, relaxed: bool) -> Result<Object, LedgerError> {
        let pool = if relaxed {
            &self.inner.relaxed
        } else {
            &self.inner.pool
        };
        match pool.get().await {
            Ok(client) => Ok(client),
            Err(error) => {
                self.inner.metrics.errors.with_label_values(&[query]).inc();
                self.set_connected(false);
                Err(LedgerError::Connect(error.to_string()))
            }
        }
    }

    /// Run one statement on a pooled connection, timed and bounded; returns its rows. Its
    /// commit waits for the disk.
    pub(crate) async fn query(
        &self,
        query: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, LedgerError> {
        self.run(query, sql, params, false).await
    }

    /// [`Ledger::query`] for a row that is not a duplicate guard: its commit does not wait for
    /// the disk (see `Inner::relaxed`).
    pub(crate) async fn query_relaxed(
        &self,
        query: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, LedgerError> {
        self.run(query, sql, params, true).await
    }

    async fn run(
        &self,
        query: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        relaxed: bool,
    ) -> Result<Vec<tokio_postgres::Row>, LedgerError> {
        let started = Instant::now();
        let client = self.client(query, relaxed).await?;
        let result = tokio::time::timeout(QUERY_TIMEOUT, async {
            let statement = client.prepare_cached(sql).await?;
            client.query(&statement, params).await
        })
        .await;
        self.inner
            .metrics
            .duration
            .with_label_values(&[query])
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(Ok(rows)) => {
                self.set_connected(true);
                Ok(rows)
            }
            Ok(Err(source)) => {
                self.inner.metrics.errors.with_label_values(&[query]).inc();
                if client.is_closed() || source.is_closed() || source.as_db_error().is_none() {
                    self.set_connected(false);
                }
                Err(LedgerError::Query { query, source })
            }
            Err(_) => {
                self.inner.metrics.errors.with_label_values(&[query]).inc();
                // The connection may still carry the unfinished query: never reuse it.
                drop(Object::take(client));
                self.set_connected(false);
                Err(LedgerError::Timeout(query))
            }
        }
    }

    /// `synchronous_commit` as the two pools see it: (the duplicate guards' connections, the
    /// journal's and run counter's). `("on", "off")` with `LEDGER_RELAXED_COMMITS` on.
    pub async fn commit_modes(&self) -> Result<(String, String), LedgerError> {
        let show = "SHOW synchronous_commit";
        let guards = self.run("commit_mode", show, &[], false).await?;
        let relaxed = self.run("commit_mode", show, &[], true).await?;
        let setting = |rows: &[tokio_postgres::Row]| {
            rows.first()
                .map(|row| row.get::<_, String>(0))
                .unwrap_or_default()
        };
        Ok((setting(&guards), setting(&relaxed)))
    }

    /// Run a statement for its effect only.
    pub(crate) async fn execute(
        &self,
        query: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<(), LedgerError> {
        self.query(query, sql, params).await.map(|_| ())
    }

    /// How many rows a statement changed (run through [`Ledger::query`] with `RETURNING 1`).
    pub(crate) async fn changed(
        &self,
        query: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<usize, LedgerError> {
        Ok(self.query(query, sql, params).await?.len())
    }
}
