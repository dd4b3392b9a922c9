//! Accepted deliveries: what lands in the queue, byte for byte, and under load.

use fleet_tests::TestBroker;
use fleet_tests::broker::header_text;
use fleet_tests::ingest::{IngestHandle, PASSWORD, USER, default_env, sign};
use lapin::types::AMQPValue;
use shared::amqp::WorkQueue;
use std::collections::HashSet;

fn header<'a>(m: &'a lapin::message::BasicGetMessage, key: &str) -> Option<&'a AMQPValue> {
    m.delivery.properties.headers().as_ref()?.inner().get(key)
}

fn header_str(m: &lapin::message::BasicGetMessage, key: &str) -> String {
    header_text(m, key).unwrap_or_else(|| panic!("header {key} is {:?}", header(m, key)))
}

#[tokio::test]
async fn an_entrata_delivery_with_basic_auth_is_queued_byte_for_byte() {
    let broker = TestBroker::new("entrata-basic").await;
    let ingest = IngestHandle::start_ready(&broker).await;
    // Deliberately odd bytes: whitespace, key order and unicode must survive untouched.
    let body = "{ \"eventType\":\"ApplicationSubmitted\",  \"propertyId\": 42,\n\"n\":\"Zoë\" }";
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/entrata", ingest.url))
        .basic_auth(USER, Some(PASSWORD))
        .header("content-type", "application/json")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 202);
    let answer: serde_json::Value = response.json().await.expect("json");
    let id = answer["id"].as_str().expect("id").to_owned();

    let queue = broker.topology().queue(WorkQueue::Screenings);
    let message = broker.get(&queue).await.expect("a message in screenings");
    assert_eq!(message.delivery.data, body.as_bytes());
    assert_eq!(message.delivery.routing_key.as_str(), "entrata.application");
    let p = &message.delivery.properties;
    assert_eq!(
        p.message_id().as_ref().map(|s| s.as_str()),
        Some(id.as_str())
    );
    assert_eq!(
        p.content_type().as_ref().map(|s| s.as_str()),
        Some("application/json")
    );
    assert_eq!(*p.delivery_mode(), Some(2));
    assert!(p.timestamp().is_some_and(|t| t > 1_600_000_000));
    assert_eq!(header_str(&message, "x-source"), "entrata");
    assert!(
        matches!(header(&message, "x-received-at"), Some(AMQPValue::LongLongInt(ms)) if *ms > 1_600_000_000_000)
    );
    let traceparent = header_str(&message, "traceparent");
    assert!(
        traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{traceparent}"
    );
    // x-delivery-count is the quorum queue's own; everything else is ours.
    let keys: Vec<_> = p
        .headers()
        .as_ref()
        .expect("headers")
        .inner()
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k != "x-delivery-count")
        .collect();
    assert_eq!(
        keys,
        ["traceparent", "x-received-at", "x-source"],
        "no credential is copied"
    );
    assert!(broker.get(&queue).await.is_none(), "exactly one message");
    ingest.stop().await;
}

#[tokio::test]
async fn a_payscore_delivery_with_a_valid_signature_is_routed_by_its_code() {
    let broker = TestBroker::new("payscore-signed").await;
    let ingest = IngestHandle::start_ready(&broker).await;
    let body = br#"{"code": "SCREENING_GROUP_COMPLETED", "screening_group_id": "905963d4"}"#;
    let client = reqwest::Client::new();
    for signature in [sign(body), sign(body).to_uppercase()] {
        let response = client
            .post(format!("{}/webhooks/payscore", ingest.url))
            .header("Verification-Signature", signature)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 202);
    }
    let queue = broker.topology().queue(WorkQueue::Reports);
    let messages = broker.drain(&queue).await;
    assert_eq!(messages.len(), 2);
    for m in &messages {
        assert_eq!(m.delivery.data, body);
        assert_eq!(
            m.delivery.routing_key.as_str(),
            "payscore.screening_group_completed"
        );
        assert_eq!(header_str(m, "x-source"), "payscore");
        let keys: Vec<_> = m
            .delivery
            .properties
            .headers()
            .as_ref()
            .expect("headers")
            .inner()
            .keys()
            .map(|k| k.as_str().to_owned())
            .collect();
        assert!(!keys.iter().any(|k| k.contains("signature")), "{keys:?}");
    }
    // A signed body without a usable code still lands, as payscore.unknown.
    let odd = b"not json at all";
    let response = client
        .post(format!("{}/webhooks/payscore", ingest.url))
        .header("Verification-Signature", sign(odd))
        .body(odd.to_vec())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 202);
    let m = broker.get(&queue).await.expect("message");
    assert_eq!(m.delivery.routing_key.as_str(), "payscore.unknown");
    assert_eq!(m.delivery.data, odd);
    ingest.stop().await;
}

#[tokio::test]
async fn five_hundred_concurrent_deliveries_are_all_queued_with_unique_ids() {
    let broker = TestBroker::new("concurrent").await;
    // All 500 at once are within the in-flight limit, and a machine busy with other tests
    // does not turn a slow confirm into a 503: every one must be stored.
    let mut env = default_env(&broker);
    env.insert("INGEST_MAX_CONCURRENT_REQUESTS".into(), "600".into());
    env.insert("INGEST_CONFIRM_TIMEOUT_MS".into(), "30000".into());
    let ingest = IngestHandle::start(env).await;
    ingest.wait_ready().await;
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..500 {
        let client = client.clone();
        let url = format!("{}/webhooks/entrata", ingest.url);
        tasks.spawn(async move {
            let response = client
                .post(url)
                .header("X-Webhook-Token", fleet_tests::ingest::TOKEN)
                .body(format!("{{\"applicationId\": {i}}}"))
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 202);
            let answer: serde_json::Value = response.json().await.expect("json");
            answer["id"].as_str().expect("id").to_owned()
        });
    }
    let mut answered = HashSet::new();
    while let Some(id) = tasks.join_next().await {
        answered.insert(id.expect("task"));
    }
    assert_eq!(answered.len(), 500, "ids are unique");
    let queue = broker.topology().queue(WorkQueue::Screenings);
    let messages = broker.drain(&queue).await;
    let queued: HashSet<String> = messages
        .iter()
        .map(|m| {
            m.delivery
                .properties
                .message_id()
                .as_ref()
                .expect("id")
                .to_string()
        })
        .collect();
    assert_eq!(messages.len(), 500);
    assert_eq!(queued, answered);
    ingest.stop().await;
}

#[tokio::test]
async fn an_unroutable_publish_is_not_acknowledged_to_the_sender() {
    let broker = TestBroker::new("unroutable").await;
    let ingest = IngestHandle::start_ready(&broker).await;
    // Take the screenings binding away: the broker returns the message (basic.return) and
    // then acks it; that must be a 503, not a 202.
    let topology = broker.topology();
    let connection =
        lapin::Connection::connect(&fleet_tests::broker::amqp_url(), Default::default())
            .await
            .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_unbind(
            topology.queue(WorkQueue::Screenings).into(),
            topology.exchange().into(),
            "entrata.#".into(),
            Default::default(),
        )
        .await
        .expect("unbind");
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/entrata", ingest.url))
        .basic_auth(USER, Some(PASSWORD))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let _ = connection.close(200, "done".into()).await;
    ingest.stop().await;
}

#[tokio::test]
async fn the_entrata_simulators_submitted_application_is_accepted_and_queued_by_ingest() {
    let broker = TestBroker::new("sandbox-submit").await;
    let ingest = IngestHandle::start_ready(&broker).await;
    let mut config = sandbox::SandboxConfig::default();
    config.ingest = sandbox::IngestTarget {
        url: Some(format!("{}/webhooks/entrata", ingest.url)),
        username: Some(USER.into()),
        password: Some(shared::config::Secret::new(PASSWORD)),
        token: None,
    };
    let sandbox = sandbox::Sandbox::start(config).await.expect("sandbox");
    let submitted = sandbox
        .control()
        .submit_application(&Default::default())
        .await
        .expect("submit");
    let webhook = submitted.webhook.expect("a webhook was sent");
    assert_eq!(webhook.status, Some(202));
    let queue = broker.topology().queue(WorkQueue::Screenings);
    let message = broker.get(&queue).await.expect("queued");
    assert_eq!(message.delivery.data, webhook.payload.as_bytes());
    let answer: serde_json::Value =
        serde_json::from_str(webhook.body.as_deref().unwrap_or("{}")).expect("json");
    assert_eq!(
        answer["id"].as_str(),
        message
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.as_str())
    );
    sandbox.shutdown().await;
    ingest.stop().await;
}

#[tokio::test]
async fn concurrent_unroutable_publishes_are_never_counted_as_stored() {
    unroutable_among_routable("returns", 2, 1).await;
}

#[tokio::test]
async fn unroutable_publishes_batched_with_routable_ones_on_one_channel_are_each_told_apart() {
    // One channel taking up to 256 at a time: the returns come back on whichever confirm of the
    // batch lapin picks, and each must still fail its own message and no other.
    unroutable_among_routable("returns-batched", 1, 256).await;
}

/// A connection supervisor over `env`'s broker whose sessions open `channels` publish
/// channels taking `batch` messages each; its metrics and the token that stops it.
fn publish_pool(
    env: &std::collections::HashMap<String, String>,
    channels: usize,
    batch: usize,
) -> (
    shared::amqp::Supervisor<shared::amqp::PublishChannels>,
    shared::metrics::Metrics,
    tokio_util::sync::CancellationToken,
) {
    let config = shared::amqp::AmqpConfig::from_env(env).expect("config");
    let stop = tokio_util::sync::CancellationToken::new();
    let metrics = shared::metrics::Metrics::new();
    let supervisor = shared::amqp::Supervisor::spawn(
        config,
        "publish-pool-test",
        metrics.clone(),
        shared::admin::Readiness::new(),
        stop.clone(),
        {
            let metrics = metrics.clone();
            move |connection| {
                let sizes = metrics.amqp_publish_batch.clone();
                async move {
                    shared::amqp::PublishChannels::open(&connection, channels, batch, sizes).await
                }
            }
        },
    );
    (supervisor, metrics, stop)
}

/// Publish 200 messages at once over `channels` channels taking `batch` each, every fifth
/// one with no queue to go to: exactly those are `Returned`, exactly the others are stored.
async fn unroutable_among_routable(test: &str, channels: usize, batch: usize) {
    use shared::amqp::{Outgoing, PublishError, Publisher};
    let broker = TestBroker::new(test).await;
    let env: std::collections::HashMap<String, String> = broker.env().into_iter().collect();
    let (supervisor, metrics, stop) = publish_pool(&env, channels, batch);
    let sizes = metrics.amqp_publish_batch.clone();
    let publisher = Publisher::new(supervisor.sessions(), std::time::Duration::from_secs(5));
    fleet_tests::eventually(std::time::Duration::from_secs(10), "connected", || async {
        publisher.is_connected().then_some(())
    })
    .await;
    let exchange = broker.topology().exchange();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200u32 {
        let (publisher, exchange) = (publisher.clone(), exchange.clone());
        tasks.spawn(async move {
            // Every fifth message has no queue to go to.
            let key = if i % 5 == 0 {
                "nowhere.at.all"
            } else {
                "entrata.application"
            };
            let properties =
                lapin::BasicProperties::default().with_message_id(i.to_string().into());
            let result = publisher
                .publish(Outgoing {
                    exchange: &exchange,
                    routing_key: key,
                    body: b"{}",
                    properties,
                })
                .await;
            (i, result)
        });
    }
    let mut stored = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.expect("task");
        if i % 5 == 0 {
            assert!(
                matches!(result, Err(PublishError::Returned { .. })),
                "message {i}: {result:?}"
            );
        } else {
            assert!(result.is_ok(), "message {i}: {result:?}");
            stored += 1;
        }
    }
    let queue = broker.topology().queue(WorkQueue::Screenings);
    assert_eq!(broker.drain(&queue).await.len(), stored);
    // Every message went out in some batch; with room for more than one, some batch held
    // several (the others queued while the first awaited its confirm).
    assert_eq!(sizes.get_sample_sum(), 200.0);
    if batch > 1 {
        assert!(
            sizes.get_sample_count() < 200,
            "every batch held one message: {} batches",
            sizes.get_sample_count()
        );
    } else {
        assert_eq!(sizes.get_sample_count(), 200);
    }
    stop.cancel();
    supervisor.join().await;
}

/// What a burst of webhooks came to.
struct Burst {
    /// How many got each status.
    statuses: std::collections::BTreeMap<u16, usize>,
    /// Whether `amqp_connected` ever read 0 meanwhile.
    dropped: bool,
    /// Messages stored in the work queue.
    stored: u32,
    /// Messages ingest sent in publish batches, and how many batches
    /// (`amqp_publish_batch_messages` sum and count).
    sent: f64,
    batches: f64,
}

/// Start an ingest with `settings` and send `n` webhooks at once.
async fn burst(test: &str, settings: &[(&str, &str)], n: usize) -> Burst {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let broker = TestBroker::new(test).await;
    let mut env = fleet_tests::ingest::default_env(&broker);
    env.insert("INGEST_MAX_CONCURRENT_REQUESTS".into(), "2048".into());
    for (k, v) in settings {
        env.insert((*k).into(), (*v).into());
    }
    let ingest = IngestHandle::start(env).await;
    ingest.wait_ready().await;
    // Watch the connection the whole time.
    let watching = Arc::new(AtomicBool::new(true));
    let dropped = tokio::spawn({
        let (watching, metrics) = (watching.clone(), format!("{}/metrics", ingest.admin_url));
        async move {
            let mut dropped = false;
            while watching.load(Ordering::SeqCst) {
                if let Ok(answer) = reqwest::get(&metrics).await {
                    let text = answer.text().await.unwrap_or_default();
                    dropped |= text.lines().any(|l| l == "amqp_connected 0");
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            dropped
        }
    });
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(n + 100)
        .build()
        .expect("client");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let client = client.clone();
        let url = format!("{}/webhooks/entrata", ingest.url);
        tasks.spawn(async move {
            client
                .post(url)
                .header("X-Webhook-Token", fleet_tests::ingest::TOKEN)
                .body(format!("{{\"applicationId\": {i}}}"))
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        });
    }
    let mut statuses = std::collections::BTreeMap::new();
    while let Some(status) = tasks.join_next().await {
        *statuses.entry(status.expect("task")).or_insert(0) += 1;
    }
    watching.store(false, Ordering::SeqCst);
    let dropped = dropped.await.expect("watcher");
    let stored = broker
        .count(&broker.topology().queue(WorkQueue::Screenings))
        .await;
    let metrics = fleet_tests::worker::metrics_text(&ingest.admin_url).await;
    let sample = |name| fleet_tests::worker::sample_in(&metrics, name);
    let (sent, batches) = (
        sample("amqp_publish_batch_messages_sum"),
        sample("amqp_publish_batch_messages_count"),
    );
    ingest.stop().await;
    Burst {
        statuses,
        dropped,
        stored,
        sent,
        batches,
    }
}

#[tokio::test]
async fn a_burst_of_1024_webhooks_over_64_channels_is_all_stored_without_a_reconnect() {
    let burst = burst("burst", &[("AMQP_PUBLISH_CHANNELS", "64")], 1024).await;
    assert_eq!(
        burst.statuses.get(&202),
        Some(&1024),
        "{:?}",
        burst.statuses
    );
    assert!(!burst.dropped, "amqp_connected dropped to 0");
    assert_eq!(burst.stored, 1024);
    // Every message went out once, in batches of up to 64 (the default).
    assert_eq!(burst.sent, 1024.0);
    assert!(burst.batches >= 1024.0 / 64.0, "{} batches", burst.batches);
}

#[tokio::test]
async fn requests_that_find_no_free_channel_in_time_get_503_and_the_connection_stays() {
    // One channel taking one message at a time and a short wait for it: most of a burst of 600
    // waits longer than that. They are answered 503 unsent; the connection is not at fault.
    // (The confirm timeout keeps its default: a slow confirm on a busy machine is not what
    // this is about.)
    let Burst {
        statuses,
        dropped,
        stored,
        sent,
        batches,
    } = burst(
        "no-channel",
        &[
            ("AMQP_PUBLISH_CHANNELS", "1"),
            ("AMQP_PUBLISH_BATCH", "1"),
            ("INGEST_PUBLISH_WAIT_MS", "200"),
        ],
        600,
    )
    .await;
    assert!(statuses.get(&503).copied().unwrap_or(0) > 0, "{statuses:?}");
    assert!(!dropped, "a busy pool never tears the connection down");
    assert_eq!(
        stored as usize,
        statuses.get(&202).copied().unwrap_or(0),
        "exactly the 202s are stored: a 503 here was never sent"
    );
    assert_eq!(sent, f64::from(stored), "only the stored were sent");
    assert_eq!(
        batches, sent,
        "one message per batch with AMQP_PUBLISH_BATCH=1"
    );
}

#[tokio::test]
async fn a_confirm_overdue_on_a_channel_nobody_waits_on_any_more_makes_the_publisher_reconnect() {
    use shared::amqp::{Outgoing, PublishError, Publisher};
    use std::time::Duration;
    let broker = TestBroker::new("overdue").await;
    let proxy = fleet_tests::amqp_proxy::AmqpProxy::start(&fleet_tests::broker::amqp_url()).await;
    let mut env: std::collections::HashMap<String, String> = broker.env().into_iter().collect();
    env.insert("AMQP_URL".into(), proxy.url.clone());
    let (supervisor, _, stop) = publish_pool(&env, 1, 1);
    let publisher = Publisher::new(supervisor.sessions(), Duration::from_millis(500))
        .publish_wait(Duration::from_millis(300));
    fleet_tests::eventually(Duration::from_secs(10), "connected", || async {
        publisher.is_connected().then_some(())
    })
    .await;
    let exchange = broker.topology().exchange();
    let message = |id: &str| Outgoing {
        exchange: &exchange,
        routing_key: "entrata.application",
        body: b"{}",
        properties: lapin::BasicProperties::default().with_message_id(id.into()),
    };
    proxy.withhold_confirms(true);
    // The caller gives up long before the confirm timeout: nobody is left waiting for the
    // confirm that never comes, and the one channel stays taken by its batch.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(100),
        publisher.publish(message("first")),
    )
    .await;
    assert!(gave_up.is_err(), "{gave_up:?}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    // The next publish finds no channel; the overdue confirm makes the publisher start over
    // on a new connection instead of refusing every publish from now on.
    let result = publisher.publish(message("second")).await;
    assert!(
        matches!(result, Err(PublishError::NoChannel(_))),
        "{result:?}"
    );
    fleet_tests::eventually(Duration::from_secs(10), "a new connection", || async {
        (proxy.connections() >= 2 && publisher.is_connected()).then_some(())
    })
    .await;
    proxy.withhold_confirms(false);
    publisher
        .publish(message("third"))
        .await
        .expect("stored on the new connection");
    stop.cancel();
    supervisor.join().await;
}
