//! Payscore's v2 applicant group as the simulator stores it, and the create request
//! (`POST /api/v1/applicant_groups`, reference §10).
//!
//! The group and its `property` follow the documented ApplicantGroup model. The applicant and
//! verification sub-models are **unconfirmed** in the reference: the simulator gives each
//! applicant an `id` and echoes the fields sent, and each verification an `id` (the
//! `verification_id` of the webhooks), its `type` and a `status`.

use super::super::model::{PropertyInput, Status};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The body of `POST /api/v1/applicant_groups`, every field optional so that validation can
/// name what is missing. `monthly_rent` stays raw JSON so that a string, a fraction or a
/// negative number is a validation error naming the field rather than a parse failure.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateApplicantGroupRequest {
    /// The applicants.
    #[serde(default)]
    pub applicants: Option<Vec<ApplicantInput>>,
    /// The property (same fields as v1, with `name`).
    #[serde(default)]
    pub property: Option<PropertyInput>,
    /// Shown to the applicants.
    #[serde(default)]
    pub decision_maker_display_name: Option<String>,
    /// Household rent, an integer number of **cents**.
    #[serde(default)]
    pub monthly_rent: Option<serde_json::Value>,
    /// Where this group's webhooks go.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// No email or text invitation when true (the embedded widget).
    #[serde(default)]
    pub is_invitation_disabled: Option<bool>,
    /// Caller's id for the group.
    #[serde(default)]
    pub correlation_id: Option<String>,
}

/// One applicant of a v2 create request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApplicantInput {
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Email (where the invitation goes).
    #[serde(default)]
    pub email: Option<String>,
    /// Phone with the international code, e.g. `+19842342345`.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// The verifications requested of this applicant.
    #[serde(default)]
    pub verifications: Option<Vec<VerificationInput>>,
}

/// One requested verification: `{"type": "income_verification"}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VerificationInput {
    /// The verification's wire name.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// The kind of a v2 report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportType {
    /// Household income report (one per group).
    Income,
    /// Identity report (one per applicant).
    Identity,
    /// Household asset report (one per group).
    Asset,
}

impl ReportType {
    /// The kind of report a verification wire name produces: the first of `income`,
    /// `identity`, `asset` it contains; `None` for any other name.
    pub fn for_verification(wire_name: &str) -> Option<ReportType> {
        let name = wire_name.to_ascii_lowercase();
        [
            ("income", ReportType::Income),
            ("identity", ReportType::Identity),
            ("asset", ReportType::Asset),
        ]
        .into_iter()
        .find(|(word, _)| name.contains(word))
        .map(|(_, kind)| kind)
    }

    /// `report_type` of `GET /api/v1/reports/{id}` and `REPORT_READY`: `income`, …
    pub fn wire(self) -> &'static str {
        match self {
            ReportType::Income => "income",
            ReportType::Identity => "identity",
            ReportType::Asset => "asset",
        }
    }

    /// `report_name` of the reports list: `Income`, `Identity`, `Asset`.
    pub fn name(self) -> &'static str {
        match self {
            ReportType::Income => "Income",
            ReportType::Identity => "Identity",
            ReportType::Asset => "Asset",
        }
    }

    /// Household reports (income, asset) cover the group; identity reports one applicant.
    pub fn is_household(self) -> bool {
        self != ReportType::Identity
    }
}

/// One verification of one applicant.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The `verification_id` of the webhooks.
    pub id: Uuid,
    /// The wire name as requested, e.g. `identity_verification`.
    pub wire_name: String,
    /// The report it contributes to (none for a name that names no known kind).
    pub report_type: Option<ReportType>,
    /// Status.
    pub status: Status,
    /// `not_completed` until completed, then `finished`.
    pub reason_completed: String,
}

/// One applicant of a stored group.
#[derive(Debug, Clone)]
pub struct Applicant {
    /// Applicant id.
    pub id: Uuid,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Phone, as sent.
    pub phone_number: Option<String>,
    /// The verifications requested, distinct wire names in the order sent.
    pub verifications: Vec<Verification>,
}

/// A report the group produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Report id.
    pub id: Uuid,
    /// Its kind.
    pub report_type: ReportType,
    /// The applicant of an individual (identity) report; `None` for household reports.
    pub applicant_id: Option<Uuid>,
    /// When it became available, Unix milliseconds.
    pub created_at_ms: u64,
    /// Expired: `GET /api/v1/reports/{id}` answers 410 and the PDF is gone.
    pub is_expired: bool,
    /// File name of its PDF, served under `/files/`.
    pub file: String,
}

/// A stored v2 applicant group.
#[derive(Debug, Clone)]
pub struct ApplicantGroup {
    /// Group id.
    pub id: Uuid,
    /// The create body exactly as parsed JSON (an omitted field and an explicit `null`
    /// stay different), for inspection.
    pub raw_request: serde_json::Value,
    /// The property (validated).
    pub property: PropertyInput,
    /// `property.id` of the views (Payscore's own id for the property).
    pub property_id: Uuid,
    /// Shown to the applicants.
    pub decision_maker_display_name: String,
    /// Rent in cents (`None` only when rent is optional and was left out).
    pub monthly_rent_cents: Option<i64>,
    /// Where webhooks go.
    pub webhook_url: Option<String>,
    /// Caller's id.
    pub correlation_id: Option<String>,
    /// No invitation sent.
    pub is_invitation_disabled: bool,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// The applicants.
    pub applicants: Vec<Applicant>,
    /// The reports produced so far, in the order they became available.
    pub reports: Vec<Report>,
}

impl ApplicantGroup {
    fn verifications(&self) -> impl Iterator<Item = &Verification> {
        self.applicants.iter().flat_map(|a| a.verifications.iter())
    }

    /// `not_started` until a verification starts, `completed` once every requested
    /// verification of every applicant is, `in_progress` in between.
    pub fn status(&self) -> Status {
        if self.verifications().all(|v| v.status == Status::Completed) {
            Status::Completed
        } else if self.verifications().all(|v| v.status == Status::NotStarted) {
            Status::NotStarted
        } else {
            Status::InProgress
        }
    }

    /// The distinct verification wire names requested, in order of first appearance.
    pub fn verification_types(&self) -> Vec<String> {
        let mut types: Vec<String> = Vec::new();
        for v in self.verifications() {
            if !types.contains(&v.wire_name) {
                types.push(v.wire_name.clone());
            }
        }
        types
    }

    /// The report with this id.
    pub fn report(&self, id: &Uuid) -> Option<&Report> {
        self.reports.iter().find(|r| r.id == *id)
    }

    /// The reports that are due now and do not exist yet: an identity report for every
    /// applicant whose identity verification completed, and a household report of a kind
    /// once every applicant who requested that kind completed it.
    pub fn due_reports(&self) -> Vec<(ReportType, Option<Uuid>)> {
        let exists = |kind: ReportType, applicant: Option<Uuid>| {
            self.reports
                .iter()
                .any(|r| r.report_type == kind && r.applicant_id == applicant)
        };
        let mut due = Vec::new();
        for kind in [ReportType::Income, ReportType::Asset] {
            let mut requested = self
                .verifications()
                .filter(|v| v.report_type == Some(kind))
                .peekable();
            if requested.peek().is_some()
                && requested.all(|v| v.status == Status::Completed)
                && !exists(kind, None)
            {
                due.push((kind, None));
            }
        }
        for applicant in &self.applicants {
            let done = applicant.verifications.iter().any(|v| {
                v.report_type == Some(ReportType::Identity) && v.status == Status::Completed
            });
            if done && !exists(ReportType::Identity, Some(applicant.id)) {
                due.push((ReportType::Identity, Some(applicant.id)));
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_names_map_to_report_kinds_by_the_word_they_contain() {
        assert_eq!(
            ReportType::for_verification("income_verification"),
            Some(ReportType::Income)
        );
        assert_eq!(
            ReportType::for_verification("IDENTITY"),
            Some(ReportType::Identity)
        );
        assert_eq!(
            ReportType::for_verification("asset_verification"),
            Some(ReportType::Asset)
        );
        assert_eq!(ReportType::for_verification("employment"), None);
        assert_eq!(ReportType::Asset.name(), "Asset");
        assert!(!ReportType::Identity.is_household());
    }
}
