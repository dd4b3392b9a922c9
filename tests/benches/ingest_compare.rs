//! Ingest measured against what bounds it and against what a team would otherwise deploy, side
//! by side in one run on the machine's RabbitMQ:
//!
//! - **broker**: the broker's own limit: lapin publishing 1 KiB persistent messages straight
//!   into the same quorum queue, 64 in flight on one confirm-mode channel, every confirm
//!   awaited;
//! - **broker, ingest's messages**: the same, each message with the properties ingest gives
//!   its messages (`shared::envelope::fresh`: `message_id`, content type, timestamp and the
//!   `x-source`, `x-received-at` and `traceparent` headers) and `mandatory`: the broker's limit
//!   for what ingest must send;
//! - **peer**: a minimal axum handler that publishes the body through lapin on one
//!   confirm-mode channel and answers 202 once the confirm is in (no auth, no metrics, no
//!   `mandatory`: it would count an unroutable message as stored);
//! - **ingest**: the real `ingest` binary (release) with its defaults, token authentication on
//!   (its publish channels take batches of up to `AMQP_PUBLISH_BATCH` messages); and beside it
//!   the same with `AMQP_PUBLISH_BATCH=1`, one unconfirmed message per channel, to show what
//!   the batches bring.
//!
//! The two HTTP servers get the same load from a minimal HTTP/1.1 client on a thread of its
//! own: 64 keep-alive connections, one request in flight each (closed loop). Subjects alternate
//! within each round, in an order that turns every round, so the machine's noise hits all
//! alike; a warm-up round is dropped; medians of the rounds and ratios are printed. Then ingest alone at fixed rates (open loop,
//! coordinated omission corrected: latency from when each request was due), and ingest's memory
//! and CPU. Markdown tables go to stdout.
//!
//! Run by hand: `deploy/local/bench.sh` (or `cargo build --release --bins` then
//! `cargo bench -p fleet-tests --bench ingest_compare`). About three minutes, 127.0.0.1 only.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use fleet_tests::TestBroker;
use fleet_tests::bench::{
    Samples, Target, closed_loop, cpu_seconds, median, memory_mib, on_own_thread, open_loop,
};
use fleet_tests::ingest::{TOKEN, default_env};
use fleet_tests::process::{Running, binary, free_port};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use shared::amqp::WorkQueue;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const IN_FLIGHT: usize = 64;
const ROUNDS: usize = 5;
const RUN: Duration = Duration::from_secs(3);
const RATES: [f64; 3] = [500.0, 1000.0, 2000.0];
const RATE_RUN: Duration = Duration::from_secs(5);
const RATE_ROUNDS: usize = 3;
const ENTRATA_ROUTING_KEY: &str = shared::envelope::ENTRATA_ROUTING_KEY;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("ingest_compare: run deploy/local/bench.sh");
        return;
    }
    let body = Bytes::from(one_kib_body());
    let broker = TestBroker::new("bench-compare").await;
    let topology = broker.topology();
    let queue = topology.queue(WorkQueue::Screenings);

    let ingest = start_ingest(&broker, &[]);
    let ingest_url = format!("http://127.0.0.1:{}", ingest.port);
    fleet_tests::worker::wait_until_ready(&ingest.admin_url).await;
    // The same ingest confirming every message on its own: what the batches bring.
    let single = start_ingest(&broker, &[("AMQP_PUBLISH_BATCH", "1")]);
    fleet_tests::worker::wait_until_ready(&single.admin_url).await;
    let (idle_rss, _) = memory_mib(ingest.process.id());

    let connection = Connection::connect(
        &fleet_tests::broker::amqp_url(),
        ConnectionProperties::default(),
    )
    .await
    .expect("connect");
    // The queue exists (ingest declared it); checking is enough.
    let check = connection.create_channel().await.expect("channel");
    check
        .queue_declare(
            queue.clone().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("ingest declared the queue");
    let peer_url = start_peer(&connection, topology.exchange()).await;

    let ingest_target = Target::post(
        &ingest_url,
        "/webhooks/entrata",
        &[("x-webhook-token", TOKEN)],
        &body,
        202,
    );
    let peer_target = Target::post(&peer_url, "/webhooks/entrata", &[], &body, 202);
    let single_target = Target::post(
        &format!("http://127.0.0.1:{}", single.port),
        "/webhooks/entrata",
        &[("x-webhook-token", TOKEN)],
        &body,
        202,
    );
    let mut single_runs: Vec<Samples> = Vec::new();

    let mut broker_rates = Vec::new();
    let mut peer_runs: Vec<Samples> = Vec::new();
    let mut ingest_runs: Vec<Samples> = Vec::new();
    let mut ingest_cpu = 0.0;
    // The broker's own CPU per message, per subject: what each way of publishing costs it.
    let beam = broker_pid();
    let (mut broker_cpu, mut broker_messages) = ([0.0f64; 5], [0.0f64; 5]);
    let mut enveloped_rates = Vec::new();
    for round in 0..=ROUNDS {
        // The order turns each round, so that what one run leaves behind (a purge, logs)
        // does not always land on the same subject.
        let (mut rate, mut peer, mut ingest_run, mut cpu) =
            (0.0, Samples::default(), Samples::default(), 0.0);
        let mut enveloped = 0.0;
        let mut single_run = Samples::default();
        for turn in 0..5 {
            let subject = (round + turn) % 5;
            let broker_before = beam.map(cpu_seconds).unwrap_or_default();
            match subject {
                0 => rate = broker_limit(&connection, &topology.exchange(), &body, false).await,
                1 => {
                    let target = peer_target.clone();
                    peer = on_own_thread(move || closed_loop(target, IN_FLIGHT, RUN)).await;
                }
                2 => {
                    let target = single_target.clone();
                    single_run = on_own_thread(move || closed_loop(target, IN_FLIGHT, RUN)).await;
                }
                3 => {
                    let cpu_before = cpu_seconds(ingest.process.id());
                    let target = ingest_target.clone();
                    ingest_run = on_own_thread(move || closed_loop(target, IN_FLIGHT, RUN)).await;
                    cpu = cpu_seconds(ingest.process.id()) - cpu_before;
                }
                _ => {
                    enveloped = broker_limit(&connection, &topology.exchange(), &body, true).await;
                }
            }
            if round > 0 {
                let messages = match subject {
                    0 => rate * RUN.as_secs_f64(),
                    1 => peer.ok as f64,
                    2 => single_run.ok as f64,
                    3 => ingest_run.ok as f64,
                    _ => enveloped * RUN.as_secs_f64(),
                };
                broker_cpu[subject] += beam.map(cpu_seconds).unwrap_or_default() - broker_before;
                broker_messages[subject] += messages;
            }
            purge(&connection, &queue).await;
        }
        eprintln!(
            "round {round}: broker {rate:.0}/s, peer {:.0}/s, ingest {:.0}/s",
            peer.per_second(),
            ingest_run.per_second()
        );
        if round > 0 {
            broker_rates.push(rate);
            enveloped_rates.push(enveloped);
            peer_runs.push(peer);
            ingest_cpu += cpu;
            ingest_runs.push(ingest_run);
            single_runs.push(single_run);
        }
    }

    let broker_median = median(broker_rates.clone());
    let per_second = |runs: &[Samples]| median(runs.iter().map(Samples::per_second).collect());
    let latency = |runs: &mut [Samples], p: f64| {
        median(runs.iter_mut().map(|r| r.percentile_ms(p)).collect())
    };
    let rates = |runs: &[Samples]| {
        runs.iter()
            .map(|r| format!("{:.0}", r.per_second()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (peer_median, ingest_median) = (per_second(&peer_runs), per_second(&ingest_runs));
    println!(
        "\n### Closed loop: {IN_FLIGHT} in flight, 1 KiB bodies, {ROUNDS} rounds of {} s\n",
        RUN.as_secs()
    );
    println!(
        "| subject | median /s | ratio to broker | median p50 ms | median p99 ms | rounds (/s) |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| broker: lapin straight to the queue | {broker_median:.0} | 1.00 | | | {} |",
        broker_rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let enveloped_median = median(enveloped_rates.clone());
    println!(
        "| broker, ingest's message properties and mandatory | {enveloped_median:.0} | {:.2} | | | {} |",
        enveloped_median / broker_median,
        enveloped_rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| peer: minimal axum + lapin handler | {peer_median:.0} | {:.2} | {:.1} | {:.1} | {} |",
        peer_median / broker_median,
        latency(&mut peer_runs, 0.5),
        latency(&mut peer_runs, 0.99),
        rates(&peer_runs)
    );
    println!(
        "| ingest (defaults, token auth) | {ingest_median:.0} | {:.2} | {:.1} | {:.1} | {} |",
        ingest_median / broker_median,
        latency(&mut ingest_runs, 0.5),
        latency(&mut ingest_runs, 0.99),
        rates(&ingest_runs)
    );
    let single_median = per_second(&single_runs);
    println!(
        "| ingest, AMQP_PUBLISH_BATCH=1 (one unconfirmed message per channel) | {single_median:.0} | {:.2} | {:.1} | {:.1} | {} |",
        single_median / broker_median,
        latency(&mut single_runs, 0.5),
        latency(&mut single_runs, 0.99),
        rates(&single_runs)
    );
    if beam.is_some() {
        println!("\n| subject | the broker's CPU s per 1,000 messages |\n|---|---|");
        for (subject, name) in [
            (0, "broker: lapin straight to the queue"),
            (4, "broker, ingest's message properties and mandatory"),
            (1, "peer: minimal axum + lapin handler"),
            (3, "ingest (defaults, token auth)"),
            (2, "ingest, AMQP_PUBLISH_BATCH=1"),
        ] {
            println!(
                "| {name} | {:.3} |",
                broker_cpu[subject] / broker_messages[subject].max(1.0) * 1000.0
            );
        }
    }
    println!(
        "\ningest's publish batches over every load above: {:.1} messages on average",
        mean_batch(&ingest.admin_url).await
    );
    println!(
        "\ningest / broker {:.2} (target ≥ 0.80); ingest / peer {:.2} (target ≥ 1.00); ingest / broker with ingest's messages {:.2}",
        ingest_median / broker_median,
        ingest_median / peer_median,
        ingest_median / enveloped_median
    );

    println!(
        "\n### Open loop: ingest at fixed rates, {RATE_ROUNDS} rounds of {} s each\n",
        RATE_RUN.as_secs()
    );
    println!(
        "| rate /s | answered /s | median p50 ms | median p99 ms | median p99.9 ms | non-202 |"
    );
    println!("|---|---|---|---|---|---|");
    for rate in RATES {
        let mut runs = Vec::new();
        for _ in 0..RATE_ROUNDS {
            let target = ingest_target.clone();
            runs.push(on_own_thread(move || open_loop(target, rate, IN_FLIGHT, RATE_RUN)).await);
            purge(&connection, &queue).await;
        }
        let other: u64 = runs.iter().map(|r| r.other).sum();
        println!(
            "| {rate:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {other} |",
            per_second(&runs),
            latency(&mut runs, 0.5),
            latency(&mut runs, 0.99),
            latency(&mut runs, 0.999)
        );
    }

    let (_, peak_rss) = memory_mib(ingest.process.id());
    let accepted: u64 = ingest_runs.iter().map(|r| r.ok).sum();
    println!("\n### Ingest's resources\n");
    println!(
        "| idle RSS MiB | peak RSS MiB (after every load above) | CPU s per 1,000 webhooks (closed loop) |"
    );
    println!("|---|---|---|");
    println!(
        "| {idle_rss:.1} | {peak_rss:.1} | {:.3} |",
        ingest_cpu / accepted as f64 * 1000.0
    );
    let _ = connection.close(200, "bench done".into()).await;
    drop(ingest);
    drop(single);
    drop(broker);
}

/// The mean of ingest's `amqp_publish_batch_messages`.
async fn mean_batch(admin_url: &str) -> f64 {
    use fleet_tests::worker::{metrics_text, sample_in};
    let text = metrics_text(admin_url).await;
    sample_in(&text, "amqp_publish_batch_messages_sum")
        / sample_in(&text, "amqp_publish_batch_messages_count").max(1.0)
}

/// A JSON application event padded to 1 KiB.
fn one_kib_body() -> Vec<u8> {
    let head = r#"{"webhookType":"oa.application.events","eventType":"ApplicationSubmitted","propertyId":100001,"applicationId":500016,"padding":""#;
    let mut body = head.as_bytes().to_vec();
    body.resize(1024 - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

struct IngestProcess {
    process: Running,
    port: u16,
    admin_url: String,
}

/// The release `ingest` binary with the test environment (its defaults otherwise), its log
/// discarded.
fn start_ingest(broker: &TestBroker, extra: &[(&str, &str)]) -> IngestProcess {
    let (port, admin) = (free_port(), free_port());
    let mut command = std::process::Command::new(binary("ingest"));
    command
        .envs(default_env(broker))
        .envs(extra.iter().copied())
        .env("INGEST_LISTEN", format!("127.0.0.1:{port}"))
        .env("ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    IngestProcess {
        process: Running(command.spawn().expect("start ingest")),
        port,
        admin_url: format!("http://127.0.0.1:{admin}"),
    }
}

/// Messages a second lapin gets confirmed with `IN_FLIGHT` publishes in flight on one channel.
async fn broker_limit(
    connection: &Connection,
    exchange: &str,
    body: &Bytes,
    as_ingest: bool,
) -> f64 {
    let channel = confirm_channel(connection).await;
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (channel, stop, count, exchange, body) = (
            channel.clone(),
            stop.clone(),
            count.clone(),
            exchange.to_owned(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let published = if as_ingest {
                    publish_as_ingest(&channel, &exchange, &body).await
                } else {
                    publish(&channel, &exchange, &body).await
                };
                if published {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let rate = count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    let _ = channel.close(200, "done".into()).await;
    rate
}

async fn confirm_channel(connection: &Connection) -> Channel {
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    channel
}

/// Publish one persistent message and wait for its confirm; true when acked.
async fn publish(channel: &Channel, exchange: &str, body: &[u8]) -> bool {
    let confirm = channel
        .basic_publish(
            exchange.into(),
            ENTRATA_ROUTING_KEY.into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default().with_delivery_mode(2),
        )
        .await;
    match confirm {
        Ok(confirm) => matches!(confirm.await, Ok(c) if c.is_ack()),
        Err(_) => false,
    }
}

/// Publish one message as ingest does (its properties, `mandatory`) and wait for its confirm;
/// true when acked and not returned.
async fn publish_as_ingest(channel: &Channel, exchange: &str, body: &[u8]) -> bool {
    let (_, properties) = shared::envelope::fresh(shared::envelope::Fresh {
        source: "entrata",
        kind: None,
        content_type: "application/json",
        trace: None,
    });
    let confirm = channel
        .basic_publish(
            exchange.into(),
            ENTRATA_ROUTING_KEY.into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            body,
            properties,
        )
        .await;
    match confirm {
        Ok(confirm) => matches!(confirm.await, Ok(lapin::Confirmation::Ack(None))),
        Err(_) => false,
    }
}

/// The hand-written alternative: an axum handler publishing through lapin, awaiting the
/// confirm. Returns its base URL.
async fn start_peer(connection: &Connection, exchange: String) -> String {
    #[derive(Clone)]
    struct Peer {
        channel: Channel,
        exchange: Arc<str>,
    }
    async fn webhook(State(peer): State<Peer>, body: Bytes) -> StatusCode {
        if publish(&peer.channel, &peer.exchange, &body).await {
            StatusCode::ACCEPTED
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
    let peer = Peer {
        channel: confirm_channel(connection).await,
        exchange: exchange.into(),
    };
    let app = axum::Router::new()
        .route("/webhooks/entrata", post(webhook))
        .with_state(peer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn purge(connection: &Connection, queue: &str) {
    let channel = connection.create_channel().await.expect("channel");
    let _ = channel.queue_purge(queue.into(), Default::default()).await;
    let _ = channel.close(200, "purged".into()).await;
}

/// The process listening on the broker's AMQP port (from `ss`), for its CPU time; `None` when it
/// cannot be found (a broker elsewhere, no `ss`).
fn broker_pid() -> Option<u32> {
    let url = fleet_tests::broker::amqp_url();
    let authority = url.split("://").nth(1)?.split('/').next()?;
    let host_port = authority.rsplit('@').next()?;
    let port = host_port.rsplit_once(':').map_or("5672", |(_, p)| p);
    let listing = std::process::Command::new("ss")
        .args(["-Hltnp", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&listing.stdout);
    let at = text.find("pid=")? + 4;
    text[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}
