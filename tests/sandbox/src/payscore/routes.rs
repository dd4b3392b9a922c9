//! The Payscore API routes, behind fault injection and (except auth and report files)
//! bearer-token authentication.

use super::PayscoreState;
use super::model::{CreateGroupRequest, Group, Status};
use super::v2;
use super::v2::model::ApplicantGroup;
use super::validate::{FieldError, validate};
use crate::calls::now_ms;
use crate::server::Connection;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

type Shared = Arc<PayscoreState>;

/// What an API call can fail with; each variant is one documented status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 on `/tenants/auth`.
    #[error("Authentication failed - invalid client credentials")]
    BadCredentials,
    /// 401 elsewhere.
    #[error("Unauthorized - invalid or missing authentication token")]
    Unauthorized,
    /// 400: the body is not the expected JSON.
    #[error("the request body is not valid JSON for this route")]
    BadJson,
    /// 400: validation failures.
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// 404: no such group.
    #[error("Not Found")]
    NotFound,
    /// 404: the report has not been created yet.
    #[error("The screening group is still in progress and the report has not been created yet")]
    ReportNotReady,
    /// 410: the report expired.
    #[error("The report has expired")]
    ReportGone,
    /// 409: a group with this correlation id exists (only with unique correlation ids on).
    #[error("A screening group with this correlation_id already exists")]
    Conflict,
    /// 409 on a v2 create: a group (of either generation) has this correlation id.
    #[error("An applicant group with this correlation_id already exists")]
    ApplicantGroupConflict,
    /// 404 on `GET /api/v1/reports/{id}` (v2).
    #[error("Report not found")]
    ReportNotFound,
    /// 410 on `GET /api/v1/reports/{id}` (v2) once the report expired.
    #[error("Report data has expired and is no longer available")]
    ReportExpired,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadCredentials | ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::BadJson | ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound | ApiError::ReportNotReady | ApiError::ReportNotFound => {
                StatusCode::NOT_FOUND
            }
            ApiError::ReportGone | ApiError::ReportExpired => StatusCode::GONE,
            ApiError::Conflict | ApiError::ApplicantGroupConflict => StatusCode::CONFLICT,
        };
        let body = match &self {
            ApiError::Invalid(errors) => {
                json!({ "message": "Validation failed", "errors": errors })
            }
            other => json!({ "error": other.to_string() }),
        };
        (status, Json(body)).into_response()
    }
}

/// The API router, with its middleware.
pub fn router(state: Shared) -> Router {
    let authenticated = Router::new()
        .route(
            "/api/v1/screening_groups",
            post(create_group).get(find_groups),
        )
        .route("/api/v1/screening_groups/{id}", get(get_group))
        .route("/api/v1/screening_groups/{id}/report", get(report))
        .route(
            "/api/v1/screening_groups/{id}/report/data",
            get(report_data),
        )
        .route(
            "/api/v1/applicant_groups",
            get(applicant_groups).post(v2::routes::create),
        )
        .route(
            "/api/v1/applicant_groups/{id}/reports",
            get(v2::routes::reports),
        )
        .route("/api/v1/reports/{id}", get(v2::routes::report))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/api/v1/tenants/auth", post(authenticate))
        .route("/files/{name}", get(report_file))
        .merge(authenticated)
        .route_layer(middleware::from_fn_with_state(state.clone(), intercept))
        .route("/metrics", get(metrics))
        .fallback(|| async { ApiError::NotFound })
        .with_state(state)
}

/// The route names used by faults, calls and metrics.
fn route_name(method: &Method, path: &str) -> &'static str {
    match (method.as_str(), path) {
        ("POST", "/api/v1/tenants/auth") => "auth",
        ("POST", "/api/v1/screening_groups") => "create_group",
        ("GET", "/api/v1/screening_groups") => "find_groups",
        ("GET", "/api/v1/screening_groups/{id}") => "get_group",
        ("GET", "/api/v1/screening_groups/{id}/report") => "report",
        ("GET", "/api/v1/screening_groups/{id}/report/data") => "report_data",
        ("GET", "/api/v1/applicant_groups") => "applicant_groups",
        ("POST", "/api/v1/applicant_groups") => "create_applicant_group",
        ("GET", "/api/v1/applicant_groups/{id}/reports") => "applicant_group_reports",
        ("GET", "/api/v1/reports/{id}") => "report_v2",
        ("GET", "/files/{name}") => "report_file",
        _ => "unknown",
    }
}

async fn intercept(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    let route = route_name(request.method(), path);
    let connection = request.extensions().get::<Connection>().cloned();
    state
        .core
        .intercept(route, connection.as_ref(), || next.run(request))
        .await
}

async fn require_token(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let valid = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("bearer "))
                .map(|_| &v[7..])
        })
        .is_some_and(|token| state.tokens.check(token.trim(), now_ms()));
    if !valid {
        return ApiError::Unauthorized.into_response();
    }
    next.run(request).await
}

#[derive(Deserialize)]
struct Credentials {
    client_id: Option<String>,
    secret_key: Option<String>,
}

async fn authenticate(State(state): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let credentials: Credentials = serde_json::from_slice(&body).map_err(|_| ApiError::BadJson)?;
    let ok = credentials.client_id.as_deref() == Some(state.config.client_id.as_str())
        && credentials.secret_key.as_deref() == Some(state.config.secret_key.expose());
    if !ok {
        tracing::info!("payscore auth refused");
        return Err(ApiError::BadCredentials);
    }
    let token = state.tokens.issue(&state.config.client_id, now_ms());
    let value = HeaderValue::from_str(&format!("Bearer {token}")).expect("token is ASCII");
    Ok((StatusCode::NO_CONTENT, [(header::AUTHORIZATION, value)]).into_response())
}

async fn create_group(State(state): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let request: CreateGroupRequest =
        serde_json::from_slice(&body).map_err(|_| ApiError::BadJson)?;
    let errors = validate(
        &request,
        &state.config.nonexistent_emails,
        state.config.monthly_rent_optional,
    );
    if !errors.is_empty() {
        tracing::info!(errors = errors.len(), "payscore create refused");
        return Err(ApiError::Invalid(errors));
    }
    let (id, view) = {
        let mut store = state.write();
        if state.config.unique_correlation_ids
            && let Some(correlation) = &request.correlation_id
            && store.correlation_taken(correlation)
        {
            tracing::info!("payscore create refused: correlation_id taken");
            return Err(ApiError::Conflict);
        }
        let group = store.insert(request, now_ms());
        (group.id, group.v1())
    };
    tracing::debug!(screening_group_id = %id, "payscore group created");
    state.schedule_progress(id);
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound)
}

async fn get_group(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let view = state
        .read()
        .get(&id)
        .map(Group::v1)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(view).into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    correlation_id: Option<String>,
    page: Option<usize>,
    statuses: Option<String>,
}

/// One page of `items` (oldest first) after the list lag and the `statuses` filter, and the
/// number of items on all pages.
fn page<T>(
    state: &PayscoreState,
    items: Vec<T>,
    query: &ListQuery,
    created_at_ms: impl Fn(&T) -> u64,
    status: impl Fn(&T) -> Status,
) -> (Vec<T>, usize) {
    // `statuses` naming no known status (e.g. `pending`) matches nothing, not everything.
    let wanted: Option<Vec<Status>> = query.statuses.as_deref().map(|s| {
        s.split(',')
            .filter_map(|s| serde_json::from_value(json!(s.trim())).ok())
            .collect()
    });
    // A list shows a group only once its lag has passed, as a search index would.
    let visible_before = now_ms().saturating_sub(state.config.list_lag.as_millis() as u64);
    let items: Vec<T> = items
        .into_iter()
        .filter(|g| created_at_ms(g) <= visible_before)
        .filter(|g| wanted.as_ref().is_none_or(|w| w.contains(&status(g))))
        .collect();
    let total = items.len();
    let size = state.config.page_size;
    let skip = query
        .page
        .unwrap_or(1)
        .saturating_sub(1)
        .saturating_mul(size);
    (items.into_iter().skip(skip).take(size).collect(), total)
}

/// Assumed v1 lookup (not publicly documented): `{"screening_groups": [...], "total_count": n}`.
async fn find_groups(State(state): State<Shared>, Query(query): Query<ListQuery>) -> Response {
    let store = state.read();
    let filter = if state.config.screening_groups_unfiltered {
        None
    } else {
        query.correlation_id.as_deref()
    };
    let (groups, total) = page(
        &state,
        store.find(filter),
        &query,
        |g| g.created_at_ms,
        |g| g.status(),
    );
    let groups: Vec<_> = groups.into_iter().map(Group::v1).collect();
    Json(json!({ "screening_groups": groups, "total_count": total })).into_response()
}

/// A group of either generation in the v2 list.
enum Listed<'a> {
    V1(&'a Group),
    V2(&'a ApplicantGroup),
}

impl Listed<'_> {
    fn created_at_ms(&self) -> u64 {
        match self {
            Listed::V1(g) => g.created_at_ms,
            Listed::V2(g) => g.created_at_ms,
        }
    }

    fn status(&self) -> Status {
        match self {
            Listed::V1(g) => g.status(),
            Listed::V2(g) => g.status(),
        }
    }

    fn view(&self) -> serde_json::Value {
        match self {
            Listed::V1(g) => g.v2(),
            Listed::V2(g) => serde_json::to_value(g.view()).unwrap_or_default(),
        }
    }
}

/// Two lists, each oldest first, as one list oldest first (by creation millisecond, the
/// earlier list first on a tie); each list keeps its own order.
fn merge_by_creation<'a>(
    first: impl Iterator<Item = Listed<'a>>,
    second: impl Iterator<Item = Listed<'a>>,
) -> Vec<Listed<'a>> {
    let (mut first, mut second) = (first.peekable(), second.peekable());
    let mut merged = Vec::new();
    loop {
        let take_first = match (first.peek(), second.peek()) {
            (Some(a), Some(b)) => a.created_at_ms() <= b.created_at_ms(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return merged,
        };
        merged.extend(if take_first {
            first.next()
        } else {
            second.next()
        });
    }
}

/// Documented v2 list: `{"applicant_groups": [...], "total_count": n}`, the v1 screening
/// groups and the v2 applicant groups together, oldest first (by creation millisecond).
async fn applicant_groups(State(state): State<Shared>, Query(query): Query<ListQuery>) -> Response {
    let store = state.read();
    let correlation = query.correlation_id.as_deref();
    let groups = merge_by_creation(
        store.find(correlation).into_iter().map(Listed::V1),
        store.v2().find(correlation).into_iter().map(Listed::V2),
    );
    let (groups, total) = page(
        &state,
        groups,
        &query,
        Listed::created_at_ms,
        Listed::status,
    );
    let groups: Vec<_> = groups.iter().map(Listed::view).collect();
    Json(json!({ "applicant_groups": groups, "total_count": total })).into_response()
}

/// The report rules: 410 once expired, 404 until completed.
fn reportable(group: &Group) -> Result<&str, ApiError> {
    if group.is_report_expired || (group.is_expired && group.report_file.is_none()) {
        return Err(ApiError::ReportGone);
    }
    match (&group.report_file, group.status()) {
        (Some(file), Status::Completed) => Ok(file),
        _ => Err(ApiError::ReportNotReady),
    }
}

async fn report(State(state): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let store = state.read();
    let group = store.get(&id).ok_or(ApiError::NotFound)?;
    let file = reportable(group)?;
    let url = format!("{}/files/{file}", state.base_url);
    Ok(Json(json!({ "url": url })).into_response())
}

async fn report_data(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let store = state.read();
    let group = store.get(&id).ok_or(ApiError::NotFound)?;
    reportable(group)?;
    Ok(Json(super::report::report_data(group)).into_response())
}

/// The query of a "pre-signed" v2 PDF URL (`AWSAccessKeyId` is not checked).
#[derive(Deserialize)]
struct FileQuery {
    #[serde(rename = "Expires")]
    expires: Option<String>,
    #[serde(rename = "Signature")]
    signature: Option<String>,
}

/// A report PDF. A URL with a `Signature` (v2's pre-signed `pdf_url`) must match its file and
/// `Expires` and not have expired, else 403 as S3 answers; a URL without one (v1 report URLs,
/// v2 report `path`s) is served as it is.
async fn report_file(
    State(state): State<Shared>,
    Path(name): Path<String>,
    Query(query): Query<FileQuery>,
) -> Response {
    if let Some(signature) = &query.signature
        && let Err(refusal) =
            state
                .presigner
                .check(&name, query.expires.as_deref(), signature, now_ms())
    {
        let (code, message) = match refusal {
            v2::report::Refusal::Expired => ("AccessDenied", "Request has expired"),
            v2::report::Refusal::BadSignature => (
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided",
            ),
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <Error><Code>{code}</Code><Message>{message}</Message></Error>"
        );
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "application/xml")],
            body,
        )
            .into_response();
    }
    match state.read().file(&name) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/pdf")], bytes).into_response(),
        None => (StatusCode::NOT_FOUND, "NoSuchKey").into_response(),
    }
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.core.metrics.render(),
    )
        .into_response()
}
