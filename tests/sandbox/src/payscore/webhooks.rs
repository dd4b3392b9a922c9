//! Payscore's webhooks: flat JSON with a `code`, POSTed to the group's `webhook_url`,
//! signed with `Verification-Signature` = hex HMAC-SHA256 of the raw body. A failed
//! delivery (connection error, timeout, non-2xx) is retried after each of the configured
//! delays. Every webhook is recorded with its attempts for `GET /_control/webhooks`.
//!
//! Suppression (`PUT /_control/webhooks/suppression`) records a webhook without sending
//! it, to test the fleet's fallback polling. Webhook faults (`PUT /_control/webhooks/faults`)
//! lose or repeat a random fraction of the webhooks that screening steps cause.

use crate::calls::now_ms;
use crate::metrics::SandboxMetrics;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use shared::config::Secret;
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// When it started, Unix milliseconds.
    pub at_ms: u64,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// The transport error, if it did not.
    pub error: Option<String>,
}

/// A webhook the simulator sent (or suppressed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecord {
    /// Sequence number, from 1.
    pub id: u64,
    /// The group.
    pub screening_group_id: String,
    /// The `code`.
    pub code: String,
    /// Destination.
    pub url: String,
    /// The raw body, exactly as signed and sent.
    pub body: String,
    /// The `Verification-Signature` header.
    pub signature: String,
    /// Not sent because of suppression.
    pub suppressed: bool,
    /// Not sent: lost by a webhook fault.
    #[serde(default)]
    pub lost: bool,
    /// A 2xx answer was received.
    pub delivered: bool,
    /// The attempts, in order.
    pub attempts: Vec<Attempt>,
}

/// Which webhooks are suppressed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Suppression {
    /// Suppress every code.
    pub all: bool,
    /// Suppress these codes.
    pub codes: BTreeSet<String>,
}

/// Random faults of the webhooks screening steps cause (not of those sent through
/// `POST /_control/groups/{id}/webhooks`, which are sent exactly as asked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookFaults {
    /// Fraction never sent (recorded with `lost`).
    pub loss_rate: f64,
    /// Fraction sent twice at once.
    pub repeat_rate: f64,
}

impl WebhookFaults {
    /// Both rates are fractions from 0 to 1.
    pub fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("loss_rate", self.loss_rate),
            ("repeat_rate", self.repeat_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be from 0 to 1"));
            }
        }
        Ok(())
    }
}

/// Sends and records webhooks.
#[derive(Debug)]
pub struct Webhooks {
    client: reqwest::Client,
    secret: Secret,
    retry_delays: Vec<Duration>,
    metrics: SandboxMetrics,
    sent: Mutex<Vec<WebhookRecord>>,
    suppression: Mutex<Suppression>,
    faults: Mutex<WebhookFaults>,
}

impl Webhooks {
    /// A sender signing with `secret`.
    pub fn new(
        secret: Secret,
        timeout: Duration,
        retry_delays: Vec<Duration>,
        metrics: SandboxMetrics,
    ) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .expect("the HTTP client builds with a plain configuration");
        Self {
            client,
            secret,
            retry_delays,
            metrics,
            sent: Mutex::new(Vec::new()),
            suppression: Mutex::new(Suppression::default()),
            faults: Mutex::new(WebhookFaults::default()),
        }
    }

    /// Set which webhooks are suppressed.
    pub fn suppress(&self, suppression: Suppression) {
        *lock(&self.suppression) = suppression;
    }

    /// Set the random loss and repetition of step webhooks.
    pub fn set_faults(&self, faults: WebhookFaults) {
        *lock(&self.faults) = faults;
    }

    /// Deliver a webhook a screening step caused, subject to the webhook faults: lost (only
    /// recorded), sent twice at once, or sent once.
    pub async fn deliver_step(
        &self,
        group_id: &str,
        code: &str,
        url: &str,
        body: String,
    ) -> Vec<WebhookRecord> {
        let faults = *lock(&self.faults);
        let roll = fastrand::f64();
        if roll < faults.loss_rate {
            let record = WebhookRecord {
                id: 0,
                screening_group_id: group_id.to_owned(),
                code: code.to_owned(),
                url: url.to_owned(),
                signature: sign(self.secret.expose().as_bytes(), body.as_bytes()),
                body,
                suppressed: false,
                lost: true,
                delivered: false,
                attempts: Vec::new(),
            };
            self.metrics.webhook("payscore", "lost");
            return vec![self.record(record)];
        }
        if roll < faults.loss_rate + faults.repeat_rate {
            let (first, second) = tokio::join!(
                self.deliver(group_id, code, url, body.clone()),
                self.deliver(group_id, code, url, body)
            );
            return vec![first, second];
        }
        vec![self.deliver(group_id, code, url, body).await]
    }

    fn record(&self, mut record: WebhookRecord) -> WebhookRecord {
        let mut sent = lock(&self.sent);
        record.id = sent.len() as u64 + 1;
        sent.push(record.clone());
        record
    }

    /// Webhooks recorded so far, optionally for one group.
    pub fn sent(&self, group_id: Option<&str>) -> Vec<WebhookRecord> {
        lock(&self.sent)
            .iter()
            .filter(|w| group_id.is_none_or(|g| g == w.screening_group_id))
            .cloned()
            .collect()
    }

    /// Sign `body` and deliver it to `url` with retries; record the outcome.
    pub async fn deliver(
        &self,
        group_id: &str,
        code: &str,
        url: &str,
        body: String,
    ) -> WebhookRecord {
        let signature = sign(self.secret.expose().as_bytes(), body.as_bytes());
        let suppressed = {
            let s = lock(&self.suppression);
            s.all || s.codes.contains(code)
        };
        let mut record = WebhookRecord {
            id: 0,
            screening_group_id: group_id.to_owned(),
            code: code.to_owned(),
            url: url.to_owned(),
            body,
            signature,
            suppressed,
            lost: false,
            delivered: false,
            attempts: Vec::new(),
        };
        if !suppressed {
            let mut delays = self.retry_delays.iter();
            loop {
                let attempt = self.attempt(&record).await;
                record.delivered = attempt.status.is_some_and(|s| (200..300).contains(&s));
                record.attempts.push(attempt);
                match delays.next() {
                    Some(delay) if !record.delivered => tokio::time::sleep(*delay).await,
                    _ => break,
                }
            }
            let outcome = if record.delivered {
                "delivered"
            } else {
                "failed"
            };
            self.metrics.webhook("payscore", outcome);
            tracing::info!(
                screening_group_id = group_id,
                code,
                outcome,
                attempts = record.attempts.len(),
                "payscore webhook"
            );
        }
        self.record(record)
    }

    async fn attempt(&self, record: &WebhookRecord) -> Attempt {
        let at_ms = now_ms();
        let result = self
            .client
            .post(&record.url)
            .header("content-type", "application/json")
            .header("verification-signature", &record.signature)
            .body(record.body.clone())
            .send()
            .await;
        match result {
            Ok(response) => Attempt {
                at_ms,
                status: Some(response.status().as_u16()),
                error: None,
            },
            Err(error) => Attempt {
                at_ms,
                status: None,
                error: Some(error_kind(&error)),
            },
        }
    }
}

/// `hex(HMAC-SHA256(key, body))`, lower case.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn error_kind(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connect".into()
    } else {
        "transport".into()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
