//! Contract tests of the Payscore simulator's authentication, create, get and lookups.

mod common;

use common::{create_group, group_body, http, start, start_with, token};
use sandbox::SandboxConfig;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn auth_returns_a_bearer_token_in_the_authorization_response_header() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    assert!(token.starts_with("Bearer "));
    assert_eq!(token.split('.').count(), 3, "JWT-shaped");
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_401() {
    let sandbox = start().await;
    let response = http()
        .post(format!("{}/api/v1/tenants/auth", sandbox.payscore_url()))
        .json(&json!({ "client_id": "sandbox-client", "secret_key": "wrong" }))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("authorization").is_none());
}

#[tokio::test]
async fn api_routes_refuse_a_missing_or_forged_token_with_401() {
    let sandbox = start().await;
    let url = format!("{}/api/v1/screening_groups/x", sandbox.payscore_url());
    let missing = http().get(&url).send().await.expect("answers");
    assert_eq!(missing.status(), 401);
    let forged = http()
        .get(&url)
        .header("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln")
        .send()
        .await
        .expect("answers");
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn a_token_stops_working_once_its_lifetime_has_passed() {
    let mut config = SandboxConfig::default();
    config.payscore.token_ttl = Duration::from_millis(300);
    let sandbox = start_with(config).await;
    let token = token(&sandbox).await;
    let url = format!("{}/api/v1/applicant_groups", sandbox.payscore_url());
    let fresh = http()
        .get(&url)
        .header("authorization", &token)
        .send()
        .await
        .expect("answers");
    assert_eq!(fresh.status(), 200);
    common::eventually(Duration::from_secs(5), "the token to expire", || async {
        let r = http()
            .get(&url)
            .header("authorization", &token)
            .send()
            .await
            .ok()?;
        (r.status() == 401).then_some(())
    })
    .await;
}

#[tokio::test]
async fn expiring_tokens_through_control_makes_existing_tokens_fail() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    sandbox.control().expire_tokens().await.expect("expired");
    let response = http()
        .get(format!(
            "{}/api/v1/applicant_groups",
            sandbox.payscore_url()
        ))
        .header("authorization", &token)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn create_returns_the_documented_group_with_rent_in_cents_and_echoed_fields() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let group = create_group(
        &sandbox,
        &token,
        &group_body("entrata:1:2", Some("http://x/hook")),
    )
    .await;
    assert_eq!(group["status"], "not_started");
    assert_eq!(group["monthly_rent_cents"], 165050);
    assert_eq!(group["correlation_id"], "entrata:1:2");
    assert_eq!(group["webhook_url"], "http://x/hook");
    assert_eq!(group["income_multiplier_threshold"], 2.5);
    assert_eq!(
        group["decision_maker_display_name"],
        "Sandbox Property Management"
    );
    assert_eq!(group["is_decision_maker_paying"], true);
    assert_eq!(group["approval_recommendation"], "unavailable");
    assert_eq!(group["property_street_address"], "4100 Lakeshore Dr");
    assert_eq!(group["unit_number"], "1204");
    assert_eq!(group["is_report_expired"], false);
    assert!(group["created_at_timestamp"].as_f64().is_some());
    let screenings = group["screenings"].as_array().expect("screenings");
    assert_eq!(screenings.len(), 2);
    assert_eq!(screenings[0]["screening_status"], "not_started");
    assert_eq!(screenings[0]["reason_completed"], "not_completed");
    assert_eq!(screenings[0]["applicant_email"], "ann.lee@example.com");
    uuid::Uuid::parse_str(group["id"].as_str().expect("id")).expect("a UUID");
}

#[tokio::test]
async fn an_explicit_income_multiplier_threshold_is_echoed() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let mut body = group_body("entrata:1:3", None);
    body["income_multiplier_threshold"] = json!(3.0);
    let group = create_group(&sandbox, &token, &body).await;
    assert_eq!(group["income_multiplier_threshold"], 3.0);
}

async fn create_status(sandbox: &sandbox::Sandbox, token: &str, body: &Value) -> (u16, Value) {
    let response = http()
        .post(format!(
            "{}/api/v1/screening_groups",
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

#[tokio::test]
async fn invalid_creates_are_refused_with_400_and_a_json_error_naming_the_field() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let cases: [(&str, Value, &str); 5] = [
        ("/property/state", json!("TX"), "property.state"),
        (
            "/applicants/0/applicant_email",
            json!("not-an-email"),
            "applicants[0].applicant_email",
        ),
        (
            "/applicants/1/applicant_email",
            json!("does-not-exist@example.com"),
            "applicants[1].applicant_email",
        ),
        ("/property/zip_code", Value::Null, "property.zip_code"),
        (
            "/applicants/0/applicant_last_name",
            Value::Null,
            "applicants[0].applicant_last_name",
        ),
    ];
    for (pointer, value, field) in cases {
        let mut body = group_body("entrata:1:4", None);
        *body.pointer_mut(pointer).expect("field exists") = value;
        let (status, error) = create_status(&sandbox, &token, &body).await;
        assert_eq!(status, 400, "{pointer}");
        assert_eq!(error["errors"][0]["field"], field, "{pointer}: {error}");
    }
    let (status, _) = create_status(&sandbox, &token, &json!({ "applicants": [] })).await;
    assert_eq!(status, 400);
    assert!(
        sandbox.control().groups().await.expect("groups").is_empty(),
        "nothing stored"
    );
}

#[tokio::test]
async fn get_returns_the_group_and_404_for_an_unknown_id() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let group = create_group(&sandbox, &token, &group_body("entrata:1:5", None)).await;
    let url = |id: &str| format!("{}/api/v1/screening_groups/{id}", sandbox.payscore_url());
    let got: Value = http()
        .get(url(group["id"].as_str().expect("id")))
        .header("authorization", &token)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(got["id"], group["id"]);
    let missing = http()
        .get(url("6c1f4a52-0000-4000-8000-000000000000"))
        .header("authorization", &token)
        .send()
        .await
        .expect("answers");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn both_lookups_by_correlation_id_see_the_same_groups() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let group = create_group(&sandbox, &token, &group_body("entrata:7:8", None)).await;
    create_group(&sandbox, &token, &group_body("entrata:7:9", None)).await;
    let get = |path: String| {
        let token = token.clone();
        async move {
            http()
                .get(path)
                .header("authorization", token)
                .send()
                .await
                .expect("answers")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let base = sandbox.payscore_url();
    let v2 = get(format!(
        "{base}/api/v1/applicant_groups?correlation_id=entrata%3A7%3A8&page=1"
    ))
    .await;
    assert_eq!(v2["total_count"], 1);
    assert_eq!(v2["applicant_groups"][0]["id"], group["id"]);
    assert_eq!(v2["applicant_groups"][0]["property"]["state"], "Texas");
    assert_eq!(v2["applicant_groups"][0]["monthly_rent_cents"], 165050);
    let v1 = get(format!(
        "{base}/api/v1/screening_groups?correlation_id=entrata%3A7%3A8"
    ))
    .await;
    assert_eq!(v1["total_count"], 1);
    assert_eq!(v1["screening_groups"][0]["id"], group["id"]);
    let none = get(format!(
        "{base}/api/v1/applicant_groups?correlation_id=entrata%3A7%3A0"
    ))
    .await;
    assert_eq!(none, json!({ "applicant_groups": [], "total_count": 0 }));
    let all = get(format!("{base}/api/v1/applicant_groups?page=2")).await;
    assert_eq!(all["total_count"], 2);
    assert_eq!(
        all["applicant_groups"],
        json!([]),
        "page 2 of 2 groups with 25 per page"
    );
    let huge = get(format!("{base}/api/v1/applicant_groups?page={}", u64::MAX)).await;
    assert_eq!(
        huge["applicant_groups"],
        json!([]),
        "a page far past the end"
    );
    let not_started = get(format!(
        "{base}/api/v1/applicant_groups?statuses=not_started"
    ))
    .await;
    assert_eq!(not_started["total_count"], 2);
    let unknown = get(format!("{base}/api/v1/applicant_groups?statuses=pending")).await;
    assert_eq!(
        unknown["total_count"], 0,
        "a status filter naming no known status matches nothing"
    );
}

#[tokio::test]
async fn with_unique_correlation_ids_a_second_create_is_refused_with_409_and_creates_nothing() {
    let mut config = SandboxConfig::default();
    config.payscore.unique_correlation_ids = true;
    let sandbox = start_with(config).await;
    let token = token(&sandbox).await;
    create_group(&sandbox, &token, &group_body("entrata:5:1", None)).await;
    let (status, body) = create_status(&sandbox, &token, &group_body("entrata:5:1", None)).await;
    assert_eq!(status, 409);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("correlation_id"))
    );
    let (other, _) = create_status(&sandbox, &token, &group_body("entrata:5:2", None)).await;
    assert_eq!(other, 201, "another correlation id is free");
    let groups = sandbox
        .control()
        .groups_by_correlation("entrata:5:1")
        .await
        .expect("groups");
    assert_eq!(groups.len(), 1);
}

#[tokio::test]
async fn without_the_option_the_same_correlation_id_may_be_created_twice() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    create_group(&sandbox, &token, &group_body("entrata:5:1", None)).await;
    let (status, _) = create_status(&sandbox, &token, &group_body("entrata:5:1", None)).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn with_a_list_lag_a_new_group_appears_in_the_lookups_only_after_it() {
    let mut config = SandboxConfig::default();
    config.payscore.list_lag = Duration::from_secs(3);
    let sandbox = start_with(config).await;
    let token = token(&sandbox).await;
    let group = create_group(&sandbox, &token, &group_body("entrata:6:1", None)).await;
    let list = |path: &'static str| {
        let (token, base) = (token.clone(), sandbox.payscore_url());
        async move {
            http()
                .get(format!(
                    "{base}/api/v1/{path}?correlation_id=entrata%3A6%3A1"
                ))
                .header("authorization", token)
                .send()
                .await
                .expect("answers")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    assert_eq!(list("applicant_groups").await["total_count"], 0);
    assert_eq!(list("screening_groups").await["total_count"], 0);
    let got = http()
        .get(format!(
            "{}/api/v1/screening_groups/{}",
            sandbox.payscore_url(),
            group["id"].as_str().expect("id")
        ))
        .header("authorization", &token)
        .send()
        .await
        .expect("answers");
    assert_eq!(got.status(), 200, "a get by id does not lag");
    common::eventually(
        Duration::from_secs(10),
        "the group to be listed",
        || async { (list("applicant_groups").await["total_count"] == 1).then_some(()) },
    )
    .await;
    assert_eq!(
        list("screening_groups").await["screening_groups"][0]["id"],
        group["id"]
    );
}

#[tokio::test]
async fn the_control_view_shows_the_create_request_as_received() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    create_group(&sandbox, &token, &group_body("entrata:2:3", None)).await;
    let groups = sandbox
        .control()
        .groups_by_correlation("entrata:2:3")
        .await
        .expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].request["property"]["state"], "Texas");
    assert_eq!(
        groups[0].request["applicants"][0]["applicant_phone_number"],
        "+15125550142"
    );
    assert_eq!(groups[0].monthly_rent_cents, Some(165050));
}

#[tokio::test]
async fn metrics_count_requests_per_route_and_status() {
    let sandbox = start().await;
    token(&sandbox).await;
    let text = http()
        .get(format!("{}/metrics", sandbox.payscore_url()))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains(
            r#"sandbox_requests_total{route="auth",simulator="payscore",status="204"} 1"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn monthly_rent_is_required_or_optional_by_reading_and_a_negative_one_refused() {
    let mut blank = group_body("entrata:1:7", None);
    if let Some(fields) = blank.as_object_mut() {
        fields.remove("monthly_rent");
    }
    // The current v1 page: required.
    let strict = start().await;
    let token_strict = token(&strict).await;
    let (status, error) = create_status(&strict, &token_strict, &blank).await;
    assert_eq!(status, 400);
    assert_eq!(error["errors"][0]["field"], "monthly_rent");
    // The older page: may be left blank.
    let mut config = SandboxConfig::default();
    config.payscore.monthly_rent_optional = true;
    let sandbox = start_with(config).await;
    let token = token(&sandbox).await;
    let group = create_group(&sandbox, &token, &blank).await;
    assert_eq!(group["monthly_rent_cents"], Value::Null);

    let mut negative = group_body("entrata:1:8", None);
    negative["monthly_rent"] = json!(-5);
    let (status, error) = create_status(&sandbox, &token, &negative).await;
    assert_eq!(status, 400);
    assert_eq!(error["errors"][0]["field"], "monthly_rent");
    let mut text = group_body("entrata:1:9", None);
    text["monthly_rent"] = json!("a lot");
    assert_eq!(create_status(&sandbox, &token, &text).await.0, 400);
}
