//! Control helpers for the Entrata simulator.

use super::{ControlClient, ControlClientError};
use crate::config::IngestSettings;
use crate::core::Simulator::Entrata;
use crate::entrata::model::{Application, Property, UploadRecord};
use crate::entrata::submit::{IngestDelivery, SubmitOptions, SubmittedApplication};
use crate::entrata::{Exhaust, RateLimit, Resend, UploadFailures};
use reqwest::Method;

impl ControlClient {
    /// Create an application and send its webhook to ingest (when configured).
    pub async fn submit_application(
        &self,
        options: &SubmitOptions,
    ) -> Result<SubmittedApplication, ControlClientError> {
        self.json(Method::POST, Entrata, "/applications", Some(options))
            .await
    }

    /// One application with its customers.
    pub async fn application(
        &self,
        application_id: u64,
    ) -> Result<Application, ControlClientError> {
        self.json(
            Method::GET,
            Entrata,
            &format!("/applications/{application_id}"),
            None::<&()>,
        )
        .await
    }

    /// Send an application's webhook again (`copies` at once).
    pub async fn resend_application_webhook(
        &self,
        application_id: u64,
        resend: &Resend,
    ) -> Result<Vec<IngestDelivery>, ControlClientError> {
        self.json(
            Method::POST,
            Entrata,
            &format!("/applications/{application_id}/webhook"),
            Some(resend),
        )
        .await
    }

    /// Documents uploaded to an application (failed files included), oldest first.
    pub async fn uploads(
        &self,
        application_id: u64,
    ) -> Result<Vec<UploadRecord>, ControlClientError> {
        self.json(
            Method::GET,
            Entrata,
            &format!("/applications/{application_id}/uploads"),
            None::<&()>,
        )
        .await
    }

    /// The next `count` uploaded files fail with `message`.
    pub async fn fail_next_uploads(
        &self,
        count: u32,
        message: Option<&str>,
    ) -> Result<(), ControlClientError> {
        let body = UploadFailures {
            count,
            message: message.map(str::to_owned),
        };
        self.empty(Method::POST, Entrata, "/uploads/failures", Some(&body))
            .await
    }

    /// Set the budget per minute and service.
    pub async fn set_rate_limit(&self, per_minute: u32) -> Result<(), ControlClientError> {
        self.empty(
            Method::PUT,
            Entrata,
            "/rate_limit",
            Some(&RateLimit { per_minute }),
        )
        .await
    }

    /// Spend the budget of one service (all when `None`); it resets after the given seconds.
    pub async fn exhaust_rate_limit(
        &self,
        service: Option<&str>,
        reset_after_seconds: u64,
    ) -> Result<(), ControlClientError> {
        let body = Exhaust {
            service: service.map(str::to_owned),
            reset_after_seconds: Some(reset_after_seconds),
        };
        self.empty(Method::POST, Entrata, "/rate_limit/exhaust", Some(&body))
            .await
    }

    /// Where (and with which credentials) application webhooks go.
    pub async fn set_ingest(&self, settings: &IngestSettings) -> Result<(), ControlClientError> {
        self.empty(Method::PUT, Entrata, "/ingest", Some(settings))
            .await
    }

    /// Application webhooks sent so far with ingest's answers.
    pub async fn ingest_deliveries(&self) -> Result<Vec<IngestDelivery>, ControlClientError> {
        self.json(Method::GET, Entrata, "/ingest/deliveries", None::<&()>)
            .await
    }

    /// The seeded properties.
    pub async fn properties(&self) -> Result<Vec<Property>, ControlClientError> {
        self.json(Method::GET, Entrata, "/properties", None::<&()>)
            .await
    }
}
