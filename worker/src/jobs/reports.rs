//! The reports job: a finished household's Payscore report lands in the Entrata applicant
//! file, once per report (DESIGN.md invariant 4).
//!
//! It consumes Payscore webhooks (already signature-checked by ingest) and the report checks
//! the screening job forwards. On `SCREENING_GROUP_COMPLETED`, or a check that finds the group
//! `completed`, it reads the group (its `correlation_id` names the Entrata application),
//! fetches the report URL (404: not ready, try again; 410: expired, dead letter), downloads
//! the PDF (bounded, must be a PDF), and uploads it with `leases/sendLeaseDocuments` under a
//! name that carries the group id and a short hash of the bytes.
//!
//! The ledger makes it one upload per report, however many replicas run: the job claims the
//! group fleet-wide, finds the application through the ledger (the group's `correlation_id`
//! only as a fallback; a group known to neither is dead-lettered as `unknown_group`), skips a
//! report the ledger records as uploaded (`duplicate`), records the intent before the upload
//! and the file name after. An intent without an outcome (an upload that timed out) is
//! resolved by Entrata's document list for the application's lease. Every other webhook code
//! is acknowledged and counted.
//!
//! Applicant groups (Payscore v2) have one report per household verification (income, asset)
//! and one identity report per applicant: `REPORT_READY` names one report, which is fetched by
//! its id and uploaded as `payscore-<kind>-<group>-<report id>.pdf`, once per report id; a
//! v2 report check lists the group's reports and uploads each one not uploaded yet, until the
//! group is `completed` and every report it asked for is in the applicant file.

use crate::clients::entrata::EntrataClient;
use crate::clients::entrata::EntrataError;
use crate::clients::payscore::v2::ReportV2;
use crate::clients::payscore::{PayscoreClient, PayscoreError, ReportUrl};
use crate::config::WorkerConfig;
use crate::consumer::Handler;
use crate::jobs::classify::{entrata_failure, payscore_failure, wait_for_schedule};
use crate::jobs::documents::{
    correlation_id, failed_file, file_name, parse_correlation, report_file_name, report_hash,
};
use crate::jobs::report_check::{self, ReportCheck};
use crate::json;
use crate::ledger::claims::group_key;
use crate::ledger::records::{ApplicationRef, ReportState};
use crate::ledger::{Claim, ClaimAttempt, Ledger, LedgerError};
use crate::metrics::WorkerMetrics;
use crate::outcome::{DeadReason, Failure, FollowUp, Ignore, Job, Outcome};
use crate::properties::{PayscoreApi, PropertySettings};
use serde_json::{Value, json};
use shared::amqp::WorkQueue;
use std::sync::Arc;
use std::time::Duration;

/// The queue label of this job's metrics.
const QUEUE: &str = WorkQueue::Reports.as_str();

/// Payscore webhook codes counted by name; any other is counted as `other`.
const KNOWN_CODES: &[&str] = &[
    "BEGIN_SCREENING",
    "SCREENING_COMPLETED",
    "SCREENING_GROUP_COMPLETED",
    "RE_OPEN_SCREENING",
    "BANK_NOT_SUPPORTED",
    "NO_BANK",
    "BANK_CANNOT_CONNECT",
    "SHARE_BANK",
    "NO_INCOME",
    "NO_ONLINE_BANKING",
    "REPORT_SOON_TO_EXPIRE",
    "REPORT_EXPIRED",
    "VERIFICATION_STARTED",
    "VERIFICATION_COMPLETED",
    "REPORT_READY",
];

/// The reports job.
#[derive(Debug)]
pub struct ReportsJob {
    /// Configuration.
    pub config: Arc<WorkerConfig>,
    /// Entrata.
    pub entrata: Arc<EntrataClient>,
    /// Payscore.
    pub payscore: Arc<PayscoreClient>,
    /// The ledger.
    pub ledger: Ledger,
    /// Metrics.
    pub metrics: WorkerMetrics,
}

/// What a reports delivery asks for.
enum Request {
    /// A Payscore webhook with its code, its group (`screening_group_id` in v1,
    /// `applicant_group_id` in v2) and, for `REPORT_READY`, its report.
    Webhook {
        code: String,
        group_id: Option<String>,
        report_id: Option<String>,
    },
    /// A scheduled check.
    Check(ReportCheck),
}

fn parse(job: &Job) -> Option<Request> {
    if job.kind.as_deref() == Some(report_check::KIND) {
        return serde_json::from_slice(&job.body).ok().map(Request::Check);
    }
    let body: Value = serde_json::from_slice(&job.body).ok()?;
    Some(Request::Webhook {
        code: json::text(json::field(&body, "code")).unwrap_or_default(),
        group_id: json::text(json::field(&body, "screening_group_id"))
            .or_else(|| json::text(json::field(&body, "applicant_group_id"))),
        report_id: json::text(json::field(&body, "report_id")),
    })
}

impl Handler for ReportsJob {
    fn queue(&self) -> WorkQueue {
        WorkQueue::Reports
    }

    fn key(&self, job: &Job) -> Option<String> {
        match parse(job)? {
            Request::Webhook { group_id, .. } => group_id,
            Request::Check(check) => Some(check.screening_group_id),
        }
    }

    async fn handle(&self, job: &Job) -> Outcome {
        match parse(job) {
            None => Outcome::dead(
                DeadReason::UnreadableDelivery,
                "not a Payscore webhook or report check",
            ),
            Some(Request::Check(check)) => {
                let group_id = check.screening_group_id.clone();
                self.claimed(job, &group_id, Work::Check(check)).await
            }
            Some(Request::Webhook {
                code,
                group_id,
                report_id,
            }) => {
                let upper = code.to_ascii_uppercase();
                // Count each delivery once, not on every in-process retry.
                if job.attempt == 0 {
                    let label = if KNOWN_CODES.contains(&upper.as_str()) {
                        upper.to_ascii_lowercase()
                    } else {
                        "other".into()
                    };
                    self.metrics
                        .payscore_webhooks
                        .with_label_values(&[&label])
                        .inc();
                }
                match (upper.as_str(), group_id, report_id) {
                    ("SCREENING_GROUP_COMPLETED", Some(group_id), _) => {
                        self.claimed(job, &group_id, Work::Completed).await
                    }
                    ("SCREENING_GROUP_COMPLETED", None, _) => Outcome::dead(
                        DeadReason::UnreadableDelivery,
                        "completion webhook without screening_group_id",
                    ),
                    ("REPORT_READY", Some(group_id), Some(report_id)) => {
                        self.claimed(job, &group_id, Work::Report(report_id)).await
                    }
                    // The reports list names the group of household reports only; an
                    // individual report's webhook may not either: the report itself does.
                    ("REPORT_READY", None, Some(report_id)) => {
                        match self.group_of_report(&report_id).await {
                            Ok(group_id) => {
                                self.claimed(job, &group_id, Work::Report(report_id)).await
                            }
                            Err(outcome) => outcome,
                        }
                    }
                    ("REPORT_READY", _, None) => Outcome::dead(
                        DeadReason::UnreadableDelivery,
                        "REPORT_READY without report_id",
                    ),
                    _ => self.metrics.ignore(QUEUE, Ignore::NoActionNeeded),
                }
            }
        }
    }
}

/// What a claimed reports job does.
enum Work {
    /// A scheduled check (either generation).
    Check(ReportCheck),
    /// v1: the household completed; upload its report.
    Completed,
    /// v2: upload this report.
    Report(String),
}

/// A ledger failure as the outcome that waits for the ledger.
fn ledger_down(error: LedgerError) -> Outcome {
    Outcome::LedgerUnavailable(error.to_string())
}

/// The application a group belongs to, and whether the ledger said so (`false`: only the
/// group's `correlation_id` did, so the ledger may not know its earlier uploads).
struct Owner {
    application: ApplicationRef,
    from_ledger: bool,
}

impl ReportsJob {
    /// Run a check, a completion or a report under the group's fleet-wide claim.
    async fn claimed(&self, job: &Job, group_id: &str, work: Work) -> Outcome {
        job.note(|t| t.group_id = Some(group_id.to_owned()));
        let claim = match self.ledger.claim(&group_key(group_id), &job.run_id).await {
            Ok(ClaimAttempt::Held(claim)) => claim,
            Ok(ClaimAttempt::Busy) => return Outcome::Busy,
            Err(error) => return ledger_down(error),
        };
        let outcome = match work {
            Work::Check(check) => {
                // The ledger's generation wins over the message's: it is what was created.
                let v2 = match self.ledger.api_of_group(group_id).await {
                    Ok(Some(api)) => api == PayscoreApi::V2,
                    Ok(None) => check.is_v2(),
                    Err(error) => {
                        claim.release().await;
                        return ledger_down(error);
                    }
                };
                if v2 {
                    self.check_v2(job, check, &claim).await
                } else {
                    self.check(job, check, &claim).await
                }
            }
            Work::Completed => self.upload(job, group_id, None, &claim).await,
            Work::Report(report_id) => self.upload_v2(job, group_id, &report_id, &claim).await,
        };
        claim.release().await;
        outcome
    }

    /// A scheduled check: upload if completed, stop if expired, else check again later.
    async fn check(&self, job: &Job, check: ReportCheck, claim: &Claim) -> Outcome {
        let group = match self.payscore.group(&check.screening_group_id).await {
            Ok(Some(group)) => group,
            Ok(None) => return self.metrics.ignore(QUEUE, Ignore::GroupUnknown),
            Err(error) => return payscore_failure(error, "get_group"),
        };
        let status = json::text(json::field(&group, "status")).unwrap_or_default();
        if status.eq_ignore_ascii_case("completed") {
            return self
                .upload(job, &check.screening_group_id, Some(&group), claim)
                .await;
        }
        let expired = json::field(&group, "is_expired")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if expired {
            tracing::info!(group_id = %check.screening_group_id, checks = check.check, "household never completed; checks stop");
            return Outcome::Expired(
                "the verification request expired before the household completed",
            );
        }
        self.next_check(check)
    }

    /// The next check, or the end of the checks once the group is older than
    /// `REPORT_CHECK_MAX_AGE` (Payscore's expiry).
    fn next_check(&self, check: ReportCheck) -> Outcome {
        let age = Duration::from_millis(
            (shared::envelope::now_millis() - check.group_created_at_ms).max(0) as u64,
        );
        if age >= self.config.report_check_max_age {
            tracing::info!(group_id = %check.screening_group_id, checks = check.check, "household never completed; checks stop");
            return Outcome::Expired(
                "the verification request expired before the household completed",
            );
        }
        let schedule = &self.config.report_check_schedule;
        let delay = schedule[(check.check as usize)
            .saturating_sub(1)
            .min(schedule.len() - 1)];
        let next = ReportCheck {
            check: check.check + 1,
            ..check
        };
        Outcome::Reschedule(FollowUp {
            queue: WorkQueue::Reports,
            delay,
            kind: report_check::KIND,
            body: serde_json::to_vec(&next).expect("serialisable"),
        })
    }

    /// Which application the group was created for: the ledger first, then the group's
    /// `correlation_id` (read from `group`, or fetched). An `Err` ends the job.
    async fn owner(&self, group_id: &str, group: Option<&Value>) -> Result<Owner, Outcome> {
        match self.ledger.application_of_group(group_id).await {
            Ok(Some(application)) => {
                return Ok(Owner {
                    application,
                    from_ledger: true,
                });
            }
            Ok(None) => {}
            Err(error) => return Err(ledger_down(error)),
        }
        let fetched;
        let group = match group {
            Some(group) => group,
            None => match self.payscore.group(group_id).await {
                Ok(Some(group)) => {
                    fetched = group;
                    &fetched
                }
                Ok(None) => return Err(unknown_group(group_id, "Payscore does not know it")),
                Err(error) => return Err(payscore_failure(error, "get_group")),
            },
        };
        let correlation = json::text(json::field(group, "correlation_id")).unwrap_or_default();
        match parse_correlation(&correlation) {
            Some((property_id, application_id)) => Ok(Owner {
                application: ApplicationRef {
                    property_id: property_id.to_owned(),
                    application_id: application_id.to_owned(),
                },
                from_ledger: false,
            }),
            None => Err(unknown_group(
                group_id,
                "its correlation_id does not name an Entrata application",
            )),
        }
    }

    async fn upload(
        &self,
        job: &Job,
        group_id: &str,
        group: Option<&Value>,
        claim: &Claim,
    ) -> Outcome {
        let owner = match self.owner(group_id, group).await {
            Ok(owner) => owner,
            Err(outcome) => return outcome,
        };
        let Some(settings) = self.settings_of(job, &owner) else {
            return self.metrics.ignore(QUEUE, Ignore::PropertyNotEnabled);
        };
        let pdf = match self.report(group_id).await {
            Ok(pdf) => pdf,
            Err(outcome) => return outcome,
        };
        let (name, key) = (file_name(group_id, &pdf), report_hash(&pdf));
        self.store(job, group_id, &owner, settings, pdf, &name, &key, claim)
            .await
    }

    /// Upload `pdf` as `name` unless the ledger (or, when it cannot tell, the document list)
    /// says report `key` of the group is already in the applicant file; record the intent
    /// before and the outcome after.
    #[allow(clippy::too_many_arguments)]
    async fn store(
        &self,
        job: &Job,
        group_id: &str,
        owner: &Owner,
        settings: &PropertySettings,
        pdf: Vec<u8>,
        name: &str,
        key: &str,
        claim: &Claim,
    ) -> Outcome {
        let app = &owner.application;
        job.note(|t| t.file_name = Some(name.to_owned()));
        let state = match self.ledger.report(group_id, key).await {
            Ok(state) => state,
            Err(error) => return ledger_down(error),
        };
        // The document list answers only what the ledger cannot: an upload whose outcome is
        // unknown, or a group the ledger never saw (uploads from before the ledger).
        let look = match state {
            ReportState::Uploaded => true,
            ReportState::Uploading => true,
            ReportState::New => !owner.from_ledger,
        };
        if state == ReportState::Uploaded {
            tracing::info!(group_id, "report already uploaded");
            return Outcome::Duplicate(None);
        }
        if look {
            match self.in_applicant_file(app, name).await {
                Ok(false) => {}
                Ok(true) => {
                    tracing::info!(group_id, "report already in the applicant file");
                    if let Err(error) = self.ledger.found_uploaded(group_id, key, name, app).await {
                        return ledger_down(error);
                    }
                    return Outcome::Duplicate(None);
                }
                Err(outcome) => return outcome,
            }
        }
        match self
            .ledger
            .begin_upload(claim, group_id, key, name, app)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Outcome::Busy,
            Err(error) => return ledger_down(error),
        }
        self.send(group_id, key, name, app, settings, pdf).await
    }

    /// Note the application in the job's trail; its property's settings, `None` when the
    /// property is not enabled.
    fn settings_of(&self, job: &Job, owner: &Owner) -> Option<&PropertySettings> {
        let app = &owner.application;
        job.note(|t| {
            t.property_id = Some(app.property_id.clone());
            t.application_id = Some(app.application_id.clone());
        });
        self.config.properties.get(&app.property_id)
    }

    /// Download the group's report: the URL (404 not ready, 410 expired), then the PDF
    /// (bounded, must be a PDF). An `Err` ends the job.
    async fn report(&self, group_id: &str) -> Result<Vec<u8>, Outcome> {
        let url = match self.payscore.report_url(group_id).await {
            Ok(ReportUrl::Ready(url)) => url,
            Ok(ReportUrl::NotReady) => {
                return Err(Outcome::Retry(Failure::new(
                    "report_not_ready",
                    format!("Payscore has no report for group {group_id} yet (404)"),
                    None,
                )));
            }
            Ok(ReportUrl::Expired) => {
                return Err(Outcome::dead(
                    DeadReason::ReportExpired,
                    format!("the report of group {group_id} expired (410)"),
                ));
            }
            Err(error) => return Err(payscore_failure(error, "report_url")),
        };
        self.download_pdf(&url, group_id).await
    }

    /// Download a report PDF from its pre-signed link (bounded, must be a PDF). An `Err`
    /// ends the job.
    async fn download_pdf(&self, url: &str, group_id: &str) -> Result<Vec<u8>, Outcome> {
        let pdf = match self
            .payscore
            .download(url, self.config.report_max_bytes)
            .await
        {
            Ok(answer) if answer.is_success() => answer.body,
            Ok(answer) => return Err(payscore_failure(answer.error().into(), "download_report")),
            Err(PayscoreError::Call(crate::clients::http::CallError::TooLarge(limit))) => {
                return Err(Outcome::dead(
                    DeadReason::ReportInvalid,
                    format!("report larger than {limit} bytes"),
                ));
            }
            Err(error) => return Err(payscore_failure(error, "download_report")),
        };
        if !pdf.starts_with(b"%PDF-") {
            return Err(Outcome::dead(
                DeadReason::ReportInvalid,
                format!("the report of group {group_id} is not a PDF"),
            ));
        }
        Ok(pdf)
    }

    /// v2: the applicant group a report belongs to, read from the report. An `Err` ends the
    /// job.
    async fn group_of_report(&self, report_id: &str) -> Result<String, Outcome> {
        match self.payscore.report_v2(report_id).await {
            Ok(ReportV2::Ready {
                group_id: Some(group_id),
                ..
            }) => Ok(group_id),
            Ok(ReportV2::Ready { group_id: None, .. }) => Err(Outcome::dead(
                DeadReason::UnreadableDelivery,
                format!("neither REPORT_READY nor report {report_id} names its applicant group"),
            )),
            Ok(ReportV2::NotReady) => Err(Outcome::Retry(Failure::new(
                "report_not_ready",
                format!("Payscore has no report {report_id} yet (404)"),
                None,
            ))),
            Ok(ReportV2::Expired) => Err(Outcome::dead(
                DeadReason::ReportExpired,
                format!("report {report_id} expired (410)"),
            )),
            Err(error) => Err(payscore_failure(error, "report_v2")),
        }
    }

    /// v2: upload one report of an applicant group, once per report id.
    async fn upload_v2(
        &self,
        job: &Job,
        group_id: &str,
        report_id: &str,
        claim: &Claim,
    ) -> Outcome {
        // Payscore's v2 API has no documented read of a group by id: the ledger is the only
        // way from a group to its application.
        let application = match self.ledger.application_of_group(group_id).await {
            Ok(Some(application)) => application,
            Ok(None) => {
                return unknown_group(
                    group_id,
                    "the ledger does not know this applicant group (v2 groups cannot be read by id)",
                );
            }
            Err(error) => return ledger_down(error),
        };
        let owner = Owner {
            application,
            from_ledger: true,
        };
        let Some(settings) = self.settings_of(job, &owner) else {
            return self.metrics.ignore(QUEUE, Ignore::PropertyNotEnabled);
        };
        // Already uploaded: no need to fetch it again.
        match self.ledger.report(group_id, report_id).await {
            Ok(ReportState::Uploaded) => {
                tracing::info!(group_id, report_id, "report already uploaded");
                return Outcome::Duplicate(None);
            }
            Ok(_) => {}
            Err(error) => return ledger_down(error),
        }
        let (kind, url) = match self.payscore.report_v2(report_id).await {
            Ok(ReportV2::Ready { kind, pdf_url, .. }) => (kind, pdf_url),
            Ok(ReportV2::NotReady) => {
                return Outcome::Retry(Failure::new(
                    "report_not_ready",
                    format!("Payscore has no report {report_id} yet (404)"),
                    None,
                ));
            }
            Ok(ReportV2::Expired) => {
                return Outcome::dead(
                    DeadReason::ReportExpired,
                    format!("report {report_id} of group {group_id} expired (410)"),
                );
            }
            Err(error) => return payscore_failure(error, "report_v2"),
        };
        let pdf = match self.download_pdf(&url, group_id).await {
            Ok(pdf) => pdf,
            Err(outcome) => return outcome,
        };
        let name = report_file_name(kind.as_str(), group_id, report_id);
        self.store(
            job, group_id, &owner, settings, pdf, &name, report_id, claim,
        )
        .await
    }

    /// v2: upload every report of the group not uploaded yet; then stop once the group is
    /// `completed` and has every report it asked for, else check again later.
    async fn check_v2(&self, job: &Job, check: ReportCheck, claim: &Claim) -> Outcome {
        let group_id = check.screening_group_id.clone();
        // A 404 for the list is read as "no reports yet" (the reference documents 404 only for
        // a single report): the ledger already says the group is ours, and the checks stay
        // bounded by REPORT_CHECK_MAX_AGE.
        let mut reports = match self.payscore.applicant_group_reports(&group_id).await {
            Ok(reports) => reports.unwrap_or_default(),
            Err(error) => return payscore_failure(error, "applicant_group_reports"),
        };
        // Expired ones last: one that was never uploaded ends the checks in a dead letter, and
        // the others must be in the applicant file by then.
        reports.sort_by_key(|r| r.expired);
        for report in &reports {
            match self.upload_v2(job, &group_id, &report.id, claim).await {
                Outcome::Done(_) | Outcome::Duplicate(_) => {}
                other => return other,
            }
        }
        let application = match self.ledger.application_of_group(&group_id).await {
            Ok(Some(application)) => application,
            Ok(None) => return unknown_group(&group_id, "the ledger does not know it"),
            Err(error) => return ledger_down(error),
        };
        // Every report uploaded above. Done once as many as the group asked for are there; when
        // that number is unknown (a group found by the lookup), once Payscore says the group
        // is completed.
        let done = match check.expected_reports {
            Some(n) => reports.len() >= n as usize,
            None => {
                let status = match self
                    .payscore
                    .applicant_group_status(&correlation_id(&application), &group_id)
                    .await
                {
                    Ok(status) => status.unwrap_or_default(),
                    Err(error) => return payscore_failure(error, "applicant_group_status"),
                };
                status.eq_ignore_ascii_case("completed") && !reports.is_empty()
            }
        };
        if done {
            tracing::info!(group_id = %group_id, reports = reports.len(), checks = check.check, "every report of the applicant group is in the applicant file");
            return Outcome::Done(None);
        }
        self.next_check(check)
    }

    /// Whether the application's lease already lists a document named `name`.
    async fn in_applicant_file(&self, app: &ApplicationRef, name: &str) -> Result<bool, Outcome> {
        let application = match self
            .entrata
            .application(&app.property_id, &app.application_id)
            .await
        {
            Ok(Some(application)) => application,
            Ok(None) => {
                return Err(Outcome::dead(
                    DeadReason::ApplicationNotFound,
                    format!(
                        "Entrata has no application {} at property {}",
                        app.application_id, app.property_id
                    ),
                ));
            }
            Err(error) => return Err(entrata_failure(error)),
        };
        let Some(lease_id) = application.lease_id else {
            return Err(Outcome::dead(
                DeadReason::ApplicationNotFound,
                format!(
                    "application {} has no lease whose documents could be read",
                    app.application_id
                ),
            ));
        };
        self.entrata
            .lease_has_document(&app.property_id, &lease_id, name)
            .await
            .map_err(entrata_failure)
    }

    /// Upload, then record the outcome in the ledger.
    async fn send(
        &self,
        group_id: &str,
        key: &str,
        name: &str,
        app: &ApplicationRef,
        settings: &PropertySettings,
        pdf: Vec<u8>,
    ) -> Outcome {
        let params = json!({
            "propertyId": app.property_id,
            "applicationId": app.application_id,
            "files": { "file": [{
                "fileName": name,
                "leaseFileType": settings.document_file_type,
                "isShowInResidentPortal": "0",
            }]},
        });
        let bytes = pdf.len();
        let result = match self
            .entrata
            .send_documents(params, vec![(name.to_owned(), pdf)])
            .await
        {
            Ok(result) => result,
            // The upload may have landed: the intent stays; the next attempt's document list
            // says whether it did.
            Err(EntrataError::Call(call)) if call.outcome_unknown() => {
                return wait_for_schedule(entrata_failure(EntrataError::Call(call)));
            }
            Err(error) => {
                if let Err(error) = self.ledger.upload_failed(group_id, key).await {
                    return ledger_down(error);
                }
                return entrata_failure(error);
            }
        };
        if let Some(failure) = failed_file(&result) {
            if let Err(error) = self.ledger.upload_failed(group_id, key).await {
                return ledger_down(error);
            }
            return Outcome::dead(
                DeadReason::UploadRejected,
                format!("Entrata refused the file: {failure}"),
            );
        }
        if let Err(error) = self.ledger.uploaded(group_id, key).await {
            // Uploaded, but not recorded: the next run finds the intent and the document.
            return ledger_down(error);
        }
        self.metrics.reports_uploaded.inc();
        self.metrics.report_bytes.observe(bytes as f64);
        tracing::info!(
            group_id,
            property_id = %app.property_id,
            application_id = %app.application_id,
            bytes,
            "report uploaded to the applicant file"
        );
        Outcome::Done(None)
    }
}

fn unknown_group(group_id: &str, why: &str) -> Outcome {
    Outcome::dead(
        DeadReason::UnknownGroup,
        format!("screening group {group_id} is not one of the fleet's: {why}"),
    )
}
