//! Payscore control routes (`/_control/...`): inspect groups, move applicants forward,
//! expire, send any webhook, suppress webhooks, invalidate tokens. The README documents
//! each one with an example.

use super::PayscoreState;
use super::progress::webhook_body;
use super::store::{Step, StepError};
use super::webhooks::{Suppression, WebhookFaults, WebhookRecord};
use super::{model::Group, views::ControlGroup};
use crate::calls::now_ms;
use crate::control::{ControlError, optional_json};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

type Shared = Arc<PayscoreState>;

/// The control router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/_control/groups", get(groups))
        .route("/_control/groups/{id}", get(group))
        .route("/_control/groups/{id}/begin", post(begin))
        .route("/_control/groups/{id}/complete", post(complete))
        .route("/_control/groups/{id}/reopen", post(reopen))
        .route("/_control/groups/{id}/expire_report", post(expire_report))
        .route("/_control/groups/{id}/expire_request", post(expire_request))
        .route("/_control/groups/{id}/webhooks", post(send_webhook))
        .route("/_control/webhooks", get(webhooks))
        .route("/_control/webhooks/suppression", put(suppress))
        .route("/_control/webhooks/faults", put(webhook_faults))
        .route("/_control/tokens/expire", post(expire_tokens))
        .with_state(state)
}

impl From<StepError> for ControlError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::GroupNotFound | StepError::ScreeningNotFound => {
                ControlError::NotFound(e.to_string())
            }
            StepError::NotAllowed(why) => ControlError::Conflict(why.to_owned()),
        }
    }
}

fn uuid(raw: &str) -> Result<Uuid, ControlError> {
    Uuid::parse_str(raw).map_err(|_| ControlError::NotFound("not a screening group id".into()))
}

#[derive(Deserialize)]
struct GroupsQuery {
    correlation_id: Option<String>,
}

async fn groups(
    State(state): State<Shared>,
    Query(q): Query<GroupsQuery>,
) -> Json<Vec<ControlGroup>> {
    let store = state.read();
    Json(
        store
            .find(q.correlation_id.as_deref())
            .into_iter()
            .map(Group::control)
            .collect(),
    )
}

async fn group(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<ControlGroup>, ControlError> {
    let id = uuid(&id)?;
    let view = state.read().get(&id).map(Group::control);
    view.map(Json)
        .ok_or_else(|| StepError::GroupNotFound.into())
}

/// Body of `begin`, `complete` and `reopen`: which screening (all when absent) and, for
/// `complete`, the `reason_completed` (default `finished`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepRequest {
    /// One screening of the group; all of them when absent.
    pub screening_id: Option<String>,
    /// For `complete`.
    pub reason_completed: Option<String>,
}

/// Answer of the progress routes: the group afterwards and the webhooks sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    /// The group after the step.
    pub group: ControlGroup,
    /// The webhooks the step caused, in order, with their delivery attempts.
    pub webhooks: Vec<WebhookRecord>,
}

async fn run_step(
    state: &PayscoreState,
    id: &str,
    body: &Bytes,
    step: impl FnOnce(&StepRequest) -> Step,
) -> Result<Json<StepOutcome>, ControlError> {
    let id = uuid(id)?;
    let request: StepRequest = optional_json(body)?;
    let screening = match &request.screening_id {
        Some(s) => Some(Uuid::parse_str(s).map_err(|_| StepError::ScreeningNotFound)?),
        None => None,
    };
    let webhooks = state.advance(id, screening, step(&request)).await?;
    let group = state
        .read()
        .get(&id)
        .map(Group::control)
        .ok_or(StepError::GroupNotFound)?;
    Ok(Json(StepOutcome { group, webhooks }))
}

async fn begin(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<StepOutcome>, ControlError> {
    run_step(&state, &id, &body, |_| Step::Begin).await
}

async fn complete(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<StepOutcome>, ControlError> {
    run_step(&state, &id, &body, |r| {
        Step::Complete(
            r.reason_completed
                .clone()
                .unwrap_or_else(|| "finished".into()),
        )
    })
    .await
}

async fn reopen(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<StepOutcome>, ControlError> {
    run_step(&state, &id, &body, |_| Step::Reopen).await
}

async fn expire_report(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<StepOutcome>, ControlError> {
    let id = uuid(&id)?;
    let webhooks = state.expire_report(id).await?;
    let group = state
        .read()
        .get(&id)
        .map(Group::control)
        .ok_or(StepError::GroupNotFound)?;
    Ok(Json(StepOutcome { group, webhooks }))
}

async fn expire_request(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<ControlGroup>, ControlError> {
    let id = uuid(&id)?;
    let mut store = state.write();
    store.expire_request(&id)?;
    store
        .get(&id)
        .map(|g| Json(g.control()))
        .ok_or_else(|| StepError::GroupNotFound.into())
}

/// Body of `POST /_control/groups/{id}/webhooks`: send any webhook, even an unknown code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendWebhook {
    /// The `code`, any string.
    pub code: String,
    /// `screening_id` in the body.
    #[serde(default)]
    pub screening_id: Option<String>,
    /// `value` in the body (bank name for `BANK_NOT_SUPPORTED`).
    #[serde(default)]
    pub value: Option<String>,
    /// How many copies, sent concurrently (default 1).
    #[serde(default)]
    pub copies: Option<u32>,
}

async fn send_webhook(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Json(request): Json<SendWebhook>,
) -> Result<Json<Vec<WebhookRecord>>, ControlError> {
    let gid = uuid(&id)?;
    let url = state
        .read()
        .get(&gid)
        .ok_or(StepError::GroupNotFound)?
        .request
        .webhook_url
        .clone()
        .ok_or_else(|| ControlError::Conflict("the group has no webhook_url".into()))?;
    let group_id = gid.to_string();
    let body = webhook_body(
        &request.code,
        &group_id,
        request.screening_id.as_deref(),
        request.value.as_deref(),
    );
    let copies = request.copies.unwrap_or(1).clamp(1, 100);
    let sends = (0..copies).map(|_| {
        state
            .webhooks
            .deliver(&group_id, &request.code, &url, body.clone())
    });
    Ok(Json(futures_util::future::join_all(sends).await))
}

#[derive(Deserialize)]
struct WebhooksQuery {
    screening_group_id: Option<String>,
}

async fn webhooks(
    State(state): State<Shared>,
    Query(q): Query<WebhooksQuery>,
) -> Json<Vec<WebhookRecord>> {
    Json(state.webhooks.sent(q.screening_group_id.as_deref()))
}

async fn suppress(State(state): State<Shared>, Json(s): Json<Suppression>) -> StatusCode {
    tracing::info!(
        all = s.all,
        codes = s.codes.len(),
        "payscore webhook suppression set"
    );
    state.webhooks.suppress(s);
    StatusCode::NO_CONTENT
}

async fn webhook_faults(
    State(state): State<Shared>,
    Json(faults): Json<WebhookFaults>,
) -> Result<StatusCode, ControlError> {
    faults.check().map_err(ControlError::BadRequest)?;
    tracing::info!(
        loss_rate = faults.loss_rate,
        repeat_rate = faults.repeat_rate,
        "payscore webhook faults set"
    );
    state.webhooks.set_faults(faults);
    Ok(StatusCode::NO_CONTENT)
}

async fn expire_tokens(State(state): State<Shared>) -> Response {
    state.tokens.revoke_all(now_ms());
    StatusCode::NO_CONTENT.into_response()
}
