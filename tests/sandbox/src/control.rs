//! Control routes both simulators have: faults (`/_control/faults`) and the call log
//! (`/_control/calls`), plus the error type every control route answers with.

use crate::calls::CallRecord;
use crate::core::Core;
use crate::faults::{Faults, RouteFaultsView, Scripted};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A refused control call: `{"error": "..."}` with 400, 404 or 409.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// 400: the body does not parse.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 404: no such object.
    #[error("{0}")]
    NotFound(String),
    /// 409: not possible in the current state.
    #[error("{0}")]
    Conflict(String),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match self {
            ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControlError::NotFound(_) => StatusCode::NOT_FOUND,
            ControlError::Conflict(_) => StatusCode::CONFLICT,
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

/// Parse an optional JSON body: empty means `T::default()`.
pub fn optional_json<T: DeserializeOwned + Default>(body: &Bytes) -> Result<T, ControlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ControlError::BadRequest(e.to_string()))
}

/// Body of `PUT /_control/faults`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetFaults {
    /// Route name, or `*` for every route.
    pub route: String,
    /// The random faults (replacing the route's previous ones).
    pub faults: Faults,
}

/// Body of `POST /_control/faults/next`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptFaults {
    /// Route name, or `*` for every route.
    pub route: String,
    /// What the next calls get.
    pub next: Scripted,
}

#[derive(Deserialize)]
struct CallsQuery {
    route: Option<String>,
}

/// The faults and calls routes over one simulator's core.
pub fn router(core: Arc<Core>) -> Router {
    Router::new()
        .route(
            "/_control/faults",
            get(list_faults).put(set_faults).delete(clear_faults),
        )
        .route("/_control/faults/next", post(script_faults))
        .route("/_control/calls", get(calls).delete(clear_calls))
        .route("/_control/calls/counts", get(counts))
        .with_state(core)
}

async fn list_faults(State(core): State<Arc<Core>>) -> Json<Vec<RouteFaultsView>> {
    Json(core.faults.list())
}

async fn set_faults(
    State(core): State<Arc<Core>>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let request: SetFaults =
        serde_json::from_slice(&body).map_err(|e| ControlError::BadRequest(e.to_string()))?;
    tracing::info!(simulator = core.simulator.as_str(), route = %request.route, "faults set");
    core.faults.set(&request.route, request.faults);
    Ok(StatusCode::NO_CONTENT)
}

async fn script_faults(
    State(core): State<Arc<Core>>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let request: ScriptFaults =
        serde_json::from_slice(&body).map_err(|e| ControlError::BadRequest(e.to_string()))?;
    tracing::info!(
        simulator = core.simulator.as_str(),
        route = %request.route,
        count = request.next.count,
        "scripted faults queued"
    );
    core.faults.script(&request.route, request.next);
    Ok(StatusCode::NO_CONTENT)
}

async fn clear_faults(State(core): State<Arc<Core>>) -> StatusCode {
    core.faults.clear();
    StatusCode::NO_CONTENT
}

async fn calls(
    State(core): State<Arc<Core>>,
    Query(q): Query<CallsQuery>,
) -> Json<Vec<CallRecord>> {
    Json(core.calls.list(q.route.as_deref()))
}

async fn counts(State(core): State<Arc<Core>>) -> Json<BTreeMap<String, BTreeMap<String, u64>>> {
    Json(core.calls.counts())
}

async fn clear_calls(State(core): State<Arc<Core>>) -> StatusCode {
    core.calls.clear();
    StatusCode::NO_CONTENT
}
