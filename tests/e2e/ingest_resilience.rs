//! Ingest without a broker, after the broker closes its connections, on SIGTERM, and with a
//! bad configuration.

use fleet_tests::ingest::{IngestHandle, PASSWORD, TOKEN, USER, default_env};
use fleet_tests::process::{Running, binary, free_port};
use fleet_tests::{TestBroker, eventually};
use reqwest::StatusCode;
use shared::amqp::WorkQueue;
use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test]
async fn without_a_broker_ingest_is_live_but_not_ready_and_answers_503() {
    let broker = TestBroker::new("no-broker").await;
    let mut env = default_env(&broker);
    env.insert(
        "AMQP_URL".into(),
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", free_port()),
    );
    let ingest = IngestHandle::start(env).await;
    let client = reqwest::Client::new();
    let live = client
        .get(format!("{}/livez", ingest.admin_url))
        .send()
        .await
        .expect("livez");
    assert_eq!(live.status(), StatusCode::OK);
    let ready = client
        .get(format!("{}/readyz", ingest.admin_url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let response = client
        .post(format!("{}/webhooks/entrata", ingest.url))
        .basic_auth(USER, Some(PASSWORD))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response.headers().get("retry-after").is_some(),
        "503 carries Retry-After"
    );
    let metrics = client
        .get(format!("{}/metrics", ingest.admin_url))
        .send()
        .await
        .expect("m")
        .text()
        .await
        .expect("t");
    assert!(metrics.contains("amqp_connected 0"), "{metrics}");
    assert!(
        metrics.contains(r#"ingest_webhooks_total{outcome="unavailable",source="entrata"} 1"#),
        "{metrics}"
    );
    ingest.stop().await;
}

#[tokio::test]
async fn after_the_broker_closes_its_connections_ingest_recovers_by_itself() {
    let broker = TestBroker::new("conn-closed").await;
    let ingest = IngestHandle::start_ready(&broker).await;
    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/entrata", ingest.url);
    let send = || {
        client
            .post(&url)
            .header("X-Webhook-Token", TOKEN)
            .body("{}")
            .send()
    };
    assert_eq!(
        send().await.expect("request").status(),
        StatusCode::ACCEPTED
    );

    let closed = broker.close_connections();
    assert!(
        closed >= 1,
        "the test's ingest connection was found by name"
    );
    // Deliveries answer 503 while reconnecting, never 2xx without a confirm; then 202 again.
    eventually(
        Duration::from_secs(15),
        "a 202 after reconnecting",
        || async {
            let response = send().await.ok()?;
            (response.status() == StatusCode::ACCEPTED).then_some(())
        },
    )
    .await;
    let ready = client
        .get(format!("{}/readyz", ingest.admin_url))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let queue = broker.topology().queue(WorkQueue::Screenings);
    assert!(broker.drain(&queue).await.len() >= 2);
    ingest.stop().await;
}

#[tokio::test]
async fn sigterm_with_deliveries_in_flight_loses_none_that_got_a_2xx() {
    let broker = TestBroker::new("sigterm").await;
    let (port, admin) = (free_port(), free_port());
    let grace = 10;
    let mut child = Command::new(binary("ingest"))
        .envs(default_env(&broker))
        .env("INGEST_LISTEN", format!("127.0.0.1:{port}"))
        .env("ADMIN_LISTEN", format!("127.0.0.1:{admin}"))
        .env("SHUTDOWN_GRACE_SECONDS", grace.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Running)
        .expect("start ingest");
    let client = reqwest::Client::new();
    eventually(Duration::from_secs(20), "ingest ready", || async {
        let r = client
            .get(format!("http://127.0.0.1:{admin}/readyz"))
            .send()
            .await
            .ok()?;
        r.status().is_success().then_some(())
    })
    .await;

    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (client, done) = (client.clone(), done.clone());
        let url = format!("http://127.0.0.1:{port}/webhooks/entrata");
        tasks.spawn(async move {
            let result = client
                .post(url)
                .header("X-Webhook-Token", TOKEN)
                .body(format!("{{\"n\":{i}}}"))
                .send()
                .await;
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match result {
                Ok(r) if r.status() == StatusCode::ACCEPTED => {
                    let v: serde_json::Value = r.json().await.ok()?;
                    v["id"].as_str().map(str::to_owned)
                }
                _ => None,
            }
        });
    }
    // Signal while most of the 200 are still in flight.
    eventually(Duration::from_secs(10), "the first answers", || async {
        (done.load(std::sync::atomic::Ordering::SeqCst) >= 10).then_some(())
    })
    .await;
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());

    let mut accepted = HashSet::new();
    while let Some(result) = tasks.join_next().await {
        if let Some(id) = result.expect("task") {
            accepted.insert(id);
        }
    }
    let exit = tokio::task::spawn_blocking(move || {
        let status = child.0.wait();
        (child, status)
    })
    .await
    .map(|(_, status)| status)
    .expect("join")
    .expect("wait");
    let took = signalled.elapsed();
    assert_eq!(exit.code(), Some(0), "clean exit");
    assert!(
        took < Duration::from_secs(grace),
        "exited within the grace period ({took:?})"
    );
    assert!(accepted.len() >= 10);

    let queue = broker.topology().queue(WorkQueue::Screenings);
    let queued: HashSet<String> = broker
        .drain(&queue)
        .await
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
    let lost: Vec<_> = accepted.difference(&queued).collect();
    assert!(lost.is_empty(), "accepted but not queued: {lost:?}");
}

#[test]
fn configuration_errors_exit_64_naming_the_variable() {
    let base = [
        ("PAYSCORE_WEBHOOK_SECRET", "s"),
        ("ENTRATA_WEBHOOK_TOKEN", "t"),
    ];
    // (variables set, variables removed, the variable the error must name)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case; 4] = [
        (&[], &["PAYSCORE_WEBHOOK_SECRET"], "PAYSCORE_WEBHOOK_SECRET"),
        (
            &[("INGEST_CONFIRM_TIMEOUT_MS", "fast")],
            &[],
            "INGEST_CONFIRM_TIMEOUT_MS",
        ),
        (&[], &["ENTRATA_WEBHOOK_TOKEN"], "ENTRATA_WEBHOOK_AUTH"),
        (&[("ADMIN_LISTEN", "nowhere")], &[], "ADMIN_LISTEN"),
    ];
    for (set, unset, var) in cases {
        let mut command = Command::new(binary("ingest"));
        command.env_clear().envs(base).envs(set.iter().copied());
        for key in unset {
            command.env_remove(key);
        }
        let output = command.output().expect("run ingest");
        assert_eq!(output.status.code(), Some(64), "{var}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(var), "stderr names {var}: {stderr}");
    }
}

#[tokio::test]
async fn during_a_broker_alarm_ingest_answers_503_without_waiting_and_stays_connected() {
    let broker = TestBroker::new("alarm-ingest").await;
    let proxy = fleet_tests::amqp_proxy::AmqpProxy::start(&fleet_tests::broker::amqp_url()).await;
    let mut env = default_env(&broker);
    env.insert("AMQP_URL".into(), proxy.url.clone());
    env.insert("INGEST_CONFIRM_TIMEOUT_MS".into(), "20000".into());
    let ingest = IngestHandle::start(env).await;
    ingest.wait_ready().await;
    let client = reqwest::Client::new();
    let post = |n: u32| {
        client
            .post(format!("{}/webhooks/entrata", ingest.url))
            .basic_auth(USER, Some(PASSWORD))
            .body(format!(r#"{{"n":{n}}}"#))
            .send()
    };
    assert_eq!(
        post(1).await.expect("answers").status(),
        StatusCode::ACCEPTED
    );

    // As RabbitMQ does: the alarm is announced to a connection when it publishes into it.
    proxy.block();
    let asked = Instant::now();
    let announced = post(2).await.expect("answers");
    assert_eq!(announced.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(announced.headers().contains_key("retry-after"));
    // Refused on the announcement, not after the 20 s confirm timeout.
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    let readyz = format!("{}/readyz", ingest.admin_url);
    let ready = client.get(&readyz).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let why = ready.text().await.expect("text");
    assert!(why.contains("resource alarm"), "{why}");
    // Known blocked now: refused without being sent.
    assert_eq!(
        post(3).await.expect("answers").status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    proxy.unblock();
    ingest.wait_ready().await;
    assert_eq!(
        post(4).await.expect("answers").status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(proxy.connections(), 1, "the same connection throughout");
    // The message that brought the announcement was already on its way: it may be stored
    // once the alarm lifts (its sender's retry is then a duplicate). The one refused before
    // it was sent is not. Frames of one connection are handled in order, so once the last
    // post is confirmed the queue holds all it will.
    let queue = broker.topology().queue(WorkQueue::Screenings);
    let stored: HashSet<String> = broker
        .drain(&queue)
        .await
        .iter()
        .map(|m| String::from_utf8_lossy(&m.delivery.data).into_owned())
        .collect();
    let body = |n: u32| format!(r#"{{"n":{n}}}"#);
    assert!(
        stored.contains(&body(1)) && stored.contains(&body(4)),
        "{stored:?}"
    );
    assert!(
        !stored.contains(&body(3)),
        "a refused, unsent message was stored"
    );
    assert!(stored.len() <= 3, "{stored:?}");
    ingest.stop().await;
}
