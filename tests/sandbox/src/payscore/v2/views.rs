//! The JSON shapes of a v2 applicant group: the documented ApplicantGroup (create answer and
//! list), the reports list and report, and the control view.

use super::super::model::Status;
use super::model::{ApplicantGroup, Report};
use crate::entrata::submit::iso8601;
use serde::{Deserialize, Serialize};

/// `status` of the create answer: the reference's create example shows `pending`, which is
/// not in the ApplicantGroup status enum; the simulator answers it to a create only.
pub const CREATED_STATUS: &str = "pending";

/// The documented ApplicantGroup, plus `applicants` (an unconfirmed sub-model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicantGroupView {
    /// Group id.
    pub id: String,
    /// `pending` in the create answer; `not_started`, `in_progress` or `completed` after.
    pub status: String,
    /// Echoed.
    pub decision_maker_display_name: String,
    /// The property, with Payscore's own `id`.
    pub property: PropertyView,
    /// Unix **seconds**, a float like the v2 example.
    pub created_at_timestamp: f64,
    /// Rent in cents.
    pub monthly_rent_cents: Option<i64>,
    /// `property.unit` as sent.
    pub unit_number: Option<String>,
    /// Always `null` (the simulator has no units).
    pub unit_id: Option<String>,
    /// Always false.
    pub is_free: bool,
    /// Always true (the v2 create has no such field).
    pub is_decision_maker_paying: bool,
    /// Echoed.
    pub correlation_id: Option<String>,
    /// The distinct verification wire names requested.
    pub verification_types: Vec<String>,
    /// Unconfirmed sub-model: each applicant's `id` and the fields sent.
    pub applicants: Vec<ApplicantView>,
}

/// `property` of an ApplicantGroup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyView {
    /// Payscore's id of the property.
    pub id: String,
    /// Name as sent.
    pub name: Option<String>,
    /// Street address.
    pub street_address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State as sent (code or name).
    pub state: Option<String>,
    /// ZIP code.
    pub zip_code: Option<String>,
}

/// One applicant in the (unconfirmed) applicant sub-model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicantView {
    /// Applicant id (the `applicant_id` of identity reports).
    pub id: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Phone as sent.
    pub phone_number: Option<String>,
    /// The verifications requested.
    pub verifications: Vec<VerificationView>,
}

/// One verification in the (unconfirmed) verification sub-model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationView {
    /// The `verification_id` of the webhooks.
    pub id: String,
    /// The wire name, e.g. `income_verification`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Status.
    pub status: Status,
}

/// One entry of `GET /api/v1/applicant_groups/{id}/reports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportListItem {
    /// Report id.
    pub id: String,
    /// `Income`, `Identity` or `Asset`.
    pub report_name: String,
    /// Expired.
    pub is_expired: bool,
    /// RFC 3339 date-time.
    pub created_at: String,
    /// The group, for household reports only.
    pub applicant_group_id: Option<String>,
    /// The applicant, for individual reports only.
    pub applicant_id: Option<String>,
    /// "URL path to view the pdf": `/files/<name>.pdf` on the simulator.
    pub path: String,
}

/// A verification in the control view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlVerification {
    /// Verification id.
    pub id: String,
    /// Wire name.
    #[serde(rename = "type")]
    pub kind: String,
    /// Status.
    pub status: Status,
    /// `not_completed` or `finished`.
    pub reason_completed: String,
}

/// An applicant in the control view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlApplicant {
    /// Applicant id.
    pub id: String,
    /// Email.
    pub email: String,
    /// The verifications and their states.
    pub verifications: Vec<ControlVerification>,
}

/// A report in the control view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlReport {
    /// Report id.
    pub id: String,
    /// `income`, `identity` or `asset`.
    pub report_type: String,
    /// The applicant of an individual report.
    pub applicant_id: Option<String>,
    /// Expired.
    pub is_expired: bool,
    /// When it became available, Unix milliseconds.
    pub created_at_ms: u64,
}

/// A v2 group as `GET /_control/applicant_groups` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlApplicantGroup {
    /// Group id.
    pub id: String,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Group status.
    pub status: Status,
    /// Webhook URL.
    pub webhook_url: Option<String>,
    /// Applicants, verifications and their states.
    pub applicants: Vec<ControlApplicant>,
    /// Reports available so far, in order.
    pub reports: Vec<ControlReport>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// Rent in cents.
    pub monthly_rent_cents: Option<i64>,
    /// The create body exactly as received (parsed JSON: an omitted field stays absent, an
    /// explicit `null` stays `null`).
    pub request: serde_json::Value,
}

impl ApplicantGroup {
    /// The documented ApplicantGroup shape with the current status.
    pub fn view(&self) -> ApplicantGroupView {
        self.view_with_status(self.status().as_str().to_owned())
    }

    /// The ApplicantGroup shape with `status` as given (`pending` for the create answer).
    pub fn view_with_status(&self, status: String) -> ApplicantGroupView {
        let p = &self.property;
        ApplicantGroupView {
            id: self.id.to_string(),
            status,
            decision_maker_display_name: self.decision_maker_display_name.clone(),
            property: PropertyView {
                id: self.property_id.to_string(),
                name: p.name.clone(),
                street_address: p.street_address.clone(),
                city: p.city.clone(),
                state: p.state.clone(),
                zip_code: p.zip_code.clone(),
            },
            created_at_timestamp: self.created_at_ms as f64 / 1000.0,
            monthly_rent_cents: self.monthly_rent_cents,
            unit_number: p.unit.clone(),
            unit_id: None,
            is_free: false,
            is_decision_maker_paying: true,
            correlation_id: self.correlation_id.clone(),
            verification_types: self.verification_types(),
            applicants: self
                .applicants
                .iter()
                .map(|a| ApplicantView {
                    id: a.id.to_string(),
                    first_name: a.first_name.clone(),
                    last_name: a.last_name.clone(),
                    email: a.email.clone(),
                    phone_number: a.phone_number.clone(),
                    verifications: a
                        .verifications
                        .iter()
                        .map(|v| VerificationView {
                            id: v.id.to_string(),
                            kind: v.wire_name.clone(),
                            status: v.status,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The entry of `report` in the reports list.
    pub fn report_item(&self, report: &Report) -> ReportListItem {
        ReportListItem {
            id: report.id.to_string(),
            report_name: report.report_type.name().to_owned(),
            is_expired: report.is_expired,
            created_at: iso8601(report.created_at_ms),
            applicant_group_id: report
                .report_type
                .is_household()
                .then(|| self.id.to_string()),
            applicant_id: report.applicant_id.map(|a| a.to_string()),
            path: format!("/files/{}", report.file),
        }
    }

    /// The control view.
    pub fn control(&self) -> ControlApplicantGroup {
        ControlApplicantGroup {
            id: self.id.to_string(),
            correlation_id: self.correlation_id.clone(),
            status: self.status(),
            webhook_url: self.webhook_url.clone(),
            applicants: self
                .applicants
                .iter()
                .map(|a| ControlApplicant {
                    id: a.id.to_string(),
                    email: a.email.clone(),
                    verifications: a
                        .verifications
                        .iter()
                        .map(|v| ControlVerification {
                            id: v.id.to_string(),
                            kind: v.wire_name.clone(),
                            status: v.status,
                            reason_completed: v.reason_completed.clone(),
                        })
                        .collect(),
                })
                .collect(),
            reports: self
                .reports
                .iter()
                .map(|r| ControlReport {
                    id: r.id.to_string(),
                    report_type: r.report_type.wire().to_owned(),
                    applicant_id: r.applicant_id.map(|a| a.to_string()),
                    is_expired: r.is_expired,
                    created_at_ms: r.created_at_ms,
                })
                .collect(),
            created_at_ms: self.created_at_ms,
            monthly_rent_cents: self.monthly_rent_cents,
            request: self.raw_request.clone(),
        }
    }
}

/// The answer of `GET /api/v1/reports/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportView {
    /// Report id.
    pub report_id: String,
    /// `income`, `asset` or `identity`.
    pub report_type: String,
    /// The group (for every report: the reference does not restrict it here).
    pub applicant_group_id: String,
    /// The applicant of an individual report; `null` for household reports.
    pub applicant_id: Option<String>,
    /// A "pre-signed" absolute URL of the PDF, valid for 2 hours.
    pub pdf_url: String,
    /// The report's data (per-type schemas unconfirmed).
    pub data: serde_json::Value,
}
