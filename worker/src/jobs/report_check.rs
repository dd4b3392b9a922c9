//! The report-check job: the screening job forwards one for every group it creates, and the
//! reports job re-schedules it until the household completes (v1) or every report it asked
//! for exists (v2), or the request expires. It is the fallback for a lost
//! `SCREENING_GROUP_COMPLETED` (v1) or `REPORT_READY` (v2) webhook.

use serde::{Deserialize, Serialize};

/// AMQP `type` of a report-check message.
pub const KIND: &str = "report_check";

/// A report-check message body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCheck {
    /// The Payscore screening group.
    pub screening_group_id: String,
    /// Which check this is (1 = the first).
    pub check: u32,
    /// When the group was created (Unix ms): checks stop after Payscore's 14-day expiry.
    pub group_created_at_ms: i64,
    /// `v2` for an applicant group (absent: a v1 screening group, as in checks queued before
    /// there was a choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// v2: how many reports the group will have once every verification is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_reports: Option<u32>,
}

impl ReportCheck {
    /// Whether the group is an applicant group (v2).
    pub fn is_v2(&self) -> bool {
        self.api.as_deref() == Some("v2")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_queued_before_there_was_a_choice_reads_as_v1_and_v1_checks_stay_as_they_were() {
        let old: ReportCheck = serde_json::from_str(
            r#"{"screening_group_id": "g", "check": 3, "group_created_at_ms": 1}"#,
        )
        .expect("reads");
        assert!(!old.is_v2());
        assert_eq!(old.expected_reports, None);
        assert_eq!(
            serde_json::to_value(&old).expect("writes"),
            serde_json::json!({"screening_group_id": "g", "check": 3, "group_created_at_ms": 1}),
            "a v1 check is written as before"
        );
        let v2 = ReportCheck {
            api: Some("v2".into()),
            expected_reports: Some(3),
            ..old
        };
        assert!(v2.is_v2());
    }
}
