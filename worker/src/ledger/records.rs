//! Intent before effect, outcome after (DESIGN.md invariants 3 and 4).
//!
//! Applications: `received` → (fenced) `creating` before the Payscore create → `created` with
//! the group id after its answer; a create that certainly failed goes back to `received`. A
//! `creating` row found by a later job means an earlier create's outcome is unknown.
//!
//! Reports: no row → (fenced) `uploading` before the Entrata upload → `uploaded` after; an
//! upload that certainly failed removes the row. An `uploading` row found later means an
//! earlier upload's outcome is unknown.

use super::claims::FENCE;
use super::{Claim, Ledger, LedgerError};
use crate::properties::PayscoreApi;
use std::time::Duration;

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplicationState {
    /// Known; no create in progress.
    Received,
    /// A create was attempted and its outcome is not recorded.
    Creating,
    /// The group exists.
    Created,
}

/// An application's ledger row.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationRecord {
    /// Its state.
    pub state: ApplicationState,
    /// The screening group, once created.
    pub group_id: Option<String>,
    /// Since when the last create has been in progress (state `Creating`).
    pub creating_for: Option<Duration>,
    /// When the group id was recorded (Unix ms).
    pub group_recorded_at_ms: Option<i64>,
    /// The API generation of the group (`v1` for groups recorded before there was a choice).
    pub payscore_api: PayscoreApi,
}

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportState {
    /// Never uploaded (no row).
    New,
    /// An upload was attempted and its outcome is not recorded.
    Uploading,
    /// Uploaded.
    Uploaded,
}

/// The ids of an application.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApplicationRef {
    /// Entrata property id.
    pub property_id: String,
    /// Entrata application id.
    pub application_id: String,
}

impl Ledger {
    /// The application's row, created as `received` the first time.
    pub async fn application(
        &self,
        property_id: &str,
        application_id: &str,
    ) -> Result<ApplicationRecord, LedgerError> {
        // DO UPDATE (not DO NOTHING) so that RETURNING also yields an existing row.
        let rows = self
            .query(
                "application",
                "INSERT INTO ledger_applications AS a (property_id, application_id, state) \
                 VALUES ($1, $2, 'received') \
                 ON CONFLICT (property_id, application_id) DO UPDATE SET state = a.state \
                 RETURNING a.state, a.group_id, \
                   (EXTRACT(EPOCH FROM now() - a.create_started_at) * 1000)::bigint, \
                   (EXTRACT(EPOCH FROM a.group_recorded_at) * 1000)::bigint, a.payscore_api",
                &[&property_id, &application_id],
            )
            .await?;
        let row = rows.first().expect("INSERT … RETURNING yields one row");
        let state: String = row.get(0);
        let creating_ms: Option<i64> = row.get(2);
        Ok(ApplicationRecord {
            state: match state.as_str() {
                "created" => ApplicationState::Created,
                "creating" => ApplicationState::Creating,
                _ => ApplicationState::Received,
            },
            group_id: row.get(1),
            creating_for: creating_ms.map(|ms| Duration::from_millis(ms.max(0) as u64)),
            group_recorded_at_ms: row.get(3),
            payscore_api: api(row.get(4)),
        })
    }

    /// Record the intent to create a group of generation `payscore_api`, fenced by `claim`.
    /// False when the claim is no longer this job's (or the group was recorded meanwhile):
    /// the job must not create. The generation stays with the intent, so a group a later
    /// lookup finds is recorded as what was created, whatever the property says by then.
    pub async fn begin_create(
        &self,
        claim: &Claim,
        property_id: &str,
        application_id: &str,
        payscore_api: PayscoreApi,
    ) -> Result<bool, LedgerError> {
        let sql = format!(
            "WITH {FENCE} UPDATE ledger_applications \
             SET state = 'creating', create_started_at = now(), payscore_api = $6, \
                 create_attempts = create_attempts + 1, updated_at = now() \
             WHERE property_id = $4 AND application_id = $5 AND group_id IS NULL \
               AND EXISTS (SELECT 1 FROM fence) \
             RETURNING 1"
        );
        let changed = self
            .changed(
                "begin_create",
                &sql,
                &[
                    &claim.key(),
                    &claim.owner(),
                    &claim.ttl_seconds(),
                    &property_id,
                    &application_id,
                    &payscore_api.as_str(),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Record the group the create (or the lookup) gave.
    pub async fn group_created(
        &self,
        property_id: &str,
        application_id: &str,
        group_id: &str,
        payscore_api: PayscoreApi,
    ) -> Result<(), LedgerError> {
        self.execute(
            "group_created",
            "UPDATE ledger_applications \
             SET state = 'created', group_id = $3, group_recorded_at = now(), updated_at = now(), \
                 payscore_api = $4 \
             WHERE property_id = $1 AND application_id = $2",
            &[
                &property_id,
                &application_id,
                &group_id,
                &payscore_api.as_str(),
            ],
        )
        .await
    }

    /// The API generation of the group, `None` when the ledger does not know the group.
    pub async fn api_of_group(&self, group_id: &str) -> Result<Option<PayscoreApi>, LedgerError> {
        let rows = self
            .query(
                "api_of_group",
                "SELECT payscore_api FROM ledger_applications WHERE group_id = $1",
                &[&group_id],
            )
            .await?;
        Ok(rows.first().map(|row| api(row.get(0))))
    }

    /// The create certainly did not happen (refused, or never sent): back to `received`.
    pub async fn create_failed(
        &self,
        property_id: &str,
        application_id: &str,
    ) -> Result<(), LedgerError> {
        self.execute(
            "create_failed",
            "UPDATE ledger_applications \
             SET state = 'received', create_started_at = NULL, updated_at = now() \
             WHERE property_id = $1 AND application_id = $2 AND state = 'creating'",
            &[&property_id, &application_id],
        )
        .await
    }

    /// An operator's answer to an unknown create (`worker resolve`): the group Payscore has
    /// (`Some`), or that it has none (`None`: the next delivery creates one). False when the
    /// ledger has no unresolved create for the application.
    pub async fn resolve_create(
        &self,
        property_id: &str,
        application_id: &str,
        group_id: Option<&str>,
        payscore_api: PayscoreApi,
    ) -> Result<bool, LedgerError> {
        let unknown = self
            .query(
                "resolve",
                "SELECT 1 FROM ledger_applications \
                 WHERE property_id = $1 AND application_id = $2 AND state = 'creating'",
                &[&property_id, &application_id],
            )
            .await?;
        if unknown.is_empty() {
            return Ok(false);
        }
        match group_id {
            Some(group_id) => {
                self.group_created(property_id, application_id, group_id, payscore_api)
                    .await?
            }
            None => self.create_failed(property_id, application_id).await?,
        }
        Ok(true)
    }

    /// The application a screening group was created for, if the ledger knows the group.
    pub async fn application_of_group(
        &self,
        group_id: &str,
    ) -> Result<Option<ApplicationRef>, LedgerError> {
        let rows = self
            .query(
                "application_of_group",
                "SELECT property_id, application_id FROM ledger_applications WHERE group_id = $1",
                &[&group_id],
            )
            .await?;
        Ok(rows.first().map(|row| ApplicationRef {
            property_id: row.get(0),
            application_id: row.get(1),
        }))
    }

    /// Of `applications`, those the ledger knows (any state).
    pub async fn known_applications(
        &self,
        property_id: &str,
        application_ids: &[String],
    ) -> Result<Vec<String>, LedgerError> {
        let rows = self
            .query(
                "known_applications",
                "SELECT application_id FROM ledger_applications \
                 WHERE property_id = $1 AND application_id = ANY($2)",
                &[&property_id, &application_ids],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Where a report stands.
    pub async fn report(
        &self,
        group_id: &str,
        report_key: &str,
    ) -> Result<ReportState, LedgerError> {
        let rows = self
            .query(
                "report",
                "SELECT state FROM ledger_reports WHERE group_id = $1 AND report_key = $2",
                &[&group_id, &report_key],
            )
            .await?;
        Ok(match rows.first().map(|row| row.get::<_, String>(0)) {
            None => ReportState::New,
            Some(state) if state == "uploaded" => ReportState::Uploaded,
            Some(_) => ReportState::Uploading,
        })
    }

    /// Record the intent to upload, fenced by `claim`. False when the claim is no longer this
    /// job's (or the report was recorded as uploaded meanwhile): the job must not upload.
    pub async fn begin_upload(
        &self,
        claim: &Claim,
        group_id: &str,
        report_key: &str,
        file_name: &str,
        application: &ApplicationRef,
    ) -> Result<bool, LedgerError> {
        let sql = format!(
            "WITH {FENCE} INSERT INTO ledger_reports AS r \
               (group_id, report_key, file_name, state, property_id, application_id, \
                upload_attempts, started_at) \
             SELECT $4, $5, $6, 'uploading', $7, $8, 1, now() WHERE EXISTS (SELECT 1 FROM fence) \
             ON CONFLICT (group_id, report_key) DO UPDATE \
             SET state = 'uploading', upload_attempts = r.upload_attempts + 1, started_at = now() \
             WHERE r.state <> 'uploaded' \
             RETURNING 1"
        );
        let changed = self
            .changed(
                "begin_upload",
                &sql,
                &[
                    &claim.key(),
                    &claim.owner(),
                    &claim.ttl_seconds(),
                    &group_id,
                    &report_key,
                    &file_name,
                    &application.property_id,
                    &application.application_id,
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Record the upload as done.
    pub async fn uploaded(&self, group_id: &str, report_key: &str) -> Result<(), LedgerError> {
        self.execute(
            "uploaded",
            "UPDATE ledger_reports SET state = 'uploaded', uploaded_at = now() \
             WHERE group_id = $1 AND report_key = $2",
            &[&group_id, &report_key],
        )
        .await
    }

    /// Record a report found already in the applicant file (an unknown upload resolved, or a
    /// report uploaded before the ledger existed) as uploaded.
    pub async fn found_uploaded(
        &self,
        group_id: &str,
        report_key: &str,
        file_name: &str,
        application: &ApplicationRef,
    ) -> Result<(), LedgerError> {
        self.execute(
            "found_uploaded",
            "INSERT INTO ledger_reports AS r \
               (group_id, report_key, file_name, state, property_id, application_id, uploaded_at) \
             VALUES ($1, $2, $3, 'uploaded', $4, $5, now()) \
             ON CONFLICT (group_id, report_key) DO UPDATE \
             SET state = 'uploaded', uploaded_at = COALESCE(r.uploaded_at, now())",
            &[
                &group_id,
                &report_key,
                &file_name,
                &application.property_id,
                &application.application_id,
            ],
        )
        .await
    }

    /// The upload certainly did not happen (refused, or never sent): forget the intent.
    pub async fn upload_failed(&self, group_id: &str, report_key: &str) -> Result<(), LedgerError> {
        self.execute(
            "upload_failed",
            "DELETE FROM ledger_reports \
             WHERE group_id = $1 AND report_key = $2 AND state = 'uploading'",
            &[&group_id, &report_key],
        )
        .await
    }
}

/// The `payscore_api` column as the enum (anything but `v2` is v1).
fn api(text: String) -> PayscoreApi {
    if text == "v2" {
        PayscoreApi::V2
    } else {
        PayscoreApi::V1
    }
}
