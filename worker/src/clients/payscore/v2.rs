//! Payscore's current API (reference §10): applicant groups with income, asset and identity
//! verifications, and one report per household verification and per applicant identity check.
//! It shares the v1 client's token, timeouts and metrics; only the routes and shapes differ.
//!
//! Where the reference is silent the client is tolerant: the reports list may be a bare array
//! or wrapped (`reports`, `data`), a report's kind is read from `report_type` or `report_name`,
//! and an unknown kind is kept as it was written.

use super::{PayscoreClient, PayscoreError};
use crate::json;
use serde::Serialize;
use serde_json::Value;

/// `POST /api/v1/applicant_groups`, as the reference's example shows it. Money is in cents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateApplicantGroupRequest {
    /// Everyone invited, each with the verifications asked of them.
    pub applicants: Vec<ApplicantV2>,
    /// The property, with its name.
    pub property: PropertyV2,
    /// Who asks for the verification.
    pub decision_maker_display_name: String,
    /// The household's monthly rent in **cents**; left out when Entrata has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_rent: Option<i64>,
    /// Where Payscore sends this group's webhooks.
    pub webhook_url: String,
    /// False: Payscore sends the invitations (true is for its embedded widget).
    pub is_invitation_disabled: bool,
    /// `entrata:<propertyId>:<applicationId>`: the lookup key that prevents a second group.
    pub correlation_id: String,
}

/// One applicant of a [`CreateApplicantGroupRequest`].
#[derive(Clone, PartialEq, Serialize)]
pub struct ApplicantV2 {
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Where the invitation goes.
    pub email: String,
    /// E.164; left out when Entrata has no number that can take a text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The verifications asked of this applicant, by their wire names.
    pub verifications: Vec<VerificationV2>,
}

/// Applicant data never reaches a log line, even through `{:?}`.
impl std::fmt::Debug for ApplicantV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicantV2")
            .field("phone_number", &self.phone_number.is_some())
            .field("verifications", &self.verifications)
            .finish_non_exhaustive()
    }
}

/// One verification of an [`ApplicantV2`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerificationV2 {
    /// The wire name, e.g. `asset_verification` (the only one the reference confirms).
    #[serde(rename = "type")]
    pub kind: String,
}

/// The property of a [`CreateApplicantGroupRequest`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyV2 {
    /// The property's name.
    pub name: String,
    /// Street line.
    pub street_address: String,
    /// City.
    pub city: String,
    /// State, as the v2 example writes it (`"CA"`).
    pub state: String,
    /// ZIP code.
    pub zip_code: String,
    /// The unit, when Entrata knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// What a report is of.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReportKind {
    /// The household's income.
    Income,
    /// One applicant's identity check.
    Identity,
    /// The household's assets.
    Asset,
    /// A kind the reference does not name, as written (lower case).
    Other(String),
}

impl ReportKind {
    /// From `report_type` (`income`) or `report_name` (`Income`), without case.
    pub fn parse(text: &str) -> Self {
        match text.trim().to_ascii_lowercase().as_str() {
            "income" => ReportKind::Income,
            "identity" => ReportKind::Identity,
            "asset" | "assets" => ReportKind::Asset,
            other => ReportKind::Other(other.to_owned()),
        }
    }

    /// The lower-case name, as in file names and metrics.
    pub fn as_str(&self) -> &str {
        match self {
            ReportKind::Income => "income",
            ReportKind::Identity => "identity",
            ReportKind::Asset => "asset",
            ReportKind::Other(other) => other,
        }
    }
}

/// One entry of a group's reports list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSummary {
    /// The report id (`GET /api/v1/reports/{id}`).
    pub id: String,
    /// What it is of.
    pub kind: ReportKind,
    /// The applicant, for an individual report (identity); `None` for a household report.
    pub applicant_id: Option<String>,
    /// Payscore says it has expired.
    pub expired: bool,
}

/// What `GET /api/v1/reports/{id}` said.
#[derive(Clone, PartialEq, Eq)]
pub enum ReportV2 {
    /// The report, with its short-lived PDF link (never logged or stored).
    Ready {
        /// The applicant group it belongs to, when the answer says.
        group_id: Option<String>,
        /// What it is of.
        kind: ReportKind,
        /// The applicant, for an individual report.
        applicant_id: Option<String>,
        /// The pre-signed PDF link.
        pdf_url: String,
    },
    /// 404: not ready (or not known).
    NotReady,
    /// 410: expired.
    Expired,
}

/// The pre-signed link is a credential for the report: never in a log line.
impl std::fmt::Debug for ReportV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportV2::Ready {
                group_id,
                kind,
                applicant_id,
                ..
            } => f
                .debug_struct("Ready")
                .field("group_id", group_id)
                .field("kind", kind)
                .field("applicant_id", applicant_id)
                .finish_non_exhaustive(),
            ReportV2::NotReady => f.write_str("NotReady"),
            ReportV2::Expired => f.write_str("Expired"),
        }
    }
}

impl PayscoreClient {
    /// Create an applicant group; returns its id.
    pub async fn create_applicant_group(
        &self,
        body: &CreateApplicantGroupRequest,
    ) -> Result<String, PayscoreError> {
        let url = format!("{}/api/v1/applicant_groups", self.base_url);
        let answer = self
            .send("create_applicant_group", |c| c.post(&url).json(body))
            .await?;
        super::created_id(answer, "no id in the created applicant group")
    }

    /// The reports Payscore has for a group so far; `None` when it does not know the group.
    pub async fn applicant_group_reports(
        &self,
        group_id: &str,
    ) -> Result<Option<Vec<ReportSummary>>, PayscoreError> {
        let url = format!(
            "{}/api/v1/applicant_groups/{group_id}/reports",
            self.base_url
        );
        let answer = self
            .send("applicant_group_reports", |c| c.get(&url))
            .await?;
        match answer.status {
            200..=299 => {}
            404 => return Ok(None),
            _ => return Err(answer.error().into()),
        }
        let body = answer.json()?;
        let listed = match &body {
            Value::Array(_) => Some(&body),
            _ => json::field(&body, "reports").or_else(|| json::field(&body, "data")),
        };
        let mut reports = Vec::new();
        for entry in json::list(listed) {
            let Some(id) = json::text(json::field(entry, "id")) else {
                return Err(PayscoreError::Malformed("a listed report has no id"));
            };
            let kind = json::text(json::field(entry, "report_type"))
                .or_else(|| json::text(json::field(entry, "report_name")))
                .map(|k| ReportKind::parse(&k))
                .ok_or(PayscoreError::Malformed("a listed report has no type"))?;
            reports.push(ReportSummary {
                id,
                kind,
                applicant_id: json::text(json::field(entry, "applicant_id")),
                expired: json::field(entry, "is_expired").and_then(Value::as_bool) == Some(true),
            });
        }
        Ok(Some(reports))
    }

    /// The status of an applicant group (`not_started`, `in_progress`, `completed`, …) from the
    /// documented list filtered by `correlation_id` (v2 has no documented get-by-id); `None`
    /// when the list does not show the group.
    pub async fn applicant_group_status(
        &self,
        correlation_id: &str,
        group_id: &str,
    ) -> Result<Option<String>, PayscoreError> {
        let url = format!("{}/api/v1/applicant_groups", self.base_url);
        let answer = self
            .send("applicant_group_status", |c| {
                c.get(&url).query(&[("correlation_id", correlation_id)])
            })
            .await?;
        if !answer.is_success() {
            return Err(answer.error().into());
        }
        let body = answer.json()?;
        let listed = match &body {
            Value::Array(_) => Some(&body),
            _ => json::field(&body, "applicant_groups").or_else(|| json::field(&body, "data")),
        };
        Ok(json::list(listed)
            .into_iter()
            .find(|g| json::text(json::field(g, "id")).as_deref() == Some(group_id))
            .and_then(|g| json::text(json::field(g, "status"))))
    }

    /// One report: its PDF link, or why there is none.
    pub async fn report_v2(&self, report_id: &str) -> Result<ReportV2, PayscoreError> {
        let url = format!("{}/api/v1/reports/{report_id}", self.base_url);
        let answer = self.send("report_v2", |c| c.get(&url)).await?;
        match answer.status {
            200..=299 => {}
            404 => return Ok(ReportV2::NotReady),
            410 => return Ok(ReportV2::Expired),
            _ => return Err(answer.error().into()),
        }
        let body = answer.json()?;
        let pdf_url = json::text(json::field(&body, "pdf_url"))
            .ok_or(PayscoreError::Malformed("no pdf_url in the report"))?;
        let kind = json::text(json::field(&body, "report_type"))
            .map(|k| ReportKind::parse(&k))
            .ok_or(PayscoreError::Malformed("no report_type in the report"))?;
        Ok(ReportV2::Ready {
            group_id: json::text(json::field(&body, "applicant_group_id")),
            kind,
            applicant_id: json::text(json::field(&body, "applicant_id")),
            pdf_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_request_has_the_reference_example_shape_with_rent_in_cents() {
        let request = CreateApplicantGroupRequest {
            applicants: vec![ApplicantV2 {
                first_name: "Jane".into(),
                last_name: "Doe".into(),
                email: "jane@example.com".into(),
                phone_number: None,
                verifications: vec![
                    VerificationV2 {
                        kind: "income_verification".into(),
                    },
                    VerificationV2 {
                        kind: "identity_verification".into(),
                    },
                ],
            }],
            property: PropertyV2 {
                name: "ABC Apartments".into(),
                street_address: "123 Main Street".into(),
                city: "San Francisco".into(),
                state: "CA".into(),
                zip_code: "94102".into(),
                unit: Some("2A".into()),
            },
            decision_maker_display_name: "ABC Property Management".into(),
            monthly_rent: Some(250_000),
            webhook_url: "https://fleet.example/webhooks/payscore".into(),
            is_invitation_disabled: false,
            correlation_id: "entrata:1:2".into(),
        };
        assert_eq!(
            serde_json::to_value(&request).expect("serialises"),
            json!({
                "applicants": [{
                    "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com",
                    "verifications": [{"type": "income_verification"}, {"type": "identity_verification"}]
                }],
                "property": {"name": "ABC Apartments", "street_address": "123 Main Street",
                             "city": "San Francisco", "state": "CA", "zip_code": "94102", "unit": "2A"},
                "decision_maker_display_name": "ABC Property Management",
                "monthly_rent": 250000,
                "webhook_url": "https://fleet.example/webhooks/payscore",
                "is_invitation_disabled": false,
                "correlation_id": "entrata:1:2"
            })
        );
    }

    #[test]
    fn debug_output_shows_no_applicant_data_and_no_report_link() {
        let applicant = ApplicantV2 {
            first_name: "Jane".into(),
            last_name: "Doe".into(),
            email: "jane@example.com".into(),
            phone_number: Some("+19842342345".into()),
            verifications: vec![VerificationV2 {
                kind: "identity_verification".into(),
            }],
        };
        let report = ReportV2::Ready {
            group_id: Some("g-1".into()),
            kind: ReportKind::Identity,
            applicant_id: Some("a-1".into()),
            pdf_url: "https://s3.example/r.pdf?Signature=secret".into(),
        };
        let v1 = crate::clients::payscore::ApplicantRequest {
            applicant_first_name: "Jane".into(),
            applicant_last_name: "Doe".into(),
            applicant_email: "jane@example.com".into(),
            applicant_phone_number: Some("+19842342345".into()),
        };
        let link = crate::clients::payscore::ReportUrl::Ready(
            "https://s3.example/r.pdf?Signature=x".into(),
        );
        let shown = format!("{applicant:?} {report:?} {v1:?} {link:?}");
        for private in [
            "Jane",
            "Doe",
            "jane@example.com",
            "+1984",
            "Signature",
            "s3.example",
        ] {
            assert!(!shown.contains(private), "{private} in {shown}");
        }
        assert!(shown.contains("identity_verification") && shown.contains("a-1"));
    }

    #[test]
    fn report_kinds_read_either_spelling_and_keep_unknown_ones() {
        assert_eq!(ReportKind::parse("income"), ReportKind::Income);
        assert_eq!(ReportKind::parse("Identity"), ReportKind::Identity);
        assert_eq!(ReportKind::parse(" ASSET "), ReportKind::Asset);
        assert_eq!(
            ReportKind::parse("Employment"),
            ReportKind::Other("employment".into())
        );
        assert_eq!(
            ReportKind::Other("employment".into()).as_str(),
            "employment"
        );
    }
}
