//! The JSON shapes a group is shown in: the documented v1 group, the v2 applicant group
//! (list), and the control view.

use super::model::{Group, PropertyInput, Status};
use serde::{Deserialize, Serialize};

impl Group {
    fn property(&self) -> PropertyInput {
        self.request.property.clone().unwrap_or_default()
    }

    /// The documented v1 shape (`GET /api/v1/screening_groups/{id}`), plus `webhook_url`.
    pub fn v1(&self) -> GroupV1 {
        let property = self.property();
        let completed = self.status() == Status::Completed;
        GroupV1 {
            id: self.id.to_string(),
            screenings: self
                .screenings
                .iter()
                .map(|s| ScreeningV1 {
                    id: s.id.to_string(),
                    applicant_first_name: s.first_name.clone(),
                    applicant_last_name: s.last_name.clone(),
                    applicant_email: s.email.clone(),
                    reason_completed: s.reason_completed.clone(),
                    screening_status: s.status,
                })
                .collect(),
            status: self.status(),
            approval_recommendation: if completed { "approve" } else { "unavailable" }.into(),
            property_name: property
                .name
                .clone()
                .or(property.street_address.clone())
                .unwrap_or_default(),
            property_street_address: property.street_address.unwrap_or_default(),
            unit_number: property.unit,
            monthly_rent_cents: self.monthly_rent_cents,
            is_decision_maker_paying: self.request.is_decision_maker_paying.unwrap_or(false),
            is_expired: self.is_expired,
            is_report_expired: self.report_file.is_some() && self.is_report_expired,
            decision_maker_display_name: self
                .request
                .decision_maker_display_name
                .clone()
                .unwrap_or_default(),
            income_multiplier_threshold: self.income_multiplier_threshold,
            correlation_id: self.request.correlation_id.clone(),
            webhook_url: self.request.webhook_url.clone(),
            created_at_timestamp: self.created_at_ms as f64,
        }
    }

    /// The v2 list shape (`GET /api/v1/applicant_groups`).
    pub fn v2(&self) -> serde_json::Value {
        let p = self.property();
        serde_json::json!({
            "id": self.id.to_string(),
            "decision_maker_display_name": self.request.decision_maker_display_name,
            "property": {
                "id": null, "name": p.name.clone().or(p.street_address.clone()),
                "street_address": p.street_address, "city": p.city,
                "state": p.state, "zip_code": p.zip_code,
            },
            "status": self.status(),
            "created_at_timestamp": self.created_at_ms as f64 / 1000.0,
            "monthly_rent_cents": self.monthly_rent_cents,
            "unit_number": p.unit,
            "unit_id": null,
            "is_free": false,
            "is_decision_maker_paying": self.request.is_decision_maker_paying.unwrap_or(false),
            "correlation_id": self.request.correlation_id,
            "verification_types": ["income_verification"],
        })
    }

    /// The control view: state plus the create request as received.
    pub fn control(&self) -> ControlGroup {
        ControlGroup {
            id: self.id.to_string(),
            correlation_id: self.request.correlation_id.clone(),
            status: self.status(),
            webhook_url: self.request.webhook_url.clone(),
            screenings: self
                .screenings
                .iter()
                .map(|s| ControlScreening {
                    id: s.id.to_string(),
                    applicant_email: s.email.clone(),
                    screening_status: s.status,
                    reason_completed: s.reason_completed.clone(),
                })
                .collect(),
            report_version: self.report_version,
            is_expired: self.is_expired,
            is_report_expired: self.is_report_expired,
            created_at_ms: self.created_at_ms,
            monthly_rent_cents: self.monthly_rent_cents,
            request: serde_json::to_value(&self.request).unwrap_or_default(),
        }
    }
}

/// A screening in the v1 shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScreeningV1 {
    /// Screening id.
    pub id: String,
    /// First name.
    pub applicant_first_name: String,
    /// Last name.
    pub applicant_last_name: String,
    /// Email.
    pub applicant_email: String,
    /// How it completed.
    pub reason_completed: String,
    /// Status.
    pub screening_status: Status,
}

/// A group in the documented v1 shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupV1 {
    /// Group id.
    pub id: String,
    /// Screenings.
    pub screenings: Vec<ScreeningV1>,
    /// Group status.
    pub status: Status,
    /// `unavailable` until completed, then `approve`.
    pub approval_recommendation: String,
    /// Property name.
    pub property_name: String,
    /// Street address.
    pub property_street_address: String,
    /// Unit.
    pub unit_number: Option<String>,
    /// Rent in cents.
    pub monthly_rent_cents: Option<i64>,
    /// Echoed.
    pub is_decision_maker_paying: bool,
    /// Request expired.
    pub is_expired: bool,
    /// Report expired (false while there is no report).
    pub is_report_expired: bool,
    /// Echoed.
    pub decision_maker_display_name: String,
    /// Echoed (default 2.5).
    pub income_multiplier_threshold: f64,
    /// Echoed.
    pub correlation_id: Option<String>,
    /// Echoed.
    pub webhook_url: Option<String>,
    /// Unix milliseconds, as a float like Payscore's example.
    pub created_at_timestamp: f64,
}

/// One screening in the control view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlScreening {
    /// Screening id.
    pub id: String,
    /// Email.
    pub applicant_email: String,
    /// Status.
    pub screening_status: Status,
    /// How it completed.
    pub reason_completed: String,
}

/// A group as `GET /_control/groups` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlGroup {
    /// Group id.
    pub id: String,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Group status.
    pub status: Status,
    /// Webhook URL.
    pub webhook_url: Option<String>,
    /// Screenings.
    pub screenings: Vec<ControlScreening>,
    /// Completions so far (0 = no report yet).
    pub report_version: u32,
    /// Request expired.
    pub is_expired: bool,
    /// Report expired.
    pub is_report_expired: bool,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: u64,
    /// Rent in cents.
    pub monthly_rent_cents: Option<i64>,
    /// The create request as received (applicants, property, …).
    pub request: serde_json::Value,
}
