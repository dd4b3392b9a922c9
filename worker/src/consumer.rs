//! AMQP consumer mechanics, shared by every job and kept apart from business logic.
//!
//! Each work queue gets its own channel with `basic.qos(WORKER_PREFETCH)`, which bounds the
//! deliveries in flight per process. Each delivery runs in its own task; deliveries with the
//! same key (the Entrata application, the Payscore group) wait for each other, so one process
//! never works on the same application twice at once. A delivery is acknowledged only once its
//! outcome is durable (invariant 2): the follow-up, retry copy or dead letter it publishes has
//! been confirmed. If that publish fails, the delivery is given back to the broker instead.
//!
//! While the broker blocks publishing (a memory or disk alarm), no new job starts and jobs in
//! flight wait to publish their outcome; their deliveries stay unacknowledged and spend no
//! delivery attempt.
//!
//! While the ledger (PostgreSQL) is unreachable, likewise: no new job starts, and the
//! deliveries wait unacknowledged until it answers again.
//!
//! Shutdown: the consumers are cancelled, jobs in flight finish within the grace period, and
//! whatever is still unacknowledged when the connection closes is redelivered by the broker.

use crate::metrics::WorkerMetrics;
use crate::outcome::{Job, Outcome};
use crate::settle::{Begin, Settler};
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, Consumer};
use shared::amqp::{Session, WorkQueue};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// Longest wait for the broker to confirm a consumer's cancellation at shutdown.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(2);

/// A job handler: business logic only.
pub trait Handler: Send + Sync + 'static {
    /// The queue it consumes.
    fn queue(&self) -> WorkQueue;
    /// Deliveries with the same key never run at the same time in this process.
    fn key(&self, job: &Job) -> Option<String>;
    /// Do the work and say what happened.
    fn handle(&self, job: &Job) -> impl Future<Output = Outcome> + Send;
}

/// What the consuming connection's supervisor builds on each connection: one consumer per
/// queue. Outcomes are published on a second connection of their own (RabbitMQ advises
/// separate connections: under a resource alarm it stops reading a publishing connection, and
/// the acknowledgements on it would stall too).
#[derive(Debug)]
pub struct WorkerChannels {
    consumers: Mutex<Vec<(WorkQueue, Channel, Consumer)>>,
}

impl WorkerChannels {
    /// Start consuming `queues` (name and prefetch each).
    pub async fn open(
        connection: &Connection,
        queues: &[(WorkQueue, String, u16)],
    ) -> Result<Self, lapin::Error> {
        let mut consumers = Vec::new();
        for (queue, name, prefetch) in queues {
            let channel = connection.create_channel().await?;
            channel
                .basic_qos(*prefetch, BasicQosOptions::default())
                .await?;
            let consumer = channel
                .basic_consume(
                    name.as_str().into(),
                    format!("worker-{}-{}", queue.as_str(), uuid::Uuid::now_v7()).into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            consumers.push((*queue, channel, consumer));
        }
        Ok(Self {
            consumers: Mutex::new(consumers),
        })
    }

    fn take_consumer(&self, queue: WorkQueue) -> Option<(Channel, Consumer)> {
        let mut consumers = self.consumers.lock().expect("not poisoned");
        let index = consumers.iter().position(|(q, _, _)| *q == queue)?;
        let (_, channel, consumer) = consumers.swap_remove(index);
        Some((channel, consumer))
    }
}

/// Consume one queue on one session until the session fails or `stop` is cancelled.
/// `locks` outlive sessions: a delivery redelivered on a new connection waits for the same
/// application's job still running from the old one.
#[allow(clippy::too_many_arguments)]
pub async fn consume<H: Handler>(
    session: Arc<Session<WorkerChannels>>,
    handler: Arc<H>,
    locks: Arc<KeyedLocks>,
    settler: Arc<Settler>,
    metrics: WorkerMetrics,
    tracker: TaskTracker,
    stop: CancellationToken,
) {
    let queue = handler.queue();
    let Some((channel, mut consumer)) = session.value.take_consumer(queue) else {
        return;
    };
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => break,
            _ = session.failed() => return,
            next = consumer.next() => next,
        };
        let delivery = match next {
            Some(Ok(delivery)) => delivery,
            Some(Err(error)) => {
                session.fail(&format!("consumer error: {error}"));
                return;
            }
            None => {
                session.fail("consumer cancelled by the broker");
                return;
            }
        };
        // A resource alarm: whatever a job finishes it could not publish, so start none until
        // it lifts. This delivery and the prefetched ones wait unacknowledged, spending no
        // delivery attempt.
        if settler.publisher.is_blocked() {
            tracing::warn!(
                queue = queue.as_str(),
                "the broker blocks publishing: no new jobs until the alarm lifts"
            );
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = session.failed() => return,
                _ = settler.publisher.unblocked() => {}
            }
            if session.is_failed() {
                return;
            }
            tracing::info!(queue = queue.as_str(), "the alarm lifted: jobs start again");
        }
        // The ledger is unreachable: a job could do nothing but wait for it, so start none.
        // This delivery and the prefetched ones wait unacknowledged, spending no attempt.
        if !settler.ledger.is_connected() {
            tracing::warn!(
                queue = queue.as_str(),
                "the ledger is unreachable: no new jobs until it answers"
            );
            let mut connected = settler.ledger.connected();
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = session.failed() => return,
                _ = connected.wait_for(|c| *c) => {}
            }
            tracing::info!(
                queue = queue.as_str(),
                "the ledger answers again: jobs start again"
            );
        }
        let (handler, settler, metrics, locks, session) = (
            handler.clone(),
            settler.clone(),
            metrics.clone(),
            locks.clone(),
            session.clone(),
        );
        tracker.spawn(async move {
            process(delivery, &session, &*handler, &settler, &metrics, &locks).await;
        });
    }
    // Stop receiving; deliveries already here finish in their own tasks. Bounded: under a
    // resource alarm nothing can be written to the broker, and shutdown must not wait for it
    // (closing the connection cancels the consumer anyway).
    let cancel = channel.basic_cancel(consumer.tag(), BasicCancelOptions::default());
    let _ = tokio::time::timeout(CANCEL_TIMEOUT, cancel).await;
}

async fn process<H: Handler>(
    delivery: Delivery,
    session: &Arc<Session<WorkerChannels>>,
    handler: &H,
    settler: &Settler,
    metrics: &WorkerMetrics,
    locks: &KeyedLocks,
) {
    let queue = handler.queue().as_str();
    let in_flight = metrics.in_flight.with_label_values(&[queue]);
    in_flight.inc();
    let started = Instant::now();
    let job = job_of(&delivery);
    let span = tracing::info_span!(
        "job",
        queue,
        message_id = %job.message_id,
        trace_id = %job.trace_id
    );
    shared::telemetry::continue_trace(&span, job.traceparent.as_deref());
    let work = async {
        let outcome = match settler.begin(&job, queue).await {
            Begin::Run => caught(settler.run(handler, &job)).await,
            Begin::Stop(outcome) => Some(outcome),
            Begin::Settled => {
                tracing::info!(
                    "this copy's outcome was stored before; acknowledged without running"
                );
                let _ = delivery.ack(BasicAckOptions::default()).await;
                return "duplicate";
            }
        };
        let label = match outcome {
            Some(outcome) => {
                settler
                    .settle(&delivery, session, &job, handler.queue(), outcome)
                    .await
            }
            None => {
                tracing::error!("the job panicked; the delivery goes back to the broker");
                settler.give_back_panicked(&delivery, &job).await
            }
        };
        settler.end(&job, label).await;
        label
    }
    .instrument(span);
    let label = match handler.key(&job) {
        Some(key) => {
            let lock = locks.get(&key);
            let label = {
                let _guard = lock.lock().await;
                work.await
            };
            drop(lock);
            locks.release(&key);
            label
        }
        None => work.await,
    };
    metrics.jobs.with_label_values(&[queue, label]).inc();
    metrics
        .job_duration
        .with_label_values(&[queue])
        .observe(started.elapsed().as_secs_f64());
    in_flight.dec();
}

fn job_of(delivery: &Delivery) -> Job {
    let properties = &delivery.properties;
    let traceparent =
        shared::envelope::header_text(properties, shared::envelope::headers::TRACEPARENT);
    let message_id = properties
        .message_id()
        .as_ref()
        .map(|id| id.to_string())
        .unwrap_or_else(|| format!("tag-{}", delivery.delivery_tag));
    let header = |name: &str| {
        properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(name).cloned())
    };
    Job {
        copy_key: shared::envelope::copy_key(properties).unwrap_or_else(|| message_id.clone()),
        trace_id: traceparent
            .as_deref()
            .and_then(shared::envelope::trace_id)
            .unwrap_or_default(),
        traceparent,
        message_id,
        body: delivery.data.clone(),
        kind: properties.kind().as_ref().map(|k| k.to_string()),
        attempt: header(shared::envelope::headers::ATTEMPT)
            .and_then(|v| integer(&v))
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        received_at_ms: header(shared::envelope::headers::RECEIVED_AT).and_then(|v| integer(&v)),
        redelivered: delivery.redelivered
            || header(shared::envelope::headers::REDELIVERED)
                .is_some_and(|v| matches!(v, AMQPValue::Boolean(true))),
        replayed: header(shared::envelope::headers::REPLAYED_AT).is_some(),
        tries: 0,
        run_id: uuid::Uuid::now_v7().to_string(),
        source: header(shared::envelope::headers::SOURCE).and_then(|v| match v {
            AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            _ => None,
        }),
        trail: Default::default(),
    }
}

/// Run a job, catching a panic (`None`) so that its delivery can still be settled instead of
/// staying unacknowledged until the broker's consumer timeout closes the channel.
pub async fn caught<T>(job: impl Future<Output = T>) -> Option<T> {
    use futures_util::FutureExt;
    std::panic::AssertUnwindSafe(job).catch_unwind().await.ok()
}

/// Any AMQP integer as i64 (other clients may pick other widths).
pub fn integer(value: &AMQPValue) -> Option<i64> {
    match value {
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok()?.parse().ok(),
        _ => None,
    }
}

/// One async mutex per key, dropped when nobody holds or waits for it.
#[derive(Debug, Default)]
pub struct KeyedLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyedLocks {
    fn get(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .expect("not poisoned")
            .entry(key.to_owned())
            .or_default()
            .clone()
    }

    fn release(&self, key: &str) {
        let mut locks = self.locks.lock().expect("not poisoned");
        // Only the map holds it: nobody is waiting.
        if locks.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
            locks.remove(key);
        }
    }
}

/// Wait for jobs in flight, at most `grace`.
pub async fn drain(tracker: &TaskTracker, grace: Duration) -> bool {
    tracker.close();
    tokio::time::timeout(grace, tracker.wait()).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::caught;

    #[tokio::test]
    async fn a_panicking_job_is_caught_and_a_finished_one_passes_through() {
        assert_eq!(caught(async { 7 }).await, Some(7));
        let panicking = async {
            if std::hint::black_box(true) {
                panic!("a bug in a job");
            }
            7
        };
        assert_eq!(caught(panicking).await, None);
    }
}
