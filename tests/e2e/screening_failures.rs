//! The screening job when things go wrong: Payscore failing, hanging or refusing, Entrata
//! rate-limiting, lookups failing.

use fleet_tests::broker::header_text;
use fleet_tests::fleet::{Fleet, FleetOptions};
use sandbox::Scripted;
use sandbox::core::Simulator;
use sandbox::entrata::submit::SubmitOptions;
use shared::amqp::WorkQueue;

const SERIES_DONE: &str = r#"worker_jobs_total{outcome="done",queue="screenings"}"#;
const SERIES_RETRIED: &str = r#"worker_jobs_total{outcome="retried",queue="screenings"}"#;

#[tokio::test]
async fn payscore_failing_twice_is_retried_and_a_429_retry_after_is_respected() {
    let fleet = Fleet::start("retries", FleetOptions::default()).await;
    fleet
        .control()
        .fail_next(
            Simulator::Payscore,
            "create_group",
            Scripted::status(2, 500),
        )
        .await
        .expect("fault");
    let a = fleet.submit(100001).await;
    fleet.one_group(a.property_id, a.application_id).await;
    // A 500 may hide a create that happened: no quick retry, each goes through a wait queue.
    assert_eq!(
        fleet.worker().sample(SERIES_RETRIED).await,
        2.0,
        "two trips through a wait queue"
    );
    assert_eq!(fleet.worker().sample(SERIES_DONE).await, 1.0);
    let statuses: Vec<_> = fleet
        .calls(Simulator::Payscore, "create_group")
        .await
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(201)]);

    fleet
        .control()
        .clear_calls(Simulator::Payscore)
        .await
        .expect("clear");
    fleet
        .control()
        .fail_next(
            Simulator::Payscore,
            "create_group",
            Scripted::status(1, 429).with_retry_after(2),
        )
        .await
        .expect("fault");
    let b = fleet.submit(100002).await;
    fleet.one_group(b.property_id, b.application_id).await;
    let calls = fleet.calls(Simulator::Payscore, "create_group").await;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].status, Some(429));
    let waited = calls[1].received_at_ms - calls[0].received_at_ms;
    assert!(
        waited >= 2000,
        "no call before Retry-After passed (waited {waited} ms)"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn permanent_failures_are_dead_lettered_at_once_with_their_reason() {
    let fleet = Fleet::start("permanent", FleetOptions::default()).await;
    let rejected = fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100001),
            nonexistent_email: true,
            every_email: true,
            ..Default::default()
        })
        .await
        .expect("submit");
    let message = fleet
        .dead_letter(WorkQueue::Screenings, "payscore_rejected")
        .await;
    let last_error = header_text(&message, "x-last-error").unwrap_or_default();
    assert!(
        !last_error.contains('@'),
        "no email in headers: {last_error}"
    );
    assert_eq!(
        message.delivery.data,
        rejected.webhook.expect("webhook").payload.as_bytes(),
        "body intact"
    );
    let creates = fleet.calls(Simulator::Payscore, "create_group").await;
    assert_eq!(creates.len(), 1, "a 400 is not retried");

    fleet
        .control()
        .clear_calls(Simulator::Payscore)
        .await
        .expect("clear");
    fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100002),
            without_email: true,
            ..Default::default()
        })
        .await
        .expect("submit");
    fleet
        .dead_letter(WorkQueue::Screenings, "no_applicant_email")
        .await;
    let creates = fleet.calls(Simulator::Payscore, "create_group").await;
    assert!(creates.is_empty(), "Payscore is not called without emails");

    // A co-applicant without a first name: the household is refused whole, not sent partial
    // (and not sent with an empty name that Payscore would refuse).
    fleet
        .control()
        .submit_application(&SubmitOptions {
            property_id: Some(100001),
            customer_types: Some(vec!["Primary".into(), "Co-Applicant".into()]),
            every_email: true,
            last_without_first_name: true,
            ..Default::default()
        })
        .await
        .expect("submit");
    let dead = fleet
        .dead_letter(WorkQueue::Screenings, "applicant_incomplete")
        .await;
    assert!(
        fleet_tests::broker::header_text(&dead, "x-last-error")
            .unwrap_or_default()
            .contains("1 of 2 applicants"),
    );
    let creates = fleet.calls(Simulator::Payscore, "create_group").await;
    assert!(
        creates.is_empty(),
        "Payscore is not called for an incomplete household"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn an_exhausted_entrata_rate_limit_delays_the_job_until_the_reset() {
    let fleet = Fleet::start(
        "rate-limit",
        FleetOptions {
            env: vec![("WORKER_INPROCESS_MAX_WAIT_MS", "500".into())],
            ..Default::default()
        },
    )
    .await;
    fleet
        .control()
        .exhaust_rate_limit(None, 3)
        .await
        .expect("exhaust");
    let exhausted_at = shared::envelope::now_millis();
    let a = fleet.submit(100003).await;
    let group = fleet.one_group(a.property_id, a.application_id).await;
    assert!(
        group.created_at_ms as i64 >= exhausted_at + 2500,
        "created {} ms after the budget was spent",
        group.created_at_ms as i64 - exhausted_at
    );
    let throttled = r#"worker_jobs_total{outcome="throttled",queue="screenings"}"#;
    let leads = fleet.calls(Simulator::Entrata, "leads/getLeads").await;
    let hammered = leads.iter().filter(|c| c.status == Some(429)).count();
    assert!(
        hammered <= 2,
        "the worker waits for the reset instead of hammering ({hammered} 429s)"
    );
    assert_eq!(
        fleet.worker().sample(SERIES_RETRIED).await,
        0.0,
        "a rate limit spends no attempt"
    );
    // The reset (3 s) is longer than this fleet waits in process: it went through a wait queue.
    assert_eq!(fleet.worker().sample(throttled).await, 1.0);
    fleet.stop().await;
}

#[tokio::test]
async fn a_hanging_payscore_times_out_and_a_late_answered_create_stays_one_group() {
    let fleet = Fleet::start("hanging", FleetOptions::default()).await;
    fleet
        .control()
        .fail_next(
            Simulator::Payscore,
            "create_group",
            Scripted::action(1, sandbox::ScriptedAction::Hang),
        )
        .await
        .expect("fault");
    let a = fleet.submit(100001).await;
    fleet.one_group(a.property_id, a.application_id).await;

    fleet.lose_next_create_answer().await;
    let b = fleet.submit(100002).await;
    fleet.one_group(b.property_id, b.application_id).await;
    fleet.worker().wait_for(SERIES_DONE, 2.0).await;
    assert_eq!(
        fleet.group_count(b.property_id, b.application_id).await,
        1,
        "no second group after the lost answer"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn a_failing_lookup_never_lets_a_group_be_created_blind() {
    let fleet = Fleet::start("lookup-404", FleetOptions::default()).await;
    // The create is performed but unanswered; the lookups that should resolve it fail twice.
    fleet.lose_next_create_answer().await;
    fleet
        .control()
        .fail_next(
            Simulator::Payscore,
            "applicant_groups",
            Scripted::status(2, 404),
        )
        .await
        .expect("fault");
    let a = fleet.submit(100002).await;
    fleet.one_group(a.property_id, a.application_id).await;
    fleet.worker().wait_for(SERIES_DONE, 1.0).await;
    let lookups = fleet.calls(Simulator::Payscore, "applicant_groups").await;
    let creates = fleet.calls(Simulator::Payscore, "create_group").await;
    assert_eq!(
        creates.len(),
        1,
        "never created again while the outcome was unknown"
    );
    assert_eq!(lookups[0].status, Some(404));
    assert_eq!(lookups[1].status, Some(404));
    assert_eq!(lookups[2].status, Some(200), "the lookup that resolved it");
    assert!(
        fleet.worker().sample(SERIES_RETRIED).await >= 2.0,
        "the timed-out create and each failed lookup were retried"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn a_409_for_a_group_made_by_a_lost_create_is_adopted_not_dead_lettered() {
    // Payscore as it may be: one group per correlation_id (409 on a second), and lists that
    // show a new group only after a while. The first create is performed but its answer
    // never arrives, so the next attempt cannot see the group yet and is answered 409.
    let mut options = FleetOptions::default();
    options.sandbox.payscore.unique_correlation_ids = true;
    // The lag leaves the second attempt (about 3.5 s in: the 2 s timeout, then the first
    // delay) far inside it on a loaded machine; the schedule outlasts it.
    options.sandbox.payscore.list_lag = std::time::Duration::from_secs(12);
    options.env.push((
        "RETRY_SCHEDULE",
        "1s,1s,1s,1s,1s,2s,2s,2s,2s,2s,2s,2s".into(),
    ));
    // Believe a lookup that shows nothing 1 s after the lost create, so the worker creates
    // again and meets the 409 (with the default 2 min it would wait for the list instead).
    options.env.push(("PAYSCORE_LOOKUP_SETTLE", "1s".into()));
    let fleet = Fleet::start("conflict", options).await;
    fleet.lose_next_create_answer().await;
    let a = fleet.submit(100001).await;
    let duplicate = r#"worker_jobs_total{outcome="duplicate",queue="screenings"}"#;
    fleet_tests::eventually(
        std::time::Duration::from_secs(40),
        "the job to finish",
        || async {
            let finished =
                fleet.worker().sample(SERIES_DONE).await + fleet.worker().sample(duplicate).await;
            (finished >= 1.0).then_some(())
        },
    )
    .await;
    assert_eq!(fleet.group_count(a.property_id, a.application_id).await, 1);
    let creates = fleet.calls(Simulator::Payscore, "create_group").await;
    // Every attempt until the list shows the group tries again and meets the 409.
    assert!(creates.len() >= 2, "the lost create, then at least one 409");
    assert!(
        creates[1..].iter().all(|c| c.status == Some(409)),
        "{:?}",
        creates.iter().map(|c| c.status).collect::<Vec<_>>()
    );
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    assert_eq!(fleet.broker.count(&dead).await, 0, "nothing dead-lettered");
    fleet.stop().await;
}

#[tokio::test]
async fn a_429_without_retry_after_waits_the_overload_minimum_before_the_next_attempt() {
    let options = FleetOptions {
        env: vec![("RETRY_OVERLOAD_MIN", "3s".into())],
        ..Default::default()
    };
    let fleet = Fleet::start("overload", options).await;
    fleet
        .control()
        .fail_next(
            Simulator::Payscore,
            "create_group",
            Scripted::status(1, 429),
        )
        .await
        .expect("fault");
    let a = fleet.submit(100001).await;
    fleet.one_group(a.property_id, a.application_id).await;
    let calls = fleet.calls(Simulator::Payscore, "create_group").await;
    assert_eq!(calls.len(), 2, "no quick retry in process");
    assert_eq!(calls[0].status, Some(429));
    let waited = calls[1].received_at_ms - calls[0].received_at_ms;
    assert!(
        waited >= 3000,
        "an overloaded Payscore is given RETRY_OVERLOAD_MIN (waited {waited} ms)"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn a_dead_letter_after_the_last_retry_counts_every_failed_attempt() {
    let options = FleetOptions {
        env: vec![("RETRY_SCHEDULE", "1s,1s".into())],
        ..Default::default()
    };
    let fleet = Fleet::start("exhausted", options).await;
    fleet
        .control()
        .fail_next(
            Simulator::Payscore,
            "create_group",
            Scripted::status(3, 503),
        )
        .await
        .expect("fault");
    fleet.submit(100001).await;
    let dead = fleet
        .dead_letter(WorkQueue::Screenings, "retries_exhausted")
        .await;
    let attempt = dead
        .delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-attempt").cloned())
        .and_then(|v| worker::consumer::integer(&v));
    assert_eq!(
        attempt,
        Some(3),
        "three attempts failed: the first and both retries"
    );
    assert_eq!(
        fleet.calls(Simulator::Payscore, "create_group").await.len(),
        3
    );
    fleet.stop().await;
}
