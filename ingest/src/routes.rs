//! The webhook routes: authenticate, bound, publish with confirm, answer.

use crate::auth;
use crate::config::IngestConfig;
use crate::error::WebhookError;
use crate::metrics::IngestMetrics;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::json;
use shared::amqp::{Outgoing, PublishChannels, Publisher};
use shared::envelope::{self, Source, headers as h};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Arc<IngestConfig>,
    /// The confirmed publisher.
    pub publisher: Publisher<PublishChannels>,
    /// Metrics.
    pub metrics: IngestMetrics,
    /// Bounds concurrent requests.
    pub permits: Arc<Semaphore>,
    /// The exchange to publish to (prefixed).
    pub exchange: Arc<str>,
}

/// The most header bytes (names and values) a delivery may carry: webhooks carry a few
/// hundred. Larger requests get 431 before anything else is done with them.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The public router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/webhooks/entrata", post(entrata))
        .route("/webhooks/payscore", post(payscore))
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({ "error": "not found" }))) })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            bounded_headers,
        ))
        .with_state(state)
}

async fn bounded_headers(
    State(state): State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        // Counted with the body-size refusals: both are a delivery too large to take.
        let source = match request.uri().path() {
            "/webhooks/entrata" => Some(Source::Entrata),
            "/webhooks/payscore" => Some(Source::Payscore),
            _ => None,
        };
        if let Some(source) = source {
            state
                .metrics
                .webhooks
                .with_label_values(&[source.as_str(), "too_large"])
                .inc();
        }
        return (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Json(json!({ "error": "request headers too large" })),
        )
            .into_response();
    }
    next.run(request).await
}

async fn entrata(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let result = async {
        let _permit = permit(&state)?;
        let client = auth::client_ip(
            peer.ip(),
            request.headers(),
            &state.config.entrata.trusted_proxies,
        );
        let query: Option<Query<Vec<(String, String)>>> = Query::try_from_uri(request.uri()).ok();
        let mut tokens = query
            .iter()
            .flat_map(|q| q.0.iter())
            .filter(|(key, _)| key == "token")
            .map(|(_, value)| value.as_str());
        let token = tokens.next();
        if tokens.next().is_some() {
            return Err(WebhookError::Unauthorized(auth::Refusal::Repeated));
        }
        auth::check_entrata(&state.config.entrata, client, request.headers(), token)
            .map_err(WebhookError::Unauthorized)?;
        let (headers, body) = read_body(&state, request).await?;
        publish(
            &state,
            Source::Entrata,
            envelope::ENTRATA_ROUTING_KEY,
            &headers,
            body,
        )
        .await
    }
    .await;
    answer(&state, Source::Entrata, started, result)
}

async fn payscore(State(state): State<AppState>, request: Request) -> Response {
    let started = Instant::now();
    let result = async {
        let _permit = permit(&state)?;
        let (headers, body) = read_body(&state, request).await?;
        auth::check_payscore(&state.config.payscore_secret, &headers, &body)
            .map_err(WebhookError::Unauthorized)?;
        let routing_key = envelope::payscore_routing_key(payscore_code(&body).as_deref());
        publish(&state, Source::Payscore, &routing_key, &headers, body).await
    }
    .await;
    answer(&state, Source::Payscore, started, result)
}

/// The `code` of a Payscore body, for the routing key only; the body itself is published
/// untouched, whether or not it parses.
fn payscore_code(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Code {
        code: Option<String>,
    }
    serde_json::from_slice::<Code>(body).ok()?.code
}

fn permit(state: &AppState) -> Result<tokio::sync::SemaphorePermit<'_>, WebhookError> {
    state
        .permits
        .try_acquire()
        .map_err(|_| WebhookError::Overloaded {
            retry_after: state.config.retry_after,
        })
}

async fn read_body(state: &AppState, request: Request) -> Result<(HeaderMap, Bytes), WebhookError> {
    let limit = state.config.max_body_bytes;
    let too_large = WebhookError::TooLarge { limit };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large);
    }
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(
        state.config.request_timeout,
        axum::body::to_bytes(body, limit),
    )
    .await
    {
        Err(_) => Err(WebhookError::Timeout),
        Ok(Ok(bytes)) => Ok((parts.headers, bytes)),
        Ok(Err(error)) if is_length_limit(&error) => Err(too_large),
        Ok(Err(error)) => Err(WebhookError::BadBody(error)),
    }
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

async fn publish(
    state: &AppState,
    source: Source,
    routing_key: &str,
    request_headers: &HeaderMap,
    body: Bytes,
) -> Result<Accepted, WebhookError> {
    let incoming_trace = request_headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok());
    let content_type = request_headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 255)
        .unwrap_or("application/octet-stream");
    let (message_id, properties) = envelope::fresh(envelope::Fresh {
        source: source.as_str(),
        kind: None,
        content_type,
        trace: incoming_trace,
    });
    let trace_id = envelope::header_text(&properties, h::TRACEPARENT)
        .as_deref()
        .and_then(envelope::trace_id)
        .unwrap_or_default();
    let started = Instant::now();
    let result = state
        .publisher
        .publish(Outgoing {
            exchange: &state.exchange,
            routing_key,
            body: &body,
            properties,
        })
        .await;
    state
        .metrics
        .confirm_duration
        .observe(started.elapsed().as_secs_f64());
    result.map_err(|source| WebhookError::Unavailable {
        source,
        retry_after: state.config.retry_after,
    })?;
    Ok(Accepted {
        message_id,
        trace_id,
    })
}

/// A delivery the broker confirmed.
struct Accepted {
    message_id: String,
    trace_id: String,
}

/// Count, log once, answer.
fn answer(
    state: &AppState,
    source: Source,
    started: Instant,
    result: Result<Accepted, WebhookError>,
) -> Response {
    let outcome = match &result {
        Ok(_) => "accepted",
        Err(e) => e.outcome(),
    };
    state
        .metrics
        .webhooks
        .with_label_values(&[source.as_str(), outcome])
        .inc();
    state
        .metrics
        .request_duration
        .with_label_values(&[source.as_str()])
        .observe(started.elapsed().as_secs_f64());
    match result {
        Ok(accepted) => {
            tracing::info!(
                source = source.as_str(),
                message_id = %accepted.message_id,
                trace_id = %accepted.trace_id,
                "delivery accepted"
            );
            (
                StatusCode::ACCEPTED,
                Json(json!({ "id": accepted.message_id })),
            )
                .into_response()
        }
        Err(error) => {
            match &error {
                WebhookError::Unavailable { .. } | WebhookError::Overloaded { .. } => {
                    tracing::warn!(source = source.as_str(), outcome, error = %error, "delivery not stored");
                }
                _ => {
                    tracing::info!(source = source.as_str(), outcome, reason = %error, "delivery refused");
                }
            }
            error.into_response()
        }
    }
}
