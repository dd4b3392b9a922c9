//! Watching the database: a light query on a schedule keeps `ledger_connected` and the
//! worker's readiness true to the database's state, so the worker stops taking deliveries
//! while the ledger is unreachable and resumes by itself when it answers again; and the daily
//! purge of old journal entries.

use super::Ledger;
use shared::admin::Readiness;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the database is checked while it answers.
const CHECK_WHILE_UP: Duration = Duration::from_secs(5);
/// How often it is checked while it does not (how fast the worker resumes).
const CHECK_WHILE_DOWN: Duration = Duration::from_millis(500);
/// How often old journal entries are purged.
const PURGE_EVERY: Duration = Duration::from_secs(86_400);

/// What `/readyz` says while the ledger is unreachable.
pub const UNREACHABLE: &str = "ledger: the database is unreachable";

impl Ledger {
    /// Check the database now; updates [`Ledger::is_connected`].
    pub async fn ping(&self) -> bool {
        self.query("ping", "SELECT 1", &[]).await.is_ok()
    }

    /// Keep checking until `stop`; mirror the state into `readiness`.
    pub async fn watch(self, readiness: Arc<Readiness>, stop: CancellationToken) {
        let mut connected = self.connected();
        loop {
            let up = self.ping().await;
            readiness.set_unavailable((!up).then_some(UNREACHABLE));
            let wait = if up { CHECK_WHILE_UP } else { CHECK_WHILE_DOWN };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
                // A job saw the database go away (or come back): check at once.
                _ = connected.changed() => {}
            }
        }
    }

    /// Purge journal entries past the retention once a day (first a minute after start), until
    /// `stop`. Every replica does it; the deletes are idempotent.
    pub async fn purge_daily(self, stop: CancellationToken) {
        let mut wait = Duration::from_secs(60);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = PURGE_EVERY;
            match self.purge().await {
                Ok(removed) => tracing::info!(removed, "ledger: old journal entries purged"),
                Err(error) => {
                    tracing::warn!(error = %error, "ledger: purge failed; next try tomorrow")
                }
            }
        }
    }
}
