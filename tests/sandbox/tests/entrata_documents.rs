//! `sendLeaseDocuments` (multipart, per-file status) and `getLeaseDocumentsList`.

mod common;

use common::{as_list, entrata, entrata_with, envelope, http, start};
use reqwest::multipart::{Form, Part};
use sandbox::Sandbox;
use sandbox::entrata::submit::SubmitOptions;
use serde_json::{Value, json};

async fn upload(sandbox: &Sandbox, params: Value, files: &[(&str, &[u8])]) -> (u16, Value) {
    let mut form = Form::new()
        .text(
            "requestBody",
            envelope("sendLeaseDocuments", params).to_string(),
        )
        .text("requestContentType", "APPLICATION/JSON; CHARSET=UTF-8");
    for (i, (name, bytes)) in files.iter().enumerate() {
        let part = Part::bytes(bytes.to_vec())
            .file_name((*name).to_owned())
            .mime_str("application/octet-stream")
            .expect("mime");
        form = form.part(format!("file{}", i + 1), part);
    }
    let response = http()
        .post(format!("{}/leases", sandbox.entrata_url()))
        .header("x-api-key", "sandbox-api-key")
        .multipart(form)
        .send()
        .await
        .expect("answers");
    (
        response.status().as_u16(),
        response.json().await.expect("json"),
    )
}

fn entry(name: &str) -> Value {
    json!({ "fileName": name, "leaseFileType": "SR", "isShowInResidentPortal": "0" })
}

#[tokio::test]
async fn an_uploaded_report_is_stored_with_its_metadata_and_listed_on_the_lease() {
    let sandbox = start().await;
    let app = sandbox
        .control()
        .submit_application(&Default::default())
        .await
        .expect("submitted");
    let params = json!({ "propertyId": app.property_id, "applicationId": app.application_id,
                         "files": { "file": [entry("payscore-g1-abc.pdf")] } });
    let (status, body) = upload(
        &sandbox,
        params,
        &[("payscore-g1-abc.pdf", b"%PDF-1.4 report")],
    )
    .await;
    assert_eq!(status, 200);
    let file = &body["response"]["result"]["files"]["file"];
    assert_eq!(file["status"], "Success", "{body}");
    assert_eq!(file["fileName"], "payscore-g1-abc.pdf");

    let uploads = sandbox
        .control()
        .uploads(app.application_id)
        .await
        .expect("uploads");
    let report = uploads
        .iter()
        .find(|u| u.file_name == "payscore-g1-abc.pdf")
        .expect("stored");
    assert_eq!(report.lease_file_type.as_deref(), Some("SR"));
    assert!(!report.show_in_portal);
    assert_eq!(report.part_name, "file1");
    assert_eq!(report.size, 15);

    let (_, _, list) = entrata(
        &sandbox,
        "leases",
        "getLeaseDocumentsList",
        json!({ "propertyId": app.property_id, "leaseId": app.lease_id, "leaseStatusTypeIds": "1" }),
    )
    .await;
    let names: Vec<Value> = match &list["response"]["result"]["leaseDocuments"]["leaseDocument"] {
        Value::Array(items) => items.iter().map(|d| d["name"].clone()).collect(),
        one => vec![one["name"].clone()],
    };
    assert!(names.contains(&json!("payscore-g1-abc.pdf")), "{list}");
}

#[tokio::test]
async fn each_file_gets_its_own_status_and_failed_files_are_not_listed() {
    let sandbox = start().await;
    let app = sandbox
        .control()
        .submit_application(&Default::default())
        .await
        .expect("submitted");
    sandbox
        .control()
        .fail_next_uploads(1, Some("Storage unavailable."))
        .await
        .expect("queued");
    let params = json!({ "propertyId": app.property_id, "leaseId": app.lease_id,
                         "files": { "file": [entry("a.pdf"), entry("b.pdf"),
                                             { "fileName": "c.pdf", "leaseFileType": "NOPE" }] } });
    let (status, body) = upload(
        &sandbox,
        params,
        &[
            ("a.pdf", b"%PDF a"),
            ("b.pdf", b"%PDF b"),
            ("c.pdf", b"%PDF c"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["response"].get("error").is_none(),
        "a success envelope"
    );
    let files = body["response"]["result"]["files"]["file"]
        .as_array()
        .expect("three files")
        .clone();
    let statuses: Vec<&str> = files
        .iter()
        .map(|f| f["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(statuses, ["Failed", "Success", "Failed"]);
    assert_eq!(files[0]["message"], "Storage unavailable.");
    let (_, _, list) = entrata(
        &sandbox,
        "leases",
        "getLeaseDocumentsList",
        json!({ "propertyId": app.property_id, "leaseId": app.lease_id, "fileTypesCode": "SR",
                "leaseStatusTypeIds": "1,4,5" }),
    )
    .await;
    assert_eq!(
        list["response"]["result"]["leaseDocuments"]["leaseDocument"]["name"],
        "b.pdf"
    );
}

#[tokio::test]
async fn an_upload_for_an_unknown_application_or_without_multipart_is_an_error_envelope() {
    let sandbox = start().await;
    let params =
        json!({ "propertyId": 100001, "applicationId": 1, "files": { "file": entry("x.pdf") } });
    let (status, body) = upload(&sandbox, params.clone(), &[("x.pdf", b"%PDF")]).await;
    assert_eq!(
        (status, body["response"]["error"]["code"].clone()),
        (200, json!(404))
    );
    let (_, _, body) = entrata(&sandbox, "leases", "sendLeaseDocuments", params).await;
    assert_eq!(body["response"]["error"]["code"], 400);
}

#[tokio::test]
async fn an_applicant_lease_has_no_documents_list_unless_status_1_is_asked_for() {
    let sandbox = start().await;
    let app = sandbox
        .control()
        .submit_application(&Default::default())
        .await
        .expect("submitted");
    let params = json!({ "propertyId": app.property_id, "leaseId": app.lease_id });
    let (status, _, body) = entrata(&sandbox, "leases", "getLeaseDocumentsList", params).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["response"]["error"],
        json!({ "code": 404, "message": "Lease or application not found for this property." })
    );
}

#[tokio::test]
async fn the_documents_list_is_paginated_and_empty_on_page_1_without_documents() {
    let sandbox = start().await;
    let app = sandbox
        .control()
        .submit_application(&Default::default())
        .await
        .expect("submitted");
    let list = envelope(
        "getLeaseDocumentsList",
        json!({ "propertyId": app.property_id, "leaseId": app.lease_id, "leaseStatusTypeIds": "1" }),
    );
    let (status, headers, body) = entrata_with(&sandbox, "leases", "", &list).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["response"]["result"],
        json!({ "leaseDocuments": { "leaseDocument": [] } })
    );
    assert_eq!(headers["x-total-count"], "0");
    let (_, _, body) = entrata_with(&sandbox, "leases", "page_no=2", &list).await;
    assert_eq!(
        body["response"]["error"],
        json!({ "code": 404, "message": "No documents found." })
    );

    let files = ["a.pdf", "b.pdf", "c.pdf"];
    let params = json!({ "propertyId": app.property_id, "leaseId": app.lease_id,
                         "files": { "file": files.map(entry) } });
    let parts: Vec<(&str, &[u8])> = files.iter().map(|f| (*f, &b"%PDF"[..])).collect();
    upload(&sandbox, params, &parts).await;
    let (_, headers, body) = entrata_with(&sandbox, "leases", "page_no=1&per_page=2", &list).await;
    assert_eq!(headers["x-total-count"], "3");
    assert_eq!(
        headers["link"],
        "</ext/orgs/sandbox/v1/leases?page_no=2&per_page=2>; rel=\"next\""
    );
    let first = as_list(&body["response"]["result"]["leaseDocuments"]["leaseDocument"]);
    let (_, headers, body) = entrata_with(&sandbox, "leases", "page_no=2&per_page=2", &list).await;
    assert!(!headers.contains_key("link"));
    let second = &body["response"]["result"]["leaseDocuments"]["leaseDocument"];
    let names: Vec<Value> = first
        .iter()
        .chain([second])
        .map(|d| d["name"].clone())
        .collect();
    assert_eq!(names, files.map(|f| json!(f)), "in file-id order");
    let (_, _, body) = entrata_with(&sandbox, "leases", "page_no=3&per_page=2", &list).await;
    assert_eq!(body["response"]["error"]["message"], "No documents found.");
}

#[tokio::test]
async fn an_application_without_a_lease_is_a_lead_only_and_still_takes_uploads() {
    let sandbox = start().await;
    let options = SubmitOptions {
        without_lease: true,
        ..SubmitOptions::default()
    };
    let app = sandbox
        .control()
        .submit_application(&options)
        .await
        .expect("submitted");
    assert_eq!(app.lease_id, 0);
    let leases = json!({ "propertyId": app.property_id, "applicationId": app.application_id,
                         "leaseStatusTypeIds": "1,2,3,4,5,6" });
    let (_, _, body) = entrata(&sandbox, "leases", "getLeases", leases).await;
    assert_eq!(body["response"]["error"]["code"], 404, "no lease to return");
    let leads = json!({ "propertyId": app.property_id, "leadId": app.application_id });
    let (_, _, body) = entrata(&sandbox, "leads", "getLeads", leads).await;
    let lease = &body["response"]["result"]["prospects"]["prospect"]["lease"];
    assert!(
        lease["leaseId"].as_str().is_some_and(str::is_empty),
        "{lease}"
    );

    let params = json!({ "propertyId": app.property_id, "applicationId": app.application_id,
                         "files": { "file": entry("report.pdf") } });
    let (_, body) = upload(&sandbox, params, &[("report.pdf", b"%PDF")]).await;
    assert_eq!(
        body["response"]["result"]["files"]["file"]["status"],
        "Success"
    );
    let uploads = sandbox
        .control()
        .uploads(app.application_id)
        .await
        .expect("uploads");
    assert!(
        uploads
            .iter()
            .any(|u| u.file_name == "report.pdf" && u.lease_id == 0)
    );
}
