//! The report as a document in Entrata: the ids a `correlation_id` names, the file name that
//! makes one upload per report, and reading Entrata's document list and upload result.

use crate::json;
pub use crate::json::{count_items, mentions};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// `entrata:<propertyId>:<applicationId>`: the `correlation_id` of an application's group.
pub fn correlation_id(application: &crate::ledger::records::ApplicationRef) -> String {
    format!(
        "entrata:{}:{}",
        application.property_id, application.application_id
    )
}

/// `entrata:<propertyId>:<applicationId>` → the two ids.
pub fn parse_correlation(correlation_id: &str) -> Option<(&str, &str)> {
    let rest = correlation_id.strip_prefix("entrata:")?;
    let (property, application) = rest.split_once(':')?;
    (!property.is_empty() && !application.is_empty()).then_some((property, application))
}

/// The first 12 hex digits of the report's SHA-256: the report's key in the ledger.
pub fn report_hash(pdf: &[u8]) -> String {
    hex::encode(Sha256::digest(pdf))[..12].to_owned()
}

/// Only ASCII letters, digits and `-`: what an id may bring into a file name.
fn safe(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// `payscore-<group id>-<12 hex of SHA-256>.pdf`: the same report gets the same name, a new
/// report (after a re-completion) a new one.
pub fn file_name(group_id: &str, pdf: &[u8]) -> String {
    format!("payscore-{}-{}.pdf", safe(group_id), report_hash(pdf))
}

/// `payscore-<kind>-<group id>-<report id>.pdf` for a v2 report: which report it is, of which
/// group, and one name per report id (the same report uploaded again has the same name).
pub fn report_file_name(kind: &str, group_id: &str, report_id: &str) -> String {
    format!(
        "payscore-{}-{}-{}.pdf",
        safe(&kind.to_ascii_lowercase()),
        safe(group_id),
        safe(report_id)
    )
}

/// A per-file status that is not a success, described without applicant data.
pub fn failed_file(result: &Value) -> Option<String> {
    let files = json::wrapped(result, "files", "file");
    files.iter().find_map(|f| {
        let status = json::text(json::field(f, "status")).unwrap_or_default();
        let ok = ["success", "ok", "uploaded", "1", "true"]
            .iter()
            .any(|s| status.eq_ignore_ascii_case(s));
        (!ok).then(|| format!("status {status:?}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_ids_name_the_application() {
        assert_eq!(parse_correlation("entrata:100:77"), Some(("100", "77")));
        assert_eq!(parse_correlation("other:1:2"), None);
        assert_eq!(parse_correlation("entrata:100"), None);
    }

    #[test]
    fn file_names_follow_the_report_bytes() {
        let a = file_name("905963d4-0649", b"%PDF-1.4 one");
        assert_eq!(a, file_name("905963d4-0649", b"%PDF-1.4 one"));
        assert_ne!(a, file_name("905963d4-0649", b"%PDF-1.4 two"));
        assert!(a.starts_with("payscore-905963d4-0649-") && a.ends_with(".pdf"));
    }

    #[test]
    fn v2_file_names_say_which_report_of_which_group() {
        assert_eq!(
            report_file_name("Identity", "4516efb4-aa", "2d376488/../x"),
            "payscore-identity-4516efb4-aa-2d376488x.pdf"
        );
    }

    #[test]
    fn a_failed_file_status_is_found_in_a_success_envelope() {
        let ok =
            serde_json::json!({"files": {"file": [{"fileName": "a.pdf", "status": "Success"}]}});
        assert_eq!(failed_file(&ok), None);
        let bad = serde_json::json!({"files": {"file": {"fileName": "a.pdf", "status": "Failed", "message": "x"}}});
        assert_eq!(failed_file(&bad).as_deref(), Some("status \"Failed\""));
    }

    #[test]
    fn a_page_counts_its_longest_list() {
        let page =
            serde_json::json!({"documents": {"document": [{"id": 1}, {"id": 2}, {"id": 3}]}});
        assert_eq!(count_items(&page), 3);
        let one = serde_json::json!({"documents": {"document": {"id": 1}}});
        assert_eq!(count_items(&one), 0, "a lone object is not a list");
        assert_eq!(count_items(&serde_json::json!({})), 0);
    }

    #[test]
    fn listed_documents_are_found_wherever_the_name_is() {
        let list = serde_json::json!({"documents": {"document": [{"id": 1, "fileName": "x.pdf"}, {"title": "payscore-a.pdf"}]}});
        assert!(mentions(&list, "payscore-a.pdf"));
        assert!(!mentions(&list, "payscore-b.pdf"));
    }
}
