//! The confirmed publisher: a message counts as stored only when the broker acks it and did
//! not return it.
//!
//! All concurrent publishers share a pool of confirm-mode channels of the supervisor's
//! connection, opened once per connection; nobody opens a channel per message. Messages are
//! persistent and `mandatory`: an unroutable message comes back as `basic.return` before the
//! ack, and lapin reports that as an ack carrying the returned message, which is a failure
//! here.
//!
//! Each channel has a task of its own that publishes in batches: it takes the messages waiting
//! (at most `AMQP_PUBLISH_BATCH`), publishes them back to back, awaits every one of their
//! confirms, answers each caller, and only then takes the next batch. Under load the broker
//! confirms a batch with a few `multiple` acks instead of one ack per message; with no load a
//! batch is one message and nothing waits for anything else.
//!
//! lapin hands a `basic.return` to whichever confirm of the channel it resolves next (in a
//! `multiple` ack, in no particular order), so the confirm a return comes with does not say
//! which message came back. The returned message itself does: every message is told apart by
//! its `message_id`, and since a batch is alone on its channel until all of its confirms are
//! in, every return of the batch has arrived with one of the batch's confirms. A message of
//! the batch whose id came back is `Returned`, whichever confirm carried it; a return that
//! names no message of the batch (no id, an id the batch does not hold) fails every message
//! of the batch that was not otherwise refused, so a returned message is never counted as
//! stored. Two messages of one batch with the same id both fail when that id comes back.
//!
//! A publish waits for its batch to be taken, first come first served, bounded by its own
//! deadline (`publish_wait`): a burst larger than the pool queues, and a publish not taken in
//! time fails with [`PublishError::NoChannel`] without touching the connection. The confirm
//! deadline starts only once the message is sent, and only a confirm that is overdue fails the
//! session: one a caller awaited past the confirm timeout, or one a channel's batch still
//! awaits past it when a publish finds no channel (its callers gone, nobody else would
//! notice). Once sent, a message is awaited by its channel's task even when the caller gives
//! up or goes away (an HTTP client disconnecting): the channel takes no other batch until the
//! broker has answered for it. A publish whose caller goes away before it was sent is not
//! sent.

use super::supervisor::{Session, SessionWatch};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use prometheus::Histogram;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

/// A message to publish. `properties` should carry `message_id`, `content_type`,
/// `timestamp` and headers; the publisher makes it persistent.
#[derive(Debug)]
pub struct Outgoing<'a> {
    /// Exchange name (`""` for the default exchange).
    pub exchange: &'a str,
    /// Routing key (a queue name on the default exchange).
    pub routing_key: &'a str,
    /// The body, published byte for byte.
    pub body: &'a [u8],
    /// AMQP properties.
    pub properties: BasicProperties,
}

/// Why a publish did not count as stored.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No connection to the broker right now.
    #[error("not connected to the broker")]
    NotConnected,
    /// The broker answered `basic.nack`.
    #[error("the broker refused the message (nack)")]
    Nacked,
    /// The broker returned the message: no queue is bound for the routing key.
    #[error("the broker returned the message: {reply_code} {reply_text}")]
    Returned {
        /// AMQP reply code (312 NO_ROUTE).
        reply_code: u16,
        /// AMQP reply text.
        reply_text: String,
    },
    /// The broker blocks publishing (resource alarm). The message was not confirmed; if it had
    /// been sent before the alarm was announced, it may still be stored when the alarm lifts.
    #[error("the broker is blocking publishers (memory or disk alarm)")]
    Blocked,
    /// No confirm within the configured time.
    #[error("no confirm from the broker within {0:?}")]
    Timeout(Duration),
    /// Every publish channel stayed busy for the whole deadline; nothing was sent.
    #[error("no free publish channel within {0:?}")]
    NoChannel(Duration),
    /// The broker returned a message of the same batch that could not be told apart from this
    /// one (no `message_id`, or one the batch does not hold): this one may have been returned.
    #[error("the broker returned a message of the same batch that cannot be told apart")]
    UnattributedReturn,
    /// The channel or connection failed.
    #[error("channel error: {0}")]
    Channel(#[source] lapin::Error),
}

/// The confirm-mode channels of one connection and the tasks that publish on them.
#[derive(Debug)]
pub struct PublishChannels {
    /// Messages waiting for a channel's task, first come first served.
    waiting: mpsc::UnboundedSender<Job>,
    /// Per channel: since when its batch has awaited the broker (`None`: idle).
    busy_since: Arc<Vec<std::sync::Mutex<Option<Instant>>>>,
    /// Ends the channels' tasks when the pool is dropped (a new connection has a new pool).
    _stop: DropGuard,
}

/// One message waiting to be published, with the way back to its caller.
struct Job {
    /// The message, until it is sent or cancelled.
    slot: Arc<Slot>,
    /// Told when the message is sent: the confirm deadline starts.
    sent: oneshot::Sender<()>,
    /// The broker's answer for this message.
    answer: oneshot::Sender<Result<(), PublishError>>,
}

/// A message shared by its caller and the channel task that may send it: whichever moves the
/// state from [`PENDING`] first decides. A cancelled message's body is dropped at once, so a
/// queue of cancelled jobs (channels stuck under a resource alarm) holds no bodies.
struct Slot {
    state: AtomicU8,
    message: std::sync::Mutex<Option<Message>>,
}

/// What goes on the wire.
struct Message {
    exchange: String,
    routing_key: String,
    body: Vec<u8>,
    properties: BasicProperties,
}

impl Slot {
    /// The message, now marked sent; `None` when its caller cancelled it first.
    fn take_to_send(&self) -> Option<Message> {
        self.state
            .compare_exchange(PENDING, SENT, Ordering::SeqCst, Ordering::SeqCst)
            .ok()?;
        self.message
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Cancel the message if it has not been sent; true when it was cancelled now.
    fn cancel_unsent(&self) -> bool {
        let cancelled = self
            .state
            .compare_exchange(PENDING, CANCELLED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        if cancelled {
            drop(
                self.message
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take(),
            );
        }
        cancelled
    }
}

impl PublishChannels {
    /// Open `count` channels in confirm mode, each publishing at most `batch` messages at a
    /// time; every batch's size is observed in `sizes`.
    pub async fn open(
        connection: &Connection,
        count: usize,
        batch: usize,
        sizes: Histogram,
    ) -> Result<Self, lapin::Error> {
        let mut channels = Vec::with_capacity(count);
        for _ in 0..count.max(1) {
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            channels.push(channel);
        }
        let (waiting, jobs) = mpsc::unbounded_channel();
        let jobs = Arc::new(Mutex::new(jobs));
        let stop = CancellationToken::new();
        let busy_since: Arc<Vec<_>> = Arc::new(
            channels
                .iter()
                .map(|_| std::sync::Mutex::new(None))
                .collect(),
        );
        for (index, channel) in channels.into_iter().enumerate() {
            tokio::spawn(publish_batches(
                channel,
                Lane {
                    jobs: jobs.clone(),
                    batch: batch.max(1),
                    sizes: sizes.clone(),
                    stop: stop.clone(),
                    busy_since: busy_since.clone(),
                    index,
                },
            ));
        }
        Ok(Self {
            waiting,
            busy_since,
            _stop: stop.drop_guard(),
        })
    }

    /// True when some channel's batch has awaited the broker for longer than `limit`: a
    /// confirm is owed and late, whether or not anybody still waits for it.
    fn overdue(&self, limit: Duration) -> bool {
        self.busy_since.iter().any(|since| {
            since
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|since| since.elapsed() > limit)
        })
    }
}

/// What a channel's task works with.
struct Lane {
    jobs: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    batch: usize,
    sizes: Histogram,
    stop: CancellationToken,
    busy_since: Arc<Vec<std::sync::Mutex<Option<Instant>>>>,
    index: usize,
}

impl Lane {
    fn set_busy(&self, since: Option<Instant>) {
        *self.busy_since[self.index]
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = since;
    }
}

impl AsRef<PublishChannels> for PublishChannels {
    fn as_ref(&self) -> &PublishChannels {
        self
    }
}

/// A channel's task: take the waiting messages (at most `batch`), publish them, await every
/// confirm, answer, and start again.
async fn publish_batches(channel: Channel, lane: Lane) {
    let Lane {
        jobs,
        batch: most,
        sizes,
        stop,
        ..
    } = &lane;
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    loop {
        let taken = {
            let mut jobs = tokio::select! {
                jobs = jobs.lock() => jobs,
                _ = stop.cancelled() => return,
            };
            let first = tokio::select! {
                job = jobs.recv() => job,
                _ = stop.cancelled() => None,
            };
            let Some(first) = first else { return };
            let mut taken = vec![first];
            while taken.len() < *most {
                match jobs.try_recv() {
                    Ok(job) => taken.push(job),
                    Err(_) => break,
                }
            }
            taken
        };
        // The batch: what is still to send (a message whose caller went away, or gave up,
        // before now is not sent).
        let mut batch = Vec::with_capacity(taken.len());
        for job in taken {
            if let Some(message) = job.slot.take_to_send() {
                let _ = job.sent.send(());
                batch.push((message, job.answer));
            }
        }
        if batch.is_empty() {
            continue;
        }
        sizes.observe(batch.len() as f64);
        lane.set_busy(Some(Instant::now()));
        let confirms = async {
            // Every message is handed to the connection before any confirm is awaited.
            let published = futures_util::future::join_all(batch.iter().map(|(message, _)| {
                channel.basic_publish(
                    message.exchange.as_str().into(),
                    message.routing_key.as_str().into(),
                    options,
                    &message.body,
                    message.properties.clone(),
                )
            }))
            .await;
            let mut confirmations = Vec::with_capacity(published.len());
            for confirm in published {
                confirmations.push(match confirm {
                    Ok(confirm) => confirm.await.map(Confirmed::from),
                    Err(error) => Err(error),
                });
            }
            confirmations
        };
        // The pool is dropped once nobody publishes on its connection any more: a connection
        // that went quiet without closing must not keep this task waiting for ever.
        let confirmations = tokio::select! {
            confirmations = confirms => confirmations,
            _ = stop.cancelled() => return,
        };
        let ids: Vec<Option<ShortString>> = batch
            .iter()
            .map(|(message, _)| message.properties.message_id().clone())
            .collect();
        lane.set_busy(None);
        let answers = attribute(&ids, confirmations);
        for ((_, answer), result) in batch.into_iter().zip(answers) {
            let _ = answer.send(result);
        }
    }
}

/// A confirm as the attribution needs it.
#[derive(Debug)]
struct Confirmed {
    /// `basic.ack` (false: `basic.nack`, or no confirm at all).
    acked: bool,
    /// The returned message lapin handed over with this confirm: its `message_id`, reply code
    /// and reply text. It may be another message's.
    returned: Option<Returned>,
}

/// A message the broker returned.
#[derive(Debug, Clone)]
struct Returned {
    message_id: Option<ShortString>,
    reply_code: u16,
    reply_text: String,
}

impl From<Confirmation> for Confirmed {
    fn from(confirmation: Confirmation) -> Self {
        let (acked, message) = match confirmation {
            Confirmation::Ack(message) => (true, message),
            Confirmation::Nack(message) => (false, message),
            Confirmation::NotRequested => (false, None),
        };
        Self {
            acked,
            returned: message.map(|m| Returned {
                message_id: m.delivery.properties.message_id().clone(),
                reply_code: m.reply_code,
                reply_text: m.reply_text.to_string(),
            }),
        }
    }
}

/// Each message's outcome, from the confirms of its batch, with every returned message put
/// on the message it names (see the module's documentation).
fn attribute(
    ids: &[Option<ShortString>],
    confirmations: Vec<lapin::Result<Confirmed>>,
) -> Vec<Result<(), PublishError>> {
    let returned: Vec<Returned> = confirmations
        .iter()
        .filter_map(|c| c.as_ref().ok().and_then(|c| c.returned.clone()))
        .collect();
    let unattributed = returned
        .iter()
        .any(|r| r.message_id.is_none() || !ids.contains(&r.message_id));
    ids.iter()
        .zip(confirmations)
        .map(|(id, confirmed)| {
            let confirmed = confirmed.map_err(PublishError::Channel)?;
            if let Some(own) = returned
                .iter()
                .find(|r| id.is_some() && r.message_id == *id)
            {
                return Err(PublishError::Returned {
                    reply_code: own.reply_code,
                    reply_text: own.reply_text.clone(),
                });
            }
            if unattributed {
                return Err(PublishError::UnattributedReturn);
            }
            if confirmed.acked {
                Ok(())
            } else {
                Err(PublishError::Nacked)
            }
        })
        .collect()
}

/// What a publish does while the broker blocks the connection (resource alarm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhileBlocked {
    /// Fail at once with [`PublishError::Blocked`]: a caller with someone waiting (a webhook
    /// sender) answers "retry later" instead of holding the request. RabbitMQ announces the
    /// alarm only once the connection publishes into it, so the message that brought the
    /// announcement has been sent: it is left to finish on its channel (which stays taken
    /// until its confirm) and may be stored when the alarm lifts, although it was refused.
    Refuse,
    /// Wait until the alarm lifts, however long: a background job keeps its delivery
    /// unacknowledged meanwhile rather than giving it back and spending a delivery. The
    /// confirm timeout counts only time spent unblocked.
    Wait,
}

const PENDING: u8 = 0;
const SENT: u8 = 1;
const CANCELLED: u8 = 2;

/// Cancels the publish on drop if it has not been sent.
struct CancelUnsent(Arc<Slot>);

impl Drop for CancelUnsent {
    fn drop(&mut self) {
        self.0.cancel_unsent();
    }
}

/// Publishes on whatever session the supervisor currently holds.
#[derive(Debug)]
pub struct Publisher<T> {
    sessions: SessionWatch<T>,
    confirm_timeout: Duration,
    publish_wait: Duration,
    while_blocked: WhileBlocked,
}

impl<T> Clone for Publisher<T> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
            confirm_timeout: self.confirm_timeout,
            publish_wait: self.publish_wait,
            while_blocked: self.while_blocked,
        }
    }
}

impl<T: AsRef<PublishChannels> + Send + Sync + 'static> Publisher<T> {
    /// A publisher over the supervisor's sessions that refuses to publish while blocked and
    /// waits for a channel as long as for a confirm.
    pub fn new(sessions: SessionWatch<T>, confirm_timeout: Duration) -> Self {
        Self {
            sessions,
            confirm_timeout,
            publish_wait: confirm_timeout,
            while_blocked: WhileBlocked::Refuse,
        }
    }

    /// The same publisher with another policy for a blocked connection.
    pub fn while_blocked(mut self, policy: WhileBlocked) -> Self {
        self.while_blocked = policy;
        self
    }

    /// The same publisher waiting at most `wait` for a channel to take a message before
    /// failing with [`PublishError::NoChannel`].
    pub fn publish_wait(mut self, wait: Duration) -> Self {
        self.publish_wait = wait;
        self
    }

    /// True while a session is up.
    pub fn is_connected(&self) -> bool {
        self.sessions
            .borrow()
            .as_ref()
            .is_some_and(|s| !s.is_failed())
    }

    /// The current session, if one is up.
    pub fn session(&self) -> Option<Arc<Session<T>>> {
        self.sessions.borrow().clone().filter(|s| !s.is_failed())
    }

    /// True while the current session is blocked by a resource alarm.
    pub fn is_blocked(&self) -> bool {
        self.sessions
            .borrow()
            .as_ref()
            .is_some_and(|s| s.is_blocked())
    }

    /// Resolves once the current session (if any) is not blocked.
    pub async fn unblocked(&self) {
        let session = self.sessions.borrow().clone();
        if let Some(session) = session {
            session.unblocked().await;
        }
    }

    /// [`Publisher::publish`], waiting at most `wait` for a session while there is none, and
    /// giving up as soon as `give_up` resolves (the worker: its delivery's connection is gone).
    pub async fn publish_when_connected(
        &self,
        message: Outgoing<'_>,
        wait: Duration,
        give_up: impl Future<Output = ()>,
    ) -> Result<(), PublishError> {
        let mut sessions = self.sessions.clone();
        let up = async {
            sessions
                .wait_for(|s| s.as_ref().is_some_and(|s| !s.is_failed()))
                .await
                .ok()
                .and_then(|s| s.clone())
        };
        let session = tokio::select! {
            session = tokio::time::timeout(wait, up) => session.ok().flatten(),
            _ = give_up => None,
        };
        let session = session.ok_or(PublishError::NotConnected)?;
        self.publish_on(session, message).await
    }

    /// Publish and wait for the broker's confirm (at most the confirm timeout, not counting
    /// time under a resource alarm with [`WhileBlocked::Wait`]).
    pub async fn publish(&self, message: Outgoing<'_>) -> Result<(), PublishError> {
        let session = self
            .sessions
            .borrow()
            .clone()
            .filter(|s| !s.is_failed())
            .ok_or(PublishError::NotConnected)?;
        self.publish_on(session, message).await
    }

    /// [`Publisher::publish`] on one given session, never on a later one.
    pub async fn publish_on(
        &self,
        session: Arc<Session<T>>,
        message: Outgoing<'_>,
    ) -> Result<(), PublishError> {
        if session.is_failed() {
            return Err(PublishError::NotConnected);
        }
        let mut blocked = session.blocked_changes();
        if *blocked.borrow_and_update() && self.while_blocked == WhileBlocked::Refuse {
            return Err(PublishError::Blocked);
        }
        let slot = Arc::new(Slot {
            state: AtomicU8::new(PENDING),
            message: std::sync::Mutex::new(Some(Message {
                exchange: message.exchange.to_owned(),
                routing_key: message.routing_key.to_owned(),
                body: message.body.to_vec(),
                properties: message.properties.with_delivery_mode(2),
            })),
        });
        // The caller going away before the message is sent cancels it; after, it finishes.
        let _cancel_unsent = CancelUnsent(slot.clone());
        let (sent_tx, mut sent_rx) = oneshot::channel::<()>();
        let (answer_tx, mut confirmed) = oneshot::channel();
        let job = Job {
            slot: slot.clone(),
            sent: sent_tx,
            answer: answer_tx,
        };
        if session.value.as_ref().waiting.send(job).is_err() {
            return Err(PublishError::NotConnected);
        }
        let joined = |answer: Result<Result<(), PublishError>, oneshot::error::RecvError>| {
            answer.unwrap_or(Err(PublishError::NotConnected))
        };
        // Until the message is sent: wait for a channel, at most the publish wait.
        let mut deadline = Instant::now() + self.publish_wait;
        let (mut is_sent, mut sent_told) = (false, false);
        let answer = loop {
            if *blocked.borrow_and_update() {
                match self.while_blocked {
                    WhileBlocked::Refuse => {
                        // Not sent yet: cancelled, it sends nothing. Sent (its publish may be
                        // what made the broker announce the alarm): it finishes on its own,
                        // its channel taken until the broker answers or the connection goes.
                        slot.cancel_unsent();
                        return Err(PublishError::Blocked);
                    }
                    WhileBlocked::Wait => {
                        tracing::info!("publisher waits for the broker's resource alarm to lift");
                        tokio::select! {
                            biased;
                            answer = &mut confirmed => break Some(joined(answer)),
                            _ = blocked.wait_for(|b| !*b) => {}
                            _ = session.failed() => return Err(PublishError::NotConnected),
                        }
                        // The timeout starts again once the alarm has lifted.
                        deadline = Instant::now()
                            + if is_sent {
                                self.confirm_timeout
                            } else {
                                self.publish_wait
                            };
                        continue;
                    }
                }
            }
            tokio::select! {
                biased;
                // The confirm first: an ack that is ready counts, whatever else is.
                answer = &mut confirmed => break Some(joined(answer)),
                // Sent or not, the publish cannot be answered for on a failed session; a sent
                // message may still be stored, and its sender's retry is then a duplicate.
                _ = session.failed() => return Err(PublishError::NotConnected),
                sent = &mut sent_rx, if !sent_told => {
                    sent_told = true;
                    if sent.is_ok() && !is_sent {
                        is_sent = true;
                        // The confirm deadline starts when the message is sent.
                        deadline = Instant::now() + self.confirm_timeout;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if slot.cancel_unsent() {
                        // Never sent. Usually the pool was busy and the connection is fine;
                        // but a channel whose batch is owed a confirm past the confirm timeout
                        // (its callers gone, so none of them noticed) means the connection is
                        // not answering: start over on a fresh one.
                        if !session.is_blocked()
                            && session.value.as_ref().overdue(self.confirm_timeout)
                        {
                            session.fail("a publish channel's confirms are overdue");
                        }
                        return Err(PublishError::NoChannel(self.publish_wait));
                    }
                    if is_sent {
                        break None;
                    }
                    // Sent just now: its confirm gets the whole deadline.
                    is_sent = true;
                    deadline = Instant::now() + self.confirm_timeout;
                }
                _ = blocked.changed() => {}
            }
        };
        match answer {
            None => {
                // A confirm the broker owes and did not give in time: something is wrong with
                // the connection; start over on a fresh one. (The channel's task keeps waiting
                // for the confirm, or the end of the connection, before its next batch.)
                session.fail("no publisher confirm in time");
                Err(PublishError::Timeout(self.confirm_timeout))
            }
            Some(Err(PublishError::Channel(error))) => {
                session.fail("publish failed on the channel");
                Err(PublishError::Channel(error))
            }
            Some(answer) => answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Option<ShortString> {
        Some(s.into())
    }

    fn ack(returned: Option<&str>) -> lapin::Result<Confirmed> {
        Ok(Confirmed {
            acked: true,
            returned: returned.map(|r| Returned {
                message_id: (!r.is_empty()).then(|| r.into()),
                reply_code: 312,
                reply_text: "NO_ROUTE".into(),
            }),
        })
    }

    #[test]
    fn a_return_handed_to_a_neighbour_fails_the_message_it_names_and_only_that_one() {
        // "b" came back, but lapin put it on "a"'s confirm.
        let ids = [id("a"), id("b"), id("c")];
        let outcomes = attribute(&ids, vec![ack(Some("b")), ack(None), ack(None)]);
        assert!(outcomes[0].is_ok(), "{outcomes:?}");
        assert!(
            matches!(
                outcomes[1],
                Err(PublishError::Returned {
                    reply_code: 312,
                    ..
                })
            ),
            "{outcomes:?}"
        );
        assert!(outcomes[2].is_ok(), "{outcomes:?}");
    }

    #[test]
    fn a_return_that_names_no_message_of_the_batch_fails_every_message_of_it() {
        for stranger in ["", "z"] {
            let ids = [id("a"), id("b")];
            let outcomes = attribute(&ids, vec![ack(None), ack(Some(stranger))]);
            assert!(
                outcomes
                    .iter()
                    .all(|o| matches!(o, Err(PublishError::UnattributedReturn))),
                "{stranger:?}: {outcomes:?}"
            );
        }
        // A message without an id is never matched, even by a return without one.
        let outcomes = attribute(&[None, id("b")], vec![ack(Some("")), ack(None)]);
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Err(PublishError::UnattributedReturn))),
            "{outcomes:?}"
        );
    }

    #[test]
    fn two_messages_with_the_returned_id_both_fail() {
        let ids = [id("a"), id("a"), id("b")];
        let outcomes = attribute(&ids, vec![ack(None), ack(Some("a")), ack(None)]);
        assert!(matches!(outcomes[0], Err(PublishError::Returned { .. })));
        assert!(matches!(outcomes[1], Err(PublishError::Returned { .. })));
        assert!(outcomes[2].is_ok(), "{outcomes:?}");
    }

    fn slot() -> Slot {
        Slot {
            state: AtomicU8::new(PENDING),
            message: std::sync::Mutex::new(Some(Message {
                exchange: String::new(),
                routing_key: "q".into(),
                body: vec![0; 1024],
                properties: BasicProperties::default(),
            })),
        }
    }

    #[test]
    fn a_message_is_either_sent_or_cancelled_and_a_cancelled_one_keeps_no_body() {
        let cancelled = slot();
        assert!(cancelled.cancel_unsent());
        assert!(
            cancelled.message.lock().expect("lock").is_none(),
            "body kept"
        );
        assert!(cancelled.take_to_send().is_none(), "sent after its cancel");
        assert!(!cancelled.cancel_unsent(), "cancelled twice");

        let sent = slot();
        assert_eq!(sent.take_to_send().expect("sent").body.len(), 1024);
        assert!(!sent.cancel_unsent(), "cancelled after it was sent");
        assert!(sent.take_to_send().is_none(), "sent twice");
    }

    #[test]
    fn nacks_and_channel_errors_stay_with_their_own_message() {
        let ids = [id("a"), id("b"), id("c")];
        let nack = Ok(Confirmed {
            acked: false,
            returned: None,
        });
        let error = Err(lapin::Error::from(lapin::ErrorKind::InvalidChannelState(
            lapin::ChannelState::Closed,
            "basic.publish",
        )));
        let outcomes = attribute(&ids, vec![ack(None), nack, error]);
        assert!(outcomes[0].is_ok(), "{outcomes:?}");
        assert!(matches!(outcomes[1], Err(PublishError::Nacked)));
        assert!(matches!(outcomes[2], Err(PublishError::Channel(_))));
    }
}
