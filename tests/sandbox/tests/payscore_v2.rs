//! Contract tests of the Payscore simulator's v2 applicant-group API: create and its
//! validation, the shared list, reports (which exist, the list, one report, its PDF, expiry),
//! the v2 webhooks with signatures checked by an independent HMAC, faults, automatic
//! progress, and the control view.

mod common;

use common::{Receiver, create_group, group_body, http, start, start_with, token, verifies};
use sandbox::payscore::VerificationTarget;
use sandbox::payscore::model::Status;
use sandbox::payscore::webhooks::{WebhookFaults, WebhookRecord};
use sandbox::{Outcome, SandboxConfig, Scripted, ScriptedAction, Simulator};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// A valid v2 body: two applicants, both asking for income and identity verification.
fn household(correlation_id: &str, webhook_url: Option<&str>) -> Value {
    let both = json!([{ "type": "income_verification" }, { "type": "identity_verification" }]);
    json!({
        "applicants": [
            { "first_name": "Jane", "last_name": "Doe", "email": "jane.doe@example.com",
              "phone_number": "+19842342345", "verifications": both },
            { "first_name": "Sam", "last_name": "Roe", "email": "sam.roe@example.com",
              "verifications": both }
        ],
        "property": { "name": "ABC Apartments", "street_address": "123 Main Street",
                      "city": "San Francisco", "state": "CA", "zip_code": "94102", "unit": "2A" },
        "decision_maker_display_name": "ABC Property Management",
        "monthly_rent": 250000,
        "webhook_url": webhook_url,
        "is_invitation_disabled": true,
        "correlation_id": correlation_id,
    })
}

async fn post_v2(sandbox: &sandbox::Sandbox, token: &str, body: &Value) -> (u16, Value) {
    let response = http()
        .post(format!(
            "{}/api/v1/applicant_groups",
            sandbox.payscore_url()
        ))
        .header("authorization", token)
        .json(body)
        .send()
        .await
        .expect("answers");
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn create_v2(sandbox: &sandbox::Sandbox, token: &str, body: &Value) -> Value {
    let (status, group) = post_v2(sandbox, token, body).await;
    assert_eq!(status, 201, "{group}");
    group
}

async fn get(url: &str, token: &str) -> (u16, Value) {
    let response = http()
        .get(url)
        .header("authorization", token)
        .send()
        .await
        .expect("answers");
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_owned()
}

fn body_of(received: &common::Received) -> Value {
    serde_json::from_slice(&received.body).expect("JSON body")
}

fn with_code<'a>(records: &'a [WebhookRecord], code: &str) -> Vec<&'a WebhookRecord> {
    records.iter().filter(|w| w.code == code).collect()
}

#[tokio::test]
async fn create_answers_201_with_the_applicant_group_in_status_pending() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let group = create_v2(&sandbox, &token, &household("PROP-123-UNIT-456", None)).await;
    uuid::Uuid::parse_str(&id_of(&group)).expect("a UUID");
    assert_eq!(group["status"], "pending");
    assert_eq!(group["monthly_rent_cents"], 250000, "cents, not dollars");
    assert_eq!(group["correlation_id"], "PROP-123-UNIT-456");
    assert_eq!(
        group["decision_maker_display_name"],
        "ABC Property Management"
    );
    assert_eq!(group["unit_number"], "2A");
    assert_eq!(group["unit_id"], Value::Null);
    assert_eq!(group["is_free"], false);
    assert_eq!(group["is_decision_maker_paying"], true);
    assert_eq!(
        group["verification_types"],
        json!(["income_verification", "identity_verification"])
    );
    let property = &group["property"];
    uuid::Uuid::parse_str(property["id"].as_str().expect("property id")).expect("a UUID");
    assert_eq!(property["name"], "ABC Apartments");
    assert_eq!(property["state"], "CA");
    assert_eq!(property["zip_code"], "94102");
    let seconds = group["created_at_timestamp"].as_f64().expect("a number");
    assert!(
        (1.0e9..1.0e10).contains(&seconds),
        "Unix seconds, not milliseconds: {seconds}"
    );
    let applicants = group["applicants"].as_array().expect("applicants");
    assert_eq!(applicants.len(), 2);
    assert_ne!(applicants[0]["id"], applicants[1]["id"]);
    uuid::Uuid::parse_str(applicants[0]["id"].as_str().expect("id")).expect("a UUID");
    assert_eq!(applicants[0]["email"], "jane.doe@example.com");
    assert_eq!(applicants[0]["phone_number"], "+19842342345");
    assert_eq!(
        applicants[1]["verifications"][1]["type"],
        "identity_verification"
    );
}

#[tokio::test]
async fn invalid_creates_are_refused_with_400_naming_the_field_and_store_nothing() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let cases: [(&str, Value, &str); 7] = [
        ("/monthly_rent", json!(2500.5), "monthly_rent"),
        ("/monthly_rent", json!(-100), "monthly_rent"),
        ("/monthly_rent", json!("250000"), "monthly_rent"),
        (
            "/applicants/0/verifications/1/type",
            json!("credit_check"),
            "applicants[0].verifications[1].type",
        ),
        (
            "/applicants/1/email",
            json!("does-not-exist@example.com"),
            "applicants[1].email",
        ),
        (
            "/applicants/1/verifications",
            json!([]),
            "applicants[1].verifications",
        ),
        ("/applicants", Value::Null, "applicants"),
    ];
    for (pointer, value, field) in cases {
        let mut body = household("entrata:2:1", None);
        *body.pointer_mut(pointer).expect("field exists") = value;
        let (status, error) = post_v2(&sandbox, &token, &body).await;
        assert_eq!(status, 400, "{pointer}");
        assert_eq!(error["message"], "Validation failed", "{pointer}");
        assert_eq!(error["errors"][0]["field"], field, "{pointer}: {error}");
    }
    let mut without = household("entrata:2:1", None);
    without.as_object_mut().map(|o| o.remove("applicants"));
    assert_eq!(post_v2(&sandbox, &token, &without).await.0, 400);
    assert_eq!(post_v2(&sandbox, &token, &json!([1, 2])).await.0, 400);
    assert!(
        sandbox
            .control()
            .applicant_groups()
            .await
            .expect("groups")
            .is_empty(),
        "nothing stored"
    );
    let unauthenticated = http()
        .post(format!(
            "{}/api/v1/applicant_groups",
            sandbox.payscore_url()
        ))
        .json(&household("entrata:2:1", None))
        .send()
        .await
        .expect("answers");
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn a_state_name_is_accepted_by_default_and_refused_with_initials_only() {
    let mut named = household("entrata:2:2", None);
    named["property"]["state"] = json!("California");
    let lenient = start().await;
    let token_lenient = token(&lenient).await;
    create_v2(&lenient, &token_lenient, &named).await;

    let mut config = SandboxConfig::default();
    config.payscore.v2_state_initials_only = true;
    let strict = start_with(config).await;
    let token = token(&strict).await;
    let (status, error) = post_v2(&strict, &token, &named).await;
    assert_eq!(status, 400);
    assert_eq!(error["errors"][0]["field"], "property.state");
    create_v2(&strict, &token, &household("entrata:2:2", None)).await;
}

#[tokio::test]
async fn the_accepted_verification_types_are_configurable() {
    let mut config = SandboxConfig::default();
    config.payscore.v2_verification_types = vec!["asset_verification".into()];
    let sandbox = start_with(config).await;
    let token = token(&sandbox).await;
    let (status, error) = post_v2(&sandbox, &token, &household("entrata:2:3", None)).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["errors"][0]["field"],
        "applicants[0].verifications[0].type"
    );
    let mut asset = household("entrata:2:3", None);
    for i in 0..2 {
        asset["applicants"][i]["verifications"] = json!([{ "type": "asset_verification" }]);
    }
    let group = create_v2(&sandbox, &token, &asset).await;
    assert_eq!(group["verification_types"], json!(["asset_verification"]));
}

#[tokio::test]
async fn the_list_by_correlation_id_shows_v2_groups_beside_v1_groups() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let v1 = create_group(&sandbox, &token, &group_body("entrata:3:1", None)).await;
    let v2 = create_v2(&sandbox, &token, &household("entrata:3:1", None)).await;
    create_v2(&sandbox, &token, &household("entrata:3:2", None)).await;
    let base = format!("{}/api/v1/applicant_groups", sandbox.payscore_url());
    let (status, list) = get(&format!("{base}?correlation_id=entrata%3A3%3A1"), &token).await;
    assert_eq!(status, 200);
    assert_eq!(list["total_count"], 2);
    let groups = list["applicant_groups"].as_array().expect("groups");
    let ids: BTreeSet<_> = groups.iter().map(id_of).collect();
    assert_eq!(ids, BTreeSet::from([id_of(&v1), id_of(&v2)]));
    let listed = groups
        .iter()
        .find(|g| g["id"] == v2["id"])
        .expect("v2 listed");
    assert_eq!(
        listed["status"], "not_started",
        "pending only in the create answer"
    );
    assert_eq!(listed["property"]["state"], "CA");
    assert_eq!(listed["applicants"][0]["id"], v2["applicants"][0]["id"]);
    let old = groups
        .iter()
        .find(|g| g["id"] == v1["id"])
        .expect("v1 listed");
    assert_eq!(old["property"]["state"], "Texas");
    assert_eq!(old["verification_types"], json!(["income_verification"]));

    let v2_id = id_of(&v2);
    sandbox
        .control()
        .begin_applicant_group(&v2_id, None)
        .await
        .expect("begun");
    let (_, started) = get(
        &format!("{base}?correlation_id=entrata%3A3%3A1&statuses=in_progress"),
        &token,
    )
    .await;
    assert_eq!(started["total_count"], 1);
    assert_eq!(started["applicant_groups"][0]["id"], v2["id"]);
    assert_eq!(started["applicant_groups"][0]["status"], "in_progress");
    let (_, all) = get(&format!("{base}?page=1"), &token).await;
    assert_eq!(all["total_count"], 3);
}

#[tokio::test]
async fn a_two_person_household_gets_one_income_and_two_identity_reports_with_signed_webhooks() {
    let sandbox = start().await;
    let receiver = Receiver::start().await;
    let token = token(&sandbox).await;
    let group = create_v2(
        &sandbox,
        &token,
        &household("entrata:4:1", Some(&receiver.url)),
    )
    .await;
    let group_id = id_of(&group);
    let applicants: Vec<String> = group["applicants"]
        .as_array()
        .expect("applicants")
        .iter()
        .map(id_of)
        .collect();
    let verifications: BTreeSet<String> = group["applicants"]
        .as_array()
        .expect("applicants")
        .iter()
        .flat_map(|a| a["verifications"].as_array().cloned().unwrap_or_default())
        .map(|v| id_of(&v))
        .collect();
    assert_eq!(verifications.len(), 4);

    let outcome = sandbox
        .control()
        .complete_applicant_group(&group_id, None)
        .await
        .expect("completed");
    assert_eq!(outcome.group.status, Status::Completed);
    assert_eq!(
        outcome.webhooks.len(),
        11,
        "4 started, 4 completed, 3 reports ready"
    );
    assert!(outcome.webhooks.iter().all(|w| w.delivered));
    assert!(
        outcome
            .webhooks
            .iter()
            .all(|w| w.screening_group_id == group_id)
    );
    let got = receiver.wait_for(11).await;
    assert_eq!(got.len(), 11, "4 started, 4 completed, 3 reports ready");
    for r in &got {
        assert!(verifies(r, "sandbox-webhook-secret"), "{:?}", r.body);
        assert!(!verifies(r, "another-secret"));
    }
    let bodies: Vec<Value> = got.iter().map(body_of).collect();
    let of = |code: &str| -> Vec<&Value> { bodies.iter().filter(|b| b["code"] == code).collect() };
    let started: BTreeSet<String> = of("VERIFICATION_STARTED")
        .iter()
        .map(|b| b["verification_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(started, verifications, "once per verification");
    let completed = of("VERIFICATION_COMPLETED");
    assert_eq!(completed.len(), 4);
    assert!(
        completed
            .iter()
            .all(|b| b["reason_completed"] == "finished")
    );
    let ready = of("REPORT_READY");
    assert_eq!(ready.len(), 3);
    assert!(
        ready
            .iter()
            .all(|b| b["applicant_group_id"] == group_id.as_str())
    );
    let income: Vec<_> = ready
        .iter()
        .filter(|b| b["report_type"] == "income")
        .collect();
    assert_eq!(income.len(), 1);
    assert_eq!(income[0]["applicant_id"], Value::Null, "a household report");
    let identity: BTreeSet<String> = ready
        .iter()
        .filter(|b| b["report_type"] == "identity")
        .map(|b| b["applicant_id"].as_str().expect("applicant").to_owned())
        .collect();
    assert_eq!(identity, applicants.iter().cloned().collect());
    assert_eq!(
        bodies.last().map(|b| b["code"].clone()),
        Some(json!("REPORT_READY"))
    );

    // The reports list matches the webhooks.
    let base = sandbox.payscore_url();
    let (status, reports) = get(
        &format!("{base}/api/v1/applicant_groups/{group_id}/reports"),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    let reports = reports.as_array().expect("a bare array by default").clone();
    assert_eq!(reports.len(), 3);
    let ready_ids: BTreeSet<String> = ready
        .iter()
        .map(|b| b["report_id"].as_str().expect("id").to_owned())
        .collect();
    let listed_ids: BTreeSet<String> = reports.iter().map(id_of).collect();
    assert_eq!(listed_ids, ready_ids);
    for report in &reports {
        assert_eq!(report["is_expired"], false);
        assert!(report["path"].as_str().is_some_and(|p| p.ends_with(".pdf")));
        assert!(
            report["created_at"]
                .as_str()
                .is_some_and(|c| c.ends_with('Z'))
        );
        match report["report_name"].as_str() {
            Some("Income") => {
                assert_eq!(report["applicant_group_id"], group_id.as_str());
                assert_eq!(report["applicant_id"], Value::Null);
            }
            Some("Identity") => {
                assert_eq!(report["applicant_group_id"], Value::Null);
                assert!(
                    applicants
                        .iter()
                        .any(|a| report["applicant_id"] == a.as_str())
                );
            }
            other => panic!("unexpected report {other:?}"),
        }
    }

    // One report, its PDF, 404 for an unknown id, 410 once expired.
    let income_id = income[0]["report_id"].as_str().expect("id");
    let (status, report) = get(&format!("{base}/api/v1/reports/{income_id}"), &token).await;
    assert_eq!(status, 200);
    assert_eq!(report["report_id"], income_id);
    assert_eq!(report["report_type"], "income");
    assert_eq!(report["applicant_group_id"], group_id.as_str());
    assert_eq!(report["applicant_id"], Value::Null);
    assert_eq!(report["data"]["summary"]["recommendation"], "approve");
    assert!(report["data"]["summary"]["total_monthly_income"].is_i64());
    assert!(report["data"]["summary"]["income_to_rent_ratio"].is_f64());
    assert_eq!(report["data"]["accounts"], json!([]));
    let pdf_url = report["pdf_url"].as_str().expect("pdf_url");
    assert!(pdf_url.starts_with(&format!("{base}/files/")), "{pdf_url}");
    assert!(
        pdf_url.contains("AWSAccessKeyId=AKIA")
            && pdf_url.contains("&Expires=")
            && pdf_url.contains("&Signature="),
        "{pdf_url}"
    );
    let income_pdf = http().get(pdf_url).send().await.expect("the file answers");
    assert_eq!(income_pdf.status(), 200, "no token needed");
    let income_pdf = income_pdf.bytes().await.expect("bytes");
    assert!(income_pdf.starts_with(b"%PDF"));
    let identity_id = ready
        .iter()
        .find(|b| b["report_type"] == "identity")
        .and_then(|b| b["report_id"].as_str())
        .expect("identity report");
    let (status, identity_report) =
        get(&format!("{base}/api/v1/reports/{identity_id}"), &token).await;
    assert_eq!(status, 200);
    assert_eq!(identity_report["data"]["result"], "passed");
    assert!(identity_report["applicant_id"].is_string());
    let identity_pdf = http()
        .get(identity_report["pdf_url"].as_str().expect("pdf_url"))
        .send()
        .await
        .expect("answers")
        .bytes()
        .await
        .expect("bytes");
    assert!(identity_pdf.starts_with(b"%PDF"));
    assert_ne!(income_pdf, identity_pdf, "each report has its own PDF");

    let (status, missing) = get(
        &format!("{base}/api/v1/reports/6c1f4a52-0000-4000-8000-000000000000"),
        &token,
    )
    .await;
    assert_eq!(
        (status, missing["error"].clone()),
        (404, json!("Report not found"))
    );
    let expired = sandbox
        .control()
        .expire_applicant_group_report(&group_id, Some(income_id))
        .await
        .expect("expired");
    assert!(expired.webhooks.is_empty());
    let (status, gone) = get(&format!("{base}/api/v1/reports/{income_id}"), &token).await;
    assert_eq!(
        (status, gone["error"].clone()),
        (
            410,
            json!("Report data has expired and is no longer available")
        )
    );
    assert_eq!(
        get(&format!("{base}/api/v1/reports/{identity_id}"), &token)
            .await
            .0,
        200,
        "only that report expired"
    );
    let (_, reports) = get(
        &format!("{base}/api/v1/applicant_groups/{group_id}/reports"),
        &token,
    )
    .await;
    let flags: Vec<(Value, Value)> = reports
        .as_array()
        .expect("array")
        .iter()
        .map(|r| (r["id"].clone(), r["is_expired"].clone()))
        .collect();
    assert!(flags.contains(&(json!(income_id), json!(true))));
    assert!(flags.contains(&(json!(identity_id), json!(false))));
    assert_eq!(
        http().get(pdf_url).send().await.expect("answers").status(),
        404,
        "the expired report's PDF is gone"
    );
    let recorded = sandbox.control().webhooks_sent().await.expect("list");
    assert_eq!(with_code(&recorded, "REPORT_READY").len(), 3);
}

#[tokio::test]
async fn identity_reports_come_per_applicant_and_the_household_report_with_the_last_one() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let group = create_v2(&sandbox, &token, &household("entrata:4:2", None)).await;
    let group_id = id_of(&group);
    let first = id_of(&group["applicants"][0]);
    let second = id_of(&group["applicants"][1]);

    let one_check = VerificationTarget {
        applicant_id: Some(first.clone()),
        verification: Some("identity_verification".into()),
    };
    let begun = sandbox
        .control()
        .begin_applicant_group(&group_id, Some(&one_check))
        .await
        .expect("begun");
    assert_eq!(begun.group.status, Status::InProgress);
    let outcome = sandbox
        .control()
        .complete_applicant_group(&group_id, Some(&one_check))
        .await
        .expect("completed");
    assert_eq!(outcome.group.reports.len(), 1);
    assert_eq!(outcome.group.reports[0].report_type, "identity");
    assert_eq!(
        outcome.group.reports[0].applicant_id.as_deref(),
        Some(first.as_str())
    );

    let first_all = VerificationTarget {
        applicant_id: Some(first.clone()),
        verification: None,
    };
    let outcome = sandbox
        .control()
        .complete_applicant_group(&group_id, Some(&first_all))
        .await
        .expect("completed");
    assert!(
        outcome
            .group
            .reports
            .iter()
            .all(|r| r.report_type == "identity"),
        "no household report while an applicant's income verification is open"
    );
    assert_eq!(outcome.group.status, Status::InProgress);

    let second_income = VerificationTarget {
        applicant_id: Some(second.clone()),
        verification: Some("income_verification".into()),
    };
    let outcome = sandbox
        .control()
        .complete_applicant_group(&group_id, Some(&second_income))
        .await
        .expect("completed");
    let codes: Vec<&str> = outcome.webhooks.iter().map(|w| w.code.as_str()).collect();
    assert!(codes.is_empty(), "no webhook_url: nothing sent");
    let kinds: Vec<(&str, Option<&str>)> = outcome
        .group
        .reports
        .iter()
        .map(|r| (r.report_type.as_str(), r.applicant_id.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [("identity", Some(first.as_str())), ("income", None)]
    );
    assert_eq!(
        outcome.group.status,
        Status::InProgress,
        "one check still open"
    );
    let done = sandbox
        .control()
        .complete_applicant_group(&group_id, None)
        .await
        .expect("completed");
    assert_eq!(done.group.status, Status::Completed);
    assert_eq!(done.group.reports.len(), 3);

    let unknown = VerificationTarget {
        applicant_id: Some("6c1f4a52-0000-4000-8000-000000000000".into()),
        verification: None,
    };
    let error = sandbox
        .control()
        .complete_applicant_group(&group_id, Some(&unknown))
        .await
        .expect_err("no such applicant");
    assert!(matches!(
        error,
        sandbox::ControlClientError::Status { status: 404, .. }
    ));
}

#[tokio::test]
async fn the_reports_list_is_wrapped_with_the_option_and_404_for_an_unknown_group() {
    let mut config = SandboxConfig::default();
    config.payscore.v2_reports_wrapped = true;
    let sandbox = start_with(config).await;
    let token = token(&sandbox).await;
    let group = create_v2(&sandbox, &token, &household("entrata:4:3", None)).await;
    let group_id = id_of(&group);
    let url = format!(
        "{}/api/v1/applicant_groups/{group_id}/reports",
        sandbox.payscore_url()
    );
    assert_eq!(get(&url, &token).await, (200, json!({ "reports": [] })));
    sandbox
        .control()
        .complete_applicant_group(&group_id, None)
        .await
        .expect("completed");
    let (status, body) = get(&url, &token).await;
    assert_eq!(status, 200);
    assert_eq!(body["reports"].as_array().map(Vec::len), Some(3));
    let unknown = format!(
        "{}/api/v1/applicant_groups/6c1f4a52-0000-4000-8000-000000000000/reports",
        sandbox.payscore_url()
    );
    assert_eq!(get(&unknown, &token).await.0, 404);
}

#[tokio::test]
async fn create_applicant_group_faults_answer_500_or_store_then_hang() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    sandbox
        .control()
        .fail_next(
            Simulator::Payscore,
            "create_applicant_group",
            Scripted::status(1, 500),
        )
        .await
        .expect("queued");
    let body = household("entrata:5:1", None);
    let (status, error) = post_v2(&sandbox, &token, &body).await;
    assert_eq!(
        (status, error),
        (500, json!({ "error": "Internal Server Error" }))
    );
    assert!(
        sandbox
            .control()
            .applicant_groups()
            .await
            .expect("groups")
            .is_empty(),
        "the injected 500 created nothing"
    );
    assert_eq!(post_v2(&sandbox, &token, &body).await.0, 201);

    sandbox
        .control()
        .fail_next(
            Simulator::Payscore,
            "create_applicant_group",
            Scripted::action(1, ScriptedAction::HangAfterHandling),
        )
        .await
        .expect("queued");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let result = client
        .post(format!(
            "{}/api/v1/applicant_groups",
            sandbox.payscore_url()
        ))
        .header("authorization", &token)
        .json(&household("entrata:5:2", None))
        .send()
        .await;
    assert!(result.expect_err("no answer").is_timeout());
    let stored = sandbox
        .control()
        .applicant_groups_by_correlation("entrata:5:2")
        .await
        .expect("groups");
    assert_eq!(stored.len(), 1, "the timed-out create happened");
    let (_, lookup) = get(
        &format!(
            "{}/api/v1/applicant_groups?correlation_id=entrata%3A5%3A2",
            sandbox.payscore_url()
        ),
        &token,
    )
    .await;
    assert_eq!(lookup["total_count"], 1);
    let calls = sandbox
        .control()
        .calls(Simulator::Payscore, Some("create_applicant_group"))
        .await
        .expect("calls");
    let seen: Vec<_> = calls.iter().map(|c| (c.status, c.outcome)).collect();
    assert_eq!(
        seen,
        [
            (Some(500), Outcome::Injected),
            (Some(201), Outcome::Answered),
            (None, Outcome::Hung)
        ]
    );
}

#[tokio::test]
async fn configured_delays_complete_v2_groups_and_make_their_reports_ready() {
    let mut config = SandboxConfig::default();
    config.payscore.begin_after = Some(Duration::from_millis(50));
    config.payscore.complete_after = Some(Duration::from_millis(150));
    let sandbox = start_with(config).await;
    let receiver = Receiver::start().await;
    let token = token(&sandbox).await;
    let group = create_v2(
        &sandbox,
        &token,
        &household("entrata:6:1", Some(&receiver.url)),
    )
    .await;
    let got = receiver.wait_for(11).await;
    let ready = got
        .iter()
        .map(body_of)
        .filter(|b| b["code"] == "REPORT_READY")
        .count();
    assert_eq!(ready, 3);
    let control = sandbox
        .control()
        .applicant_group(&id_of(&group))
        .await
        .expect("group");
    assert_eq!(control.status, Status::Completed);
    assert_eq!(control.reports.len(), 3);
}

#[tokio::test]
async fn the_webhook_loss_fault_applies_to_v2_webhooks() {
    let sandbox = start().await;
    let receiver = Receiver::start().await;
    let token = token(&sandbox).await;
    let group = create_v2(
        &sandbox,
        &token,
        &household("entrata:7:1", Some(&receiver.url)),
    )
    .await;
    let lose = WebhookFaults {
        loss_rate: 1.0,
        repeat_rate: 0.0,
    };
    sandbox
        .control()
        .set_webhook_faults(&lose)
        .await
        .expect("set");
    let outcome = sandbox
        .control()
        .complete_applicant_group(&id_of(&group), None)
        .await
        .expect("completed");
    assert_eq!(outcome.webhooks.len(), 11);
    assert!(
        outcome
            .webhooks
            .iter()
            .all(|w| w.lost && !w.delivered && w.attempts.is_empty())
    );
    assert_eq!(with_code(&outcome.webhooks, "REPORT_READY").len(), 3);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(receiver.received().is_empty(), "nothing was sent");
    assert_eq!(
        outcome.group.reports.len(),
        3,
        "the reports exist all the same"
    );
}

#[tokio::test]
async fn the_control_view_keeps_the_request_as_received_and_unique_ids_span_generations() {
    let mut config = SandboxConfig::default();
    config.payscore.unique_correlation_ids = true;
    let sandbox = start_with(config).await;
    let token = token(&sandbox).await;
    let mut body = household("entrata:8:1", None);
    body["webhook_url"] = Value::Null;
    body.as_object_mut()
        .map(|o| o.remove("is_invitation_disabled"));
    let created = create_v2(&sandbox, &token, &body).await;
    let group = sandbox
        .control()
        .applicant_group(&id_of(&created))
        .await
        .expect("group");
    let request = group.request.as_object().expect("an object");
    assert_eq!(
        request.get("webhook_url"),
        Some(&Value::Null),
        "explicit null kept"
    );
    assert!(
        !request.contains_key("is_invitation_disabled"),
        "omitted stays omitted"
    );
    assert_eq!(group.request["monthly_rent"], 250000);
    assert_eq!(group.monthly_rent_cents, Some(250000));
    assert_eq!(group.correlation_id.as_deref(), Some("entrata:8:1"));
    assert_eq!(group.status, Status::NotStarted);
    assert_eq!(group.applicants.len(), 2);
    assert_eq!(group.applicants[0].verifications.len(), 2);
    assert_eq!(
        group.applicants[0].verifications[0].kind,
        "income_verification"
    );
    assert!(group.reports.is_empty());

    let (status, error) = post_v2(&sandbox, &token, &body).await;
    assert_eq!(status, 409);
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("correlation_id"))
    );
    let v1 = http()
        .post(format!(
            "{}/api/v1/screening_groups",
            sandbox.payscore_url()
        ))
        .header("authorization", &token)
        .json(&group_body("entrata:8:1", None))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        v1.status(),
        409,
        "the v2 group holds the correlation id for v1 too"
    );
    assert!(
        sandbox
            .control()
            .applicant_group("6c1f4a52-0000-4000-8000-000000000000")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_tampered_pre_signed_pdf_url_is_refused_with_403() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let group = create_v2(&sandbox, &token, &household("entrata:9:1", None)).await;
    let outcome = sandbox
        .control()
        .complete_applicant_group(&id_of(&group), None)
        .await
        .expect("completed");
    let report_id = &outcome.group.reports[0].id;
    let (_, report) = get(
        &format!("{}/api/v1/reports/{report_id}", sandbox.payscore_url()),
        &token,
    )
    .await;
    let url = report["pdf_url"].as_str().expect("pdf_url");
    let (head, expires_and_rest) = url.split_once("&Expires=").expect("Expires");
    let (expires, rest) = expires_and_rest.split_once('&').expect("Signature");
    let later: u64 = expires.parse::<u64>().expect("unix") + 3600;
    let tampered = format!("{head}&Expires={later}&{rest}");
    let response = http().get(&tampered).send().await.expect("answers");
    assert_eq!(response.status(), 403);
    assert!(
        response
            .text()
            .await
            .expect("text")
            .contains("SignatureDoesNotMatch")
    );
    assert_eq!(http().get(url).send().await.expect("answers").status(), 200);
}
