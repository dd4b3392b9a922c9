//! `worker replay`: move dead letters back into their work queue once the cause is fixed.
//!
//! ```text
//! worker replay --queue screenings [--reason no_applicant_email] [--limit 100] [--dry-run]
//! ```
//! Each replayed message keeps its body and `message_id`; `x-attempt`, `x-dead-reason` and the
//! broker's `x-death` headers are removed so it gets a fresh retry schedule, and
//! `x-replayed-at` records when. A message is removed from the dead-letter queue only after its
//! copy is confirmed in the work queue. Messages that do not match, and everything in a dry
//! run, go back to the dead-letter queue untouched. Only the messages
//! present when the replay starts are looked at.

use lapin::options::{BasicAckOptions, BasicGetOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties};
use shared::amqp::{AmqpConfig, WorkQueue};
use shared::envelope::{self, headers as h};
use std::collections::BTreeMap;

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayArgs {
    /// Which work queue's dead letters.
    pub queue: WorkQueue,
    /// Only messages with this `x-dead-reason` (`delivery_limit` for those without one).
    pub reason: Option<String>,
    /// At most this many messages are looked at.
    pub limit: usize,
    /// Only report what would be replayed.
    pub dry_run: bool,
}

/// Why the replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Bad arguments.
    #[error(
        "{0}\nusage: worker replay --queue screenings|reports [--reason R] [--limit N] [--dry-run]"
    )]
    Usage(String),
    /// Broker trouble.
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    /// The broker did not confirm a copy: the original stays in the dead-letter queue.
    #[error("the broker did not confirm the copy of {0}; it stays in the dead-letter queue")]
    NotConfirmed(String),
}

impl ReplayArgs {
    /// Parse the arguments after `replay`.
    pub fn parse(args: &[String]) -> Result<Self, ReplayError> {
        let mut queue = None;
        let mut reason = None;
        let mut limit = 1000;
        let mut dry_run = false;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| ReplayError::Usage(format!("{arg} needs a value")))
            };
            match arg.as_str() {
                "--queue" => {
                    queue = Some(match value()?.as_str() {
                        "screenings" => WorkQueue::Screenings,
                        "reports" => WorkQueue::Reports,
                        other => {
                            return Err(ReplayError::Usage(format!("unknown queue {other:?}")));
                        }
                    })
                }
                "--reason" => reason = Some(value()?),
                "--limit" => {
                    limit = value()?
                        .parse()
                        .map_err(|_| ReplayError::Usage("--limit takes a number".into()))?
                }
                "--dry-run" => dry_run = true,
                other => return Err(ReplayError::Usage(format!("unknown argument {other:?}"))),
            }
        }
        let queue = queue.ok_or_else(|| ReplayError::Usage("--queue is required".into()))?;
        Ok(Self {
            queue,
            reason,
            limit,
            dry_run,
        })
    }
}

/// What a replay did, by dead reason.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Replayed (or, in a dry run, that would be).
    pub replayed: BTreeMap<String, usize>,
    /// Left in place because they do not match `--reason`.
    pub skipped: BTreeMap<String, usize>,
}

/// Replay dead letters of one queue.
pub async fn replay(config: &AmqpConfig, args: &ReplayArgs) -> Result<ReplayReport, ReplayError> {
    let topology = config.topology();
    let name = shared::amqp::connection_name("worker-replay", &config.prefix);
    let connection = Connection::connect(
        config.url.expose(),
        ConnectionProperties::default().with_connection_name(name.into()),
    )
    .await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let (dead, work) = (topology.dead_queue(args.queue), topology.queue(args.queue));
    let mut report = ReplayReport::default();
    // Only what is there now: a replayed message that fails again comes back behind them,
    // and must not be replayed twice in one run.
    let present = channel
        .queue_declare(
            dead.as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?
        .message_count() as usize;
    // Held until the end, so the loop does not see them again; then explicitly requeued
    // (a nack, unlike a closed channel, does not count as a failed delivery on RabbitMQ 4.3+).
    let mut put_back = Vec::new();
    for _ in 0..args.limit.min(present) {
        let Some(message) = channel
            .basic_get(dead.as_str().into(), BasicGetOptions::default())
            .await?
        else {
            break;
        };
        let delivery = message.delivery;
        let headers = delivery.properties.headers().clone().unwrap_or_default();
        let reason = match headers.inner().get(h::DEAD_REASON) {
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            _ => "delivery_limit".to_owned(),
        };
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default();
        if args.reason.as_ref().is_some_and(|r| *r != reason) {
            *report.skipped.entry(reason).or_default() += 1;
            put_back.push(delivery.acker);
            continue;
        }
        *report.replayed.entry(reason.clone()).or_default() += 1;
        println!(
            "{} {message_id} {reason}",
            if args.dry_run {
                "would replay"
            } else {
                "replaying"
            }
        );
        if args.dry_run {
            put_back.push(delivery.acker);
            continue;
        }
        // A fresh schedule: no attempt count, no reason; a new copy id, so that the worker
        // does not take the copy for the one it dead-lettered.
        let properties = envelope::copy_of(
            &delivery.properties,
            &[h::ATTEMPT, h::DEAD_REASON],
            |headers| {
                headers.insert(
                    h::REPLAYED_AT.into(),
                    AMQPValue::LongLongInt(envelope::now_millis()),
                );
            },
        );
        let confirm = channel
            .basic_publish(
                "".into(),
                work.as_str().into(),
                lapin::options::BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &delivery.data,
                properties,
            )
            .await?
            .await?;
        if !matches!(confirm, lapin::Confirmation::Ack(None)) {
            return Err(ReplayError::NotConfirmed(message_id));
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
    }
    for acker in put_back {
        acker
            .nack(lapin::options::BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await?;
    }
    let _ = channel.close(200, "replay done".into()).await;
    let _ = connection.close(200, "replay done".into()).await;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn arguments_parse_with_defaults() {
        let a = ReplayArgs::parse(&args("--queue reports --dry-run")).expect("valid");
        assert_eq!(
            a,
            ReplayArgs {
                queue: WorkQueue::Reports,
                reason: None,
                limit: 1000,
                dry_run: true
            }
        );
        let a = ReplayArgs::parse(&args(
            "--queue screenings --reason no_applicant_email --limit 5",
        ))
        .expect("valid");
        assert_eq!(a.reason.as_deref(), Some("no_applicant_email"));
        assert_eq!(a.limit, 5);
        assert!(ReplayArgs::parse(&args("--limit 5")).is_err());
        assert!(ReplayArgs::parse(&args("--queue nope")).is_err());
        assert!(ReplayArgs::parse(&args("--queue reports --bogus")).is_err());
    }
}
