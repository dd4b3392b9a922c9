//! `journey`: drives a running fleet the way the local run shows it. It submits sample
//! applications in the Entrata simulator (plus one that must be dead-lettered) and prints each
//! application's journey as it happens:
//!
//! ```text
//! webhook accepted → screening group created → applicants finished → report uploaded
//! ```
//! A property on Payscore's v2 API shows its applicant group, the verifications asked of
//! each applicant, and every report (household income, each applicant's identity) uploaded.
//! It exits 0 when every journey ended as expected, 1 when one did not within `--timeout`.

use lapin::options::{BasicGetOptions, BasicNackOptions};
use lapin::{Connection, ConnectionProperties};
use sandbox::ControlClient;
use sandbox::entrata::submit::SubmitOptions;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: journey [--applications N] [--interval-ms MS] [--timeout-s S] \
[--payscore URL] [--entrata URL] [--amqp-url URL] [--prefix P] [--properties 100001,100002]";

struct Args {
    applications: usize,
    interval: Duration,
    timeout: Duration,
    payscore: String,
    entrata: String,
    amqp_url: String,
    prefix: String,
    properties: Vec<u64>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        applications: 4,
        interval: Duration::from_millis(500),
        timeout: Duration::from_secs(60),
        payscore: "http://127.0.0.1:18081".into(),
        entrata: "http://127.0.0.1:18082".into(),
        amqp_url: std::env::var("AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
        prefix: std::env::var("AMQP_PREFIX").unwrap_or_default(),
        properties: vec![100001, 100002, 100003, 100004],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag} takes a number"))
        };
        match flag.as_str() {
            "--applications" => a.applications = number(value()?)? as usize,
            "--interval-ms" => a.interval = Duration::from_millis(number(value()?)?),
            "--timeout-s" => a.timeout = Duration::from_secs(number(value()?)?),
            "--payscore" => a.payscore = value()?,
            "--entrata" => a.entrata = value()?,
            "--amqp-url" => a.amqp_url = value()?,
            "--prefix" => a.prefix = value()?,
            "--properties" => {
                a.properties = value()?
                    .split(',')
                    .map(|p| number(p.trim().to_owned()))
                    .collect::<Result<_, _>>()?
            }
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.properties.is_empty() {
        return Err("--properties needs at least one id".into());
    }
    Ok(a)
}

/// Where one application's journey stands.
#[derive(Default)]
struct Journey {
    property_id: u64,
    expect_dead: bool,
    group: Option<String>,
    finished: bool,
    uploaded: bool,
    dead: Option<String>,
    /// v2: how many reports the group has, once finished, and which uploads were shown.
    reports: usize,
    shown: usize,
}

impl Journey {
    fn ended(&self) -> bool {
        if self.expect_dead {
            self.dead.is_some()
        } else {
            self.uploaded
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("journey: {message}\n{USAGE}");
            return ExitCode::from(64);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("journey: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let control = ControlClient::new(&args.payscore, &args.entrata);
    let mut journeys: BTreeMap<u64, Journey> = BTreeMap::new();
    for i in 0..=args.applications {
        // The last one has no applicant email: it is dead-lettered on purpose.
        let expect_dead = i == args.applications;
        let property_id = args.properties[i % args.properties.len()];
        let options = SubmitOptions {
            property_id: Some(property_id),
            every_email: !expect_dead,
            without_email: expect_dead,
            ..Default::default()
        };
        let submitted = control.submit_application(&options).await?;
        let id = submitted.application_id;
        let accepted = submitted.webhook.as_ref().and_then(|w| w.status);
        let note = if expect_dead {
            "  (no applicant email: will be dead-lettered)"
        } else {
            ""
        };
        say(
            id,
            &format!(
                "submitted at property {property_id}; webhook answered {}{note}",
                status(accepted)
            ),
        );
        journeys.insert(
            id,
            Journey {
                property_id,
                expect_dead,
                ..Default::default()
            },
        );
        tokio::time::sleep(args.interval).await;
    }
    let deadline = Instant::now() + args.timeout;
    let started_ms = shared::envelope::now_millis() - 60_000;
    let dead_queue = format!("{}screenings.dead", args.prefix);
    while journeys.values().any(|j| !j.ended()) && Instant::now() < deadline {
        for (id, j) in journeys.iter_mut().filter(|(_, j)| !j.ended()) {
            let correlation = format!("entrata:{}:{id}", j.property_id);
            if let Some(g) = control
                .applicant_groups_by_correlation(&correlation)
                .await?
                .into_iter()
                .next()
            {
                applicant_group_step(&control, *id, j, &g).await?;
                continue;
            }
            let group = control
                .groups_by_correlation(&correlation)
                .await?
                .into_iter()
                .next();
            if let Some(g) = &group {
                if j.group.is_none() {
                    let n = g.screenings.len();
                    let plural = if n == 1 { "" } else { "s" };
                    say(
                        *id,
                        &format!(
                            "screening group created: {} ({n} applicant{plural} invited)",
                            g.id
                        ),
                    );
                    j.group = Some(g.id.clone());
                }
                if !j.finished && g.report_version > 0 {
                    say(*id, "applicants finished; Payscore report ready");
                    j.finished = true;
                }
            }
            if j.finished && !j.uploaded {
                let uploads = control.uploads(*id).await?;
                if let Some(u) = uploads.iter().find(|u| u.status == "Success") {
                    say(
                        *id,
                        &format!(
                            "report uploaded to the applicant file: {} ({} bytes, type {})",
                            u.file_name,
                            u.size,
                            u.lease_file_type.as_deref().unwrap_or("?")
                        ),
                    );
                    j.uploaded = true;
                }
            }
        }
        for (id, reason) in dead_letters(&args.amqp_url, &dead_queue, started_ms)
            .await
            .unwrap_or_default()
        {
            if let Some(j) = journeys.get_mut(&id).filter(|j| j.dead.is_none()) {
                say(
                    id,
                    &format!("dead-lettered in {dead_queue}: x-dead-reason={reason}"),
                );
                j.dead = Some(reason);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let unfinished: Vec<_> = journeys
        .iter()
        .filter(|(_, j)| !j.ended())
        .map(|(id, _)| *id)
        .collect();
    if unfinished.is_empty() {
        println!("every journey ended as expected");
        Ok(true)
    } else {
        println!(
            "journeys not finished within {:?}: {unfinished:?}",
            args.timeout
        );
        Ok(false)
    }
}

/// One look at a v2 applicant group's journey.
async fn applicant_group_step(
    control: &ControlClient,
    id: u64,
    j: &mut Journey,
    g: &sandbox::payscore::v2::views::ControlApplicantGroup,
) -> anyhow::Result<()> {
    if j.group.is_none() {
        // Every applicant is asked for the same verifications: the first one's say which.
        let kinds: Vec<&str> = g
            .applicants
            .first()
            .map(|a| a.verifications.iter().map(|v| v.kind.as_str()).collect())
            .unwrap_or_default();
        let n = g.applicants.len();
        let plural = if n == 1 { "" } else { "s" };
        say(
            id,
            &format!(
                "applicant group created (Payscore v2): {} ({n} applicant{plural} invited, each asked for {})",
                g.id,
                kinds.join(" and ")
            ),
        );
        j.group = Some(g.id.clone());
    }
    let completed = g.status == sandbox::payscore::model::Status::Completed;
    if !j.finished && completed && !g.reports.is_empty() {
        say(
            id,
            &format!(
                "applicants finished; {} Payscore reports ready",
                g.reports.len()
            ),
        );
        j.finished = true;
        j.reports = g.reports.len();
    }
    if j.finished && !j.uploaded {
        let done: Vec<_> = control
            .uploads(id)
            .await?
            .into_iter()
            .filter(|u| u.status == "Success")
            .collect();
        for u in done.iter().skip(j.shown) {
            say(
                id,
                &format!(
                    "report uploaded to the applicant file: {} ({} bytes, type {})",
                    u.file_name,
                    u.size,
                    u.lease_file_type.as_deref().unwrap_or("?")
                ),
            );
        }
        j.shown = done.len();
        j.uploaded = done.len() >= j.reports;
    }
    Ok(())
}

fn say(application_id: u64, what: &str) {
    println!("application {application_id}: {what}");
}

fn status(code: Option<u16>) -> String {
    code.map(|c| c.to_string())
        .unwrap_or_else(|| "nothing (is ingest running?)".into())
}

/// Peek at the dead-letter queue (every message is put back): application id
/// and reason of each received since `since_ms` (older ones belong to earlier runs).
async fn dead_letters(url: &str, queue: &str, since_ms: i64) -> anyhow::Result<Vec<(u64, String)>> {
    let connection = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let mut found = Vec::new();
    let mut put_back = Vec::new();
    for _ in 0..1000 {
        let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            break;
        };
        let body: serde_json::Value =
            serde_json::from_slice(&message.delivery.data).unwrap_or_default();
        let id = body["applicationId"]
            .as_u64()
            .or_else(|| body["applicationId"].as_str()?.parse().ok());
        let headers = message
            .delivery
            .properties
            .headers()
            .clone()
            .unwrap_or_default();
        let reason = match headers.inner().get("x-dead-reason") {
            Some(lapin::types::AMQPValue::LongString(s)) => {
                String::from_utf8_lossy(s.as_bytes()).into_owned()
            }
            _ => "delivery_limit".into(),
        };
        let received = match headers.inner().get("x-received-at") {
            Some(lapin::types::AMQPValue::LongLongInt(ms)) => *ms,
            _ => 0,
        };
        if let Some(id) = id.filter(|_| received >= since_ms) {
            found.push((id, reason));
        }
        put_back.push(message.delivery.acker);
    }
    for acker in put_back {
        acker
            .nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await?;
    }
    let _ = channel.close(200, "peeked".into()).await;
    let _ = connection.close(200, "peeked".into()).await;
    Ok(found)
}
