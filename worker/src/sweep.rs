//! `worker sweep`: the fallback for Entrata webhooks that never arrived.
//!
//! ```text
//! worker sweep [--since 2d] [--dry-run]
//! ```
//! For every property enabled in `PROPERTIES_FILE`, the sweep lists the applications in
//! Applicant status (`leases/getLeases` r2, `leaseStatusTypeIds=1`) whose application was
//! completed (`applicationCompletedOn`) on a UTC day within `--since` (today included), leaves
//! out every application the ledger knows (screened, being screened, or dead-lettered and
//! waiting for an operator), and queues one application event for each of the others, exactly
//! as ingest would have queued the webhook. The screening job does the rest. Each event is
//! confirmed by the broker before the next one is sent. A property that cannot be read is
//! reported and the others are still swept.
//!
//! A sweep may race the webhook it stands in for (the webhook is in a queue, or in a worker's
//! hands, and not yet in the ledger): both jobs claim the application in the ledger, so one
//! creates the group and the other finds it (`duplicate`). That is why a sweep can include
//! today and run as often as wanted (a Kubernetes CronJob, say).

use crate::clients::entrata::{EntrataClient, EntrataError};
use crate::clients::http::Downstream;
use crate::config::WorkerConfig;
use crate::json;
use crate::ledger::{Ledger, LedgerError, LedgerMetrics};
use crate::metrics::WorkerMetrics;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::{Map, Value, json};
use shared::envelope;
use std::time::Duration;

/// The default window: today and the two days before it.
const DEFAULT_SINCE: Duration = Duration::from_secs(2 * 86_400);

/// What to sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepArgs {
    /// Applications completed on a UTC day from `now - since` to today.
    pub since: Duration,
    /// Only report what would be queued.
    pub dry_run: bool,
}

/// Why the sweep stopped or was incomplete.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Bad arguments.
    #[error("{0}\nusage: worker sweep [--since 2d] [--dry-run]")]
    Usage(String),
    /// The ledger could not be read.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// Broker trouble.
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    /// The broker did not confirm an event.
    #[error("the broker did not confirm the event of application {0}")]
    NotConfirmed(String),
}

impl SweepArgs {
    /// Parse the arguments after `sweep`.
    pub fn parse(args: &[String]) -> Result<Self, SweepError> {
        let mut parsed = Self {
            since: DEFAULT_SINCE,
            dry_run: false,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--since" => {
                    let value = it
                        .next()
                        .ok_or_else(|| SweepError::Usage("--since needs a value".into()))?;
                    parsed.since = shared::amqp::parse_duration(value).ok_or_else(|| {
                        SweepError::Usage(format!(
                            "--since takes a duration such as 6h or 2d, not {value:?}"
                        ))
                    })?;
                }
                "--dry-run" => parsed.dry_run = true,
                // Kept so that existing CronJobs and scripts still run: today is always in.
                "--include-today" => {}
                other => return Err(SweepError::Usage(format!("unknown argument {other:?}"))),
            }
        }
        Ok(parsed)
    }
}

/// One application the sweep found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Entrata property id.
    pub property_id: String,
    /// Entrata application id.
    pub application_id: String,
    /// `applicationCompletedOn` as Entrata wrote it.
    pub completed_on: String,
}

/// What a sweep did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Applications queued (in a dry run: that would be).
    pub queued: Vec<Found>,
    /// Left out because the ledger knows them: screened, being screened, or dead-lettered and
    /// waiting for an operator.
    pub already_known: Vec<Found>,
    /// Properties that could not be read, with why (no applicant data).
    pub failed: Vec<(String, String)>,
}

/// Sweep every enabled property.
pub async fn sweep(config: &WorkerConfig, args: &SweepArgs) -> Result<SweepReport, SweepError> {
    let metrics = WorkerMetrics::register(&shared::metrics::Metrics::new());
    let entrata = EntrataClient::new(
        Downstream::new("entrata", config.entrata_timeout, metrics),
        config.entrata_base_url.clone(),
        config.entrata_api_key.clone(),
        config.property_cache_ttl,
    )
    .with_page_size(config.entrata_page_size);
    let now = envelope::now_millis();
    let first_day = day_number(envelope::utc_date(now - args.since.as_millis() as i64));
    let ledger = Ledger::new(config.ledger.clone(), LedgerMetrics::unregistered());
    let mut report = SweepReport::default();
    let mut properties: Vec<&str> = config.properties.ids().collect();
    properties.sort_unstable();
    for property_id in properties {
        let found: Vec<Found> = match applications(&entrata, property_id).await {
            Ok(found) => found
                .into_iter()
                .filter(|f| completed_day(&f.completed_on).is_some_and(|day| day >= first_day))
                .collect(),
            Err(error) => {
                report
                    .failed
                    .push((property_id.to_owned(), error.to_string()));
                continue;
            }
        };
        let ids: Vec<String> = found.iter().map(|f| f.application_id.clone()).collect();
        let known = ledger.known_applications(property_id, &ids).await?;
        let (already_known, unknown): (Vec<Found>, Vec<Found>) = found
            .into_iter()
            .partition(|f| known.contains(&f.application_id));
        report.already_known.extend(already_known);
        report.queued.extend(unknown);
    }
    if args.dry_run || report.queued.is_empty() {
        return Ok(report);
    }
    let amqp = &config.common.amqp;
    let name = shared::amqp::connection_name("worker-sweep", &amqp.prefix);
    let connection = Connection::connect(
        amqp.url.expose(),
        ConnectionProperties::default().with_connection_name(name.into()),
    )
    .await?;
    let topology = amqp.topology();
    // Idempotent, as at every worker start: a sweep before any worker ran finds the queues.
    let declare = connection.create_channel().await?;
    topology.declare(&declare).await?;
    let _ = declare.close(200, "topology declared".into()).await;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let exchange = amqp.topology().exchange();
    for found in &report.queued {
        let body = event_body(config, found);
        let confirm = channel
            .basic_publish(
                exchange.as_str().into(),
                envelope::ENTRATA_ROUTING_KEY.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &body,
                message_properties(),
            )
            .await?
            .await?;
        if !matches!(confirm, lapin::Confirmation::Ack(None)) {
            return Err(SweepError::NotConfirmed(found.application_id.clone()));
        }
    }
    let _ = channel.close(200, "sweep done".into()).await;
    let _ = connection.close(200, "sweep done".into()).await;
    Ok(report)
}

/// The applications in Applicant status at one property, with their completion dates.
async fn applications(
    entrata: &EntrataClient,
    property_id: &str,
) -> Result<Vec<Found>, EntrataError> {
    let mut found = Vec::new();
    // Every page: a large property has more applicant leases than one page holds. The visit
    // never breaks, so the flow it ends with says nothing.
    let _complete = entrata
        .each_page(
            "leases",
            "getLeases",
            Some("r2"),
            json!({ "propertyId": property_id, "leaseStatusTypeIds": "1" }),
            |page| json::wrapped(page, "leases", "lease").len(),
            |page| {
                collect_applications(property_id, page, &mut found);
                std::ops::ControlFlow::Continue(())
            },
        )
        .await?;
    Ok(found)
}

/// The applications of one page of `getLeases`, added to `found` once each.
fn collect_applications(property_id: &str, leases: &Value, found: &mut Vec<Found>) {
    for lease in json::wrapped(leases, "leases", "lease") {
        for interval in json::wrapped(lease, "leaseIntervals", "leaseInterval") {
            let applications = json::wrapped(interval, "applications", "application");
            let pairs: Vec<(Option<String>, Option<String>)> = if applications.is_empty() {
                vec![(
                    json::text(json::field(interval, "applicationId")),
                    json::text(json::field(interval, "applicationCompletedOn")),
                )]
            } else {
                applications
                    .iter()
                    .map(|a| {
                        (
                            json::text(json::field(a, "id")),
                            json::text(json::field(a, "applicationCompletedOn")),
                        )
                    })
                    .collect()
            };
            for (id, completed_on) in pairs {
                if let (Some(application_id), Some(completed_on)) = (id, completed_on)
                    && !found
                        .iter()
                        .any(|f: &Found| f.application_id == application_id)
                {
                    found.push(Found {
                        property_id: property_id.to_owned(),
                        application_id,
                        completed_on,
                    });
                }
            }
        }
    }
}

/// The day number of Entrata's `MM/DD/YYYY` (anything after the date is ignored); `None` for
/// an empty or unreadable date, i.e. an application not completed.
fn completed_day(text: &str) -> Option<i64> {
    let date = text.trim().get(..10)?;
    let mut parts = date.split('/');
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let year: i64 = parts.next()?.parse().ok()?;
    ((1..=12).contains(&month) && (1..=31).contains(&day)).then(|| day_number((year, month, day)))
}

/// A number that grows by one per calendar day (only compared, never shown).
fn day_number((year, month, day): (i64, u32, u32)) -> i64 {
    year * 372 + i64::from(month) * 31 + i64::from(day)
}

/// The event body, built along the first configured payload paths so that the screening job
/// reads it as it reads Entrata's webhooks.
fn event_body(config: &WorkerConfig, found: &Found) -> Vec<u8> {
    let event_type = config
        .trigger_events
        .iter()
        .find(|t| *t != "*")
        .cloned()
        .unwrap_or_else(|| "ApplicationSubmitted".to_owned());
    let paths = &config.payload_paths;
    let mut body = Value::Object(Map::new());
    for (path, value) in [
        (paths.property_id.first(), &found.property_id),
        (paths.application_id.first(), &found.application_id),
        (paths.event_type.first(), &event_type),
    ] {
        if let Some(path) = path {
            set_path(&mut body, path, Value::String(value.clone()));
        }
    }
    body["x-sweep"] = json!({ "applicationCompletedOn": found.completed_on });
    serde_json::to_vec(&body).expect("serialisable")
}

/// Set `value` at a dotted `path`, creating objects on the way.
fn set_path(target: &mut Value, path: &str, value: Value) {
    let mut node = target;
    let mut keys = path.split('.').peekable();
    while let Some(key) = keys.next() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let object = node.as_object_mut().expect("an object");
        if keys.peek().is_none() {
            object.insert(key.to_owned(), value);
            return;
        }
        node = object
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn message_properties() -> BasicProperties {
    envelope::fresh(envelope::Fresh {
        source: "sweep",
        kind: None,
        content_type: "application/json",
        trace: None,
    })
    .1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_parsed_and_bad_ones_named() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let parsed = SweepArgs::parse(&args(&["--since", "6h", "--dry-run"])).expect("valid");
        assert_eq!(parsed.since, Duration::from_secs(6 * 3600));
        assert!(parsed.dry_run);
        assert_eq!(SweepArgs::parse(&[]).expect("valid").since, DEFAULT_SINCE);
        let bad = SweepArgs::parse(&args(&["--since", "soon"])).expect_err("invalid");
        assert!(bad.to_string().contains("soon"));
    }

    #[test]
    fn completion_dates_are_read_as_entrata_writes_them() {
        assert_eq!(
            completed_day("11/22/2026"),
            Some(day_number((2026, 11, 22)))
        );
        assert_eq!(
            completed_day("11/22/2026 10:15:00.000000 MDT"),
            Some(day_number((2026, 11, 22)))
        );
        assert_eq!(completed_day(""), None);
        assert_eq!(completed_day("2026-11-22"), None);
        assert!(day_number((2026, 12, 1)) > day_number((2026, 11, 30)));
        assert!(day_number((2027, 1, 1)) > day_number((2026, 12, 31)));
    }

    #[test]
    fn the_body_follows_the_first_configured_paths() {
        let mut body = json!({});
        set_path(&mut body, "data.application.id", json!("7"));
        set_path(&mut body, "data.propertyId", json!("1"));
        assert_eq!(
            body,
            json!({ "data": { "application": { "id": "7" }, "propertyId": "1" } })
        );
    }
}
