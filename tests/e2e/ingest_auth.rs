//! Refused requests: the right status, and nothing published.

use fleet_tests::TestBroker;
use fleet_tests::ingest::{IngestHandle, PASSWORD, TOKEN, USER, default_env, sign};
use reqwest::StatusCode;
use shared::amqp::WorkQueue;

async fn assert_nothing_queued(broker: &TestBroker) {
    let topology = broker.topology();
    for queue in WorkQueue::ALL {
        assert_eq!(
            broker.count(&topology.queue(queue)).await,
            0,
            "{queue:?} must stay empty"
        );
    }
}

#[tokio::test]
async fn bad_credentials_and_signatures_get_401_and_publish_nothing() {
    let broker = TestBroker::new("unauthorized").await;
    let ingest = IngestHandle::start_ready(&broker).await;
    let client = reqwest::Client::new();
    let entrata = format!("{}/webhooks/entrata", ingest.url);
    let payscore = format!("{}/webhooks/payscore", ingest.url);
    let body = br#"{"code":"SCREENING_GROUP_COMPLETED","screening_group_id":"g1"}"#;

    let attempts = [
        ("no credentials", client.post(&entrata).body("{}")),
        (
            "wrong password",
            client
                .post(&entrata)
                .basic_auth(USER, Some("wrong"))
                .body("{}"),
        ),
        (
            "wrong user",
            client
                .post(&entrata)
                .basic_auth("someone", Some(PASSWORD))
                .body("{}"),
        ),
        (
            "wrong token",
            client
                .post(&entrata)
                .header("X-Webhook-Token", "nope")
                .body("{}"),
        ),
        (
            "wrong query token",
            client.post(format!("{entrata}?token=nope")).body("{}"),
        ),
        (
            "signature over another body",
            client
                .post(&payscore)
                .header("Verification-Signature", sign(b"{}"))
                .body(body.to_vec()),
        ),
        (
            "missing signature",
            client.post(&payscore).body(body.to_vec()),
        ),
        (
            "signature not hex",
            client
                .post(&payscore)
                .header("Verification-Signature", "zz")
                .body(body.to_vec()),
        ),
    ];
    for (what, request) in attempts {
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
    }
    assert_nothing_queued(&broker).await;

    // The token is also accepted as a query parameter.
    let response = client
        .post(format!("{entrata}?token={TOKEN}"))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let metrics = client
        .get(format!("{}/metrics", ingest.admin_url))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(r#"ingest_webhooks_total{outcome="unauthorized",source="entrata"} 5"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"ingest_webhooks_total{outcome="unauthorized",source="payscore"} 3"#),
        "{metrics}"
    );
    ingest.stop().await;
}

#[tokio::test]
async fn a_source_address_outside_the_allow_list_gets_401() {
    let broker = TestBroker::new("allow-list").await;
    let mut env = default_env(&broker);
    env.insert(
        "ENTRATA_WEBHOOK_ALLOWED_IPS".into(),
        "203.0.113.0/24".into(),
    );
    let ingest = IngestHandle::start(env.clone()).await;
    ingest.wait_ready().await;
    let client = reqwest::Client::new();
    let url = format!("{}/webhooks/entrata", ingest.url);
    let response = client
        .post(&url)
        .basic_auth(USER, Some(PASSWORD))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "127.0.0.1 is not allowed"
    );
    // X-Forwarded-For is ignored unless the peer is a trusted proxy.
    let response = client
        .post(&url)
        .basic_auth(USER, Some(PASSWORD))
        .header("X-Forwarded-For", "203.0.113.7")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_nothing_queued(&broker).await;
    ingest.stop().await;

    env.insert("INGEST_TRUSTED_PROXIES".into(), "127.0.0.1/32".into());
    let ingest = IngestHandle::start(env).await;
    ingest.wait_ready().await;
    let url = format!("{}/webhooks/entrata", ingest.url);
    let response = client
        .post(&url)
        .basic_auth(USER, Some(PASSWORD))
        .header("X-Forwarded-For", "203.0.113.7")
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "behind a trusted proxy"
    );
    ingest.stop().await;
}

#[tokio::test]
async fn oversized_unknown_and_wrong_method_requests_get_413_404_405() {
    let broker = TestBroker::new("limits").await;
    let mut env = default_env(&broker);
    env.insert("INGEST_MAX_BODY_BYTES".into(), "1024".into());
    let ingest = IngestHandle::start(env).await;
    ingest.wait_ready().await;
    let client = reqwest::Client::new();
    let entrata = format!("{}/webhooks/entrata", ingest.url);

    let big = vec![b'x'; 1025];
    let response = client
        .post(&entrata)
        .basic_auth(USER, Some(PASSWORD))
        .body(big.clone())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // Without a Content-Length (chunked), the limit still holds.
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(big)]);
    let response = client
        .post(&entrata)
        .basic_auth(USER, Some(PASSWORD))
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let payscore_big = vec![b'y'; 2048];
    let response = client
        .post(format!("{}/webhooks/payscore", ingest.url))
        .header("Verification-Signature", sign(&payscore_big))
        .body(payscore_big)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let exactly = vec![b'z'; 1024];
    let response = client
        .post(&entrata)
        .basic_auth(USER, Some(PASSWORD))
        .body(exactly)
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        StatusCode::ACCEPTED,
        "the limit itself is allowed"
    );

    let response = client
        .post(format!("{}/webhooks/other", ingest.url))
        .body("{}")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = client.get(&entrata).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    let queue = broker.topology().queue(WorkQueue::Screenings);
    assert_eq!(broker.drain(&queue).await.len(), 1, "only the accepted one");
    ingest.stop().await;
}
