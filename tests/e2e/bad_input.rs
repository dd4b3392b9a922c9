//! The bad-input catalogue (README): every bad input gets a clear answer, none loses an
//! acknowledged delivery or stops a process. Each row of the README's table is a case here.

use fleet_tests::TestBroker;
use fleet_tests::broker::header_text;
use fleet_tests::fleet::{Fleet, FleetOptions};
use fleet_tests::ingest::{IngestHandle, PASSWORD, TOKEN, USER, default_env, sign};
use shared::amqp::WorkQueue;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Post `body` to ingest's Entrata route with Basic auth and `content_type`; the status.
async fn post(fleet: &Fleet, body: Vec<u8>, content_type: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(format!("{}/webhooks/entrata", fleet.ingest.url))
        .basic_auth(USER, Some(PASSWORD))
        .body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request
        .send()
        .await
        .expect("ingest answers")
        .status()
        .as_u16()
}

/// `[[[…]]]`, `depth` deep.
fn nested(depth: usize) -> Vec<u8> {
    let mut body = vec![b'['; depth];
    body.extend(std::iter::repeat_n(b']', depth));
    body
}

#[tokio::test]
async fn unreadable_bodies_are_accepted_kept_whole_and_dead_lettered_and_the_worker_goes_on() {
    let fleet = Fleet::start("bad-bodies", FleetOptions::default()).await;
    let unreadable: Vec<(&str, Vec<u8>)> = vec![
        ("malformed JSON", b"{\"propertyId\": 100001, ".to_vec()),
        ("empty body", Vec::new()),
        ("invalid UTF-8", vec![0xff, 0xfe, b'{', 0xc3, 0x28, b'}']),
        ("JSON nested 10,000 deep", nested(10_000)),
        (
            "a number too large for JSON",
            br#"{"propertyId": 1e400, "applicationId": 5}"#.to_vec(),
        ),
        (
            "an id too long for an integer",
            br#"{"propertyId": 100001, "applicationId": 123456789012345678901234567890}"#.to_vec(),
        ),
        (
            "ids of the wrong type",
            br#"{"propertyId": [100001], "applicationId": {"id": 5}}"#.to_vec(),
        ),
        (
            "an id that cannot be an Entrata id",
            br#"{"propertyId": "100001; DROP TABLE", "applicationId": "5"}"#.to_vec(),
        ),
    ];
    for (what, body) in &unreadable {
        assert_eq!(
            post(&fleet, body.clone(), Some("application/json")).await,
            202,
            "{what}: ingest stores what it is given"
        );
    }
    let mut dead = Vec::new();
    for _ in &unreadable {
        let message = fleet
            .dead_letter(WorkQueue::Screenings, "unreadable_delivery")
            .await;
        assert!(
            !header_text(&message, "x-last-error")
                .unwrap_or_default()
                .contains("DROP"),
            "no body in the headers"
        );
        dead.push(message.delivery.data.clone());
    }
    for (what, body) in &unreadable {
        assert!(dead.contains(body), "{what}: kept byte for byte");
    }

    // Wrong and missing content types: the body is what counts.
    for content_type in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
    ] {
        let submitted = fleet
            .control()
            .submit_application(&sandbox::entrata::submit::SubmitOptions {
                property_id: Some(100002),
                every_email: true,
                send_webhook: Some(false),
                ..Default::default()
            })
            .await
            .expect("submit");
        let body = serde_json::json!({"eventType": "ApplicationSubmitted",
            "propertyId": submitted.property_id, "applicationId": submitted.application_id});
        assert_eq!(
            post(&fleet, body.to_string().into_bytes(), content_type).await,
            202
        );
        fleet
            .one_group(submitted.property_id, submitted.application_id)
            .await;
    }
    let dead_queue = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    assert_eq!(
        fleet.broker.count(&dead_queue).await,
        0,
        "exactly the bad ones were dead-lettered"
    );
    fleet.stop().await;
}

/// Send raw bytes to `addr` and read what comes back until the server answers or closes.
async fn raw(addr: &str, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn malformed_requests_get_a_clear_status_and_nothing_is_queued() {
    let broker = TestBroker::new("bad-requests").await;
    let mut env = default_env(&broker);
    env.insert("INGEST_REQUEST_TIMEOUT_MS".into(), "500".into());
    env.insert("INGEST_MAX_CONCURRENT_REQUESTS".into(), "4".into());
    let ingest = IngestHandle::start(env).await;
    ingest.wait_ready().await;
    let addr = ingest.url.trim_start_matches("http://").to_owned();
    let client = reqwest::Client::new();
    let entrata = format!("{}/webhooks/entrata", ingest.url);

    // A credential header twice, whichever copy is right: 401.
    let response = client
        .post(&entrata)
        .header("x-webhook-token", TOKEN)
        .header("x-webhook-token", "wrong")
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 401);
    let response = client
        .post(format!("{entrata}?token=wrong&token={TOKEN}"))
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 401, "a repeated query token");
    // A wrong credential beside a right one: 401, whichever is right.
    let response = client
        .post(format!("{entrata}?token={TOKEN}"))
        .header("x-webhook-token", "wrong")
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 401, "a wrong header token");
    let response = client
        .post(format!("{entrata}?token=wrong"))
        .basic_auth(USER, Some(PASSWORD))
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(
        response.status().as_u16(),
        401,
        "right Basic, wrong query token"
    );
    // Payscore signatures of the wrong length, not hex, twice: 401; upper-case hex is fine.
    let body = br#"{"code":"SCREENING_GROUP_COMPLETED","screening_group_id":"x"}"#;
    let good = sign(body);
    for signatures in [
        vec![good[..32].to_owned()],
        vec!["not-hex".to_owned()],
        vec![good.clone(), good.clone()],
    ] {
        let mut request = client
            .post(format!("{}/webhooks/payscore", ingest.url))
            .body(body.to_vec());
        for s in signatures {
            request = request.header("verification-signature", s);
        }
        assert_eq!(request.send().await.expect("answer").status().as_u16(), 401);
    }
    // Headers over 16 KiB: 431, and nothing read further.
    let huge = format!(
        "POST /webhooks/entrata HTTP/1.1\r\nhost: x\r\nx-webhook-token: {TOKEN}\r\nx-padding: {}\r\ncontent-length: 2\r\n\r\n{{}}",
        "a".repeat(20 * 1024)
    );
    assert_eq!(status_of(&raw(&addr, huge.as_bytes()).await), 431);
    let metrics = fleet_tests::worker::metrics_text(&ingest.admin_url).await;
    assert!(
        metrics.contains(r#"ingest_webhooks_total{outcome="too_large",source="entrata"} 1"#),
        "the 431 is counted as too_large"
    );
    // Not HTTP at all: 400.
    assert_eq!(status_of(&raw(&addr, b"HELLO\r\n\r\n").await), 400);

    // A client that never finishes its body is answered 408 after INGEST_REQUEST_TIMEOUT_MS.
    let started = Instant::now();
    let slow = format!(
        "POST /webhooks/entrata HTTP/1.1\r\nhost: x\r\nx-webhook-token: {TOKEN}\r\ncontent-length: 100\r\n\r\n{{\"a\":"
    );
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    stream.write_all(slow.as_bytes()).await.expect("write");
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered before the test's own timeout")
        .expect("read");
    assert_eq!(status_of(&String::from_utf8_lossy(&answer[..n])), 408);
    assert!(started.elapsed() < Duration::from_secs(3));

    // A flood over INGEST_MAX_CONCURRENT_REQUESTS: the requests beyond it get 503 at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        stream.write_all(slow.as_bytes()).await.expect("write");
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let good = || {
        client
            .post(&entrata)
            .header("x-webhook-token", TOKEN)
            .body("{}")
            .send()
    };
    let response = good().await.expect("answer");
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));
    drop(held);

    let queue = broker.topology().queue(WorkQueue::Screenings);
    assert_eq!(broker.count(&queue).await, 0, "nothing refused was queued");
    // Still serving: a good delivery is accepted after all of it.
    assert_eq!(good().await.expect("answer").status().as_u16(), 202);
    ingest.stop().await;
}
