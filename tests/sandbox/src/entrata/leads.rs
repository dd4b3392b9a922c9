//! `leads/getLeads` (r1): the prospects of a property with their customers, contacts and
//! desired unit, paginated (`page_no`, `per_page`) in lead-id order.
//!
//! Two readings the reference leaves open are configurable
//! ([`crate::config::EntrataConfig`]): whether a lead id is the application id (by default
//! yes; otherwise each lead has its own id, shown as `leadId` and `id`, and `leadId`
//! filters on it), and whether a lead customer carries `customerType` (by default not, as
//! in the reference's model).

use super::data::Data;
use super::envelope::{MethodError, one_or_many, param_ids};
use super::model::{Application, Customer};
use super::paging::{self, PageRequest};
use super::render::{Answer, id_value, property};
use crate::config::EntrataConfig;
use serde_json::{Value, json};

/// `leads/getLeads`: the prospects of `propertyId`, optionally only the `leadId`s (comma
/// list; `leadIds` too), one page of them.
pub fn get_leads(
    data: &Data,
    params: &Value,
    config: &EntrataConfig,
    page: PageRequest,
) -> Result<Answer, MethodError> {
    let property = property(data, params)?;
    let same_ids = config.lead_ids_are_application_ids;
    let wanted = param_ids(params, "leadId")?.or(param_ids(params, "leadIds")?);
    let mut leads: Vec<&Application> = data
        .applications
        .values()
        .filter(|a| a.property_id == property.id)
        .filter(|a| {
            wanted
                .as_ref()
                .is_none_or(|w| w.contains(&a.lead_id(same_ids)))
        })
        .collect();
    leads.sort_by_key(|a| a.lead_id(same_ids));
    let not_found = || MethodError::new(404, "No leads found for the given criteria.");
    if leads.is_empty() {
        return Err(not_found());
    }
    let page = paging::page(leads, page).ok_or_else(not_found)?;
    let prospects: Vec<Value> = page.items.iter().map(|a| prospect(a, config)).collect();
    Ok(Answer {
        result: json!({
            "propertyId": id_value(property.id, property.id_as_string),
            "currencyCode": "USD",
            "prospects": { "prospect": one_or_many(prospects) },
        }),
        page: Some(page.info),
    })
}

fn prospect(app: &Application, config: &EntrataConfig) -> Value {
    let customers: Vec<Value> = app
        .customers
        .iter()
        .map(|c| lead_customer(c, config.lead_customer_types))
        .collect();
    // A lead without a lease yet shows empty lease fields, as Entrata writes "none".
    let lease = match app.lease() {
        Some(lease_id) => json!({
            "leaseId": lease_id,
            "status": "Applicant",
            "leaseIntervalId": app.lease_interval_id,
            "expectedMoveInDate": app.move_in_date,
        }),
        None => json!({
            "leaseId": "",
            "status": "",
            "leaseIntervalId": "",
            "expectedMoveInDate": app.move_in_date,
        }),
    };
    let mut prospect = json!({
        "applicationId": app.application_id.to_string(),
        "status": "Application Completed",
        "statusId": "6",
        "leadSourceId": 71,
        "leadSource": "Property Website",
        "createdOn": format!("{}T10:15:00", app.created_on),
        "lastUpdatedDate": format!("{}T10:20:00", app.created_on),
        "screeningResultStatus": "",
        "lease": lease,
        "customers": { "customer": one_or_many(customers) },
        "customerPreferences": {
            "targetMoveInDate": app.move_in_date,
            "desiredUnit": {
                "propertyUnitId": app.unit_id,
                "unitNumber": app.unit_number,
                "initialRent": app.rent,
                "marketRent": app.rent,
            },
            "desiredMaxRent": app.rent,
            "numberOfOccupants": app.customers.len(),
        },
    });
    if !config.lead_ids_are_application_ids {
        let lead_id = app.lead_id(false).to_string();
        prospect["leadId"] = json!(lead_id);
        prospect["id"] = json!(lead_id);
    }
    prospect
}

fn lead_customer(c: &Customer, with_type: bool) -> Value {
    let phone = c.phone.as_deref().unwrap_or("");
    let (personal, cell, office) = match c.phone_type.as_str() {
        "mobile" => ("", phone, ""),
        "work" => ("", "", phone),
        _ => (phone, "", ""),
    };
    let office = c.work_phone.as_deref().unwrap_or(office);
    let mut customer = json!({
        "customerId": c.id,
        "namePrefix": "",
        "firstName": c.first_name,
        "middleName": "",
        "lastName": c.last_name,
        "nameSuffix": "",
        "personalPhoneNumber": personal,
        "cellPhoneNumber": cell,
        "officePhoneNumber": office,
        "faxPhoneNumber": "",
        "email": c.email.clone().unwrap_or_default(),
        "birthDate": "",
    });
    if with_type {
        customer["customerType"] = json!(c.customer_type);
    }
    customer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SandboxConfig;
    use crate::entrata::model::OWN_LEAD_ID_OFFSET;
    use crate::entrata::seed::Shape;

    fn config() -> EntrataConfig {
        SandboxConfig::default().entrata
    }

    fn first_page() -> PageRequest {
        PageRequest {
            page_no: 1,
            per_page: 100,
        }
    }

    #[test]
    fn with_own_lead_ids_the_application_id_finds_no_lead() {
        let (data, app) = Data::one_application(&Shape::default());
        let mut config = config();
        config.lead_ids_are_application_ids = false;
        let by_application = json!({ "propertyId": 100_001, "leadId": app.application_id });
        let error = get_leads(&data, &by_application, &config, first_page()).expect_err("none");
        assert_eq!(
            error,
            MethodError::new(404, "No leads found for the given criteria.")
        );
        let lead_id = app.application_id + OWN_LEAD_ID_OFFSET;
        let by_lead = json!({ "propertyId": 100_001, "leadId": lead_id.to_string() });
        let answer = get_leads(&data, &by_lead, &config, first_page()).expect("found");
        let prospect = &answer.result["prospects"]["prospect"];
        assert_eq!(prospect["leadId"], lead_id.to_string());
        assert_eq!(prospect["id"], lead_id.to_string());
        assert_eq!(prospect["applicationId"], app.application_id.to_string());
    }

    #[test]
    fn by_default_the_lead_id_is_the_application_id_and_no_customer_type_is_shown() {
        let (data, app) = Data::one_application(&Shape {
            applicants: Some(1),
            ..Shape::default()
        });
        let params = json!({ "propertyId": 100_001, "leadId": app.application_id });
        let answer = get_leads(&data, &params, &config(), first_page()).expect("found");
        let prospect = &answer.result["prospects"]["prospect"];
        assert!(prospect.get("leadId").is_none() && prospect.get("id").is_none());
        assert!(
            prospect["customers"]["customer"]
                .get("customerType")
                .is_none()
        );
        let mut typed = config();
        typed.lead_customer_types = true;
        let answer = get_leads(&data, &params, &typed, first_page()).expect("found");
        let customer = &answer.result["prospects"]["prospect"]["customers"]["customer"];
        assert_eq!(customer["customerType"], "Primary");
    }

    #[test]
    fn phones_go_to_the_field_of_their_type_and_the_work_phone_to_the_office() {
        let customer = |phone_type: &str, work: Option<&str>| {
            let (_, app) = Data::one_application(&Shape {
                applicants: Some(1),
                phone: Some("+44 20 7946 0958".into()),
                phone_type: Some(phone_type.into()),
                work_phone: work.map(str::to_owned),
                ..Shape::default()
            });
            lead_customer(&app.customers[0], false)
        };
        let fields = |c: &Value| {
            [
                "cellPhoneNumber",
                "personalPhoneNumber",
                "officePhoneNumber",
            ]
            .map(|f| c[f].as_str().unwrap_or("?").to_owned())
        };
        let number = "+44 20 7946 0958".to_owned();
        assert_eq!(
            fields(&customer("mobile", None)),
            [number.clone(), "".into(), "".into()]
        );
        assert_eq!(
            fields(&customer("personal", None)),
            ["".into(), number.clone(), "".into()]
        );
        assert_eq!(
            fields(&customer("work", None)),
            ["".into(), "".into(), number.clone()]
        );
        assert_eq!(
            fields(&customer("mobile", Some("7946 0958"))),
            [number, "".into(), "7946 0958".into()]
        );
    }

    #[test]
    fn a_lead_without_lease_or_rent_shows_empty_strings() {
        let (data, app) = Data::one_application(&Shape {
            without_lease: true,
            without_rent: true,
            ..Shape::default()
        });
        let params = json!({ "propertyId": 100_001, "leadId": app.application_id });
        let answer = get_leads(&data, &params, &config(), first_page()).expect("found");
        let prospect = &answer.result["prospects"]["prospect"];
        assert_eq!(prospect["lease"]["leaseId"], "");
        let preferences = &prospect["customerPreferences"];
        assert_eq!(preferences["desiredUnit"]["initialRent"], "");
        assert_eq!(preferences["desiredUnit"]["marketRent"], "");
        assert_eq!(preferences["desiredMaxRent"], "");
    }
}
