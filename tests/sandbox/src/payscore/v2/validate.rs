//! Validation of `POST /api/v1/applicant_groups` (reference §10). The reference documents
//! only "Bad request - validation errors"; the simulator checks what v1 checks, in the v2
//! field names, plus:
//! - `monthly_rent` is an integer number of **cents**, not negative (a fraction, a string or a
//!   negative number is refused); required unless `SANDBOX_PAYSCORE_MONTHLY_RENT_OPTIONAL`;
//! - every applicant requests at least one verification, each of a configured wire name
//!   (`SANDBOX_PAYSCORE_V2_VERIFICATION_TYPES`);
//! - `property.state` is a two-letter code (as in the v2 example) or a full name, or only a
//!   code with `SANDBOX_PAYSCORE_V2_STATE_INITIALS_ONLY`.
//!
//! The error body is v1's `{"message", "errors": [{"field", "message"}]}`, never echoing values.

use super::super::model::PropertyInput;
use super::super::validate::{FieldError, e164, email_syntax_ok};
use super::model::{ApplicantInput, CreateApplicantGroupRequest};
use crate::states;

/// The settings validation depends on.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Emails that "do not exist".
    pub nonexistent_emails: &'a [String],
    /// `monthly_rent` may be left out.
    pub rent_optional: bool,
    /// The accepted verification wire names.
    pub verification_types: &'a [String],
    /// A state spelled out in full is refused.
    pub state_initials_only: bool,
}

/// One applicant of a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidApplicant {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Phone, when sent.
    pub phone_number: Option<String>,
    /// Distinct verification wire names, in the order sent.
    pub verifications: Vec<String>,
}

/// A valid create request, ready to store.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    /// The applicants.
    pub applicants: Vec<ValidApplicant>,
    /// The property.
    pub property: PropertyInput,
    /// Shown to the applicants.
    pub decision_maker_display_name: String,
    /// Rent in cents.
    pub monthly_rent_cents: Option<i64>,
    /// Where webhooks go.
    pub webhook_url: Option<String>,
    /// Caller's id.
    pub correlation_id: Option<String>,
    /// No invitation.
    pub is_invitation_disabled: bool,
}

fn error(field: impl Into<String>, message: &'static str) -> FieldError {
    FieldError {
        field: field.into(),
        message,
    }
}

fn blank(value: Option<&String>) -> bool {
    value.is_none_or(|v| v.trim().is_empty())
}

fn text(value: Option<&String>) -> String {
    value.map(|v| v.trim().to_owned()).unwrap_or_default()
}

/// The valid request, or every problem with it.
pub fn validate(
    request: &CreateApplicantGroupRequest,
    rules: &Rules<'_>,
) -> Result<ValidRequest, Vec<FieldError>> {
    let mut errors = Vec::new();
    let applicants = match request.applicants.as_deref() {
        None | Some([]) => {
            errors.push(error("applicants", "at least one applicant is required"));
            Vec::new()
        }
        Some(applicants) => applicants
            .iter()
            .enumerate()
            .map(|(i, a)| applicant(i, a, rules, &mut errors))
            .collect(),
    };
    match &request.property {
        None => errors.push(error("property", "is required")),
        Some(p) => property(p, rules, &mut errors),
    }
    if blank(request.decision_maker_display_name.as_ref()) {
        errors.push(error("decision_maker_display_name", "is required"));
    }
    let rent = rent_cents(request.monthly_rent.as_ref(), rules, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ValidRequest {
        applicants,
        property: request.property.clone().unwrap_or_default(),
        decision_maker_display_name: text(request.decision_maker_display_name.as_ref()),
        monthly_rent_cents: rent,
        webhook_url: request.webhook_url.clone(),
        correlation_id: request.correlation_id.clone(),
        is_invitation_disabled: request.is_invitation_disabled.unwrap_or(false),
    })
}

fn applicant(
    i: usize,
    a: &ApplicantInput,
    rules: &Rules<'_>,
    errors: &mut Vec<FieldError>,
) -> ValidApplicant {
    let field = |name: &str| format!("applicants[{i}].{name}");
    if blank(a.first_name.as_ref()) {
        errors.push(error(field("first_name"), "is required"));
    }
    if blank(a.last_name.as_ref()) {
        errors.push(error(field("last_name"), "is required"));
    }
    match a.email.as_deref().map(str::trim) {
        None | Some("") => errors.push(error(field("email"), "is required")),
        Some(email) if !email_syntax_ok(email) => {
            errors.push(error(field("email"), "is not a valid email"))
        }
        Some(email)
            if rules
                .nonexistent_emails
                .iter()
                .any(|n| n.eq_ignore_ascii_case(email)) =>
        {
            errors.push(error(field("email"), "does not exist"))
        }
        Some(_) => {}
    }
    if let Some(phone) = &a.phone_number
        && !phone.is_empty()
        && !e164(phone)
    {
        errors.push(error(
            field("phone_number"),
            "must include the international code, e.g. +19842342345",
        ));
    }
    let mut verifications: Vec<String> = Vec::new();
    match a.verifications.as_deref() {
        None | Some([]) => errors.push(error(
            field("verifications"),
            "at least one verification is required",
        )),
        Some(requested) => {
            for (j, v) in requested.iter().enumerate() {
                let at = field(&format!("verifications[{j}].type"));
                match v.kind.as_deref().map(str::trim) {
                    None | Some("") => errors.push(error(at, "is required")),
                    Some(kind) if !rules.verification_types.iter().any(|t| t == kind) => {
                        errors.push(error(at, "is not a known verification type"))
                    }
                    // The same type twice is one verification.
                    Some(kind) if verifications.iter().any(|k| k == kind) => {}
                    Some(kind) => verifications.push(kind.to_owned()),
                }
            }
        }
    }
    ValidApplicant {
        first_name: text(a.first_name.as_ref()),
        last_name: text(a.last_name.as_ref()),
        email: text(a.email.as_ref()),
        phone_number: a.phone_number.clone().filter(|p| !p.is_empty()),
        verifications,
    }
}

fn property(p: &PropertyInput, rules: &Rules<'_>, errors: &mut Vec<FieldError>) {
    for (name, value) in [
        ("street_address", &p.street_address),
        ("city", &p.city),
        ("zip_code", &p.zip_code),
    ] {
        if blank(value.as_ref()) {
            errors.push(error(format!("property.{name}"), "is required"));
        }
    }
    match p.state.as_deref().map(str::trim) {
        None | Some("") => errors.push(error("property.state", "is required")),
        Some(state) if states::full_name(state).is_some() && state.len() == 2 => {}
        Some(_) if rules.state_initials_only => errors.push(error(
            "property.state",
            "must be the two-letter state code, e.g. CA",
        )),
        Some(state) if states::is_full_name(state) => {}
        Some(_) => errors.push(error(
            "property.state",
            "must be a state code (CA) or a state name (California)",
        )),
    }
}

/// `monthly_rent` in cents: a JSON number with no fractional part, not negative.
fn rent_cents(
    rent: Option<&serde_json::Value>,
    rules: &Rules<'_>,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    let Some(value) = rent.filter(|v| !v.is_null()) else {
        if !rules.rent_optional {
            errors.push(error("monthly_rent", "is required"));
        }
        return None;
    };
    let cents = value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    });
    match cents {
        Some(cents) if cents >= 0 => Some(cents),
        _ => {
            errors.push(error(
                "monthly_rent",
                "must be a whole, non-negative number of cents",
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: serde_json::Value) -> CreateApplicantGroupRequest {
        serde_json::from_value(body).expect("parses")
    }

    fn valid() -> serde_json::Value {
        json!({
            "applicants": [{ "first_name": "Jane", "last_name": "Doe", "email": "jane@example.com",
                             "phone_number": "+19842342345",
                             "verifications": [{ "type": "asset_verification" },
                                               { "type": "asset_verification" }] }],
            "property": { "name": "ABC Apartments", "street_address": "123 Main Street",
                          "city": "San Francisco", "state": "CA", "zip_code": "94102", "unit": "2A" },
            "decision_maker_display_name": "ABC Property Management",
            "monthly_rent": 250000,
        })
    }

    fn types() -> Vec<String> {
        crate::config::V2_VERIFICATION_TYPES
            .map(str::to_owned)
            .to_vec()
    }

    fn check(
        body: serde_json::Value,
        initials_only: bool,
    ) -> Result<ValidRequest, Vec<FieldError>> {
        let types = types();
        let rules = Rules {
            nonexistent_emails: &["nobody@nowhere.invalid".to_owned()],
            rent_optional: false,
            verification_types: &types,
            state_initials_only: initials_only,
        };
        validate(&request(body), &rules)
    }

    fn fields(result: Result<ValidRequest, Vec<FieldError>>) -> Vec<String> {
        result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn the_reference_example_is_valid_and_a_repeated_type_counts_once() {
        let valid = check(valid(), false).expect("valid");
        assert_eq!(valid.monthly_rent_cents, Some(250_000));
        assert_eq!(valid.applicants[0].verifications, ["asset_verification"]);
    }

    #[test]
    fn rent_must_be_whole_non_negative_cents() {
        for bad in [json!(2500.5), json!(-1), json!("250000"), json!(true)] {
            let mut body = valid();
            body["monthly_rent"] = bad.clone();
            assert_eq!(fields(check(body, false)), ["monthly_rent"], "{bad}");
        }
        let mut whole = valid();
        whole["monthly_rent"] = json!(250000.0);
        assert_eq!(
            check(whole, false).expect("valid").monthly_rent_cents,
            Some(250_000)
        );
        let mut missing = valid();
        missing["monthly_rent"] = serde_json::Value::Null;
        assert_eq!(fields(check(missing, false)), ["monthly_rent"]);
    }

    #[test]
    fn verifications_are_required_and_of_a_known_type() {
        let mut none = valid();
        none["applicants"][0]["verifications"] = json!([]);
        assert_eq!(fields(check(none, false)), ["applicants[0].verifications"]);
        let mut unknown = valid();
        unknown["applicants"][0]["verifications"][1]["type"] = json!("credit_check");
        assert_eq!(
            fields(check(unknown, false)),
            ["applicants[0].verifications[1].type"]
        );
    }

    #[test]
    fn state_codes_and_names_are_accepted_unless_initials_only() {
        let mut named = valid();
        named["property"]["state"] = json!("California");
        assert!(check(named.clone(), false).is_ok());
        assert_eq!(fields(check(named, true)), ["property.state"]);
        assert!(check(valid(), true).is_ok());
        let mut neither = valid();
        neither["property"]["state"] = json!("XX");
        assert_eq!(fields(check(neither, false)), ["property.state"]);
    }

    #[test]
    fn a_nonexistent_email_is_refused() {
        let mut body = valid();
        body["applicants"][0]["email"] = json!("Nobody@nowhere.invalid");
        assert_eq!(fields(check(body, false)), ["applicants[0].email"]);
    }
}
