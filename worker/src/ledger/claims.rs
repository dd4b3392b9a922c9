//! Fleet-wide claims: at most one job per key (`application:<property>:<application>`,
//! `group:<id>`) runs at a time across every replica.
//!
//! A claim is a row in `ledger_claims` with an owner (one per job run) and an expiry, a lease:
//! - taken with one `INSERT … ON CONFLICT DO UPDATE … WHERE expired`, so two replicas racing
//!   for a free or expired key cannot both win (the row lock serialises them);
//! - renewed every third of `LEDGER_CLAIM_TTL_SECONDS` while the job runs, so a job may take
//!   as long as it needs;
//! - released (deleted) when the job ends. A holder that is SIGKILLed, or cut off from the
//!   database, stops renewing: its claim can be taken over at most one TTL after its last
//!   renewal (30 s by default).
//!
//! A lease alone cannot stop a holder that lost its claim without knowing it (a process paused
//! past the expiry) from acting. So every side effect is fenced: the statement that records the
//! intent before a Payscore create or an Entrata upload also renews the claim, and only if the
//! claim is still this owner's and unexpired ([`FENCE`]). After a successful fence the claim
//! has a full TTL left; `LEDGER_CLAIM_TTL_SECONDS` is checked at start to exceed the longest
//! downstream call (`PAYSCORE_TIMEOUT_MS`, `ENTRATA_TIMEOUT_MS`), so the call ends, answered or
//! timed out, before anyone else can take the claim over.

use super::{Ledger, LedgerError};
use std::time::Duration;
use tokio::task::JoinHandle;

/// A CTE that renews claim `$1` for owner `$2` by `$3` seconds, only while it is still theirs
/// and unexpired; statements that record an intent require it to have returned a row.
pub const FENCE: &str = "fence AS (UPDATE ledger_claims \
     SET expires_at = now() + make_interval(secs => $3) \
     WHERE claim_key = $1 AND owner = $2 AND expires_at > now() RETURNING 1)";

/// What [`Ledger::claim`] found.
#[derive(Debug)]
pub enum ClaimAttempt {
    /// This job holds the claim.
    Held(Claim),
    /// Another job holds it, and has renewed it within the TTL.
    Busy,
}

/// A held claim. Renewed in the background until [`Claim::release`] or drop; a claim dropped
/// without release (a panic) is not deleted and expires by itself.
#[derive(Debug)]
pub struct Claim {
    key: String,
    owner: String,
    ledger: Ledger,
    renewer: JoinHandle<()>,
}

impl Ledger {
    /// Try to take the claim on `key` for `run` (one delivery: its runs in process share the
    /// id, so a run after a database outage takes back the claim it could not release).
    pub async fn claim(&self, key: &str, run: &str) -> Result<ClaimAttempt, LedgerError> {
        let owner = format!("{}/{run}", owner_prefix());
        let ttl = self.config().claim_ttl.as_secs_f64();
        let rows = self
            .query(
                "claim",
                "INSERT INTO ledger_claims AS c (claim_key, owner, expires_at) \
                 VALUES ($1, $2, now() + make_interval(secs => $3)) \
                 ON CONFLICT (claim_key) DO UPDATE \
                 SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at \
                 WHERE c.expires_at <= now() OR c.owner = EXCLUDED.owner \
                 RETURNING 1",
                &[&key, &owner, &ttl],
            )
            .await?;
        if rows.is_empty() {
            return Ok(ClaimAttempt::Busy);
        }
        let renewer = tokio::spawn(renew(self.clone(), key.to_owned(), owner.clone()));
        Ok(ClaimAttempt::Held(Claim {
            key: key.to_owned(),
            owner,
            ledger: self.clone(),
            renewer,
        }))
    }
}

impl Claim {
    /// The claim's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The owner (unique per job run).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The TTL a fenced statement renews the claim by, as the `$3` of [`FENCE`].
    pub fn ttl_seconds(&self) -> f64 {
        self.ledger.config().claim_ttl.as_secs_f64()
    }

    /// Stop renewing and delete the claim, so a waiting delivery can go on at once. If the
    /// delete fails, the claim expires within the TTL.
    pub async fn release(self) {
        self.renewer.abort();
        let released = self
            .ledger
            .changed(
                "release",
                "DELETE FROM ledger_claims WHERE claim_key = $1 AND owner = $2 RETURNING 1",
                &[&self.key, &self.owner],
            )
            .await;
        if let Err(error) = released {
            tracing::warn!(claim = %self.key, error = %error, "claim not released; it expires by itself");
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

async fn renew(ledger: Ledger, key: String, owner: String) {
    let ttl = ledger.config().claim_ttl;
    let every = ttl / 3;
    loop {
        tokio::time::sleep(every).await;
        let renewed = ledger
            .changed(
                "renew",
                "UPDATE ledger_claims SET expires_at = now() + make_interval(secs => $3) \
                 WHERE claim_key = $1 AND owner = $2 AND expires_at > now() RETURNING 1",
                &[&key, &owner, &ttl.as_secs_f64()],
            )
            .await;
        match renewed {
            Ok(1) => {}
            Ok(_) => {
                // Expired and maybe taken over: the next fenced statement will fail, so this
                // job cannot act on it any more.
                tracing::warn!(claim = %key, "claim lost (expired before it was renewed)");
                return;
            }
            Err(error) => {
                tracing::warn!(claim = %key, error = %error, "claim not renewed; trying again");
            }
        }
    }
}

/// Names the process in claim owners (`worker status` and logs can tell pods apart).
fn owner_prefix() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
    format!("{host}:{}", std::process::id())
}

/// The key of an application's claim.
pub fn application_key(property_id: &str, application_id: &str) -> String {
    format!("application:{property_id}:{application_id}")
}

/// The key of a screening group's claim.
pub fn group_key(group_id: &str) -> String {
    format!("group:{group_id}")
}

/// How long a delivery waits in process for a busy claim before it is parked in a wait queue:
/// a holder that died loses its claim within one TTL; one that lives is still working.
pub fn busy_wait_limit(ttl: Duration) -> Duration {
    ttl + Duration::from_secs(5)
}
