//! The journal: one row per settled delivery (ids, attempt, outcome, reason, time; never
//! applicant data), kept `LEDGER_RETENTION_DAYS`, read by `worker status`.

use super::{Ledger, LedgerError};
use serde::Serialize;

/// One settled delivery.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Entry {
    /// When it was settled (Unix ms; set by the database on write).
    pub at_ms: i64,
    /// `screenings` or `reports`.
    pub queue: String,
    /// The message id (stable across retries).
    pub message_id: String,
    /// `x-source`: `entrata`, `payscore`, `worker`, `sweep`, `replay`.
    pub source: Option<String>,
    /// AMQP `type`: `report_check` for the worker's own checks.
    pub kind: Option<String>,
    /// When ingest received the webhook (Unix ms).
    pub received_at_ms: Option<i64>,
    /// Entrata property id.
    pub property_id: Option<String>,
    /// Entrata application id.
    pub application_id: Option<String>,
    /// Payscore screening group id.
    pub group_id: Option<String>,
    /// Failures before this delivery (`x-attempt`).
    pub attempt: u32,
    /// The `worker_jobs_total` outcome label.
    pub outcome: String,
    /// Dead-letter reason or failure class.
    pub reason: Option<String>,
    /// Detail: status codes and ids only.
    pub detail: Option<String>,
    /// The uploaded report's file name.
    pub file_name: Option<String>,
}

const COLUMNS: &str = "(EXTRACT(EPOCH FROM at) * 1000)::bigint, queue, message_id, source, kind, \
     (EXTRACT(EPOCH FROM received_at) * 1000)::bigint, property_id, application_id, group_id, \
     attempt, outcome, reason, detail, file_name";

impl Ledger {
    /// Append an entry.
    pub async fn journal(&self, entry: &Entry) -> Result<(), LedgerError> {
        let attempt = i32::try_from(entry.attempt).unwrap_or(i32::MAX);
        self.query_relaxed(
            "journal",
            "INSERT INTO ledger_journal (queue, message_id, source, kind, received_at, \
               property_id, application_id, group_id, attempt, outcome, reason, detail, file_name) \
             VALUES ($1, $2, $3, $4, to_timestamp($5::bigint / 1000.0), \
               $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &entry.queue,
                &entry.message_id,
                &entry.source,
                &entry.kind,
                &entry.received_at_ms,
                &entry.property_id,
                &entry.application_id,
                &entry.group_id,
                &attempt,
                &entry.outcome,
                &entry.reason,
                &entry.detail,
                &entry.file_name,
            ],
        )
        .await?;
        Ok(())
    }

    /// Entries of an application (of one property, if given), oldest first, together with
    /// those of its screening groups.
    pub async fn history_of_application(
        &self,
        application_id: &str,
        property_id: Option<&str>,
    ) -> Result<Vec<Entry>, LedgerError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM ledger_journal \
             WHERE (application_id = $1 AND ($2::text IS NULL OR property_id = $2)) \
                OR group_id IN (SELECT group_id FROM ledger_applications \
                                WHERE application_id = $1 AND group_id IS NOT NULL \
                                  AND ($2::text IS NULL OR property_id = $2)) \
             ORDER BY at, id"
        );
        let rows = self
            .query("history", &sql, &[&application_id, &property_id])
            .await?;
        Ok(rows.iter().map(entry).collect())
    }

    /// Entries of a screening group and of the application it was created for, oldest first.
    pub async fn history_of_group(&self, group_id: &str) -> Result<Vec<Entry>, LedgerError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM ledger_journal j \
             WHERE group_id = $1 \
                OR EXISTS (SELECT 1 FROM ledger_applications a WHERE a.group_id = $1 \
                           AND a.property_id = j.property_id \
                           AND a.application_id = j.application_id) \
             ORDER BY at, id"
        );
        let rows = self.query("history", &sql, &[&group_id]).await?;
        Ok(rows.iter().map(entry).collect())
    }

    /// Delete journal entries older than the retention; returns how many.
    pub async fn purge(&self) -> Result<u64, LedgerError> {
        let days = i32::try_from(self.config().retention_days).unwrap_or(i32::MAX);
        // Claims left by holders that died and were never taken over.
        self.query(
            "purge",
            "DELETE FROM ledger_claims WHERE expires_at < now() - interval '1 day'",
            &[],
        )
        .await?;
        // Copies settled or abandoned long ago: a redelivery comes within minutes.
        self.query(
            "purge",
            "DELETE FROM ledger_deliveries WHERE updated_at < now() - make_interval(days => $1::int)",
            &[&days],
        )
        .await?;
        let rows = self
            .query(
                "purge",
                "WITH gone AS (DELETE FROM ledger_journal \
                   WHERE at < now() - make_interval(days => $1::int) RETURNING 1) \
                 SELECT count(*) FROM gone",
                &[&days],
            )
            .await?;
        Ok(rows
            .first()
            .map(|row| row.get::<_, i64>(0).max(0) as u64)
            .unwrap_or(0))
    }
}

fn entry(row: &tokio_postgres::Row) -> Entry {
    Entry {
        at_ms: row.get(0),
        queue: row.get(1),
        message_id: row.get(2),
        source: row.get(3),
        kind: row.get(4),
        received_at_ms: row.get(5),
        property_id: row.get(6),
        application_id: row.get(7),
        group_id: row.get(8),
        attempt: u32::try_from(row.get::<_, i32>(9)).unwrap_or(0),
        outcome: row.get(10),
        reason: row.get(11),
        detail: row.get(12),
        file_name: row.get(13),
    }
}
