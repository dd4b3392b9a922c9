//! Moving v2 verifications forward (by control call or on a timer) and sending the v2
//! webhooks each step causes, in order, signed and recorded like v1's (so the webhook faults
//! and suppression apply). A record's `screening_group_id` holds the applicant group id.

use super::super::PayscoreState;
use super::super::webhooks::WebhookRecord;
use super::store::{Event, Step, StepError, Target};
use crate::calls::now_ms;
use serde_json::json;
use uuid::Uuid;

/// The documented v2 webhook body of `event` (reference §10):
/// `{"code": "VERIFICATION_STARTED", "verification_id"}`,
/// `{"code": "VERIFICATION_COMPLETED", "verification_id", "reason_completed": "finished"}`,
/// `{"code": "REPORT_READY", "applicant_group_id", "applicant_id", "report_id", "report_type"}`
/// (`applicant_id` is `null` for household reports; with `group_id_household_only` an
/// individual report's body has no `applicant_group_id`).
pub fn webhook_body(event: &Event, group_id: &Uuid, group_id_household_only: bool) -> String {
    let body = match event {
        Event::Started { verification_id } => json!({
            "code": event.code(),
            "verification_id": verification_id.to_string(),
        }),
        Event::Completed { verification_id } => json!({
            "code": event.code(),
            "verification_id": verification_id.to_string(),
            "reason_completed": "finished",
        }),
        Event::ReportReady {
            report_id,
            report_type,
            applicant_id,
        } => {
            let mut body = json!({
                "code": event.code(),
                "applicant_group_id": group_id.to_string(),
                "applicant_id": applicant_id.map(|a| a.to_string()),
                "report_id": report_id.to_string(),
                "report_type": report_type.wire(),
            });
            if group_id_household_only && applicant_id.is_some() {
                body.as_object_mut()
                    .expect("an object")
                    .remove("applicant_group_id");
            }
            body
        }
    };
    body.to_string()
}

impl PayscoreState {
    /// Apply `step` to the verifications of applicant group `id` that `target` names, then
    /// deliver the webhooks it causes, one after the other.
    pub async fn advance_applicants(
        &self,
        id: Uuid,
        target: &Target,
        step: Step,
    ) -> Result<Vec<WebhookRecord>, StepError> {
        let (events, url) = {
            let mut store = self.write();
            let events = store.v2_mut().step(&id, target, step, now_ms())?;
            let url = store.v2().get(&id).and_then(|g| g.webhook_url.clone());
            (events, url)
        };
        let Some(url) = url else {
            return Ok(Vec::new());
        };
        let group_id = id.to_string();
        let mut records = Vec::with_capacity(events.len());
        for event in &events {
            let body = webhook_body(
                event,
                &id,
                self.config.v2_report_ready_group_id_household_only,
            );
            records.extend(
                self.webhooks
                    .deliver_step(&group_id, event.code(), &url, body)
                    .await,
            );
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payscore::v2::model::ReportType;

    #[test]
    fn an_individual_report_ready_names_its_group_unless_the_other_reading_is_asked_for() {
        let group = Uuid::nil();
        let event = Event::ReportReady {
            report_id: Uuid::nil(),
            report_type: ReportType::Identity,
            applicant_id: Some(Uuid::nil()),
        };
        let with: serde_json::Value =
            serde_json::from_str(&webhook_body(&event, &group, false)).expect("json");
        assert_eq!(with["applicant_group_id"], group.to_string());
        let without: serde_json::Value =
            serde_json::from_str(&webhook_body(&event, &group, true)).expect("json");
        assert!(without.get("applicant_group_id").is_none(), "{without}");
        assert_eq!(without["applicant_id"], Uuid::nil().to_string());
    }

    #[test]
    fn household_report_ready_carries_a_null_applicant_id() {
        let group = Uuid::nil();
        let event = Event::ReportReady {
            report_id: Uuid::nil(),
            report_type: ReportType::Income,
            applicant_id: None,
        };
        let body: serde_json::Value =
            serde_json::from_str(&webhook_body(&event, &group, true)).expect("json");
        assert_eq!(body["code"], "REPORT_READY");
        assert_eq!(
            body["applicant_group_id"],
            group.to_string(),
            "a household report names its group under either reading"
        );
        assert_eq!(body["report_type"], "income");
        assert!(
            body.get("applicant_id")
                .is_some_and(serde_json::Value::is_null)
        );
        let completed = Event::Completed {
            verification_id: Uuid::nil(),
        };
        let body: serde_json::Value =
            serde_json::from_str(&webhook_body(&completed, &group, false)).expect("json");
        assert_eq!(
            body,
            json!({ "code": "VERIFICATION_COMPLETED", "reason_completed": "finished",
                    "verification_id": Uuid::nil().to_string() })
        );
    }
}
