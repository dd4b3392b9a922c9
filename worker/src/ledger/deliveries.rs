//! Which copy of a message has been run, and whether its outcome is stored (one lineage per
//! message; a poison cap that counts only real, unsettled runs). See
//! `migrations/0002_deliveries.sql`.

use super::{Ledger, LedgerError};

/// What a job may do with a delivery, by its copy's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunCheck {
    /// Run it: this is run number `runs` of the copy that did not settle it so far (1 the
    /// first time).
    Run {
        /// Unsettled runs including this one.
        runs: u32,
    },
    /// Its outcome is stored already: acknowledge it without running.
    Settled,
}

impl Ledger {
    /// A run of this copy begins.
    pub async fn begin_run(
        &self,
        copy_key: &str,
        message_id: &str,
        queue: &str,
    ) -> Result<RunCheck, LedgerError> {
        let rows = self
            .query_relaxed(
                "begin_run",
                "INSERT INTO ledger_deliveries AS d (copy_key, message_id, queue, runs) \
                 VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (copy_key) DO UPDATE SET \
                   runs = d.runs + CASE WHEN d.settled_at IS NULL THEN 1 ELSE 0 END, \
                   updated_at = now() \
                 RETURNING d.runs, d.settled_at IS NOT NULL",
                &[&copy_key, &message_id, &queue],
            )
            .await?;
        let row = rows.first().expect("INSERT … RETURNING yields one row");
        if row.get::<_, bool>(1) {
            return Ok(RunCheck::Settled);
        }
        Ok(RunCheck::Run {
            runs: u32::try_from(row.get::<_, i32>(0)).unwrap_or(0),
        })
    }

    /// The run ended: `settled` when the copy's outcome is stored, otherwise (its connection
    /// was lost) the run does not count.
    pub async fn end_run(&self, copy_key: &str, settled: bool) -> Result<(), LedgerError> {
        self.query_relaxed(
            "end_run",
            "UPDATE ledger_deliveries SET runs = GREATEST(runs - 1, 0), \
               settled_at = CASE WHEN $2 THEN now() ELSE settled_at END, updated_at = now() \
             WHERE copy_key = $1",
            &[&copy_key, &settled],
        )
        .await
        .map(|_| ())
    }
}
