//! `leases/sendLeaseDocuments` (multipart: `requestBody`, `requestContentType`,
//! `file1…N`; a status per file) and `leases/getLeaseDocumentsList`.
//!
//! Entry `files.file[i]` is matched to part `file{i+1}`, or else to the part whose
//! `filename` equals its `fileName`. A file fails (status `Failed`, HTTP 200, success
//! envelope) when its part is missing or empty, its file type is unknown, or a per-file
//! failure was queued through `POST /_control/uploads/failures`.

use super::data::Data;
use super::envelope::{MethodError, one_or_many, param_id, param_str, required_id};
use super::model::{Application, Upload};
use super::multipart::Part;
use serde_json::{Value, json};
use std::collections::VecDeque;

/// Lease file type system codes the simulator knows (from a real `getLeasePickList`).
pub const FILE_TYPES: &[&str] = &[
    "SR",
    "SCR",
    "REPORT",
    "OTHER",
    "APP",
    "APP_UPLOAD",
    "SDSL",
    "APPID",
    "AAL",
    "LEASE",
];

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
        .ok_or_else(|| MethodError::new(404, "Lease or application not found for this property."))
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
            .is_some_and(|t| !FILE_TYPES.contains(&t))
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

/// `getLeaseDocumentsList`: the successful documents of a lease, optionally filtered by
/// `fileTypesCode` (comma list).
pub fn get_lease_documents_list(data: &Data, params: &Value) -> Result<Value, MethodError> {
    let app = target(data, params)?;
    let types: Option<Vec<String>> = param_str(params, "fileTypesCode")
        .map(|s| s.split(',').map(|t| t.trim().to_owned()).collect());
    let documents: Vec<Value> = data
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
    Ok(json!({ "leaseDocuments": { "leaseDocument": one_or_many(documents) } }))
}
