//! Moving screenings forward (by control call or on a timer) and sending the webhooks each
//! step causes, in order.

use super::PayscoreState;
use super::store::{Event, Step, StepError};
use super::v2;
use super::webhooks::WebhookRecord;
use crate::calls::now_ms;
use std::sync::Arc;
use uuid::Uuid;

/// The documented flat webhook body: `code`, `screening_group_id`, and `screening_id` /
/// `value` when they apply.
pub fn webhook_body(
    code: &str,
    group_id: &str,
    screening_id: Option<&str>,
    value: Option<&str>,
) -> String {
    let mut body = serde_json::Map::new();
    body.insert("code".into(), code.into());
    body.insert("screening_group_id".into(), group_id.into());
    if let Some(id) = screening_id {
        body.insert("screening_id".into(), id.into());
    }
    if let Some(value) = value {
        body.insert("value".into(), value.into());
    }
    serde_json::Value::Object(body).to_string()
}

impl PayscoreState {
    /// Apply `step`, then deliver the webhooks it causes, one after the other.
    pub async fn advance(
        &self,
        id: Uuid,
        screening: Option<Uuid>,
        step: Step,
    ) -> Result<Vec<WebhookRecord>, StepError> {
        let (events, url) = {
            let mut store = self.write();
            let events = store.step(&id, screening, &step, now_ms())?;
            let url = store.get(&id).and_then(|g| g.request.webhook_url.clone());
            (events, url)
        };
        Ok(self.send_events(id, url, events).await)
    }

    /// Expire the group's report and send `REPORT_EXPIRED`.
    pub async fn expire_report(&self, id: Uuid) -> Result<Vec<WebhookRecord>, StepError> {
        let (events, url) = {
            let mut store = self.write();
            let events = store.expire_report(&id)?;
            let url = store.get(&id).and_then(|g| g.request.webhook_url.clone());
            (events, url)
        };
        Ok(self.send_events(id, url, events).await)
    }

    /// Deliver `events` for group `id` to `url` in order (nothing without a URL).
    pub async fn send_events(
        &self,
        id: Uuid,
        url: Option<String>,
        events: Vec<Event>,
    ) -> Vec<WebhookRecord> {
        let Some(url) = url else {
            return Vec::new();
        };
        let group_id = id.to_string();
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            let screening_id = event.screening_id.map(|s| s.to_string());
            let body = webhook_body(event.code, &group_id, screening_id.as_deref(), None);
            records.extend(
                self.webhooks
                    .deliver_step(&group_id, event.code, &url, body)
                    .await,
            );
        }
        records
    }

    /// When automatic progress is configured, begin and complete the new group's
    /// screenings after the configured delays.
    pub fn schedule_progress(self: &Arc<Self>, id: Uuid) {
        self.schedule(id, Generation::V1);
    }

    /// When automatic progress is configured, begin and then complete the group's
    /// screenings (v1) or verifications (v2) after the configured delays.
    pub(crate) fn schedule(self: &Arc<Self>, id: Uuid, generation: Generation) {
        let (begin, complete) = (self.config.begin_after, self.config.complete_after);
        if begin.is_none() && complete.is_none() {
            return;
        }
        let state = self.clone();
        tokio::spawn(async move {
            let shutdown = state.core.shutdown.clone();
            let run = async {
                let mut waited = std::time::Duration::ZERO;
                if let Some(begin) = begin {
                    tokio::time::sleep(begin).await;
                    waited = begin;
                    state.auto_step(generation, id, false).await;
                }
                if let Some(complete) = complete {
                    tokio::time::sleep(complete.saturating_sub(waited)).await;
                    state.auto_step(generation, id, true).await;
                }
            };
            tokio::select! {
                () = run => {}
                () = shutdown.cancelled() => {}
            }
        });
    }

    /// One automatic step of every screening or verification: begin, or complete.
    async fn auto_step(&self, generation: Generation, id: Uuid, complete: bool) {
        match generation {
            Generation::V1 => {
                let step = if complete {
                    Step::Complete("finished".into())
                } else {
                    Step::Begin
                };
                let _ = self.advance(id, None, step).await;
            }
            Generation::V2 => {
                let step = if complete {
                    v2::store::Step::Complete
                } else {
                    v2::store::Step::Begin
                };
                let target = v2::store::Target::default();
                let _ = self.advance_applicants(id, &target, step).await;
            }
        }
    }
}

/// Which API generation a group belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generation {
    /// A v1 screening group.
    V1,
    /// A v2 applicant group.
    V2,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_level_webhooks_have_no_screening_id() {
        let body = webhook_body("SCREENING_GROUP_COMPLETED", "g", None, None);
        assert_eq!(
            body,
            r#"{"code":"SCREENING_GROUP_COMPLETED","screening_group_id":"g"}"#
        );
        let body = webhook_body("BANK_NOT_SUPPORTED", "g", Some("s"), Some("Bank"));
        let parsed: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(parsed["value"], "Bank");
        assert_eq!(parsed["screening_id"], "s");
    }
}
