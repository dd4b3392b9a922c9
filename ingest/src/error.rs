//! Every way a webhook request can fail, and the one place that turns it into an answer.
//!
//! Our own failures (broker down, nack, confirm timeout, overload) are always 503 with
//! `Retry-After`, never 4xx: a 4xx tells the sender to give up on the delivery.

use crate::auth::Refusal;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use shared::amqp::PublishError;
use std::time::Duration;

/// A refused or failed webhook request.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// 401.
    #[error("unauthorized: {0}")]
    Unauthorized(Refusal),
    /// 413.
    #[error("body larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// 408: the body did not arrive in time.
    #[error("body not received within the request timeout")]
    Timeout,
    /// 400: the body could not be read.
    #[error("body could not be read")]
    BadBody(#[source] axum::Error),
    /// 503: too many requests in flight.
    #[error("too many concurrent requests")]
    Overloaded {
        /// `Retry-After`.
        retry_after: Duration,
    },
    /// 503: the broker did not confirm the message.
    #[error("not stored: {source}")]
    Unavailable {
        /// What the broker (or its absence) said.
        #[source]
        source: PublishError,
        /// `Retry-After`.
        retry_after: Duration,
    },
}

impl WebhookError {
    /// The `outcome` label of `ingest_webhooks_total`.
    pub fn outcome(&self) -> &'static str {
        match self {
            WebhookError::Unauthorized(_) => "unauthorized",
            WebhookError::TooLarge { .. } => "too_large",
            WebhookError::Timeout => "timeout",
            WebhookError::BadBody(_) => "bad_request",
            WebhookError::Overloaded { .. }
            | WebhookError::Unavailable {
                source: PublishError::NoChannel(_),
                ..
            } => "overloaded",
            WebhookError::Unavailable { .. } => "unavailable",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            WebhookError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebhookError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::Timeout => StatusCode::REQUEST_TIMEOUT,
            WebhookError::BadBody(_) => StatusCode::BAD_REQUEST,
            WebhookError::Overloaded { .. } | WebhookError::Unavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// A short public message: no internals, no credentials.
    fn public_message(&self) -> &'static str {
        match self {
            WebhookError::Unauthorized(_) => "unauthorized",
            WebhookError::TooLarge { .. } => "payload too large",
            WebhookError::Timeout => "request body timed out",
            WebhookError::BadBody(_) => "request body could not be read",
            WebhookError::Overloaded { .. } => "too many requests in flight, retry later",
            WebhookError::Unavailable { .. } => {
                "temporarily unable to store the delivery, retry later"
            }
        }
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status(),
            Json(json!({ "error": self.public_message() })),
        )
            .into_response();
        let headers = response.headers_mut();
        match &self {
            WebhookError::Overloaded { retry_after }
            | WebhookError::Unavailable { retry_after, .. } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs().max(1)),
                );
            }
            WebhookError::Unauthorized(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"webhooks\", charset=\"UTF-8\""),
                );
            }
            _ => {}
        }
        response
    }
}
