//! [`ControlClient`]: typed helpers over the `/_control` routes of both simulators, for
//! tests (in-process through [`crate::Sandbox::control`], or against a running `sandbox`
//! binary through [`ControlClient::new`]).

mod entrata;
mod payscore;
mod payscore_v2;

use crate::calls::CallRecord;
use crate::control::{ScriptFaults, SetFaults};
use crate::core::Simulator;
use crate::faults::{Faults, RouteFaultsView, Scripted};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::time::Duration;

/// A control call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlClientError {
    /// No answer, or an answer that does not parse.
    #[error("control call failed: {0}")]
    Http(#[from] reqwest::Error),
    /// A non-2xx answer.
    #[error("control call answered {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// The body (`{"error": ...}`).
        body: String,
    },
}

/// A client for the control routes of one sandbox.
#[derive(Debug, Clone)]
pub struct ControlClient {
    http: reqwest::Client,
    payscore: String,
    entrata: String,
}

impl ControlClient {
    /// A client for simulators at these base URLs (`http://host:port`, no path).
    pub fn new(payscore_base_url: &str, entrata_base_url: &str) -> Self {
        Self {
            // Progress calls wait for webhook deliveries and their retries.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("the HTTP client builds with a plain configuration"),
            payscore: payscore_base_url.trim_end_matches('/').to_owned(),
            entrata: entrata_base_url.trim_end_matches('/').to_owned(),
        }
    }

    fn url(&self, simulator: Simulator, path: &str) -> String {
        let base = match simulator {
            Simulator::Payscore => &self.payscore,
            Simulator::Entrata => &self.entrata,
        };
        format!("{base}/_control{path}")
    }

    async fn send(
        &self,
        method: Method,
        simulator: Simulator,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<reqwest::Response, ControlClientError> {
        let mut request = self.http.request(method, self.url(simulator, path));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let body = response.text().await.unwrap_or_default();
            return Err(ControlClientError::Status { status, body });
        }
        Ok(response)
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        simulator: Simulator,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, ControlClientError> {
        Ok(self
            .send(method, simulator, path, body)
            .await?
            .json()
            .await?)
    }

    async fn empty(
        &self,
        method: Method,
        simulator: Simulator,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<(), ControlClientError> {
        self.send(method, simulator, path, body).await.map(drop)
    }

    /// Replace the random faults of `route` (`*` for every route).
    pub async fn set_faults(
        &self,
        simulator: Simulator,
        route: &str,
        faults: Faults,
    ) -> Result<(), ControlClientError> {
        let body = SetFaults {
            route: route.to_owned(),
            faults,
        };
        self.empty(Method::PUT, simulator, "/faults", Some(&body))
            .await
    }

    /// Queue a deterministic fault for the next calls of `route`.
    pub async fn fail_next(
        &self,
        simulator: Simulator,
        route: &str,
        next: Scripted,
    ) -> Result<(), ControlClientError> {
        let body = ScriptFaults {
            route: route.to_owned(),
            next,
        };
        self.empty(Method::POST, simulator, "/faults/next", Some(&body))
            .await
    }

    /// The faults in force.
    pub async fn faults(
        &self,
        simulator: Simulator,
    ) -> Result<Vec<RouteFaultsView>, ControlClientError> {
        self.json(Method::GET, simulator, "/faults", None::<&()>)
            .await
    }

    /// Remove every fault.
    pub async fn clear_faults(&self, simulator: Simulator) -> Result<(), ControlClientError> {
        self.empty(Method::DELETE, simulator, "/faults", None::<&()>)
            .await
    }

    /// Calls received by `route` (every route when `None`), oldest first.
    pub async fn calls(
        &self,
        simulator: Simulator,
        route: Option<&str>,
    ) -> Result<Vec<CallRecord>, ControlClientError> {
        let path = match route {
            Some(route) => format!("/calls?route={}", encode(route)),
            None => "/calls".to_owned(),
        };
        self.json(Method::GET, simulator, &path, None::<&()>).await
    }

    /// Exact call counts: route → status → calls.
    pub async fn call_counts(
        &self,
        simulator: Simulator,
    ) -> Result<BTreeMap<String, BTreeMap<String, u64>>, ControlClientError> {
        self.json(Method::GET, simulator, "/calls/counts", None::<&()>)
            .await
    }

    /// Forget every call.
    pub async fn clear_calls(&self, simulator: Simulator) -> Result<(), ControlClientError> {
        self.empty(Method::DELETE, simulator, "/calls", None::<&()>)
            .await
    }
}

/// Percent-encode a query value (route names contain `/`).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
