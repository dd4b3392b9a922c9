//! Payscore's v1 screening group as the simulator stores it, and the create request.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The body of `POST /api/v1/screening_groups`, every field optional so that validation
/// can name what is missing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateGroupRequest {
    /// The applicants.
    #[serde(default)]
    pub applicants: Option<Vec<ApplicantInput>>,
    /// The property.
    #[serde(default)]
    pub property: Option<PropertyInput>,
    /// Whether the decision maker pays.
    #[serde(default)]
    pub is_decision_maker_paying: Option<bool>,
    /// Shown to the applicants.
    #[serde(default)]
    pub decision_maker_display_name: Option<String>,
    /// Household rent in dollars.
    #[serde(default)]
    pub monthly_rent: Option<f64>,
    /// Net income to rent threshold (default 2.5).
    #[serde(default)]
    pub income_multiplier_threshold: Option<f64>,
    /// Criteria rule set.
    #[serde(default)]
    pub criteria_rule_set_id: Option<String>,
    /// Where this group's webhooks go.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// No email or text invitation when true.
    #[serde(default)]
    pub is_invitation_disabled: Option<bool>,
    /// Caller's id for the group.
    #[serde(default)]
    pub correlation_id: Option<String>,
}

/// One applicant of a create request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ApplicantInput {
    /// First name.
    #[serde(default)]
    pub applicant_first_name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub applicant_last_name: Option<String>,
    /// Email (where the invitation goes).
    #[serde(default)]
    pub applicant_email: Option<String>,
    /// Phone with the international code, e.g. `+19842342345`.
    #[serde(default)]
    pub applicant_phone_number: Option<String>,
}

/// The property of a create request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PropertyInput {
    /// Street address.
    #[serde(default)]
    pub street_address: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// State, spelled out in full.
    #[serde(default)]
    pub state: Option<String>,
    /// ZIP code.
    #[serde(default)]
    pub zip_code: Option<String>,
    /// Unit.
    #[serde(default)]
    pub unit: Option<String>,
    /// Property name (not in the v1 documentation; accepted when sent).
    #[serde(default)]
    pub name: Option<String>,
}

/// Status of a screening or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Invitation not opened yet.
    NotStarted,
    /// Started, or re-opened.
    InProgress,
    /// Finished.
    Completed,
}

impl Status {
    /// The wire name: `not_started`, `in_progress`, `completed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "not_started",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
        }
    }
}

/// One applicant's screening.
#[derive(Debug, Clone)]
pub struct Screening {
    /// Screening id.
    pub id: Uuid,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Status.
    pub status: Status,
    /// `not_completed`, `finished`, `no_bank`, …
    pub reason_completed: String,
}

/// A stored screening group.
#[derive(Debug, Clone)]
pub struct Group {
    /// Group id.
    pub id: Uuid,
    /// The validated create request, kept for inspection.
    pub request: CreateGroupRequest,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// Rent in cents.
    pub monthly_rent_cents: Option<i64>,
    /// The threshold in force.
    pub income_multiplier_threshold: f64,
    /// The screenings.
    pub screenings: Vec<Screening>,
    /// The request expired before completion.
    pub is_expired: bool,
    /// The report expired.
    pub is_report_expired: bool,
    /// How many times the group completed (each completion makes a new report).
    pub report_version: u32,
    /// File name of the current report, served under `/files/`.
    pub report_file: Option<String>,
}

impl Group {
    /// The group's status, derived from its screenings.
    pub fn status(&self) -> Status {
        if self
            .screenings
            .iter()
            .all(|s| s.status == Status::Completed)
        {
            Status::Completed
        } else if self
            .screenings
            .iter()
            .all(|s| s.status == Status::NotStarted)
        {
            Status::NotStarted
        } else {
            Status::InProgress
        }
    }
}
