//! `leases/sendLeaseDocuments` (multipart: `requestBody`, `requestContentType`,
//! `file1…N`; a status per file) and `leases/getLeaseDocumentsList`.
//!
//! Entry `files.file[i]` is matched to part `file{i+1}`, or else to the part whose
//! `filename` equals its `fileName`. A file fails (status `Failed`, HTTP 200, success
//! envelope) when its part is missing or empty, its file type is unknown, or a per-file
//! failure was queued through `POST /_control/uploads/failures`.
//!
//! `getLeaseDocumentsList` lists the documents of a lease, and honours
//! `leaseStatusTypeIds` as `getLeases` does. The reference lists the parameter for this
//! method without saying its default; the simulator takes `getLeases`' documented one
//! (Current and Notice only), so an application's lease (status 1, Applicant) is "not found"
//! (404) unless the caller asks for status 1. An application with no lease yet has no
//! documents list either. The list is paginated (`page_no`, `per_page`, in file-id order):
//! a lease with no documents answers an empty list on page 1, and a page past the end is
//! the 404 error "No documents found.".

use super::data::Data;
use super::envelope::{MethodError, one_or_many, param_id, param_str, required_id};
use super::leases::applicant_leases_asked;
use super::model::{Application, Upload};
use super::multipart::Part;
use super::paging::{self, PageRequest};
use super::render::Answer;
use serde_json::{Value, json};
use std::collections::VecDeque;

/// Lease file types the simulator knows, system code and name (from a real
/// `getLeasePickList`; numeric ids are per client).
pub const FILE_TYPES: &[(&str, &str)] = &[
    ("SR", "Screening Report"),
    ("SCR", "Screening Consumer Report"),
    ("REPORT", "Report"),
    ("OTHER", "Other Document"),
    ("APP", "Application"),
    ("APP_UPLOAD", "Application Upload"),
    ("SDSL", "Screening Decision Summary Letter"),
    ("APPID", "Applicant Identification"),
    ("AAL", "Adverse Action Letter"),
    ("LEASE", "Lease"),
];

/// `leases/getLeasePickList` (r1, empty params): the client's lease status and lease file
/// types, as picklist nodes with `@attributes` (the shape of the reference's captures).
pub fn get_lease_pick_list() -> Value {
    let statuses: Vec<Value> = [
        "Applicant",
        "Cancelled",
        "Future",
        "Current",
        "Notice",
        "Past",
    ]
    .iter()
    .enumerate()
    .map(|(i, name)| json!({ "@attributes": { "id": i + 1, "name": name } }))
    .collect();
    let file_types: Vec<Value> = FILE_TYPES
        .iter()
        .enumerate()
        .map(|(i, (code, name))| {
            json!({ "@attributes": { "id": 201 + i, "name": name, "systemCode": code } })
        })
        .collect();
    json!({
        "leaseStatusTypes": { "leaseStatusType": statuses },
        "leaseFileTypes": { "leaseFileType": file_types },
    })
}

fn target<'a>(data: &'a Data, params: &Value) -> Result<&'a Application, MethodError> {
    let property_id = required_id(params, "propertyId")?;
    data.property(property_id)
        .ok_or_else(|| MethodError::new(404, "Property not found or not accessible."))?;
    let app = if let Some(lease) = param_id(params, "leaseId")? {
        data.by_lease(lease)
    } else if let Some(application) = param_id(params, "applicationId")? {
        data.applications.get(&application)
    } else if let Some(applicant) = param_id(params, "applicantId")? {
        data.by_customer(applicant)
    } else {
        return Err(MethodError::new(
            400,
            "leaseId, applicationId or applicantId is required.",
        ));
    };
    app.filter(|a| a.property_id == property_id)
        .ok_or_else(not_found)
}

fn not_found() -> MethodError {
    MethodError::new(404, "Lease or application not found for this property.")
}

fn entries(params: &Value) -> Vec<Value> {
    match params.get("files").and_then(|f| f.get("file")) {
        Some(Value::Array(items)) => items.clone(),
        Some(item @ Value::Object(_)) => vec![item.clone()],
        _ => Vec::new(),
    }
}

/// Store the files of a `sendLeaseDocuments` call.
pub fn send_lease_documents(
    data: &mut Data,
    failures: &mut VecDeque<String>,
    params: &Value,
    parts: &[Part],
    now_ms: u64,
) -> Result<Value, MethodError> {
    let app = target(data, params)?;
    let (application_id, lease_id, property_id) =
        (app.application_id, app.lease_id, app.property_id);
    let entries = entries(params);
    if entries.is_empty() {
        return Err(MethodError::new(400, "files.file is required."));
    }
    let mut results = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let node = format!("file{}", i + 1);
        let file_name = param_str(entry, "fileName").unwrap_or_default();
        let part = parts.iter().find(|p| p.name == node).or_else(|| {
            parts
                .iter()
                .find(|p| p.filename.as_deref() == Some(file_name.as_str()))
        });
        let lease_file_type = param_str(entry, "leaseFileType");
        let file_type_id = param_str(entry, "fileTypeId");
        let failure = if file_name.is_empty() {
            Some("fileName is required.".to_owned())
        } else if part.is_none_or(|p| p.data.is_empty()) {
            Some("File content not found in the request.".to_owned())
        } else if lease_file_type.is_none() && file_type_id.is_none() {
            Some("leaseFileType or fileTypeId is required.".to_owned())
        } else if lease_file_type
            .as_deref()
            .is_some_and(|t| !FILE_TYPES.iter().any(|(code, _)| *code == t))
        {
            Some("Invalid leaseFileType.".to_owned())
        } else {
            failures.pop_front()
        };
        let file_id = data.next_file_id();
        let (status, message) = match &failure {
            Some(why) => ("Failed", why.clone()),
            None => ("Success", "File uploaded successfully.".to_owned()),
        };
        if let Some(part) = part {
            data.uploads
                .entry(application_id)
                .or_default()
                .push(Upload {
                    file_id,
                    application_id,
                    lease_id,
                    property_id,
                    part_name: part.name.clone(),
                    file_name: file_name.clone(),
                    content_type: part.content_type.clone(),
                    lease_file_type,
                    file_type_id,
                    show_in_portal: param_str(entry, "isShowInResidentPortal")
                        .is_some_and(|v| v == "1" || v == "true"),
                    customer_ids: param_str(entry, "customerIds"),
                    bytes: part.data.clone(),
                    uploaded_at_ms: now_ms,
                    status: status.to_owned(),
                    message: message.clone(),
                });
        }
        tracing::info!(application_id, file_id, status, "entrata document upload");
        results.push(json!({
            "node": node,
            "fileId": if failure.is_none() { file_id.to_string() } else { String::new() },
            "fileName": file_name,
            "status": status,
            "message": message,
        }));
    }
    Ok(json!({ "files": { "file": one_or_many(results) } }))
}

/// `getLeaseDocumentsList`: one page of the successful documents of a lease, optionally
/// filtered by `fileTypesCode` (comma list).
pub fn get_lease_documents_list(
    data: &Data,
    params: &Value,
    page: PageRequest,
) -> Result<Answer, MethodError> {
    let app = target(data, params)?;
    if app.lease().is_none() || !applicant_leases_asked(params)? {
        return Err(not_found());
    }
    let types: Option<Vec<String>> = param_str(params, "fileTypesCode")
        .map(|s| s.split(',').map(|t| t.trim().to_owned()).collect());
    let mut uploads: Vec<&Upload> = data
        .uploads
        .get(&app.application_id)
        .into_iter()
        .flatten()
        .filter(|u| u.status == "Success")
        .filter(|u| {
            types
                .as_ref()
                .is_none_or(|t| u.lease_file_type.as_ref().is_some_and(|f| t.contains(f)))
        })
        .collect();
    uploads.sort_by_key(|u| u.file_id);
    let page =
        paging::page(uploads, page).ok_or_else(|| MethodError::new(404, "No documents found."))?;
    let documents: Vec<Value> = page
        .items
        .iter()
        .map(|u| {
            json!({
                "id": u.file_id,
                "type": u.lease_file_type.clone().or(u.file_type_id.clone()).unwrap_or_default(),
                "name": u.file_name,
                "title": u.file_name,
                "leaseId": u.lease_id.to_string(),
                "externalLeaseId": "",
            })
        })
        .collect();
    Ok(Answer {
        result: json!({ "leaseDocuments": { "leaseDocument": one_or_many(documents) } }),
        page: Some(page.info),
    })
}

#[cfg(test)]
mod pick_list_tests {
    use super::*;

    #[test]
    fn every_known_file_type_is_in_the_pick_list() {
        let list = get_lease_pick_list().to_string();
        for (code, _) in FILE_TYPES {
            assert!(
                list.contains(&format!("\"systemCode\":\"{code}\"")),
                "{code}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entrata::seed::Shape;

    fn request(page_no: u32, per_page: u32) -> PageRequest {
        PageRequest { page_no, per_page }
    }

    #[test]
    fn an_applicant_lease_is_listed_only_when_status_1_is_asked_for() {
        let data = Data::seeded(1, 1, 1);
        let app = data.applications.values().next().expect("seeded");
        let default = json!({ "propertyId": 100_001, "leaseId": app.lease_id });
        let error = get_lease_documents_list(&data, &default, request(1, 10)).expect_err("hidden");
        assert_eq!(error, not_found());
        let asked = json!({ "propertyId": 100_001, "leaseId": app.lease_id,
                            "leaseStatusTypeIds": "1" });
        let answer = get_lease_documents_list(&data, &asked, request(1, 10)).expect("listed");
        assert_eq!(
            answer.result["leaseDocuments"]["leaseDocument"]["type"],
            "APP"
        );
    }

    #[test]
    fn no_documents_is_an_empty_first_page_and_a_page_past_the_end_is_404() {
        let (data, app) = Data::one_application(&Shape::default());
        let params = json!({ "propertyId": 100_001, "applicationId": app.application_id,
                             "leaseStatusTypeIds": [1] });
        let empty = get_lease_documents_list(&data, &params, request(1, 10)).expect("empty");
        assert_eq!(empty.result["leaseDocuments"]["leaseDocument"], json!([]));
        assert_eq!(empty.page.map(|p| p.total), Some(0));
        let past = get_lease_documents_list(&data, &params, request(2, 10)).expect_err("past");
        assert_eq!(past, MethodError::new(404, "No documents found."));
    }

    #[test]
    fn an_application_without_a_lease_has_no_documents_list() {
        let shape = Shape {
            without_lease: true,
            ..Shape::default()
        };
        let (data, app) = Data::one_application(&shape);
        let params = json!({ "propertyId": 100_001, "applicationId": app.application_id,
                             "leaseStatusTypeIds": "1" });
        let error = get_lease_documents_list(&data, &params, request(1, 10)).expect_err("none");
        assert_eq!(error.code, 404);
    }
}
