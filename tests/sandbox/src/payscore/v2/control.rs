//! Control routes of the v2 applicant groups (`/_control/applicant_groups/...`): inspect,
//! begin and complete verifications, expire reports. Not subject to faults. The README
//! documents each one.

use super::super::PayscoreState;
use super::super::webhooks::WebhookRecord;
use super::store::{Step, StepError, Target};
use super::views::ControlApplicantGroup;
use crate::control::{ControlError, optional_json};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

type Shared = Arc<PayscoreState>;

/// The v2 control router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/_control/applicant_groups", get(groups))
        .route("/_control/applicant_groups/{id}", get(group))
        .route("/_control/applicant_groups/{id}/begin", post(begin))
        .route("/_control/applicant_groups/{id}/complete", post(complete))
        .route(
            "/_control/applicant_groups/{id}/expire_report",
            post(expire_report),
        )
        .with_state(state)
}

impl From<StepError> for ControlError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::NotAllowed(why) => ControlError::Conflict(why.to_owned()),
            other => ControlError::NotFound(other.to_string()),
        }
    }
}

/// Body of `begin` and `complete`: which verifications (every one of the group when both
/// fields are absent; one applicant's, one type's, or one type of one applicant).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerificationTarget {
    /// One applicant of the group.
    pub applicant_id: Option<String>,
    /// One verification wire name, e.g. `identity_verification`.
    pub verification: Option<String>,
}

/// Body of `expire_report`: one report of the group; every one when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExpireReportRequest {
    /// The report to expire.
    pub report_id: Option<String>,
}

/// Answer of the v2 progress routes: the group afterwards and the webhooks sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicantGroupOutcome {
    /// The group after the step.
    pub group: ControlApplicantGroup,
    /// The webhooks the step caused, in order, with their delivery attempts.
    pub webhooks: Vec<WebhookRecord>,
}

fn group_id(raw: &str) -> Result<Uuid, ControlError> {
    Uuid::parse_str(raw).map_err(|_| StepError::GroupNotFound.into())
}

#[derive(Deserialize)]
struct GroupsQuery {
    correlation_id: Option<String>,
}

async fn groups(
    State(state): State<Shared>,
    Query(q): Query<GroupsQuery>,
) -> Json<Vec<ControlApplicantGroup>> {
    let store = state.read();
    let groups = store.v2().find(q.correlation_id.as_deref());
    Json(groups.into_iter().map(|g| g.control()).collect())
}

fn control_view(state: &PayscoreState, id: &Uuid) -> Result<ControlApplicantGroup, ControlError> {
    state
        .read()
        .v2()
        .get(id)
        .map(|g| g.control())
        .ok_or_else(|| StepError::GroupNotFound.into())
}

async fn group(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<ControlApplicantGroup>, ControlError> {
    control_view(&state, &group_id(&id)?).map(Json)
}

async fn run_step(
    state: &PayscoreState,
    id: &str,
    body: &Bytes,
    step: Step,
) -> Result<Json<ApplicantGroupOutcome>, ControlError> {
    let id = group_id(id)?;
    let request: VerificationTarget = optional_json(body)?;
    let applicant = match &request.applicant_id {
        Some(a) => Some(Uuid::parse_str(a).map_err(|_| StepError::ApplicantNotFound)?),
        None => None,
    };
    let target = Target {
        applicant,
        verification: request.verification,
    };
    let webhooks = state.advance_applicants(id, &target, step).await?;
    let group = control_view(state, &id)?;
    Ok(Json(ApplicantGroupOutcome { group, webhooks }))
}

async fn begin(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ApplicantGroupOutcome>, ControlError> {
    run_step(&state, &id, &body, Step::Begin).await
}

async fn complete(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ApplicantGroupOutcome>, ControlError> {
    run_step(&state, &id, &body, Step::Complete).await
}

async fn expire_report(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ApplicantGroupOutcome>, ControlError> {
    let id = group_id(&id)?;
    let request: ExpireReportRequest = optional_json(&body)?;
    let report = match &request.report_id {
        Some(r) => Some(Uuid::parse_str(r).map_err(|_| StepError::ReportNotFound)?),
        None => None,
    };
    state.write().v2_mut().expire_report(&id, report)?;
    tracing::info!(applicant_group_id = %id, "payscore v2 report expired");
    let group = control_view(&state, &id)?;
    Ok(Json(ApplicantGroupOutcome {
        group,
        webhooks: Vec::new(),
    }))
}
