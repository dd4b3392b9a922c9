//! `POST /ext/orgs/{subdomain}/v1/{service}`: parse the envelope (JSON, or multipart for
//! uploads), apply faults, authenticate (`X-Api-Key` and `auth.type = apikey`), count
//! against the service's rate limit, dispatch, answer in the envelope.

use super::envelope::{self, MethodError, RequestEnvelope};
use super::multipart::{self, Part};
use super::{EntrataState, documents, lock, render};
use crate::calls::now_ms;
use crate::server::Connection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

type Shared = Arc<EntrataState>;

/// Largest accepted request (uploads included).
const MAX_BODY: usize = 50 * 1024 * 1024;

/// The API router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/ext/orgs/{subdomain}/v1/{service}", post(api))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .fallback(|| async {
            answer(
                StatusCode::NOT_FOUND,
                None,
                &MethodError::new(404, "Not found."),
            )
        })
        .with_state(state)
}

/// The route names used by faults, calls and metrics: `service/method`.
fn route_name(service: &str, method: &str) -> &'static str {
    match (service, method) {
        ("leads", "getLeads") => "leads/getLeads",
        ("leases", "getLeases") => "leases/getLeases",
        ("properties", "getProperties") => "properties/getProperties",
        ("leases", "sendLeaseDocuments") => "leases/sendLeaseDocuments",
        ("leases", "getLeaseDocumentsList") => "leases/getLeaseDocumentsList",
        _ => "unknown",
    }
}

struct Call {
    envelope: RequestEnvelope,
    parts: Vec<Part>,
}

fn parse(headers: &HeaderMap, body: &Bytes) -> Result<Call, MethodError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let invalid = || MethodError::new(400, "Invalid request body.");
    if let Some(boundary) = multipart::boundary(content_type) {
        let parts = multipart::parse(body, &boundary).map_err(|_| invalid())?;
        let request = parts
            .iter()
            .find(|p| p.name == "requestBody")
            .ok_or_else(|| MethodError::new(400, "requestBody is required."))?;
        let envelope = serde_json::from_slice(&request.data).map_err(|_| invalid())?;
        return Ok(Call { envelope, parts });
    }
    let envelope = serde_json::from_slice(body).map_err(|_| invalid())?;
    Ok(Call {
        envelope,
        parts: Vec::new(),
    })
}

fn answer(status: StatusCode, request_id: Option<&str>, error: &MethodError) -> Response {
    (status, Json(envelope::failure(request_id, error))).into_response()
}

async fn api(
    State(state): State<Shared>,
    Path((subdomain, service)): Path<(String, String)>,
    request: Request,
) -> Response {
    let connection = request.extensions().get::<Connection>().cloned();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let call = parse(&parts.headers, &body);
    let route = match &call {
        Ok(call) => route_name(&service, &call.envelope.method.name),
        Err(_) => "unknown",
    };
    let headers = parts.headers;
    state
        .core
        .intercept(route, connection.as_ref(), || async {
            handle(&state, &subdomain, &service, route, &headers, call)
        })
        .await
}

fn handle(
    state: &EntrataState,
    subdomain: &str,
    service: &str,
    route: &str,
    headers: &HeaderMap,
    call: Result<Call, MethodError>,
) -> Response {
    if subdomain != state.config.subdomain {
        return answer(
            StatusCode::NOT_FOUND,
            None,
            &MethodError::new(404, "Organization not found."),
        );
    }
    let call = match call {
        Ok(call) => call,
        Err(error) => return answer(StatusCode::BAD_REQUEST, None, &error),
    };
    let request_id = call.envelope.request_id();
    let rid = request_id.as_deref();
    let key_ok = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| k == state.config.api_key.expose());
    if !key_ok || !call.envelope.is_apikey_auth() {
        tracing::info!(service, "entrata call refused: authentication");
        let status =
            StatusCode::from_u16(state.config.auth_failure_status).unwrap_or(StatusCode::OK);
        let message = if key_ok {
            "Invalid auth type: expected apikey."
        } else {
            "Invalid or missing API key."
        };
        return answer(status, rid, &MethodError::new(401, message));
    }
    let verdict = state.rate.check(service, Instant::now());
    let mut response = if !verdict.allowed {
        answer(
            StatusCode::TOO_MANY_REQUESTS,
            rid,
            &MethodError::new(429, "Too Many Requests"),
        )
    } else {
        let result = dispatch(state, route, &call);
        let body = match &result {
            Ok(result) => envelope::success(rid, result.clone()),
            Err(error) => envelope::failure(rid, error),
        };
        Json(body).into_response()
    };
    response.headers_mut().extend(verdict.headers);
    response
}

fn dispatch(state: &EntrataState, route: &str, call: &Call) -> Result<Value, MethodError> {
    let params = &call.envelope.method.params;
    match route {
        "leads/getLeads" => render::get_leads(&state.read(), params),
        "leases/getLeases" => render::get_leases(&state.read(), params),
        "properties/getProperties" => render::get_properties(&state.read(), params),
        "leases/getLeaseDocumentsList" => {
            documents::get_lease_documents_list(&state.read(), params)
        }
        "leases/sendLeaseDocuments" => {
            if call.parts.is_empty() {
                return Err(MethodError::new(
                    400,
                    "sendLeaseDocuments expects multipart/form-data.",
                ));
            }
            let mut failures = lock(&state.upload_failures);
            documents::send_lease_documents(
                &mut state.write(),
                &mut failures,
                params,
                &call.parts,
                now_ms(),
            )
        }
        _ => Err(MethodError::new(400, "Method not found for this service.")),
    }
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.core.metrics.render(),
    )
        .into_response()
}
