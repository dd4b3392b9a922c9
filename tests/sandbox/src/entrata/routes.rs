//! `POST /ext/orgs/{subdomain}/v1/{service}`: parse the envelope (JSON, or multipart for
//! uploads), apply faults, authenticate (`X-Api-Key` and `auth.type = apikey`), count
//! against the service's rate limit, dispatch, answer in the envelope.
//!
//! A method's error envelope is answered with [`crate::config::EntrataConfig::error_status`]
//! (HTTP 200 by default), a spent budget with 429; both carry the rate-limit headers. A page
//! of a paginated method (see [`super::paging`]) also carries `X-Total-Count` and `Link`.

use super::envelope::{self, MethodError, RequestEnvelope};
use super::multipart::{self, Part};
use super::paging::{self, PageRequest};
use super::render::Answer;
use super::{EntrataState, documents, leads, leases, lock, render};
use crate::calls::now_ms;
use crate::server::Connection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
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
        ("leases", "getLeasePickList") => "leases/getLeasePickList",
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
    let (route, version) = match &call {
        Ok(call) => (
            route_name(&service, &call.envelope.method.name),
            call.envelope.method.version.clone(),
        ),
        Err(_) => ("unknown", None),
    };
    let headers = parts.headers;
    let uri = parts.uri;
    state
        .core
        .intercept_versioned(route, version.as_deref(), connection.as_ref(), || async {
            handle(&state, &subdomain, &service, route, &headers, &uri, call)
        })
        .await
}

fn handle(
    state: &EntrataState,
    subdomain: &str,
    service: &str,
    route: &str,
    headers: &HeaderMap,
    uri: &Uri,
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
        match dispatch(state, route, &call, uri.query()) {
            Ok(answered) => {
                let mut response = Json(envelope::success(rid, answered.result)).into_response();
                if let Some(page) = &answered.page {
                    response
                        .headers_mut()
                        .extend(paging::headers(uri.path(), page));
                }
                response
            }
            Err(error) => {
                let status =
                    StatusCode::from_u16(state.config.error_status).unwrap_or(StatusCode::OK);
                answer(status, rid, &error)
            }
        }
    };
    response.headers_mut().extend(verdict.headers);
    response
}

fn dispatch(
    state: &EntrataState,
    route: &str,
    call: &Call,
    query: Option<&str>,
) -> Result<Answer, MethodError> {
    let params = &call.envelope.method.params;
    let page = || PageRequest::from_query(query, state.config.page_size);
    match route {
        "leads/getLeads" => leads::get_leads(&state.read(), params, &state.config, page()?),
        "leases/getLeases" => leases::get_leases(
            &state.read(),
            params,
            page()?,
            state.config.leases_ignore_application_id,
        ),
        "properties/getProperties" => {
            render::get_properties(&state.read(), params, state.config.mailing_address_first)
                .map(Answer::from)
        }
        "leases/getLeaseDocumentsList" => {
            documents::get_lease_documents_list(&state.read(), params, page()?)
        }
        "leases/getLeasePickList" => Ok(Answer::from(documents::get_lease_pick_list())),
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
            .map(Answer::from)
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
