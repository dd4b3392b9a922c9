//! The RabbitMQ topology of DESIGN.md, declared idempotently by both binaries at start-up.
//!
//! ```text
//! fleet.events (topic) ── entrata.# ──▶ screenings ──(x-delivery-limit)──▶ screenings.dead
//!                      └─ payscore.# ─▶ reports    ──(x-delivery-limit)──▶ reports.dead
//! <queue>.retry.<delay> (TTL) ──expired──▶ <queue>
//! ```
//!
//! Delayed retries use one wait queue per delay tier with a per-queue TTL: a per-message TTL
//! only expires at the head of a queue, so mixing delays in one queue would hold short ones
//! behind long ones (<https://www.rabbitmq.com/docs/ttl#per-message-ttl-caveats>). A message
//! may still carry an `expiration` shorter than its tier's TTL (jitter); it then waits at
//! most for the messages ahead of it, which belong to the same tier.
//! Dead-lettering from wait queues and work queues is at-least-once
//! (<https://www.rabbitmq.com/docs/quorum-queues#dead-lettering>).

use super::duration_label;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Connection, ExchangeKind};
use std::time::Duration;

/// A wait queue's TTL is its tier's delay times this, so that jitter (at most ±25 %) never
/// makes a message outlive its queue's TTL.
const TIER_TTL_HEADROOM: f64 = 1.25;

/// Delivery limit of the dead-letter and wait queues: high enough never to drop a dead letter
/// that operators inspect again and again. Nothing consumes a wait queue; the explicit limit
/// keeps RabbitMQ 4.x's default of 20 off it should an operator look at its messages.
const PARKED_DELIVERY_LIMIT: i64 = 1_000_000;

/// The two work queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkQueue {
    /// Entrata deliveries: one screening group per application.
    Screenings,
    /// Payscore deliveries and report-check jobs: one upload per report.
    Reports,
}

impl WorkQueue {
    /// Both work queues.
    pub const ALL: [WorkQueue; 2] = [WorkQueue::Screenings, WorkQueue::Reports];

    /// The unprefixed name, also the `queue` label in metrics.
    pub const fn as_str(self) -> &'static str {
        match self {
            WorkQueue::Screenings => "screenings",
            WorkQueue::Reports => "reports",
        }
    }

    fn binding_key(self) -> &'static str {
        match self {
            WorkQueue::Screenings => "entrata.#",
            WorkQueue::Reports => "payscore.#",
        }
    }
}

/// One delayed-retry wait queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayTier {
    /// The nominal delay.
    pub delay: Duration,
    /// The queue's full name, e.g. `t1.screenings.retry.30s`.
    pub queue: String,
}

/// Every name the fleet uses, with the prefix applied.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    delivery_limit: u32,
    delays: Vec<Duration>,
}

impl Topology {
    /// The topology for a prefix, delivery limit and set of delay tiers.
    pub fn new(prefix: &str, delivery_limit: u32, delays: &[Duration]) -> Self {
        let mut delays = delays.to_vec();
        delays.sort();
        delays.dedup();
        Self {
            prefix: prefix.to_owned(),
            delivery_limit,
            delays,
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The topic exchange ingest publishes to.
    pub fn exchange(&self) -> String {
        format!("{}fleet.events", self.prefix)
    }

    /// A work queue's name.
    pub fn queue(&self, queue: WorkQueue) -> String {
        format!("{}{}", self.prefix, queue.as_str())
    }

    /// A work queue's dead-letter queue.
    pub fn dead_queue(&self, queue: WorkQueue) -> String {
        format!("{}{}.dead", self.prefix, queue.as_str())
    }

    /// The wait queues of a work queue, shortest delay first.
    pub fn delay_tiers(&self, queue: WorkQueue) -> Vec<DelayTier> {
        self.delays
            .iter()
            .map(|delay| DelayTier {
                delay: *delay,
                queue: format!(
                    "{}{}.retry.{}",
                    self.prefix,
                    queue.as_str(),
                    duration_label(*delay)
                ),
            })
            .collect()
    }

    /// The wait queue for a wanted delay: the shortest tier whose TTL (its delay plus the
    /// headroom for jitter) covers it, else the longest. A jittered 36 s retry goes to the
    /// 30 s tier (TTL 37.5 s), where it expires on time: in the 2 min tier it would wait
    /// behind longer messages, since a per-message TTL only expires at the head of a queue.
    pub fn tier_for(&self, queue: WorkQueue, wanted: Duration) -> DelayTier {
        let tiers = self.delay_tiers(queue);
        tiers
            .iter()
            .find(|t| t.delay.mul_f64(TIER_TTL_HEADROOM) >= wanted)
            .or(tiers.last())
            .cloned()
            .expect("at least one delay tier is configured")
    }

    /// The longest delay a wait queue holds a message (its TTL).
    pub fn max_delay(&self) -> Duration {
        self.delays
            .last()
            .map(|d| d.mul_f64(TIER_TTL_HEADROOM))
            .unwrap_or_default()
    }

    /// Every queue name, for tests and tools that clean up after themselves.
    pub fn all_queues(&self) -> Vec<String> {
        WorkQueue::ALL
            .iter()
            .flat_map(|q| {
                let mut names = vec![self.queue(*q), self.dead_queue(*q)];
                names.extend(self.delay_tiers(*q).into_iter().map(|t| t.queue));
                names
            })
            .collect()
    }

    /// Every queue with the arguments it is declared with, dead-letter queues first (a work
    /// queue dead-letters into one).
    pub fn queue_arguments(&self) -> Vec<(String, FieldTable)> {
        let mut queues = Vec::new();
        for queue in WorkQueue::ALL {
            // Dead letters are looked at (replay dry runs) and put back: on RabbitMQ 4.x every
            // return counts towards the quorum default delivery limit of 20, and a dead-letter
            // queue has nowhere to send a message over its limit, so it would be dropped.
            let mut dead_args = quorum();
            dead_args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(PARKED_DELIVERY_LIMIT),
            );
            queues.push((self.dead_queue(queue), dead_args));
            let mut args = dead_letter_to(&self.dead_queue(queue));
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(i64::from(self.delivery_limit)),
            );
            queues.push((self.queue(queue), args));
            for tier in self.delay_tiers(queue) {
                let mut args = dead_letter_to(&self.queue(queue));
                let ttl = tier.delay.as_millis() as f64 * TIER_TTL_HEADROOM;
                args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl as i64));
                args.insert(
                    "x-delivery-limit".into(),
                    AMQPValue::LongLongInt(PARKED_DELIVERY_LIMIT),
                );
                queues.push((tier.queue, args));
            }
        }
        queues
    }

    /// Declare the exchange, queues and bindings. Safe to run concurrently and repeatedly; a
    /// queue that exists with other arguments makes the broker close the channel with
    /// `PRECONDITION_FAILED`, which is reported as the error.
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        channel
            .exchange_declare(
                self.exchange().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        for (queue, args) in self.queue_arguments() {
            channel.queue_declare(queue.into(), DURABLE, args).await?;
        }
        for queue in WorkQueue::ALL {
            channel
                .queue_bind(
                    self.queue(queue).into(),
                    self.exchange().into(),
                    queue.binding_key().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Check, without creating anything, that the exchange and every queue exist with the
    /// arguments this configuration declares: one `(name, problem)` per object that is missing
    /// or differs. A queue that exists is declared again with the expected arguments on a
    /// channel of its own, which the broker accepts only when they are equivalent (and then
    /// changes nothing).
    pub async fn check(
        &self,
        connection: &Connection,
    ) -> Result<Vec<(String, String)>, lapin::Error> {
        let mut problems = Vec::new();
        let passive = ExchangeDeclareOptions {
            passive: true,
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        let channel = connection.create_channel().await?;
        if channel
            .exchange_declare(
                self.exchange().into(),
                ExchangeKind::Topic,
                passive,
                FieldTable::default(),
            )
            .await
            .is_err()
        {
            problems.push((self.exchange(), "missing".to_owned()));
        }
        let _ = channel.close(200, "checked".into()).await;
        for (queue, args) in self.queue_arguments() {
            let channel = connection.create_channel().await?;
            let exists = channel
                .queue_declare(
                    queue.clone().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..DURABLE
                    },
                    FieldTable::default(),
                )
                .await
                .is_ok();
            if !exists {
                problems.push((queue, "missing".to_owned()));
                continue;
            }
            let _ = channel.close(200, "checked".into()).await;
            let channel = connection.create_channel().await?;
            if let Err(error) = channel
                .queue_declare(queue.clone().into(), DURABLE, args)
                .await
            {
                problems.push((queue, format!("exists with other arguments ({error})")));
            } else {
                let _ = channel.close(200, "checked".into()).await;
            }
        }
        Ok(problems)
    }
}

/// Every queue of the topology is durable.
const DURABLE: QueueDeclareOptions = QueueDeclareOptions {
    passive: false,
    durable: true,
    exclusive: false,
    auto_delete: false,
    nowait: false,
};

fn quorum() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), string("quorum"));
    args
}

/// Quorum queue arguments that dead-letter, at least once, through the default exchange.
fn dead_letter_to(target: &str) -> FieldTable {
    let mut args = quorum();
    args.insert("x-dead-letter-exchange".into(), string(""));
    args.insert("x-dead-letter-routing-key".into(), string(target));
    args.insert("x-dead-letter-strategy".into(), string("at-least-once"));
    // At-least-once dead-lettering silently falls back to at-most-once without this.
    args.insert("x-overflow".into(), string("reject-publish"));
    args
}

fn string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        Topology::new(
            "t1.",
            20,
            &[
                Duration::from_secs(30),
                Duration::from_secs(300),
                Duration::from_secs(30),
            ],
        )
    }

    #[test]
    fn names_take_the_prefix_verbatim() {
        let t = topology();
        assert_eq!(t.exchange(), "t1.fleet.events");
        assert_eq!(t.queue(WorkQueue::Screenings), "t1.screenings");
        assert_eq!(t.dead_queue(WorkQueue::Reports), "t1.reports.dead");
        let tiers: Vec<_> = t
            .delay_tiers(WorkQueue::Screenings)
            .into_iter()
            .map(|t| t.queue)
            .collect();
        assert_eq!(tiers, ["t1.screenings.retry.30s", "t1.screenings.retry.5m"]);
        assert_eq!(t.all_queues().len(), 8);
    }

    #[test]
    fn a_wanted_delay_goes_to_the_shortest_tier_whose_ttl_covers_it() {
        let t = topology();
        let pick = |s| {
            t.tier_for(WorkQueue::Reports, Duration::from_secs(s))
                .delay
                .as_secs()
        };
        assert_eq!(pick(1), 30);
        assert_eq!(pick(24), 30, "30 s jittered down");
        assert_eq!(pick(36), 30, "30 s jittered up stays in its tier");
        assert_eq!(pick(37), 30);
        assert_eq!(pick(38), 300, "beyond the 30 s tier's TTL");
        assert_eq!(pick(10_000), 300);
    }
}
