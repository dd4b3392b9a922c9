//! What a job handler says happened, in terms the consumer turns into AMQP actions. A handler
//! knows nothing about lapin: it receives a [`Job`] and returns an [`Outcome`].

use shared::amqp::WorkQueue;
use std::time::Duration;

/// One delivery, as a handler sees it.
#[derive(Debug, Clone)]
pub struct Job {
    /// The stable message id (ingest's UUID, kept across retries).
    pub message_id: String,
    /// The raw body.
    pub body: Vec<u8>,
    /// The AMQP `type` property: set on the worker's own jobs (`report_check`).
    pub kind: Option<String>,
    /// Failures so far (`x-attempt`, 0 on the first delivery).
    pub attempt: u32,
    /// When ingest received the webhook (`x-received-at`, Unix ms).
    pub received_at_ms: Option<i64>,
    /// The broker delivered it before (a worker died or lost its connection while on it).
    pub redelivered: bool,
    /// Quick in-process retries of this delivery so far (0 on the first run).
    pub tries: u32,
}

/// A message to publish before the delivery is acknowledged (invariant 2).
#[derive(Debug, Clone)]
pub struct FollowUp {
    /// The work queue it is for.
    pub queue: WorkQueue,
    /// How long it waits first (through that queue's wait queues).
    pub delay: Duration,
    /// Its AMQP `type`.
    pub kind: &'static str,
    /// Its body (JSON).
    pub body: Vec<u8>,
}

/// A transient failure: worth trying again.
#[derive(Debug, Clone)]
pub struct Failure {
    /// A short machine-readable class, e.g. `payscore_5xx`, `entrata_timeout`.
    pub class: &'static str,
    /// Detail for `x-last-error` and logs: status codes and ids, never applicant data.
    pub detail: String,
    /// The server's `Retry-After`, if it sent one.
    pub retry_after: Option<Duration>,
    /// No quick retry in process: the next attempt waits for the schedule's first delay. Set
    /// when the call may have taken effect although it failed (a create or upload that timed
    /// out), or when Payscore says a group exists that the lookup cannot show yet (409).
    pub wait_for_schedule: bool,
}

impl Failure {
    /// A transient failure whose call certainly did not take effect.
    pub fn new(
        class: &'static str,
        detail: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        Self {
            class,
            detail: detail.into(),
            retry_after,
            wait_for_schedule: false,
        }
    }
}

/// Why a message is in a `.dead` queue (`x-dead-reason`). A small fixed vocabulary: the
/// README says what an operator does about each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadReason {
    /// The body is not a delivery the worker can read.
    UnreadableDelivery,
    /// Entrata does not know the application.
    ApplicationNotFound,
    /// An applicant to invite has no email address.
    NoApplicantEmail,
    /// The property's address cannot be sent to Payscore (unknown state, missing parts).
    PropertyAddressInvalid,
    /// Payscore answered 400 (for example an email address that does not exist).
    PayscoreRejected,
    /// Entrata answered with a permanent error.
    EntrataRejected,
    /// The schedule of retries is spent.
    RetriesExhausted,
    /// The Payscore report expired before it could be uploaded.
    ReportExpired,
    /// The downloaded report is not a PDF or is too large.
    ReportInvalid,
    /// Entrata refused the uploaded file.
    UploadRejected,
}

impl DeadReason {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::UnreadableDelivery => "unreadable_delivery",
            DeadReason::ApplicationNotFound => "application_not_found",
            DeadReason::NoApplicantEmail => "no_applicant_email",
            DeadReason::PropertyAddressInvalid => "property_address_invalid",
            DeadReason::PayscoreRejected => "payscore_rejected",
            DeadReason::EntrataRejected => "entrata_rejected",
            DeadReason::RetriesExhausted => "retries_exhausted",
            DeadReason::ReportExpired => "report_expired",
            DeadReason::ReportInvalid => "report_invalid",
            DeadReason::UploadRejected => "upload_rejected",
        }
    }
}

/// What became of a job.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The work is done; publish the follow-up, if any, then acknowledge.
    Done(Option<FollowUp>),
    /// It had been done before (idempotency guard); publish the follow-up, if any.
    Duplicate(Option<FollowUp>),
    /// Not finished yet: acknowledge after scheduling this check for later.
    Reschedule(FollowUp),
    /// Nothing to do (event type not a trigger, property not enabled, not our group).
    Ignored(&'static str),
    /// The job stops on purpose without failing (a report request that expired).
    Expired(&'static str),
    /// Transient failure: retry in process, then through the wait queues.
    Retry(Failure),
    /// A rate limit: wait until the reset without spending an attempt.
    Throttle {
        /// Until the limit resets.
        until: Duration,
        /// What said so.
        failure: Failure,
    },
    /// Permanent failure: straight to the dead-letter queue.
    Dead {
        /// Why.
        reason: DeadReason,
        /// Detail for `x-last-error` (no PII).
        detail: String,
    },
}

impl Outcome {
    /// A permanent failure.
    pub fn dead(reason: DeadReason, detail: impl Into<String>) -> Self {
        Outcome::Dead {
            reason,
            detail: detail.into(),
        }
    }
}
