//! The v2 API routes (reference §10): create an applicant group, list a group's reports,
//! get one report. Registered by the v1 router, behind the same token check and faults; the
//! v2 list shares `GET /api/v1/applicant_groups` with the v1 groups.

use super::super::PayscoreState;
use super::super::progress::Generation;
use super::super::routes::ApiError;
use super::model::CreateApplicantGroupRequest;
use super::validate::{Rules, validate};
use super::views::{CREATED_STATUS, ReportView};
use crate::calls::now_ms;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

type Shared = Arc<PayscoreState>;

/// `POST /api/v1/applicant_groups`: 201 with the ApplicantGroup (`status: pending`), 400
/// with the validation errors, 409 for a taken `correlation_id` (only with unique
/// correlation ids on).
pub(crate) async fn create(State(state): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let raw: serde_json::Value = serde_json::from_slice(&body).map_err(|_| ApiError::BadJson)?;
    if !raw.is_object() {
        return Err(ApiError::BadJson);
    }
    let request: CreateApplicantGroupRequest =
        serde_json::from_value(raw.clone()).map_err(|_| ApiError::BadJson)?;
    let config = &state.config;
    let rules = Rules {
        nonexistent_emails: &config.nonexistent_emails,
        rent_optional: config.monthly_rent_optional,
        verification_types: &config.v2_verification_types,
        state_initials_only: config.v2_state_initials_only,
    };
    let valid = validate(&request, &rules).map_err(|errors| {
        tracing::info!(
            errors = errors.len(),
            "payscore applicant group create refused"
        );
        ApiError::Invalid(errors)
    })?;
    let (id, view) = {
        let mut store = state.write();
        if config.unique_correlation_ids
            && let Some(correlation) = &valid.correlation_id
            && store.correlation_taken(correlation)
        {
            tracing::info!("payscore applicant group create refused: correlation_id taken");
            return Err(ApiError::ApplicantGroupConflict);
        }
        let group = store.v2_mut().insert(valid, raw, now_ms());
        (group.id, group.view_with_status(CREATED_STATUS.to_owned()))
    };
    tracing::debug!(applicant_group_id = %id, "payscore applicant group created");
    state.schedule(id, Generation::V2);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// `GET /api/v1/applicant_groups/{id}/reports`: the reports available so far (expired ones
/// included), a bare array or `{"reports": [...]}` by configuration; 404 for an unknown group.
pub(crate) async fn reports(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound)?;
    let store = state.read();
    let group = store.v2().get(&id).ok_or(ApiError::NotFound)?;
    let items: Vec<_> = group.reports.iter().map(|r| group.report_item(r)).collect();
    let body = if state.config.v2_reports_wrapped {
        json!({ "reports": items })
    } else {
        json!(items)
    };
    Ok(Json(body).into_response())
}

/// `GET /api/v1/reports/{id}`: 200 with the report, 404 "Report not found", 410 once expired.
pub(crate) async fn report(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::ReportNotFound)?;
    let store = state.read();
    let (group, report) = store.v2().report(&id).ok_or(ApiError::ReportNotFound)?;
    if report.is_expired {
        return Err(ApiError::ReportExpired);
    }
    let view = ReportView {
        report_id: report.id.to_string(),
        report_type: report.report_type.wire().to_owned(),
        applicant_group_id: group.id.to_string(),
        applicant_id: report.applicant_id.map(|a| a.to_string()),
        pdf_url: state.presigner.url(&state.base_url, &report.file, now_ms()),
        data: super::report::data(group, report),
    };
    Ok(Json(view).into_response())
}
