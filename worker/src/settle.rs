//! Turning a job's [`Outcome`] into durable AMQP actions: in-process retries first, then a
//! confirmed follow-up, retry copy or dead letter, and only then the acknowledgement.

use crate::consumer::{Handler, WorkerChannels};
use crate::ledger::claims::busy_wait_limit;
use crate::ledger::deliveries::RunCheck;
use crate::ledger::journal::Entry;
use crate::ledger::{Ledger, LedgerMetrics};
use crate::outcome::{DeadReason, Failure, FollowUp, Job, Outcome};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use shared::amqp::{
    Outgoing, PublishChannels, PublishError, Publisher, Session, Topology, WorkQueue,
};
use shared::envelope::{self, headers as h, text};
use shared::retry::{self, NextStep, Pressure, RetryPolicy};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a job waits in process for the ledger to come back before its delivery is parked
/// in a wait queue (no attempt spent either way).
const LEDGER_HOLD: Duration = Duration::from_secs(60);

/// How long an outcome waits for the publishing connection to come back.
const PUBLISH_CONNECTION_WAIT: Duration = Duration::from_secs(30);

/// How many rate-limit waits one delivery may sit out in process before it goes to a wait queue.
const MAX_IN_PROCESS_THROTTLES: u32 = 3;

/// Applies outcomes.
#[derive(Debug)]
pub struct Settler {
    /// Confirmed publisher on the worker's publishing connection.
    pub publisher: Publisher<PublishChannels>,
    /// Queue names.
    pub topology: Topology,
    /// The retry schedule.
    pub policy: RetryPolicy,
    /// Quick retries before a wait queue.
    pub in_process_retries: usize,
    /// Unsettled runs of one copy before it is dead-lettered (`WORKER_MAX_RUNS`).
    pub max_runs: u32,
    /// Longest `Retry-After` or rate-limit reset waited out in process.
    pub in_process_max_wait: Duration,
    /// The ledger: claims are waited for, outages waited out, outcomes journaled.
    pub ledger: Ledger,
    /// `ledger_claims_waited_total`.
    pub ledger_metrics: LedgerMetrics,
    /// How long to pause before giving back a delivery whose outcome could not be stored.
    pub requeue_pauses: RequeuePauses,
}

/// Growing pauses (1 s doubling to 60 s) per message whose outcome could not be stored, so that
/// a publish that keeps failing backs off instead of re-running its job every second. Entries
/// are forgotten ten minutes after their last failure.
#[derive(Debug, Default)]
pub struct RequeuePauses {
    failures: std::sync::Mutex<std::collections::HashMap<String, (u32, Instant)>>,
}

impl RequeuePauses {
    /// The pause for this message's next give-back.
    pub fn next(&self, message_id: &str) -> Duration {
        let mut failures = self.failures.lock().expect("not poisoned");
        failures.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(600));
        let entry = failures
            .entry(message_id.to_owned())
            .or_insert((0, Instant::now()));
        let pause = Duration::from_secs(1 << entry.0.min(6)).min(Duration::from_secs(60));
        *entry = (entry.0 + 1, Instant::now());
        pause
    }
}

/// Whether a delivery's job runs.
#[derive(Debug)]
pub enum Begin {
    /// Run the handler.
    Run,
    /// Do not: settle this outcome instead.
    Stop(Outcome),
    /// This copy's outcome is stored already (its acknowledgement was lost with its
    /// connection): acknowledge it, run nothing, publish nothing.
    Settled,
}

impl Settler {
    /// Look the delivery's copy up in the ledger before running its job.
    ///
    /// The worker's own poison cap: whatever the broker counts as a delivery attempt (3.x and
    /// 4.0 count every return, a closed channel's included; 4.3 counts rejects and lost
    /// consumers but not nacks), only runs that began here and never settled count, so
    /// deliveries prefetched and returned by a reconnect spend nothing, and a copy that keeps
    /// panicking, killing its worker or failing to be stored is dead-lettered after
    /// `max_runs` runs. The broker's `x-delivery-limit` stays as a backstop set far above it.
    pub async fn begin(&self, job: &Job, queue: &str) -> Begin {
        match self
            .ledger
            .begin_run(&job.copy_key, &job.message_id, queue)
            .await
        {
            Ok(RunCheck::Settled) => Begin::Settled,
            Ok(RunCheck::Run { runs }) if runs > self.max_runs => Begin::Stop(Outcome::Dead {
                reason: DeadReason::DeliveryLimit,
                detail: format!(
                    "{} runs ended without a stored outcome (a panic, a lost worker or a refused publish)",
                    runs - 1
                ),
            }),
            Ok(RunCheck::Run { .. }) => Begin::Run,
            Err(error) => Begin::Stop(Outcome::LedgerUnavailable(error.to_string())),
        }
    }

    /// The run ended with this outcome label. A settled copy was marked before its
    /// acknowledgement; `requeued` and `panicked` runs stay counted; an `abandoned` run (the
    /// delivery's connection went: not the message's fault) is taken back. Best effort:
    /// without it a run counts once more toward the cap.
    pub async fn end(&self, job: &Job, label: &'static str) {
        if label != "abandoned" {
            return;
        }
        if let Err(error) = self.ledger.end_run(&job.copy_key, false).await {
            tracing::warn!(error = %error, "run not recorded as ended");
        }
    }

    /// Run the handler, retrying transient failures in process a few times (seconds).
    pub async fn run<H: Handler>(&self, handler: &H, job: &Job) -> Outcome {
        let mut backoff = retry::in_process(self.in_process_retries);
        let mut throttles = 0;
        let mut busy_since: Option<Instant> = None;
        let mut job = job.clone();
        loop {
            let outcome = handler.handle(&job).await;
            job.tries += 1;
            let wait = match &outcome {
                Outcome::Busy => {
                    let since = *busy_since.get_or_insert_with(|| {
                        self.ledger_metrics
                            .claims_waited
                            .with_label_values(&[handler.queue().as_str()])
                            .inc();
                        Instant::now()
                    });
                    if since.elapsed() >= busy_wait_limit(self.ledger.config().claim_ttl) {
                        return outcome;
                    }
                    Duration::from_millis(fastrand::u64(200..600))
                }
                Outcome::LedgerUnavailable(detail) => {
                    tracing::warn!(message_id = %job.message_id, error = %detail, "ledger unreachable; waiting for it");
                    if !self.ledger.wait_connected(LEDGER_HOLD).await {
                        return outcome;
                    }
                    Duration::ZERO
                }
                // Trying again at once could repeat a create that did happen, or meet the
                // same 409: wait for the schedule, then look again.
                Outcome::Retry(failure) if failure.wait_for_schedule || failure.overloaded => {
                    return outcome;
                }
                Outcome::Retry(failure) => match (backoff.next(), failure.retry_after) {
                    (None, _) => return outcome,
                    (Some(_), Some(after)) if after > self.in_process_max_wait => return outcome,
                    (Some(delay), after) => delay.max(after.unwrap_or_default()),
                },
                Outcome::Throttle { until, .. }
                    if *until <= self.in_process_max_wait
                        && throttles < MAX_IN_PROCESS_THROTTLES =>
                {
                    throttles += 1;
                    *until
                }
                _ => return outcome,
            };
            tracing::debug!(message_id = %job.message_id, wait_ms = wait.as_millis() as u64, "retrying in process");
            tokio::time::sleep(wait).await;
        }
    }

    /// Make the outcome durable, then acknowledge. Returns the `outcome` metric label.
    ///
    /// `session` is the connection the delivery came on. Once it is gone the broker has
    /// already given the message to another consumer (or will), so this run publishes nothing
    /// more: no second lineage of retries or follow-ups (outcome `abandoned`). Should it go
    /// while an outcome is being published (on the publishing connection), the copy is marked
    /// settled in the ledger before the acknowledgement, and the redelivery is acknowledged
    /// without running.
    pub async fn settle(
        &self,
        delivery: &Delivery,
        session: &Arc<Session<WorkerChannels>>,
        job: &Job,
        queue: WorkQueue,
        outcome: Outcome,
    ) -> &'static str {
        let (reason, detail) = outcome.reason();
        let label = if session.is_failed() {
            tracing::warn!(message_id = %job.message_id, "the delivery's connection is gone; its redelivery runs the job again");
            "abandoned"
        } else {
            let out = Out { session, delivery };
            self.apply(&out, job, queue, outcome).await
        };
        self.record(job, queue, label, reason, detail).await;
        label
    }

    async fn apply(
        &self,
        out: &Out<'_>,
        job: &Job,
        queue: WorkQueue,
        outcome: Outcome,
    ) -> &'static str {
        let delivery = out.delivery;
        let result = match outcome {
            Outcome::Done(follow_up) => self.follow_up(out, job, follow_up).await.map(|()| "done"),
            Outcome::Duplicate(follow_up) => self
                .follow_up(out, job, follow_up)
                .await
                .map(|()| "duplicate"),
            Outcome::Reschedule(check) => self
                .follow_up(out, job, Some(check))
                .await
                .map(|()| "rescheduled"),
            Outcome::Ignored(why) => {
                tracing::info!(message_id = %job.message_id, why = why.describe(), reason = why.as_str(), "ignored");
                Ok("ignored")
            }
            Outcome::Expired(why) => {
                tracing::info!(message_id = %job.message_id, why, "stopped: expired");
                Ok("expired")
            }
            Outcome::Retry(failure) => {
                let pressure = Pressure {
                    retry_after: failure.retry_after,
                    overloaded: failure.overloaded,
                };
                match self.policy.next(job.attempt + 1, pressure, fastrand::f64()) {
                    NextStep::RetryAfter { delay, attempt } => self
                        .retry(out, job, queue, delay, attempt, &failure)
                        .await
                        .map(|()| "retried"),
                    NextStep::Exhausted => self
                        .dead(
                            out,
                            job,
                            queue,
                            DeadReason::RetriesExhausted,
                            &describe(&failure),
                        )
                        .await
                        .map(|()| "dead_lettered"),
                }
            }
            Outcome::Throttle { until, failure } => {
                let delay = self.policy.throttle(until);
                self.retry(out, job, queue, delay, job.attempt, &failure)
                    .await
                    .map(|()| "throttled")
            }
            Outcome::Dead { reason, detail } => self
                .dead(out, job, queue, reason, &detail)
                .await
                .map(|()| "dead_lettered"),
            // Still busy or still no ledger after waiting in process: park the delivery in the
            // shortest wait queue, attempt unchanged, so it neither spins nor holds a slot.
            outcome @ (Outcome::Busy | Outcome::LedgerUnavailable(_)) => {
                let (class, detail) = outcome.reason();
                let failure = Failure::new(
                    class.unwrap_or("deferred"),
                    detail.unwrap_or_default(),
                    None,
                );
                let delay = self.policy.throttle(self.policy.schedule[0]);
                self.retry(out, job, queue, delay, job.attempt, &failure)
                    .await
                    .map(|()| "deferred")
            }
        };
        match result {
            Ok(label) => {
                // Before the acknowledgement: should the delivery's connection go now, its
                // redelivery is acknowledged without running (no second lineage).
                if let Err(error) = self.ledger.end_run(&job.copy_key, true).await {
                    tracing::warn!(error = %error, "copy not recorded as settled");
                }
                if let Err(error) = delivery.ack(BasicAckOptions::default()).await {
                    // The broker redelivers it; every job is idempotent.
                    tracing::warn!(message_id = %job.message_id, error = %error, "ack failed; the delivery will come again");
                }
                label
            }
            Err(error) => {
                // Not at once, and longer each time the same message fails to be stored (a
                // queue that refuses it stays refusing a while): no job re-run every second.
                let pause = self.requeue_pauses.next(&job.message_id);
                tracing::warn!(message_id = %job.message_id, error = %error, pause_ms = pause.as_millis() as u64, "outcome not stored; giving the delivery back");
                tokio::time::sleep(pause).await;
                let _ = delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await;
                "requeued"
            }
        }
    }

    /// A job panicked: give the delivery back with `basic.reject(requeue)`, after a pause so
    /// that a bug does not spin. A reject counts toward the queue's `x-delivery-limit` on every
    /// RabbitMQ version (a `basic.nack` does not on 4.3+), so a message that panics every time
    /// is dead-lettered by the broker after the limit instead of looping.
    pub async fn give_back_panicked(&self, delivery: &Delivery, job: &Job) -> &'static str {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rejected = delivery
            .reject(lapin::options::BasicRejectOptions { requeue: true })
            .await;
        if let Err(error) = rejected {
            tracing::warn!(message_id = %job.message_id, error = %error, "reject failed; the delivery comes back when the channel closes");
        }
        "panicked"
    }

    /// Journal the outcome. Best effort: the delivery is settled already, and a journal that
    /// cannot be written must not hold up the work (the ledger's own guards do not need it).
    async fn record(
        &self,
        job: &Job,
        queue: WorkQueue,
        label: &'static str,
        reason: Option<&'static str>,
        detail: Option<String>,
    ) {
        let trail = job.trail();
        let entry = Entry {
            at_ms: 0,
            queue: queue.as_str().to_owned(),
            message_id: job.message_id.clone(),
            source: job.source.clone(),
            kind: job.kind.clone(),
            received_at_ms: job.received_at_ms,
            property_id: trail.property_id,
            application_id: trail.application_id,
            group_id: trail.group_id,
            attempt: job.attempt,
            outcome: label.to_owned(),
            reason: reason.map(str::to_owned),
            detail: detail.map(|mut d| {
                d.truncate(1000);
                d
            }),
            file_name: trail.file_name,
        };
        if let Err(error) = self.ledger.journal(&entry).await {
            tracing::warn!(message_id = %job.message_id, error = %error, "outcome not journaled");
        }
    }

    async fn follow_up(
        &self,
        out: &Out<'_>,
        job: &Job,
        follow_up: Option<FollowUp>,
    ) -> Result<(), PublishError> {
        let Some(f) = follow_up else { return Ok(()) };
        let tier = self.topology.tier_for(f.queue, f.delay);
        let (_, properties) = envelope::fresh(envelope::Fresh {
            source: "worker",
            kind: Some(f.kind),
            content_type: "application/json",
            trace: job.traceparent.as_deref(),
        });
        let properties = properties.with_expiration(millis(f.delay));
        out.publish(
            self,
            Outgoing {
                exchange: "",
                routing_key: &tier.queue,
                body: &f.body,
                properties,
            },
        )
        .await
    }

    async fn retry(
        &self,
        out: &Out<'_>,
        job: &Job,
        queue: WorkQueue,
        delay: Duration,
        attempt: u32,
        failure: &Failure,
    ) -> Result<(), PublishError> {
        let delivery = out.delivery;
        let tier = self.topology.tier_for(queue, delay);
        let detail = describe(failure);
        tracing::warn!(
            message_id = %job.message_id, attempt, class = failure.class,
            delay_ms = delay.as_millis() as u64, wait_queue = %tier.queue, "retrying later"
        );
        let properties = envelope::copy_of(&delivery.properties, &[], |headers| {
            headers.insert(
                h::ATTEMPT.into(),
                AMQPValue::LongLongInt(i64::from(attempt)),
            );
            if !headers.contains_key(h::FIRST_ERROR) {
                headers.insert(h::FIRST_ERROR.into(), text(&detail));
            }
            headers.insert(h::LAST_ERROR.into(), text(&detail));
            mark_redelivered(headers, job);
        })
        .with_expiration(millis(delay));
        out.publish(
            self,
            Outgoing {
                exchange: "",
                routing_key: &tier.queue,
                body: &delivery.data,
                properties,
            },
        )
        .await
    }

    async fn dead(
        &self,
        out: &Out<'_>,
        job: &Job,
        queue: WorkQueue,
        reason: DeadReason,
        detail: &str,
    ) -> Result<(), PublishError> {
        let delivery = out.delivery;
        tracing::warn!(reason = reason.as_str(), detail, "dead-lettered");
        let properties = envelope::copy_of(&delivery.properties, &[], |headers| {
            // This attempt failed too: a dead letter counts every failed attempt.
            headers.insert(
                h::ATTEMPT.into(),
                AMQPValue::LongLongInt(i64::from(job.attempt + 1)),
            );
            headers.insert(h::DEAD_REASON.into(), text(reason.as_str()));
            if !headers.contains_key(h::FIRST_ERROR) {
                headers.insert(h::FIRST_ERROR.into(), text(detail));
            }
            headers.insert(h::LAST_ERROR.into(), text(detail));
            mark_redelivered(headers, job);
        });
        let dead = self.topology.dead_queue(queue);
        out.publish(
            self,
            Outgoing {
                exchange: "",
                routing_key: &dead,
                body: &delivery.data,
                properties,
            },
        )
        .await
    }
}

/// Where a delivery's outcome goes: the delivery, and the session (connection) it came on.
struct Out<'a> {
    session: &'a Arc<Session<WorkerChannels>>,
    delivery: &'a Delivery,
}

impl Out<'_> {
    /// Publish on the publishing connection, unless the delivery's own connection is gone
    /// (then nothing: one lineage). While the publishing connection is down, wait for it as
    /// long as a confirm may take. A message returned as unroutable means a queue of the
    /// topology is missing (an operator deleted a wait queue, say): declare the topology again
    /// and publish once more.
    async fn publish(&self, settler: &Settler, message: Outgoing<'_>) -> Result<(), PublishError> {
        let again = Outgoing {
            exchange: message.exchange,
            routing_key: message.routing_key,
            body: message.body,
            properties: message.properties.clone(),
        };
        let publish = |message| {
            settler.publisher.publish_when_connected(
                message,
                PUBLISH_CONNECTION_WAIT,
                self.session.failed(),
            )
        };
        if self.session.is_failed() {
            return Err(PublishError::NotConnected);
        }
        match publish(message).await {
            // A return the batch could not put on one message may have been this one.
            Err(error @ (PublishError::Returned { .. } | PublishError::UnattributedReturn)) => {
                tracing::warn!(
                    queue = again.routing_key,
                    error = %error,
                    "outcome returned unroutable; declaring the topology again"
                );
                let session = settler
                    .publisher
                    .session()
                    .ok_or(PublishError::NotConnected)?;
                let channel = session
                    .connection()
                    .create_channel()
                    .await
                    .map_err(PublishError::Channel)?;
                let declared = settler.topology.declare(&channel).await;
                let _ = channel.close(200, "topology declared".into()).await;
                declared.map_err(PublishError::Channel)?;
                if self.session.is_failed() {
                    return Err(PublishError::NotConnected);
                }
                publish(again).await
            }
            other => other,
        }
    }
}

fn describe(failure: &Failure) -> String {
    let mut detail = format!("{}: {}", failure.class, failure.detail);
    detail.truncate(1000);
    detail
}

fn millis(d: Duration) -> ShortString {
    d.as_millis().max(1).to_string().into()
}

/// A copy of a redelivered delivery says so (`x-redelivered`): the run the broker took the
/// message from may have done its work without publishing its follow-ups, and the copy's job
/// must know that as the redelivery's would have.
fn mark_redelivered(headers: &mut FieldTable, job: &Job) {
    if job.redelivered {
        headers.insert(h::REDELIVERED.into(), AMQPValue::Boolean(true));
    }
}
