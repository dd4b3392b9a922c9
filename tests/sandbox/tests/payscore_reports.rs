//! Contract tests of the Payscore report routes: 404 until completed, a PDF URL once
//! completed, a new PDF after a re-completion, 410 once expired.

mod common;

use common::{create_group, group_body, http, start, token};
use serde_json::Value;

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

async fn pdf(url: &str) -> Vec<u8> {
    let response = http().get(url).send().await.expect("the file answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    response.bytes().await.expect("bytes").to_vec()
}

#[tokio::test]
async fn the_report_is_404_until_the_group_completes_then_a_url_to_a_pdf_naming_the_group() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let group = create_group(&sandbox, &token, &group_body("entrata:1:1", None)).await;
    let id = group["id"].as_str().expect("id");
    let report = format!(
        "{}/api/v1/screening_groups/{id}/report",
        sandbox.payscore_url()
    );
    let data = format!("{report}/data");
    assert_eq!(get(&report, &token).await.0, 404);
    assert_eq!(get(&data, &token).await.0, 404);

    sandbox.control().begin_group(id).await.expect("begun");
    assert_eq!(get(&report, &token).await.0, 404, "in progress");
    let outcome = sandbox
        .control()
        .complete_group(id)
        .await
        .expect("completed");
    assert_eq!(outcome.group.report_version, 1);

    let (status, body) = get(&report, &token).await;
    assert_eq!(status, 200);
    let url = body["url"].as_str().expect("url");
    assert!(
        url.starts_with(&sandbox.payscore_url()) && url.ends_with(".pdf"),
        "{url}"
    );
    let bytes = pdf(url).await;
    assert!(bytes.starts_with(b"%PDF-") && bytes.ends_with(b"%%EOF\n"));
    assert!(
        bytes.windows(id.len()).any(|w| w == id.as_bytes()),
        "the PDF names the group"
    );

    let (status, data) = get(&data, &token).await;
    assert_eq!(status, 200);
    assert_eq!(data["screening_group_id"], id);
    assert_eq!(data["screenings"].as_array().map(Vec::len), Some(2));
    let group: Value = get(
        &format!("{}/api/v1/screening_groups/{id}", sandbox.payscore_url()),
        &token,
    )
    .await
    .1;
    assert_eq!(group["status"], "completed");
    assert_eq!(group["approval_recommendation"], "approve");
}

#[tokio::test]
async fn a_reopened_household_has_no_report_until_it_completes_again_with_a_new_pdf() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let group = create_group(&sandbox, &token, &group_body("entrata:1:2", None)).await;
    let id = group["id"].as_str().expect("id");
    let report = format!(
        "{}/api/v1/screening_groups/{id}/report",
        sandbox.payscore_url()
    );
    sandbox
        .control()
        .complete_group(id)
        .await
        .expect("completed");
    let first_url = get(&report, &token).await.1["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let first = pdf(&first_url).await;

    let reopened = sandbox.control().reopen(id, None).await.expect("reopened");
    assert_eq!(
        reopened.group.status,
        sandbox::payscore::model::Status::InProgress
    );
    assert_eq!(get(&report, &token).await.0, 404);

    sandbox
        .control()
        .complete_group(id)
        .await
        .expect("completed again");
    let second_url = get(&report, &token).await.1["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_ne!(first_url, second_url);
    assert_ne!(
        first,
        pdf(&second_url).await,
        "a re-completed household has a new report"
    );
}

#[tokio::test]
async fn an_expired_report_is_410_on_both_report_routes() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let group = create_group(&sandbox, &token, &group_body("entrata:1:3", None)).await;
    let id = group["id"].as_str().expect("id");
    sandbox
        .control()
        .complete_group(id)
        .await
        .expect("completed");
    let expired = sandbox.control().expire_report(id).await.expect("expired");
    assert!(expired.group.is_report_expired);
    let report = format!(
        "{}/api/v1/screening_groups/{id}/report",
        sandbox.payscore_url()
    );
    assert_eq!(get(&report, &token).await.0, 410);
    assert_eq!(get(&format!("{report}/data"), &token).await.0, 410);
    let group: Value = get(
        &format!("{}/api/v1/screening_groups/{id}", sandbox.payscore_url()),
        &token,
    )
    .await
    .1;
    assert_eq!(group["is_report_expired"], true);
}

#[tokio::test]
async fn an_expired_incomplete_request_shows_is_expired_and_its_report_is_gone() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let group = create_group(&sandbox, &token, &group_body("entrata:1:4", None)).await;
    let id = group["id"].as_str().expect("id");
    let control = sandbox.control().expire_request(id).await.expect("expired");
    assert!(control.is_expired);
    let base = format!("{}/api/v1/screening_groups/{id}", sandbox.payscore_url());
    assert_eq!(get(&base, &token).await.1["is_expired"], true);
    assert_eq!(get(&format!("{base}/report"), &token).await.0, 410);
}

#[tokio::test]
async fn an_unknown_group_has_no_report() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let url = format!(
        "{}/api/v1/screening_groups/6c1f4a52-0000-4000-8000-000000000000/report",
        sandbox.payscore_url()
    );
    assert_eq!(get(&url, &token).await.0, 404);
}
