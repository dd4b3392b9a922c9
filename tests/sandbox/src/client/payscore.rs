//! Control helpers for the Payscore simulator.

use super::{ControlClient, ControlClientError, encode};
use crate::core::Simulator::Payscore;
use crate::payscore::views::ControlGroup;
use crate::payscore::webhooks::{Suppression, WebhookFaults, WebhookRecord};
use crate::payscore::{SendWebhook, StepOutcome, StepRequest};
use reqwest::Method;

impl ControlClient {
    /// Groups with this correlation id, oldest first.
    pub async fn groups_by_correlation(
        &self,
        correlation_id: &str,
    ) -> Result<Vec<ControlGroup>, ControlClientError> {
        let path = format!("/groups?correlation_id={}", encode(correlation_id));
        self.json(Method::GET, Payscore, &path, None::<&()>).await
    }

    /// Every group, oldest first.
    pub async fn groups(&self) -> Result<Vec<ControlGroup>, ControlClientError> {
        self.json(Method::GET, Payscore, "/groups", None::<&()>)
            .await
    }

    /// One group.
    pub async fn group(&self, group_id: &str) -> Result<ControlGroup, ControlClientError> {
        self.json(
            Method::GET,
            Payscore,
            &format!("/groups/{group_id}"),
            None::<&()>,
        )
        .await
    }

    async fn step(
        &self,
        group_id: &str,
        action: &str,
        body: &StepRequest,
    ) -> Result<StepOutcome, ControlClientError> {
        self.json(
            Method::POST,
            Payscore,
            &format!("/groups/{group_id}/{action}"),
            Some(body),
        )
        .await
    }

    /// Every applicant begins (`BEGIN_SCREENING` each).
    pub async fn begin_group(&self, group_id: &str) -> Result<StepOutcome, ControlClientError> {
        self.step(group_id, "begin", &StepRequest::default()).await
    }

    /// Every applicant completes (`finished`); the group completes with a new report.
    pub async fn complete_group(&self, group_id: &str) -> Result<StepOutcome, ControlClientError> {
        self.step(group_id, "complete", &StepRequest::default())
            .await
    }

    /// One applicant completes with `reason_completed`.
    pub async fn complete_screening(
        &self,
        group_id: &str,
        screening_id: &str,
        reason: &str,
    ) -> Result<StepOutcome, ControlClientError> {
        let body = StepRequest {
            screening_id: Some(screening_id.to_owned()),
            reason_completed: Some(reason.to_owned()),
        };
        self.step(group_id, "complete", &body).await
    }

    /// An applicant re-opens (the first completed one when `None`).
    pub async fn reopen(
        &self,
        group_id: &str,
        screening_id: Option<&str>,
    ) -> Result<StepOutcome, ControlClientError> {
        let body = StepRequest {
            screening_id: screening_id.map(str::to_owned),
            reason_completed: None,
        };
        self.step(group_id, "reopen", &body).await
    }

    /// The report expires (410 from now on).
    pub async fn expire_report(&self, group_id: &str) -> Result<StepOutcome, ControlClientError> {
        self.json(
            Method::POST,
            Payscore,
            &format!("/groups/{group_id}/expire_report"),
            None::<&()>,
        )
        .await
    }

    /// The request expires (`is_expired`).
    pub async fn expire_request(&self, group_id: &str) -> Result<ControlGroup, ControlClientError> {
        self.json(
            Method::POST,
            Payscore,
            &format!("/groups/{group_id}/expire_request"),
            None::<&()>,
        )
        .await
    }

    /// Send any webhook (any code, copies sent concurrently).
    pub async fn send_webhook(
        &self,
        group_id: &str,
        webhook: &SendWebhook,
    ) -> Result<Vec<WebhookRecord>, ControlClientError> {
        self.json(
            Method::POST,
            Payscore,
            &format!("/groups/{group_id}/webhooks"),
            Some(webhook),
        )
        .await
    }

    /// Every webhook sent or suppressed so far.
    pub async fn webhooks_sent(&self) -> Result<Vec<WebhookRecord>, ControlClientError> {
        self.json(Method::GET, Payscore, "/webhooks", None::<&()>)
            .await
    }

    /// Suppress webhooks (all, or some codes); `Suppression::default()` lifts it.
    pub async fn suppress_webhooks(
        &self,
        suppression: &Suppression,
    ) -> Result<(), ControlClientError> {
        self.empty(
            Method::PUT,
            Payscore,
            "/webhooks/suppression",
            Some(suppression),
        )
        .await
    }

    /// Lose or repeat a random fraction of the webhooks screening steps cause;
    /// `WebhookFaults::default()` lifts it.
    pub async fn set_webhook_faults(
        &self,
        faults: &WebhookFaults,
    ) -> Result<(), ControlClientError> {
        self.empty(Method::PUT, Payscore, "/webhooks/faults", Some(faults))
            .await
    }

    /// Invalidate every token issued so far.
    pub async fn expire_tokens(&self) -> Result<(), ControlClientError> {
        self.empty(Method::POST, Payscore, "/tokens/expire", None::<&()>)
            .await
    }
}
