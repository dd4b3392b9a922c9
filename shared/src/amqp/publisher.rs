//! The confirmed publisher: a message counts as stored only when the broker acks it and did
//! not return it.
//!
//! All concurrent publishers share a pool of confirm-mode channels of the supervisor's
//! connection, opened once per connection; nobody opens a channel per message. Each caller
//! awaits its own confirm, so confirms are awaited concurrently across the pool
//! (<https://www.rabbitmq.com/docs/confirms#publisher-confirms-latency>). Messages are
//! persistent and `mandatory`: an unroutable message comes back as `basic.return` before the
//! ack, and lapin reports that as an ack carrying the returned message, which is a failure
//! here.
//!
//! A channel carries one unconfirmed message at a time. lapin hands a `basic.return` to
//! whichever confirm of the channel resolves next (in a `multiple` ack, in no particular
//! order), so with several messages in flight on one channel a returned message could be
//! reported on its neighbour and itself count as stored. With one at a time, a return is
//! always the waiting caller's own; throughput comes from the size of the pool
//! (`AMQP_PUBLISH_CHANNELS`).
//!
//! A publish waits for the first channel that is free (first come, first served), bounded by
//! its own deadline: a burst larger than the pool queues, and a publish that finds no channel
//! in time fails with [`PublishError::NoChannel`] without touching the connection. The confirm
//! deadline starts only once the message is sent, and only a confirm that was awaited and
//! missed fails the session. The publish and its confirm run in a task of their own: once a
//! message is sent, the channel stays taken until its confirm (or the end of the connection)
//! even when the caller gives up or goes away (an HTTP client disconnecting), so the channel
//! never carries two unconfirmed messages. A publish whose caller goes away before it was sent
//! is not sent.

use super::supervisor::{Session, SessionWatch};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;

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
    /// The channel or connection failed.
    #[error("channel error: {0}")]
    Channel(#[source] lapin::Error),
}

/// The confirm-mode channels of one connection.
#[derive(Debug)]
pub struct PublishChannels {
    channels: Vec<Channel>,
    /// Indexes of the channels nobody holds.
    free: Arc<Mutex<Vec<usize>>>,
    /// One permit per free channel: waiters are served first come, first served.
    permits: Arc<Semaphore>,
}

/// A channel held by one publish until dropped.
struct ChannelLease {
    index: usize,
    free: Arc<Mutex<Vec<usize>>>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for ChannelLease {
    fn drop(&mut self) {
        // The index goes back before the permit (a field, dropped after this) is released.
        self.free.lock().expect("not poisoned").push(self.index);
    }
}

impl PublishChannels {
    /// Open `count` channels in confirm mode.
    pub async fn open(connection: &Connection, count: usize) -> Result<Self, lapin::Error> {
        let mut channels = Vec::with_capacity(count);
        for _ in 0..count.max(1) {
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            channels.push(channel);
        }
        let n = channels.len();
        Ok(Self {
            channels,
            free: Arc::new(Mutex::new((0..n).rev().collect())),
            permits: Arc::new(Semaphore::new(n)),
        })
    }

    /// The first channel that is free, held until the lease drops.
    async fn acquire(&self) -> (Channel, ChannelLease) {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let index = self
            .free
            .lock()
            .expect("not poisoned")
            .pop()
            .expect("a permit guarantees a free channel");
        (
            self.channels[index].clone(),
            ChannelLease {
                index,
                free: self.free.clone(),
                _permit: permit,
            },
        )
    }
}

impl AsRef<PublishChannels> for PublishChannels {
    fn as_ref(&self) -> &PublishChannels {
        self
    }
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

/// Cancel a publish that has not been sent yet; true when it was cancelled (false: it was
/// sent, or cancelled before).
fn cancel_unsent(state: &AtomicU8) -> bool {
    state
        .compare_exchange(PENDING, CANCELLED, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
}

/// Cancels the publish on drop if it has not been sent.
struct CancelUnsent(Arc<AtomicU8>);

impl Drop for CancelUnsent {
    fn drop(&mut self) {
        cancel_unsent(&self.0);
    }
}

/// Publishes on whatever session the supervisor currently holds.
#[derive(Debug)]
pub struct Publisher<T> {
    sessions: SessionWatch<T>,
    confirm_timeout: Duration,
    while_blocked: WhileBlocked,
}

impl<T> Clone for Publisher<T> {
    fn clone(&self) -> Self {
        Self {
            sessions: self.sessions.clone(),
            confirm_timeout: self.confirm_timeout,
            while_blocked: self.while_blocked,
        }
    }
}

impl<T: AsRef<PublishChannels> + Send + Sync + 'static> Publisher<T> {
    /// A publisher over the supervisor's sessions that refuses to publish while blocked.
    pub fn new(sessions: SessionWatch<T>, confirm_timeout: Duration) -> Self {
        Self {
            sessions,
            confirm_timeout,
            while_blocked: WhileBlocked::Refuse,
        }
    }

    /// The same publisher with another policy for a blocked connection.
    pub fn while_blocked(mut self, policy: WhileBlocked) -> Self {
        self.while_blocked = policy;
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
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let properties = message.properties.with_delivery_mode(2);
        let ours = properties.message_id().clone();
        let state = Arc::new(AtomicU8::new(PENDING));
        // The caller going away before the message is sent cancels it; after, it finishes.
        let _cancel_unsent = CancelUnsent(state.clone());
        let (sent_tx, mut sent_rx) = oneshot::channel::<()>();
        let mut confirmed = tokio::spawn({
            let session = session.clone();
            let state = state.clone();
            let exchange = message.exchange.to_owned();
            let routing_key = message.routing_key.to_owned();
            let body = message.body.to_vec();
            async move {
                let (channel, _lease) = session.value.as_ref().acquire().await;
                // A channel given up by a publish whose session failed may still have its
                // message unconfirmed: never put a second one on it.
                if session.is_failed() {
                    return Err(PublishError::NotConnected);
                }
                if state
                    .compare_exchange(PENDING, SENT, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
                {
                    return Err(PublishError::NotConnected);
                }
                let _ = sent_tx.send(());
                let publish = async {
                    channel
                        .basic_publish(
                            exchange.as_str().into(),
                            routing_key.as_str().into(),
                            options,
                            &body,
                            properties,
                        )
                        .await
                        .map_err(PublishError::Channel)?
                        .await
                        .map_err(PublishError::Channel)
                };
                // The lease is held until the confirm, or until the connection is gone.
                tokio::select! {
                    answer = publish => answer,
                    _ = session.failed() => Err(PublishError::NotConnected),
                }
            }
        });
        let joined = |result: Result<
            Result<Confirmation, PublishError>,
            tokio::task::JoinError,
        >| { result.unwrap_or(Err(PublishError::NotConnected)) };
        // Until the message is sent: wait for a free channel, at most the deadline.
        let mut deadline = Instant::now() + self.confirm_timeout;
        let mut is_sent = false;
        let answer = loop {
            if *blocked.borrow_and_update() {
                match self.while_blocked {
                    WhileBlocked::Refuse => {
                        // Not sent yet: cancelled, it sends nothing. Sent (its publish may be
                        // what made the broker announce the alarm): it finishes on its own,
                        // its channel taken until the broker answers or the connection goes.
                        cancel_unsent(&state);
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
                        deadline = Instant::now() + self.confirm_timeout;
                        continue;
                    }
                }
            }
            tokio::select! {
                biased;
                // The confirm first: an ack that is ready counts, whatever else is.
                answer = &mut confirmed => break Some(joined(answer)),
                sent = &mut sent_rx, if !is_sent => {
                    if sent.is_ok() {
                        is_sent = true;
                        // The confirm deadline starts when the message is sent.
                        deadline = Instant::now() + self.confirm_timeout;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if cancel_unsent(&state) {
                        // Never sent: the connection is fine, the pool was busy.
                        return Err(PublishError::NoChannel(self.confirm_timeout));
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
                // the connection; start over on a fresh one. (The channel stays taken by the
                // publish's task until the confirm or the end of the connection.)
                session.fail("no publisher confirm in time");
                Err(PublishError::Timeout(self.confirm_timeout))
            }
            Some(Err(PublishError::Channel(error))) => {
                session.fail("publish failed on the channel");
                Err(PublishError::Channel(error))
            }
            Some(Err(other)) => Err(other),
            Some(Ok(Confirmation::Ack(None))) => Ok(()),
            Some(Ok(Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)))) => {
                if ours.is_some() && *returned.delivery.properties.message_id() != ours {
                    // Cannot happen with one message in flight per channel; if it does, the
                    // channel's bookkeeping is not to be trusted any more.
                    session.fail("a returned message was reported on another message's confirm");
                }
                Err(PublishError::Returned {
                    reply_code: returned.reply_code,
                    reply_text: returned.reply_text.to_string(),
                })
            }
            Some(Ok(Confirmation::Nack(None) | Confirmation::NotRequested)) => {
                Err(PublishError::Nacked)
            }
        }
    }
}
