//! The v2 reports' contents: the PDF of each report, the `data` of
//! `GET /api/v1/reports/{id}`, and the "pre-signed" PDF URL.
//!
//! The reference gives only a placeholder `data` example (an income `summary`, `accounts[]`,
//! `transactions[]`) and says the per-type schemas are unconfirmed: the identity and asset
//! shapes below are the simulator's own. Figures derive from the ids, so the same report
//! always shows the same numbers.

use super::model::{ApplicantGroup, Report, ReportType};
use crate::payscore::webhooks::sign;
use crate::pdf;
use serde_json::{Value, json};

/// How long a pre-signed PDF URL is valid (v1 documents 2 hours; v2 says nothing).
pub const PDF_URL_LIFETIME_SECONDS: u64 = 2 * 60 * 60;

/// The fake access key id in pre-signed URLs (AWS's shape: `AKIA` and 16 characters).
pub const ACCESS_KEY_ID: &str = "AKIASANDBOX0PAYSCORE";

/// The one-page PDF of `report`, naming the report, the group and the applicant.
pub fn pdf(group: &ApplicantGroup, report: &Report) -> Vec<u8> {
    let subject = match report.applicant_id {
        Some(applicant) => format!("Applicant {applicant}"),
        None => format!("Household of {} applicant(s)", group.applicants.len()),
    };
    let lines = [
        format!("Report {}", report.id),
        format!("Applicant group {}", group.id),
        subject,
        format!("Created at {} (Unix ms)", report.created_at_ms),
        format!(
            "Correlation id: {}",
            group.correlation_id.as_deref().unwrap_or("-")
        ),
    ];
    pdf::render(
        &format!("Payscore sandbox {} report", report.report_type.name()),
        &lines,
    )
}

/// The monthly income in cents the simulator reports for the applicant at `index`.
fn monthly_income(group: &ApplicantGroup, index: usize) -> i64 {
    (group.id.as_u128() % 4000) as i64 * 100 + 250_000 + index as i64 * 10_000
}

/// `data` of `GET /api/v1/reports/{id}` for `report`.
pub fn data(group: &ApplicantGroup, report: &Report) -> Value {
    match report.report_type {
        ReportType::Income => income(group),
        ReportType::Asset => asset(group),
        // Unconfirmed: the identity report "shows passed/failed" (reference §10).
        ReportType::Identity => json!({ "result": "passed" }),
    }
}

/// The reference's placeholder shape: `summary`, `accounts`, `transactions` (both empty).
fn income(group: &ApplicantGroup) -> Value {
    let total: i64 = group
        .applicants
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            a.verifications
                .iter()
                .any(|v| v.report_type == Some(ReportType::Income))
        })
        .map(|(i, _)| monthly_income(group, i))
        .sum();
    let ratio = group
        .monthly_rent_cents
        .filter(|rent| *rent > 0)
        .map(|rent| (total as f64 / rent as f64 * 100.0).round() / 100.0);
    let recommendation = match ratio {
        None => "unavailable",
        Some(r) if r >= 2.5 => "approve",
        Some(_) => "decline",
    };
    json!({
        "summary": {
            "total_monthly_income": total,
            "income_to_rent_ratio": ratio,
            "recommendation": recommendation,
        },
        "accounts": [],
        "transactions": [],
    })
}

/// Unconfirmed shape: a summary and one savings account per applicant who asked for it.
fn asset(group: &ApplicantGroup) -> Value {
    let accounts: Vec<Value> = group
        .applicants
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            a.verifications
                .iter()
                .any(|v| v.report_type == Some(ReportType::Asset))
        })
        .map(|(i, a)| {
            let balance = monthly_income(group, i) * 3;
            json!({
                "applicant_id": a.id.to_string(), "name": "Savings Account", "type": "Savings",
                "current_balance": balance, "available_balance": balance,
            })
        })
        .collect();
    let total: i64 = accounts
        .iter()
        .filter_map(|a| a["current_balance"].as_i64())
        .sum();
    json!({
        "summary": { "total_balance": total, "account_count": accounts.len() },
        "accounts": accounts,
    })
}

/// Signs and checks the "pre-signed" PDF URLs of `GET /api/v1/reports/{id}`.
#[derive(Debug)]
pub struct Presigner {
    key: Vec<u8>,
}

/// Why a pre-signed URL is refused (S3 answers 403 to both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Expires` has passed.
    Expired,
    /// The signature does not match the file and `Expires`.
    BadSignature,
}

impl Presigner {
    /// A signer with `key`.
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn signature(&self, file: &str, expires: u64) -> String {
        sign(&self.key, format!("{file}\n{expires}").as_bytes())
    }

    /// `{base}/files/{file}?AWSAccessKeyId=AKIA…&Expires=<unix>&Signature=<hex>`, valid for
    /// [`PDF_URL_LIFETIME_SECONDS`] from `now_ms`.
    pub fn url(&self, base: &str, file: &str, now_ms: u64) -> String {
        let expires = now_ms / 1000 + PDF_URL_LIFETIME_SECONDS;
        format!(
            "{base}/files/{file}?AWSAccessKeyId={ACCESS_KEY_ID}&Expires={expires}&Signature={}",
            self.signature(file, expires)
        )
    }

    /// Whether `signature` and `expires` (as found in the query) admit `file` at `now_ms`.
    pub fn check(
        &self,
        file: &str,
        expires: Option<&str>,
        signature: &str,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        let expires: u64 = expires
            .and_then(|e| e.parse().ok())
            .ok_or(Refusal::BadSignature)?;
        if !self
            .signature(file, expires)
            .eq_ignore_ascii_case(signature)
        {
            return Err(Refusal::BadSignature);
        }
        if expires.saturating_mul(1000) < now_ms {
            return Err(Refusal::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presigned_url_verifies_until_it_expires_and_not_when_tampered() {
        let signer = Presigner::new(b"k");
        let url = signer.url("http://h", "a.pdf", 1_000_000);
        let query = url.split_once('?').map(|(_, q)| q).expect("query");
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .expect("param")
        };
        let (expires, signature) = (param("Expires"), param("Signature"));
        assert_eq!(param("AWSAccessKeyId"), ACCESS_KEY_ID);
        assert_eq!(
            signer.check("a.pdf", Some(expires), signature, 1_000_000),
            Ok(())
        );
        assert_eq!(
            signer.check("b.pdf", Some(expires), signature, 1_000_000),
            Err(Refusal::BadSignature)
        );
        let later = (1_000 + PDF_URL_LIFETIME_SECONDS + 1) * 1000;
        assert_eq!(
            signer.check("a.pdf", Some(expires), signature, later),
            Err(Refusal::Expired)
        );
    }
}
