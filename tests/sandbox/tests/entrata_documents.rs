//! `sendLeaseDocuments` (multipart, per-file status) and `getLeaseDocumentsList`.

mod common;

use common::{entrata, envelope, http, start};
use reqwest::multipart::{Form, Part};
use sandbox::Sandbox;
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
        json!({ "propertyId": app.property_id, "leaseId": app.lease_id }),
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
        json!({ "propertyId": app.property_id, "leaseId": app.lease_id, "fileTypesCode": "SR" }),
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
