//! Payscore's v1 screening-group API: the token from `/api/v1/tenants/auth` (cached, renewed
//! before it expires and once on a 401), the group lookup by `correlation_id`, creation, and
//! the report. The current (v2) applicant-group routes are in [`v2`], on the same client.

pub mod v2;

use super::http::{Answer, CallError, Downstream};
use crate::config::Lookup;
use crate::json;
use crate::properties::PayscoreApi;
use serde::Serialize;
use serde_json::Value;
use shared::config::Secret;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Why a Payscore call failed.
#[derive(Debug, thiserror::Error)]
pub enum PayscoreError {
    /// Transport or HTTP status.
    #[error(transparent)]
    Call(#[from] CallError),
    /// 400: Payscore refused the request (for example an email that does not exist).
    #[error("payscore refused the request (HTTP {status})")]
    Rejected {
        /// The status.
        status: u16,
    },
    /// 409 on a create: Payscore says the group conflicts with one it has, most likely one
    /// with the same `correlation_id` (if it enforces uniqueness; not publicly documented).
    #[error("payscore answered 409 Conflict")]
    Conflict,
    /// Our credentials are refused.
    #[error("payscore refused the credentials")]
    Unauthorized,
    /// A success answer without what it should hold.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
}

impl PayscoreError {
    /// True when the call may have taken effect although it failed.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            PayscoreError::Call(call) => call.outcome_unknown(),
            // A 2xx without what it should hold: the create most likely happened.
            PayscoreError::Malformed(_) => true,
            PayscoreError::Rejected { .. }
            | PayscoreError::Conflict
            | PayscoreError::Unauthorized => false,
        }
    }
}

/// `POST /api/v1/screening_groups`, as seed 003 documents it. Optional fields are left out
/// when unknown rather than sent empty: a blank `monthly_rent` means "do not calculate the
/// multiplier", a blank `income_multiplier_threshold` means Payscore's default (2.5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateGroupRequest {
    /// Everyone invited.
    pub applicants: Vec<ApplicantRequest>,
    /// The property's street address, shown to applicants.
    pub property: PropertyRequest,
    /// Whether the property manager pays.
    pub is_decision_maker_paying: bool,
    /// Who asks for the verification (a person or company name).
    pub decision_maker_display_name: String,
    /// The household's monthly rent in dollars; left out when Entrata has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_rent: Option<f64>,
    /// Net income to rent threshold; left out for Payscore's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub income_multiplier_threshold: Option<f64>,
    /// Where Payscore sends this group's webhooks.
    pub webhook_url: String,
    /// `entrata:<propertyId>:<applicationId>`: the lookup key that prevents a second group.
    pub correlation_id: String,
}

/// One applicant of a [`CreateGroupRequest`].
#[derive(Clone, PartialEq, Serialize)]
pub struct ApplicantRequest {
    /// Given name.
    pub applicant_first_name: String,
    /// Family name.
    pub applicant_last_name: String,
    /// Where the invitation goes.
    pub applicant_email: String,
    /// E.164 (`+19842342345`); a text invitation goes there too. Left out when Entrata has no
    /// number that can take a text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applicant_phone_number: Option<String>,
}

/// The property of a [`CreateGroupRequest`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyRequest {
    /// Street line.
    pub street_address: String,
    /// City.
    pub city: String,
    /// The state spelled out ("no initials").
    pub state: String,
    /// ZIP code.
    pub zip_code: String,
    /// The unit, when Entrata knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// The id of a created group (either generation): 409 is a conflict, 400/422 a refusal, any
/// other non-2xx a failure, a 2xx without an id malformed (`missing`).
fn created_id(answer: Answer, missing: &'static str) -> Result<String, PayscoreError> {
    match answer.status {
        200..=299 => {}
        409 => return Err(PayscoreError::Conflict),
        400 | 422 => {
            return Err(PayscoreError::Rejected {
                status: answer.status,
            });
        }
        _ => return Err(answer.error().into()),
    }
    json::text(json::field(&answer.json()?, "id")).ok_or(PayscoreError::Malformed(missing))
}

/// Applicant data never reaches a log line, even through `{:?}`.
impl std::fmt::Debug for ApplicantRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicantRequest")
            .field("phone_number", &self.applicant_phone_number.is_some())
            .finish_non_exhaustive()
    }
}

/// What `GET …/report` said.
#[derive(Clone, PartialEq)]
pub enum ReportUrl {
    /// The PDF is at this (short-lived) URL.
    Ready(String),
    /// 404: not generated yet.
    NotReady,
    /// 410: expired.
    Expired,
}

/// The pre-signed link is a credential for the report: never in a log line.
impl std::fmt::Debug for ReportUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportUrl::Ready(_) => f.write_str("Ready(<pre-signed link>)"),
            ReportUrl::NotReady => f.write_str("NotReady"),
            ReportUrl::Expired => f.write_str("Expired"),
        }
    }
}

/// The Payscore client.
#[derive(Debug)]
pub struct PayscoreClient {
    http: Downstream,
    base_url: String,
    client_id: String,
    secret_key: Secret,
    refresh_after: Duration,
    lookup: Lookup,
    token: Mutex<Option<(Secret, Instant)>>,
}

impl PayscoreClient {
    /// A client for `base_url`.
    pub fn new(
        http: Downstream,
        base_url: String,
        client_id: String,
        secret_key: Secret,
        refresh_after: Duration,
        lookup: Lookup,
    ) -> Self {
        Self {
            http,
            base_url,
            client_id,
            secret_key,
            refresh_after,
            lookup,
            token: Mutex::new(None),
        }
    }

    async fn token(&self, renew: bool) -> Result<String, PayscoreError> {
        let mut cached = self.token.lock().await;
        if let Some((token, at)) = cached.as_ref()
            && !renew
            && at.elapsed() < self.refresh_after
        {
            return Ok(token.expose().to_owned());
        }
        let request = self
            .http
            .client()
            .post(format!("{}/api/v1/tenants/auth", self.base_url))
            .json(&serde_json::json!({ "client_id": self.client_id, "secret_key": self.secret_key.expose() }));
        let answer = self.http.send("auth", request).await?;
        if answer.status == 401 || answer.status == 403 {
            return Err(PayscoreError::Unauthorized);
        }
        if !answer.is_success() {
            return Err(answer.error().into());
        }
        let header = answer
            .headers
            .get(reqwest::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(PayscoreError::Malformed(
                "no Authorization header in the auth answer",
            ))?;
        // The header already reads `Bearer …`; accept a bare token too.
        let token = if header.to_ascii_lowercase().starts_with("bearer ") {
            header.to_owned()
        } else {
            format!("Bearer {header}")
        };
        *cached = Some((Secret::new(token.clone()), Instant::now()));
        Ok(token)
    }

    /// Ask for a new token: `Ok` when Payscore accepts the credentials.
    pub async fn check_credentials(&self) -> Result<(), PayscoreError> {
        self.token(true).await.map(|_| ())
    }

    /// Send an authenticated request; on 401 renew the token once and send again.
    async fn send(
        &self,
        operation: &'static str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, PayscoreError> {
        let token = self.token(false).await?;
        let answer = self
            .http
            .send(
                operation,
                build(self.http.client()).header("Authorization", token),
            )
            .await?;
        if answer.status != 401 {
            return Ok(answer);
        }
        let token = self.token(true).await?;
        let answer = self
            .http
            .send(
                operation,
                build(self.http.client()).header("Authorization", token),
            )
            .await?;
        if answer.status == 401 {
            return Err(PayscoreError::Unauthorized);
        }
        Ok(answer)
    }

    /// The groups the lookup route lists, asked with `correlation_id` or without; `None` with
    /// `PAYSCORE_LOOKUP=none`.
    async fn list(
        &self,
        correlation_id: Option<&str>,
        lookup: Lookup,
    ) -> Result<Option<Value>, PayscoreError> {
        let path = match lookup {
            Lookup::ApplicantGroups => "applicant_groups",
            Lookup::ScreeningGroups => "screening_groups",
            Lookup::None => return Ok(None),
        };
        let url = format!("{}/api/v1/{path}", self.base_url);
        let answer = self
            .send("lookup", |c| {
                let request = c.get(&url);
                match correlation_id {
                    Some(id) => request.query(&[("correlation_id", id)]),
                    None => request,
                }
            })
            .await?;
        // No "not found" here: a list answers 200 with nothing in it. A 404 means the lookup
        // route itself is missing, and treating it as "no group" would silently turn off the
        // guard against duplicate groups (check PAYSCORE_LOOKUP).
        if !answer.is_success() {
            return Err(answer.error().into());
        }
        let body = answer.json()?;
        let groups = match &body {
            Value::Array(_) => body,
            _ => json::field(&body, path)
                .or_else(|| json::field(&body, "data"))
                .cloned()
                .unwrap_or(Value::Null),
        };
        Ok(Some(groups))
    }

    /// The id of the group with this correlation id, if one exists (DESIGN.md invariant 3).
    pub async fn find_group(&self, correlation_id: &str) -> Result<Option<String>, PayscoreError> {
        self.find_group_in(correlation_id, self.lookup).await
    }

    /// As [`Self::find_group`], for a group of generation `api`: an applicant group (v2) is
    /// looked up on the applicant-group list even where `PAYSCORE_LOOKUP` names the assumed
    /// v1 route, which cannot show it.
    pub async fn find_group_of(
        &self,
        correlation_id: &str,
        api: PayscoreApi,
    ) -> Result<Option<String>, PayscoreError> {
        let lookup = match (api, self.lookup) {
            (PayscoreApi::V2, Lookup::ScreeningGroups) => Lookup::ApplicantGroups,
            (_, lookup) => lookup,
        };
        self.find_group_in(correlation_id, lookup).await
    }

    async fn find_group_in(
        &self,
        correlation_id: &str,
        lookup: Lookup,
    ) -> Result<Option<String>, PayscoreError> {
        let Some(listed) = self.list(Some(correlation_id), lookup).await? else {
            return Ok(None);
        };
        let groups = json::list(Some(&listed));
        // Filter again: a lookup that ignores the parameter must not match another
        // application, nor be read as "no group" (that would turn the guard off).
        let ours = |g: &&&Value| {
            json::text(json::field(g, "correlation_id")).as_deref() == Some(correlation_id)
        };
        match groups.iter().find(ours) {
            Some(group) => Ok(json::text(json::field(group, "id"))),
            None if groups.is_empty() => Ok(None),
            None => Err(PayscoreError::Malformed(
                "the lookup answered other groups: it does not filter by correlation_id (check PAYSCORE_LOOKUP)",
            )),
        }
    }

    /// Whether the lookup route lists any group at all when asked without a `correlation_id`
    /// (read-only; `worker doctor` uses it to tell a filtered lookup from an empty account).
    pub async fn lists_any_group(&self) -> Result<bool, PayscoreError> {
        Ok(self
            .list(None, self.lookup)
            .await?
            .is_some_and(|groups| !json::list(Some(&groups)).is_empty()))
    }

    /// Create a screening group; returns its id.
    pub async fn create_group(&self, body: &CreateGroupRequest) -> Result<String, PayscoreError> {
        let url = format!("{}/api/v1/screening_groups", self.base_url);
        let answer = self
            .send("create_group", |c| c.post(&url).json(body))
            .await?;
        created_id(answer, "no id in the created group")
    }

    /// A group, or `None` when Payscore does not know it.
    pub async fn group(&self, id: &str) -> Result<Option<Value>, PayscoreError> {
        let url = format!("{}/api/v1/screening_groups/{id}", self.base_url);
        let answer = self.send("get_group", |c| c.get(&url)).await?;
        match answer.status {
            200..=299 => Ok(Some(answer.json()?)),
            404 => Ok(None),
            _ => Err(answer.error().into()),
        }
    }

    /// Where the group's report PDF is.
    pub async fn report_url(&self, id: &str) -> Result<ReportUrl, PayscoreError> {
        let url = format!("{}/api/v1/screening_groups/{id}/report", self.base_url);
        let answer = self.send("report_url", |c| c.get(&url)).await?;
        match answer.status {
            200..=299 => json::text(json::field(&answer.json()?, "url"))
                .map(ReportUrl::Ready)
                .ok_or(PayscoreError::Malformed("no url in the report answer")),
            404 => Ok(ReportUrl::NotReady),
            410 => Ok(ReportUrl::Expired),
            _ => Err(answer.error().into()),
        }
    }

    /// Download a report PDF from its pre-signed URL (no token: it carries its own
    /// signature), refusing more than `limit` bytes.
    pub async fn download(&self, url: &str, limit: usize) -> Result<Answer, PayscoreError> {
        Ok(self
            .http
            .send_limited("download_report", self.http.client().get(url), limit)
            .await?)
    }
}
