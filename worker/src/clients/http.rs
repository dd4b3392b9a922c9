//! The instrumented HTTP layer both clients use: one `reqwest::Client` per API with its
//! timeout, and the `worker_downstream_*` metrics for every call.

use crate::metrics::WorkerMetrics;
use reqwest::header::HeaderMap;
use std::time::{Duration, Instant};

/// The largest API answer read (report PDFs have their own limit).
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// A call that did not produce a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer within the timeout: the request may or may not have been performed.
    #[error("timed out")]
    Timeout,
    /// Could not connect, or the connection broke.
    #[error("connection failed: {0}")]
    Connect(String),
    /// A non-success status.
    #[error("HTTP {status}")]
    Status {
        /// The status code.
        status: u16,
        /// `Retry-After`, when sent.
        retry_after: Option<Duration>,
    },
    /// The answer could not be read.
    #[error("unreadable answer: {0}")]
    Decode(String),
    /// The body is larger than allowed.
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
}

impl CallError {
    /// True when the request may have been performed although no answer came back.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            CallError::Timeout | CallError::Connect(_) | CallError::Decode(_) => true,
            CallError::Status { status, .. } => *status >= 500,
            CallError::TooLarge(_) => false,
        }
    }

    /// The `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CallError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// One downstream API.
#[derive(Debug, Clone)]
pub struct Downstream {
    client: reqwest::Client,
    api: &'static str,
    metrics: WorkerMetrics,
}

impl Downstream {
    /// A client for `api` with a whole-request timeout.
    pub fn new(api: &'static str, timeout: Duration, metrics: WorkerMetrics) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!(
                "entrata-payscore-fleet/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .expect("a TLS backend is available");
        Self {
            client,
            api,
            metrics,
        }
    }

    /// The underlying client, to build requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Send, record metrics, and read the whole body.
    pub async fn send(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, CallError> {
        self.send_limited(operation, request, MAX_ANSWER_BYTES)
            .await
    }

    /// Send, record metrics, and read the body, refusing one larger than `limit` bytes.
    pub async fn send_limited(
        &self,
        operation: &'static str,
        request: reqwest::RequestBuilder,
        limit: usize,
    ) -> Result<Answer, CallError> {
        let started = Instant::now();
        let result = async {
            let mut response = request.send().await.map_err(classify)?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            if response
                .content_length()
                .is_some_and(|len| len > limit as u64)
            {
                return Err(CallError::TooLarge(limit));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > limit {
                    return Err(CallError::TooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Answer {
                status,
                headers,
                body,
            })
        }
        .await;
        let class = match &result {
            Ok(a) => match a.status {
                200..=299 => "2xx",
                300..=399 => "3xx",
                400..=499 => "4xx",
                _ => "5xx",
            },
            Err(CallError::Timeout) => "timeout",
            Err(_) => "error",
        };
        self.metrics
            .downstream_requests
            .with_label_values(&[self.api, operation, class])
            .inc();
        self.metrics
            .downstream_duration
            .with_label_values(&[self.api, operation])
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

/// A complete HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// Success?
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The answer as an error.
    pub fn error(&self) -> CallError {
        CallError::Status {
            status: self.status,
            retry_after: retry_after(&self.headers),
        }
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, CallError> {
        serde_json::from_slice(&self.body).map_err(|e| CallError::Decode(format!("not JSON ({e})")))
    }
}

fn classify(error: reqwest::Error) -> CallError {
    if error.is_timeout() {
        CallError::Timeout
    } else {
        // The error's text names the URL, not the body; no applicant data.
        CallError::Connect(error.without_url().to_string())
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and treated as absent).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}
