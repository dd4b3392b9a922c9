//! The reports job: a finished household's Payscore report lands in the Entrata applicant
//! file, once per report (DESIGN.md invariant 4).
//!
//! It consumes Payscore webhooks (already signature-checked by ingest) and the report checks
//! the screening job forwards. On `SCREENING_GROUP_COMPLETED`, or a check that finds the group
//! `completed`, it reads the group (its `correlation_id` names the Entrata application),
//! fetches the report URL (404: not ready, try again; 410: expired, dead letter), downloads
//! the PDF (bounded, must be a PDF), and uploads it with `leases/sendLeaseDocuments` under a
//! name that carries the group id and a short hash of the bytes. Entrata is the ledger: if the
//! lease already lists that name, the upload is skipped (`duplicate`). Every other webhook
//! code is acknowledged and counted.

use crate::clients::entrata::EntrataClient;
use crate::clients::entrata::EntrataError;
use crate::clients::payscore::{PayscoreClient, ReportUrl};
use crate::config::WorkerConfig;
use crate::consumer::Handler;
use crate::jobs::classify::{entrata_failure, payscore_failure, wait_for_schedule};
use crate::jobs::documents::{failed_file, file_name, mentions, parse_correlation};
use crate::jobs::report_check::{self, ReportCheck};
use crate::json;
use crate::metrics::WorkerMetrics;
use crate::outcome::{DeadReason, Failure, FollowUp, Job, Outcome};
use serde_json::{Value, json};
use shared::amqp::WorkQueue;
use std::sync::Arc;
use std::time::Duration;

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
    /// Metrics.
    pub metrics: WorkerMetrics,
}

/// What a reports delivery asks for.
enum Request {
    /// A Payscore webhook with its code.
    Webhook {
        code: String,
        group_id: Option<String>,
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
        group_id: json::text(json::field(&body, "screening_group_id")),
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
            Some(Request::Check(check)) => self.check(check).await,
            Some(Request::Webhook { code, group_id }) => {
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
                match (upper.as_str(), group_id) {
                    ("SCREENING_GROUP_COMPLETED", Some(group_id)) => {
                        self.completed(&group_id).await
                    }
                    ("SCREENING_GROUP_COMPLETED", None) => Outcome::dead(
                        DeadReason::UnreadableDelivery,
                        "completion webhook without screening_group_id",
                    ),
                    _ => Outcome::Ignored("webhook code needs no action"),
                }
            }
        }
    }
}

impl ReportsJob {
    /// A scheduled check: upload if completed, stop if expired, else check again later.
    async fn check(&self, check: ReportCheck) -> Outcome {
        let group = match self.payscore.group(&check.screening_group_id).await {
            Ok(Some(group)) => group,
            Ok(None) => return Outcome::Ignored("Payscore does not know the group"),
            Err(error) => return payscore_failure(error, "get_group"),
        };
        let status = json::text(json::field(&group, "status")).unwrap_or_default();
        if status.eq_ignore_ascii_case("completed") {
            return self.upload(&check.screening_group_id, &group).await;
        }
        let age = Duration::from_millis(
            (shared::envelope::now_millis() - check.group_created_at_ms).max(0) as u64,
        );
        let expired = json::field(&group, "is_expired")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if expired || age >= self.config.report_check_max_age {
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

    async fn completed(&self, group_id: &str) -> Outcome {
        match self.payscore.group(group_id).await {
            Ok(Some(group)) => self.upload(group_id, &group).await,
            Ok(None) => Outcome::Ignored("Payscore does not know the group"),
            Err(error) => payscore_failure(error, "get_group"),
        }
    }

    async fn upload(&self, group_id: &str, group: &Value) -> Outcome {
        let correlation = json::text(json::field(group, "correlation_id")).unwrap_or_default();
        let Some((property_id, application_id)) = parse_correlation(&correlation) else {
            return Outcome::Ignored("not a group this fleet created");
        };
        let Some(settings) = self.config.properties.get(property_id) else {
            return Outcome::Ignored("property not enabled");
        };
        let url = match self.payscore.report_url(group_id).await {
            Ok(ReportUrl::Ready(url)) => url,
            Ok(ReportUrl::NotReady) => {
                return Outcome::Retry(Failure::new(
                    "report_not_ready",
                    format!("Payscore has no report for group {group_id} yet (404)"),
                    None,
                ));
            }
            Ok(ReportUrl::Expired) => {
                return Outcome::dead(
                    DeadReason::ReportExpired,
                    format!("the report of group {group_id} expired (410)"),
                );
            }
            Err(error) => return payscore_failure(error, "report_url"),
        };
        let pdf = match self
            .payscore
            .download(&url, self.config.report_max_bytes)
            .await
        {
            Ok(answer) if answer.is_success() => answer.body,
            Ok(answer) => return payscore_failure(answer.error().into(), "download_report"),
            Err(crate::clients::payscore::PayscoreError::Call(
                crate::clients::http::CallError::TooLarge(limit),
            )) => {
                return Outcome::dead(
                    DeadReason::ReportInvalid,
                    format!("report larger than {limit} bytes"),
                );
            }
            Err(error) => return payscore_failure(error, "download_report"),
        };
        if !pdf.starts_with(b"%PDF-") {
            return Outcome::dead(
                DeadReason::ReportInvalid,
                format!("the report of group {group_id} is not a PDF"),
            );
        }
        let name = file_name(group_id, &pdf);
        let application = match self.entrata.application(property_id, application_id).await {
            Ok(Some(application)) => application,
            Ok(None) => {
                return Outcome::dead(
                    DeadReason::ApplicationNotFound,
                    format!(
                        "Entrata has no application {application_id} at property {property_id}"
                    ),
                );
            }
            Err(error) => return entrata_failure(error),
        };
        let Some(lease_id) = application.lease_id else {
            return Outcome::dead(
                DeadReason::ApplicationNotFound,
                format!("application {application_id} has no lease to attach the report to"),
            );
        };
        let listed = self
            .entrata
            .call(
                "leases",
                "getLeaseDocumentsList",
                Some("r1"),
                json!({ "propertyId": property_id, "leaseId": lease_id }),
            )
            .await;
        match listed {
            Ok(documents) if mentions(&documents, &name) => {
                tracing::info!(group_id, lease_id = %lease_id, "report already in the applicant file");
                return Outcome::Duplicate(None);
            }
            Ok(_) | Err(EntrataError::Rejected { code: 404 }) => {}
            Err(error) => return entrata_failure(error),
        }
        let params = json!({
            "propertyId": property_id,
            "applicationId": application_id,
            "files": { "file": [{
                "fileName": name,
                "leaseFileType": settings.document_file_type,
                "isShowInResidentPortal": "0",
            }]},
        });
        let bytes = pdf.len();
        let result = match self
            .entrata
            .send_documents(params, vec![(name.clone(), pdf)])
            .await
        {
            Ok(result) => result,
            // The upload may have landed: wait, then the document list says.
            Err(EntrataError::Call(call)) if call.outcome_unknown() => {
                return wait_for_schedule(entrata_failure(EntrataError::Call(call)));
            }
            Err(error) => return entrata_failure(error),
        };
        if let Some(failure) = failed_file(&result) {
            return Outcome::dead(
                DeadReason::UploadRejected,
                format!("Entrata refused the file: {failure}"),
            );
        }
        self.metrics.reports_uploaded.inc();
        self.metrics.report_bytes.observe(bytes as f64);
        tracing::info!(
            group_id,
            property_id,
            application_id,
            bytes,
            "report uploaded to the applicant file"
        );
        Outcome::Done(None)
    }
}
