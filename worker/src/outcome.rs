//! What a job handler says happened, in terms the consumer turns into AMQP actions. A handler
//! knows nothing about lapin: it receives a [`Job`] and returns an [`Outcome`].

use shared::amqp::WorkQueue;
use std::sync::{Arc, Mutex};
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
    /// The broker delivered it before (a worker died or lost its connection while on it), or
    /// it is a copy re-published from such a delivery (`x-redelivered`).
    pub redelivered: bool,
    /// `worker replay` moved it out of a dead-letter queue (`x-replayed-at`).
    pub replayed: bool,
    /// Quick in-process retries of this delivery so far (0 on the first run).
    pub tries: u32,
    /// Names this delivery (not the message: two copies have two) as a claim owner.
    pub run_id: String,
    /// `x-source`: who published it (`entrata`, `payscore`, `worker`, `sweep`, `replay`).
    pub source: Option<String>,
    /// The ids the handler learned, for the journal (shared by the runs of one delivery).
    pub trail: Arc<Mutex<Trail>>,
    /// Which copy of the message this is (`x-copy-id`, or the message id for the first).
    pub copy_key: String,
    /// The delivery's `traceparent`: follow-ups and copies continue its trace.
    pub traceparent: Option<String>,
    /// The trace id every log line of the job carries (empty when the delivery has none).
    pub trace_id: String,
}

/// What a job learned about the delivery it handled: ids and the uploaded file name, never
/// applicant data. Written to the journal with the outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trail {
    /// Entrata property id.
    pub property_id: Option<String>,
    /// Entrata application id.
    pub application_id: Option<String>,
    /// Payscore screening group id.
    pub group_id: Option<String>,
    /// The report's file name in the applicant file.
    pub file_name: Option<String>,
}

impl Job {
    /// Note what the handler learned.
    pub fn note(&self, edit: impl FnOnce(&mut Trail)) {
        edit(&mut self.trail.lock().expect("not poisoned"));
    }

    /// What the handler learned so far.
    pub fn trail(&self) -> Trail {
        self.trail.lock().expect("not poisoned").clone()
    }
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
    /// A timeout or a 429: the server is overloaded. No quick retry, and the next delay is at
    /// least `RETRY_OVERLOAD_MIN`.
    pub overloaded: bool,
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
            overloaded: false,
        }
    }

    /// The same failure, marked as met on an overloaded server (timeout, 429).
    pub fn overloaded(self) -> Self {
        Self {
            overloaded: true,
            ..self
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
    /// An applicant to invite has no first or last name in Entrata.
    ApplicantIncomplete,
    /// Only a lead describes the household, it has several customers, and Entrata did not say
    /// which of them are applicants, guarantors or occupants.
    CustomerTypesUnknown,
    /// Entrata has no monthly rent for the application and Payscore requires one
    /// (`PAYSCORE_MONTHLY_RENT=required`).
    RentUnknown,
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
    /// An earlier create's outcome is unknown and `PAYSCORE_LOOKUP=none` forbids guessing.
    CreateOutcomeUnknown,
    /// A Payscore delivery names a group neither the ledger nor its `correlation_id` ties to
    /// an Entrata application.
    UnknownGroup,
    /// Runs of this copy kept ending without settling it (`WORKER_MAX_RUNS`): it panics,
    /// crashes the worker, or its outcome cannot be stored.
    DeliveryLimit,
}

impl DeadReason {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadReason::UnreadableDelivery => "unreadable_delivery",
            DeadReason::ApplicationNotFound => "application_not_found",
            DeadReason::NoApplicantEmail => "no_applicant_email",
            DeadReason::ApplicantIncomplete => "applicant_incomplete",
            DeadReason::CustomerTypesUnknown => "customer_types_unknown",
            DeadReason::RentUnknown => "rent_unknown",
            DeadReason::PropertyAddressInvalid => "property_address_invalid",
            DeadReason::PayscoreRejected => "payscore_rejected",
            DeadReason::EntrataRejected => "entrata_rejected",
            DeadReason::RetriesExhausted => "retries_exhausted",
            DeadReason::ReportExpired => "report_expired",
            DeadReason::DeliveryLimit => "delivery_limit",
            DeadReason::ReportInvalid => "report_invalid",
            DeadReason::UploadRejected => "upload_rejected",
            DeadReason::CreateOutcomeUnknown => "create_outcome_unknown",
            DeadReason::UnknownGroup => "unknown_group",
        }
    }
}

/// Why a delivery needed no work (`worker_ignored_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignore {
    /// The Entrata event type is not in `SCREENING_TRIGGER_EVENTS`.
    NotATrigger,
    /// The property is not enabled in `PROPERTIES_FILE`.
    PropertyNotEnabled,
    /// A Payscore webhook code that asks for nothing.
    NoActionNeeded,
    /// Payscore does not know the group a report check is for.
    GroupUnknown,
}

impl Ignore {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Ignore::NotATrigger => "not_a_trigger",
            Ignore::PropertyNotEnabled => "property_not_enabled",
            Ignore::NoActionNeeded => "no_action_needed",
            Ignore::GroupUnknown => "group_unknown",
        }
    }

    /// What the log and the journal say.
    pub fn describe(self) -> &'static str {
        match self {
            Ignore::NotATrigger => "event type does not trigger a screening",
            Ignore::PropertyNotEnabled => "property not enabled",
            Ignore::NoActionNeeded => "webhook code needs no action",
            Ignore::GroupUnknown => "Payscore does not know the group",
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
    Ignored(Ignore),
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
    /// Another job (on this or another replica) holds the application's or group's claim:
    /// wait and look again, spending no attempt.
    Busy,
    /// The ledger could not be reached: wait for it, spending no attempt.
    LedgerUnavailable(String),
    /// Permanent failure: straight to the dead-letter queue.
    Dead {
        /// Why.
        reason: DeadReason,
        /// Detail for `x-last-error` (no PII).
        detail: String,
    },
}

impl Outcome {
    /// The reason (dead-letter reason or failure class) and detail the journal records.
    pub fn reason(&self) -> (Option<&'static str>, Option<String>) {
        match self {
            Outcome::Done(_) | Outcome::Duplicate(_) | Outcome::Reschedule(_) => (None, None),
            Outcome::Ignored(why) => (Some(why.as_str()), Some(why.describe().to_owned())),
            Outcome::Expired(why) => (None, Some((*why).to_owned())),
            Outcome::Retry(failure) | Outcome::Throttle { failure, .. } => {
                (Some(failure.class), Some(failure.detail.clone()))
            }
            Outcome::Busy => (Some("claim_held"), None),
            Outcome::LedgerUnavailable(detail) => {
                (Some("ledger_unavailable"), Some(detail.clone()))
            }
            Outcome::Dead { reason, detail } => (Some(reason.as_str()), Some(detail.clone())),
        }
    }

    /// A permanent failure.
    pub fn dead(reason: DeadReason, detail: impl Into<String>) -> Self {
        Outcome::Dead {
            reason,
            detail: detail.into(),
        }
    }
}
