//! Entrata control routes (`/_control/...`): submit applications (and re-send their
//! webhook), inspect applications and uploads, queue per-file upload failures, set or
//! spend the rate-limit budget, and point the webhooks at ingest.

use super::model::{Application, Property, UploadRecord};
use super::submit::{IngestDelivery, SUBMITTED, SubmitOptions, SubmittedApplication};
use super::{EntrataState, lock};
use crate::config::IngestSettings;
use crate::control::{ControlError, optional_json};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Shared = Arc<EntrataState>;

/// The control router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/_control/properties", get(properties))
        .route("/_control/applications", post(submit))
        .route("/_control/applications/{id}", get(application))
        .route("/_control/applications/{id}/webhook", post(resend))
        .route("/_control/applications/{id}/uploads", get(uploads))
        .route("/_control/uploads/failures", post(upload_failures))
        .route("/_control/rate_limit", put(rate_limit))
        .route("/_control/rate_limit/exhaust", post(exhaust))
        .route("/_control/ingest", put(set_ingest))
        .route("/_control/ingest/deliveries", get(deliveries))
        .with_state(state)
}

async fn properties(State(state): State<Shared>) -> Json<Vec<Property>> {
    Json(state.read().properties.clone())
}

async fn submit(
    State(state): State<Shared>,
    body: Bytes,
) -> Result<Json<SubmittedApplication>, ControlError> {
    let options: SubmitOptions = optional_json(&body)?;
    Ok(Json(state.submit(options).await?))
}

fn find(state: &EntrataState, id: u64) -> Result<Application, ControlError> {
    state
        .read()
        .applications
        .get(&id)
        .cloned()
        .ok_or_else(|| ControlError::NotFound(format!("no application {id}")))
}

async fn application(
    State(state): State<Shared>,
    Path(id): Path<u64>,
) -> Result<Json<Application>, ControlError> {
    find(&state, id).map(Json)
}

/// Body of `POST /_control/applications/{id}/webhook`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resend {
    /// How many copies, sent concurrently (default 1, at most 100).
    pub copies: Option<u32>,
    /// `eventType` (default `ApplicationSubmitted`).
    pub event_type: Option<String>,
}

async fn resend(
    State(state): State<Shared>,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<Json<Vec<IngestDelivery>>, ControlError> {
    let request: Resend = optional_json(&body)?;
    let app = find(&state, id)?;
    let event_type = request.event_type.as_deref().unwrap_or(SUBMITTED);
    let copies = request.copies.unwrap_or(1).clamp(1, 100);
    let sends = (0..copies).map(|_| state.send_event(&app, event_type));
    let deliveries: Option<Vec<_>> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .collect();
    deliveries
        .map(Json)
        .ok_or_else(|| ControlError::Conflict("no ingest URL is configured".into()))
}

async fn uploads(State(state): State<Shared>, Path(id): Path<u64>) -> Json<Vec<UploadRecord>> {
    let data = state.read();
    Json(
        data.uploads
            .get(&id)
            .into_iter()
            .flatten()
            .map(|u| u.record())
            .collect(),
    )
}

/// Body of `POST /_control/uploads/failures`: the next `count` uploaded files fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadFailures {
    /// How many files.
    pub count: u32,
    /// The per-file message (default `Unable to upload the file.`).
    #[serde(default)]
    pub message: Option<String>,
}

async fn upload_failures(
    State(state): State<Shared>,
    Json(request): Json<UploadFailures>,
) -> StatusCode {
    let message = request
        .message
        .unwrap_or_else(|| "Unable to upload the file.".into());
    let mut failures = lock(&state.upload_failures);
    failures.extend((0..request.count).map(|_| message.clone()));
    StatusCode::NO_CONTENT
}

/// Body of `PUT /_control/rate_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Calls per minute and service.
    pub per_minute: u32,
}

async fn rate_limit(State(state): State<Shared>, Json(request): Json<RateLimit>) -> StatusCode {
    tracing::info!(per_minute = request.per_minute, "entrata rate limit set");
    state.rate.set_per_minute(request.per_minute);
    StatusCode::NO_CONTENT
}

/// Body of `POST /_control/rate_limit/exhaust`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Exhaust {
    /// One service (`leads`, `leases`, …); all of them when absent.
    pub service: Option<String>,
    /// Seconds until the budget resets (default 60).
    pub reset_after_seconds: Option<u64>,
}

async fn exhaust(State(state): State<Shared>, body: Bytes) -> Result<StatusCode, ControlError> {
    let request: Exhaust = optional_json(&body)?;
    let reset = Duration::from_secs(request.reset_after_seconds.unwrap_or(60));
    state
        .rate
        .exhaust(request.service.as_deref(), reset, Instant::now());
    Ok(StatusCode::NO_CONTENT)
}

async fn set_ingest(
    State(state): State<Shared>,
    Json(settings): Json<IngestSettings>,
) -> StatusCode {
    tracing::info!(
        configured = settings.url.is_some(),
        "entrata webhook target set"
    );
    *state
        .ingest
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = settings.into();
    StatusCode::NO_CONTENT
}

async fn deliveries(State(state): State<Shared>) -> Json<Vec<IngestDelivery>> {
    Json(lock(&state.deliveries).clone())
}
