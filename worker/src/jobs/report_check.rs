//! The report-check job: the screening job forwards one for every group it creates, and the
//! reports job re-schedules it until the household completes or the request expires. It is
//! the fallback for a lost `SCREENING_GROUP_COMPLETED` webhook.

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
}
