//! Validation of `POST /api/v1/screening_groups` as Payscore documents it: required
//! fields, the state spelled out in full, email syntax, and emails that "do not exist".
//! `monthly_rent` is required, as the current v1 page says; under the other reading (an
//! older page: "If left blank, then the multiplier will not be calculated",
//! `SANDBOX_PAYSCORE_MONTHLY_RENT_OPTIONAL`) it may be left out. A present one must be a
//! number of dollars, not negative (a string is not JSON this model reads, so it is refused as
//! bad JSON before validation).
//! The error body's shape is not published; ours is `{"message": .., "errors": [{"field",
//! "message"}]}` and never echoes the submitted values.

use super::model::CreateGroupRequest;
use crate::states;
use serde::Serialize;

/// One validation failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The offending field, e.g. `applicants[1].applicant_email`.
    pub field: String,
    /// What is wrong.
    pub message: &'static str,
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

/// Every problem with `request`; empty when it is valid.
pub fn validate(
    request: &CreateGroupRequest,
    nonexistent: &[String],
    rent_optional: bool,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    match request.applicants.as_deref() {
        None | Some([]) => errors.push(error("applicants", "at least one applicant is required")),
        Some(applicants) => {
            for (i, a) in applicants.iter().enumerate() {
                let field = |name: &str| format!("applicants[{i}].{name}");
                if blank(a.applicant_first_name.as_ref()) {
                    errors.push(error(field("applicant_first_name"), "is required"));
                }
                if blank(a.applicant_last_name.as_ref()) {
                    errors.push(error(field("applicant_last_name"), "is required"));
                }
                match a.applicant_email.as_deref().map(str::trim) {
                    None | Some("") => errors.push(error(field("applicant_email"), "is required")),
                    Some(email) if !email_syntax_ok(email) => {
                        errors.push(error(field("applicant_email"), "is not a valid email"))
                    }
                    Some(email) if nonexistent.iter().any(|n| n.eq_ignore_ascii_case(email)) => {
                        errors.push(error(field("applicant_email"), "does not exist"))
                    }
                    Some(_) => {}
                }
                if let Some(phone) = &a.applicant_phone_number
                    && !phone.is_empty()
                    && !e164(phone)
                {
                    errors.push(error(
                        field("applicant_phone_number"),
                        "must include the international code, e.g. +19842342345",
                    ));
                }
            }
        }
    }
    match &request.property {
        None => errors.push(error("property", "is required")),
        Some(p) => {
            for (name, value) in [
                ("street_address", &p.street_address),
                ("city", &p.city),
                ("zip_code", &p.zip_code),
            ] {
                if blank(value.as_ref()) {
                    errors.push(error(format!("property.{name}"), "is required"));
                }
            }
            match p.state.as_deref() {
                None | Some("") => errors.push(error("property.state", "is required")),
                Some(state) if !states::is_full_name(state) => errors.push(error(
                    "property.state",
                    "must be the state fully spelled out, no initials",
                )),
                Some(_) => {}
            }
        }
    }
    if request.is_decision_maker_paying.is_none() {
        errors.push(error("is_decision_maker_paying", "is required"));
    }
    if blank(request.decision_maker_display_name.as_ref()) {
        errors.push(error("decision_maker_display_name", "is required"));
    }
    if request.monthly_rent.is_none() && !rent_optional {
        errors.push(error("monthly_rent", "is required"));
    }
    if request
        .monthly_rent
        .is_some_and(|rent| !rent.is_finite() || rent < 0.0)
    {
        errors.push(error(
            "monthly_rent",
            "must be a positive number of dollars",
        ));
    }
    if request
        .income_multiplier_threshold
        .is_some_and(|t| !t.is_finite() || t <= 0.0)
    {
        errors.push(error("income_multiplier_threshold", "must be positive"));
    }
    errors
}

/// A plain syntax check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn email_syntax_ok(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !email.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// A phone number with the international code: `+` and 7 to 15 digits.
pub(crate) fn e164(phone: &str) -> bool {
    phone.len() >= 8
        && phone.len() <= 16
        && phone.starts_with('+')
        && phone[1..].chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payscore::model::{ApplicantInput, PropertyInput};

    fn valid() -> CreateGroupRequest {
        CreateGroupRequest {
            applicants: Some(vec![ApplicantInput {
                applicant_first_name: Some("Ann".into()),
                applicant_last_name: Some("Lee".into()),
                applicant_email: Some("ann@example.com".into()),
                applicant_phone_number: Some("+15125550100".into()),
            }]),
            property: Some(PropertyInput {
                street_address: Some("1 Main St".into()),
                city: Some("Austin".into()),
                state: Some("Texas".into()),
                zip_code: Some("78701".into()),
                unit: None,
                name: None,
            }),
            is_decision_maker_paying: Some(true),
            decision_maker_display_name: Some("ACME".into()),
            monthly_rent: Some(1650.0),
            ..CreateGroupRequest::default()
        }
    }

    #[test]
    fn a_complete_request_is_valid() {
        assert_eq!(validate(&valid(), &[], false), vec![]);
    }

    #[test]
    fn monthly_rent_is_required_unless_optional_and_never_negative() {
        let blank = CreateGroupRequest {
            monthly_rent: None,
            ..valid()
        };
        assert_eq!(validate(&blank, &[], true), vec![]);
        assert_eq!(
            validate(&blank, &[], false),
            vec![error("monthly_rent", "is required")],
            "required under the current page's reading"
        );
        let negative = CreateGroupRequest {
            monthly_rent: Some(-1.0),
            ..valid()
        };
        assert_eq!(
            validate(&negative, &[], false),
            vec![error(
                "monthly_rent",
                "must be a positive number of dollars"
            )]
        );
        let text = serde_json::from_value::<CreateGroupRequest>(
            serde_json::json!({ "monthly_rent": "1650" }),
        );
        assert!(text.is_err(), "not a number");
    }

    #[test]
    fn state_initials_are_refused() {
        let mut r = valid();
        if let Some(p) = r.property.as_mut() {
            p.state = Some("TX".into());
        }
        assert_eq!(validate(&r, &[], false)[0].field, "property.state");
    }

    #[test]
    fn an_email_that_does_not_exist_is_refused() {
        let errors = validate(&valid(), &["ANN@example.com".into()], false);
        assert_eq!(errors[0].message, "does not exist");
    }

    #[test]
    fn email_syntax_needs_a_local_part_and_a_dotted_domain() {
        assert!(email_syntax_ok("a@b.co"));
        for bad in ["a@b", "@b.co", "a b@c.co", "a@@b.co", "ab.co", "a@.co"] {
            assert!(!email_syntax_ok(bad), "{bad}");
        }
    }
}
