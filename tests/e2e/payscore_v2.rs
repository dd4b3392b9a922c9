//! Payscore's v2 applicant groups end to end: a property on v2 asking for income and identity
//! verification beside a v1 property, two workers, the real broker and ledger. One group per
//! application with both verifications for every applicant and the rent in cents; one upload
//! per report, however the `REPORT_READY` webhooks are repeated, lost or race the report
//! checks; an expired report dead-lettered (its webhook naming its group or not); a property
//! moved from v1 to v2 finishing its v1 groups on v1.

use crate::reports::uploads;
use fleet_tests::eventually;
use fleet_tests::fleet::{Fleet, FleetOptions, WorkerProcess};
use fleet_tests::worker::properties_file;
use sandbox::entrata::submit::{SubmitOptions, SubmittedApplication};
use sandbox::payscore::v2::views::ControlApplicantGroup;
use sandbox::payscore::webhooks::{Suppression, WebhookFaults};
use shared::amqp::WorkQueue;
use std::collections::BTreeSet;
use std::time::Duration;

/// 100001 stays on v1; 100003 screens on v2 with income and identity.
const PROPERTIES: &str = r#"
[defaults]
decision_maker_display_name = "Acme Residential"

[properties."100001"]
[properties."100003"]
payscore_api = "v2"
verifications = ["income", "identity"]
property_name = "Birch Lofts"
"#;

const V2_PROPERTY: u64 = 100003;
const V1_PROPERTY: u64 = 100001;

async fn fleet(
    test: &str,
    env: Vec<(&'static str, String)>,
) -> (Fleet, WorkerProcess, WorkerProcess) {
    fleet_with(test, env, sandbox::SandboxConfig::default()).await
}

async fn fleet_with(
    test: &str,
    env: Vec<(&'static str, String)>,
    sandbox: sandbox::SandboxConfig,
) -> (Fleet, WorkerProcess, WorkerProcess) {
    let fleet = Fleet::start(
        test,
        FleetOptions {
            start_worker: false,
            env,
            sandbox,
        },
    )
    .await;
    let properties = properties_file(&fleet.broker.prefix, PROPERTIES)
        .display()
        .to_string();
    let a = fleet
        .spawn_worker(&[("PROPERTIES_FILE", properties.clone())])
        .await;
    let b = fleet.spawn_worker(&[("PROPERTIES_FILE", properties)]).await;
    (fleet, a, b)
}

/// A two-person household (primary and co-applicant, both with an email).
async fn household(fleet: &Fleet, property_id: u64) -> SubmittedApplication {
    let options = SubmitOptions {
        property_id: Some(property_id),
        customer_types: Some(vec!["Primary".into(), "Co-Applicant".into()]),
        every_email: true,
        rent: Some("1650.50".into()),
        ..Default::default()
    };
    fleet
        .control()
        .submit_application(&options)
        .await
        .expect("submit")
}

async fn applicant_group(fleet: &Fleet, app: &SubmittedApplication) -> ControlApplicantGroup {
    let correlation = format!("entrata:{}:{}", app.property_id, app.application_id);
    eventually(Duration::from_secs(30), "the applicant group", || async {
        let groups = fleet
            .control()
            .applicant_groups_by_correlation(&correlation)
            .await
            .ok()?;
        assert!(groups.len() <= 1, "one applicant group per application");
        groups.into_iter().next()
    })
    .await
}

/// `env` with report checks every second.
fn every_second(mut env: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    env.push(("REPORT_CHECK_FIRST_DELAY", "1s".into()));
    env.push(("REPORT_CHECK_SCHEDULE", "1s".into()));
    env
}

/// Payscore's `REPORT_READY` webhooks are lost from now on.
async fn lose_report_ready(fleet: &Fleet) {
    let lost = Suppression {
        all: false,
        codes: ["REPORT_READY".to_owned()].into(),
    };
    fleet
        .control()
        .suppress_webhooks(&lost)
        .await
        .expect("suppress");
}

/// A v2 household submitted and finished while Payscore's `REPORT_READY` webhooks are lost;
/// the application and its group with the reports.
async fn finished_without_report_ready(
    fleet: &Fleet,
) -> (SubmittedApplication, ControlApplicantGroup) {
    lose_report_ready(fleet).await;
    let app = household(fleet, V2_PROPERTY).await;
    let group = applicant_group(fleet, &app).await;
    let group = finish(fleet, &group).await;
    (app, group)
}

/// The file names of an application's successful uploads.
async fn uploaded_names(fleet: &Fleet, application_id: u64) -> Vec<String> {
    fleet
        .control()
        .uploads(application_id)
        .await
        .expect("uploads")
        .into_iter()
        .filter(|u| u.status == "Success")
        .map(|u| u.file_name)
        .collect()
}

/// Complete every verification of the group in Payscore; the group with its reports.
async fn finish(fleet: &Fleet, group: &ControlApplicantGroup) -> ControlApplicantGroup {
    fleet
        .control()
        .complete_applicant_group(&group.id, None)
        .await
        .expect("complete");
    fleet
        .control()
        .applicant_group(&group.id)
        .await
        .expect("group")
}

/// The application's applicant file holds each of the group's reports exactly once, under
/// the name that says which report it is.
async fn assert_each_report_once(
    fleet: &Fleet,
    application_id: u64,
    group: &ControlApplicantGroup,
) {
    let names = uploaded_names(fleet, application_id).await;
    let expected: BTreeSet<String> = group
        .reports
        .iter()
        .map(|r| format!("payscore-{}-{}-{}.pdf", r.report_type, group.id, r.id))
        .collect();
    assert_eq!(names.len(), expected.len(), "each report once: {names:?}");
    assert_eq!(names.into_iter().collect::<BTreeSet<_>>(), expected);
}

#[tokio::test]
async fn a_v2_household_gets_one_group_and_each_report_once_whatever_the_webhooks_do() {
    let (fleet, a, b) = fleet("v2-reports", every_second(Vec::new())).await;
    // Every webhook twice at once: repeated REPORT_READY race each other and the report
    // checks, on two workers.
    fleet
        .control()
        .set_webhook_faults(&WebhookFaults {
            loss_rate: 0.0,
            repeat_rate: 1.0,
        })
        .await
        .expect("faults");
    let v2 = household(&fleet, V2_PROPERTY).await;
    let v1 = household(&fleet, V1_PROPERTY).await;
    let group = applicant_group(&fleet, &v2).await;
    assert_eq!(group.applicants.len(), 2);
    for applicant in &group.applicants {
        let kinds: BTreeSet<&str> = applicant
            .verifications
            .iter()
            .map(|v| v.kind.as_str())
            .collect();
        assert_eq!(
            kinds,
            BTreeSet::from(["income_verification", "identity_verification"])
        );
    }
    assert_eq!(group.request["monthly_rent"], 165_050, "rent in cents");
    assert_eq!(group.request["property"]["name"], "Birch Lofts");
    let property = fleet
        .control()
        .properties()
        .await
        .expect("properties")
        .into_iter()
        .find(|p| p.id == V2_PROPERTY)
        .expect("the v2 property");
    assert_eq!(
        group.request["property"]["state"], property.state_code,
        "the state as its USPS code"
    );
    assert_eq!(group.request["is_invitation_disabled"], false);
    // The v1 property beside it: a screening group, as before.
    let v1_group = fleet.one_group(v1.property_id, v1.application_id).await;
    let group = finish(&fleet, &group).await;
    fleet
        .control()
        .complete_group(&v1_group.id)
        .await
        .expect("complete v1");
    assert_eq!(
        group.reports.len(),
        3,
        "household income, two identity reports"
    );
    uploads(&fleet, v2.application_id, 3).await;
    uploads(&fleet, v1.application_id, 1).await;
    fleet.settled(&[&a, &b]).await;
    // The checks' last rounds and every repeated webhook have had their chance.
    tokio::time::sleep(Duration::from_secs(3)).await;
    fleet.settled(&[&a, &b]).await;
    assert_each_report_once(&fleet, v2.application_id, &group).await;
    let v1_names = uploaded_names(&fleet, v1.application_id).await;
    assert_eq!(v1_names.len(), 1);
    assert!(
        v1_names[0].starts_with(&format!("payscore-{}-", v1_group.id)),
        "the v1 report keeps its name: {v1_names:?}"
    );
    assert!(
        fleet.control().groups().await.expect("v1 groups").len() == 1,
        "the v2 application made no v1 group"
    );
    fleet.assert_nothing_dead_lettered().await;
    // The repeated REPORT_READY met a report already uploaded (or being uploaded).
    let duplicate = r#"worker_jobs_total{outcome="duplicate",queue="reports"}"#;
    let duplicates = a.sample(duplicate).await + b.sample(duplicate).await;
    assert!(duplicates >= 3.0, "{duplicates} duplicates");
    // v2's codes are counted by name: two of each verification step per applicant (every
    // webhook came twice), two REPORT_READY per report.
    for (code, at_least) in [
        ("verification_started", 8.0),
        ("verification_completed", 8.0),
        ("report_ready", 6.0),
    ] {
        let series = format!(r#"worker_payscore_webhooks_total{{code="{code}"}}"#);
        let seen = a.sample(&series).await + b.sample(&series).await;
        assert!(seen >= at_least, "{code}: {seen}");
    }
    drop((a, b));
    fleet.stop().await;
}

#[tokio::test]
async fn an_identity_report_ready_without_its_group_is_placed_by_the_report_itself() {
    // The other reading of §10: an individual report's webhook does not name its group.
    let mut config = sandbox::SandboxConfig::default();
    config.payscore.v2_report_ready_group_id_household_only = true;
    // Report checks an hour away: only the webhooks can bring the reports.
    let (fleet, a, b) = fleet_with("v2-no-group", Vec::new(), config).await;
    let app = household(&fleet, V2_PROPERTY).await;
    let group = applicant_group(&fleet, &app).await;
    let group = finish(&fleet, &group).await;
    uploads(&fleet, app.application_id, 3).await;
    assert_each_report_once(&fleet, app.application_id, &group).await;
    fleet.assert_nothing_dead_lettered().await;
    drop((a, b));
    fleet.stop().await;
}

#[tokio::test]
async fn lost_report_ready_webhooks_are_made_up_by_the_report_checks_which_then_stop() {
    let (fleet, a, b) = fleet("v2-checks", every_second(Vec::new())).await;
    // The first checks find the reports list answering 404: read as "no reports yet", not as
    // a group to forget.
    fleet
        .control()
        .fail_next(
            sandbox::core::Simulator::Payscore,
            "applicant_group_reports",
            sandbox::Scripted::status(2, 404),
        )
        .await
        .expect("fault");
    let (app, group) = finished_without_report_ready(&fleet).await;
    uploads(&fleet, app.application_id, 3).await;
    assert_each_report_once(&fleet, app.application_id, &group).await;
    // Every report is in and the group is completed: the checks end.
    let rescheduled = r#"worker_jobs_total{outcome="rescheduled",queue="reports"}"#;
    fleet.settled(&[&a, &b]).await;
    let before = a.sample(rescheduled).await + b.sample(rescheduled).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = a.sample(rescheduled).await + b.sample(rescheduled).await;
    assert_eq!(before, after, "no check is scheduled any more");
    let forgotten = r#"worker_ignored_total{queue="reports",reason="group_unknown"}"#;
    assert_eq!(a.sample(forgotten).await + b.sample(forgotten).await, 0.0);
    let done = r#"worker_jobs_total{outcome="done",queue="reports"}"#;
    assert!(
        a.sample(done).await + b.sample(done).await >= 1.0,
        "the last check ended done, not ignored or expired"
    );
    fleet.assert_nothing_dead_lettered().await;
    drop((a, b));
    fleet.stop().await;
}

#[tokio::test]
async fn an_expired_report_is_dead_lettered_as_report_expired() {
    expired_report_ready("v2-expired", true).await;
}

#[tokio::test]
async fn an_expired_report_whose_webhook_leaves_its_group_out_is_dead_lettered_as_report_expired() {
    // The group comes from the report itself, which answers 410.
    expired_report_ready("v2-expired-no-group", false).await;
}

/// A report of a finished household expires before its REPORT_READY (naming the group or
/// not) arrives: dead-lettered as `report_expired`, nothing uploaded.
async fn expired_report_ready(test: &str, names_group: bool) {
    let (fleet, a, b) = fleet(test, Vec::new()).await;
    let (app, group) = finished_without_report_ready(&fleet).await;
    // An identity report: the one kind whose webhook may leave the group out.
    let report = group
        .reports
        .iter()
        .find(|r| r.applicant_id.is_some())
        .expect("an identity report");
    fleet
        .control()
        .expire_applicant_group_report(&group.id, Some(&report.id))
        .await
        .expect("expire");
    // Its REPORT_READY arrives late, signed as Payscore signs it.
    let mut body = serde_json::json!({
        "code": "REPORT_READY",
        "applicant_id": report.applicant_id,
        "report_id": report.id,
        "report_type": report.report_type,
    });
    if names_group {
        body["applicant_group_id"] = serde_json::json!(group.id);
    }
    let body = body.to_string();
    let secret = &fleet.worker_env["PAYSCORE_WEBHOOK_SECRET"];
    let signature = sandbox::payscore::webhooks::sign(secret.as_bytes(), body.as_bytes());
    let answer = reqwest::Client::new()
        .post(format!("{}/webhooks/payscore", fleet.ingest.url))
        .header("verification-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(answer.status(), 202);
    fleet
        .dead_letter(WorkQueue::Reports, "report_expired")
        .await;
    assert!(uploaded_names(&fleet, app.application_id).await.is_empty());
    drop((a, b));
    fleet.stop().await;
}

/// A fleet on the usual (all v1) properties file, with report checks every second.
async fn v1_fleet(test: &str, extra: Vec<(&'static str, String)>) -> Fleet {
    Fleet::start(
        test,
        FleetOptions {
            start_worker: false,
            env: every_second(extra),
            ..Default::default()
        },
    )
    .await
}

/// A worker with the v2 properties file.
async fn v2_worker(fleet: &Fleet) -> WorkerProcess {
    let properties = properties_file(&fleet.broker.prefix, PROPERTIES)
        .display()
        .to_string();
    fleet.spawn_worker(&[("PROPERTIES_FILE", properties)]).await
}

#[tokio::test]
async fn a_property_moved_to_v2_finishes_its_v1_groups_on_v1_and_screens_new_ones_on_v2() {
    let fleet = v1_fleet("v2-switch", Vec::new()).await;
    // Only the report checks can bring the v1 report: its completion webhook is lost.
    crate::reports::suppress_completion(&fleet).await;
    // First on v1, the household not finished yet: its first check parks the next one.
    let before = fleet.spawn_worker(&[]).await;
    let old = household(&fleet, V2_PROPERTY).await;
    let old_group = fleet.one_group(old.property_id, old.application_id).await;
    before
        .wait_until_seen(r#"worker_jobs_total{outcome="rescheduled",queue="reports"}"#)
        .await;
    drop(before);
    // Then the property moves to v2.
    let after = v2_worker(&fleet).await;
    // The old application's webhook again: its v1 group is found, no applicant group made.
    fleet
        .control()
        .resend_application_webhook(old.application_id, &Default::default())
        .await
        .expect("resend");
    fleet
        .control()
        .complete_group(&old_group.id)
        .await
        .expect("complete the v1 group");
    uploads(&fleet, old.application_id, 1).await;
    let names = uploaded_names(&fleet, old.application_id).await;
    assert!(
        names[0].starts_with(&format!("payscore-{}-", old_group.id)),
        "the v1 group's report, as v1 names it: {names:?}"
    );
    let correlation = format!("entrata:{}:{}", old.property_id, old.application_id);
    assert!(
        fleet
            .control()
            .applicant_groups_by_correlation(&correlation)
            .await
            .expect("list")
            .is_empty(),
        "the old application got no applicant group"
    );
    let new = household(&fleet, V2_PROPERTY).await;
    let group = applicant_group(&fleet, &new).await;
    assert_eq!(group.applicants.len(), 2);
    assert_eq!(
        fleet.group_count(new.property_id, new.application_id).await,
        0,
        "no v1 group for the new application"
    );
    drop(after);
    fleet.stop().await;
}

#[tokio::test]
async fn a_v1_create_whose_answer_was_lost_before_the_move_is_found_and_kept_as_v1() {
    let fleet = v1_fleet(
        "v2-switch-lost",
        vec![("RETRY_SCHEDULE", "3s,3s,3s".to_owned())],
    )
    .await;
    crate::reports::suppress_completion(&fleet).await;
    // On v1, the create happens but its answer never comes: the intent stays, as v1.
    fleet.lose_next_create_answer().await;
    let before = fleet.spawn_worker(&[]).await;
    let old = household(&fleet, V2_PROPERTY).await;
    let old_group = fleet.one_group(old.property_id, old.application_id).await;
    before
        .wait_until_seen(r#"worker_jobs_total{outcome="retried",queue="screenings"}"#)
        .await;
    drop(before);
    // The property moves to v2 before the retry: the lookup finds the v1 group, which is
    // recorded as v1 and reported on v1.
    let after = v2_worker(&fleet).await;
    eventually(Duration::from_secs(30), "the group recorded", || async {
        let rows = fleet
            .database
            .query("SELECT payscore_api FROM ledger_applications WHERE group_id IS NOT NULL")
            .await;
        rows.first().map(|r| r.get::<_, String>(0))
    })
    .await
    .eq("v1")
    .then_some(())
    .expect("recorded as the v1 group it is");
    fleet
        .control()
        .complete_group(&old_group.id)
        .await
        .expect("complete");
    uploads(&fleet, old.application_id, 1).await;
    assert_eq!(
        fleet.group_count(old.property_id, old.application_id).await,
        1
    );
    drop(after);
    fleet.stop().await;
}

#[tokio::test]
async fn an_operator_resolves_an_unknown_v2_create_as_the_applicant_group_it_is() {
    let (fleet, a, b) = fleet(
        "v2-resolve",
        every_second(vec![("PAYSCORE_LOOKUP", "none".into())]),
    )
    .await;
    // The applicant group is made, its answer lost: without a lookup the application waits
    // in screenings.dead for an operator.
    fleet
        .control()
        .fail_next(
            sandbox::core::Simulator::Payscore,
            "create_applicant_group",
            sandbox::Scripted::action(1, sandbox::ScriptedAction::HangAfterHandling),
        )
        .await
        .expect("fault");
    lose_report_ready(&fleet).await;
    let app = household(&fleet, V2_PROPERTY).await;
    let dead = fleet.broker.topology().dead_queue(WorkQueue::Screenings);
    eventually(Duration::from_secs(30), "the dead letter", || async {
        (fleet.broker.count(&dead).await == 1).then_some(())
    })
    .await;
    let group = applicant_group(&fleet, &app).await;
    // `worker resolve` without --api, with the fleet's v2 properties file: recorded as v2.
    let properties = properties_file(&fleet.broker.prefix, PROPERTIES)
        .display()
        .to_string();
    let run = |args: &[&str]| {
        std::process::Command::new(fleet_tests::process::binary("worker"))
            .args(args)
            .envs(&fleet.worker_env)
            .env("PROPERTIES_FILE", &properties)
            .output()
            .expect("worker")
    };
    let resolved = run(&[
        "resolve",
        "--property",
        &app.property_id.to_string(),
        "--application",
        &app.application_id.to_string(),
        "--group",
        &group.id,
    ]);
    let said = String::from_utf8_lossy(&resolved.stdout);
    assert!(resolved.status.success(), "{said}");
    assert!(
        said.contains("applicant group") && said.contains("(Payscore v2)"),
        "{said}"
    );
    assert_eq!(
        fleet
            .database
            .count("SELECT count(*) FROM ledger_applications WHERE payscore_api = 'v2'")
            .await,
        1
    );
    // The household finishes; the replayed dead letter finds the recorded group and forwards
    // a v2 report check, which brings every report although no REPORT_READY came.
    let group = finish(&fleet, &group).await;
    let replayed = run(&["replay", "--queue", "screenings"]);
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    uploads(&fleet, app.application_id, 3).await;
    fleet.settled(&[&a, &b]).await;
    assert_each_report_once(&fleet, app.application_id, &group).await;
    assert_eq!(
        fleet
            .calls(sandbox::core::Simulator::Payscore, "create_applicant_group")
            .await
            .len(),
        1,
        "never created again"
    );
    drop((a, b));
    fleet.stop().await;
}
