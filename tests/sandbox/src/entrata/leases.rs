//! `leases/getLeases` (r2): the applicant lease of each application with its customers,
//! phones and scheduled charges, paginated (`page_no`, `per_page`) in lease-id order.
//!
//! By default only Current (4) and Notice (5) leases are returned, as Entrata documents;
//! every lease in the simulator is an application's lease in status 1 (Applicant), so a
//! caller must ask for it with `leaseStatusTypeIds`. An application that has no lease yet
//! is never returned.

use super::data::Data;
use super::envelope::{MethodError, one_or_many, param_id, param_ids};
use super::model::{Application, Customer, Property};
use super::paging::{self, PageRequest};
use super::render::{Answer, property};
use serde_json::{Value, json};

/// Lease status type 1, Applicant: the status of every lease in the simulator.
pub const APPLICANT: u64 = 1;

/// The statuses returned when a request has no `leaseStatusTypeIds`: Current and Notice.
pub const DEFAULT_STATUSES: [u64; 2] = [4, 5];

/// Whether the request's `leaseStatusTypeIds` (default [`DEFAULT_STATUSES`]) include
/// [`APPLICANT`], so that application leases may be returned.
pub fn applicant_leases_asked(params: &Value) -> Result<bool, MethodError> {
    Ok(param_ids(params, "leaseStatusTypeIds")?
        .unwrap_or_else(|| DEFAULT_STATUSES.to_vec())
        .contains(&APPLICANT))
}

/// `leases/getLeases`: the leases of `propertyId`, optionally only those of
/// `applicationId` (unless `ignore_application_id`), `leaseIds` (comma list) or `customerId`,
/// one page of them.
pub fn get_leases(
    data: &Data,
    params: &Value,
    page: PageRequest,
    ignore_application_id: bool,
) -> Result<Answer, MethodError> {
    let property = property(data, params)?;
    let application = param_id(params, "applicationId")?.filter(|_| !ignore_application_id);
    let lease_ids = param_ids(params, "leaseIds")?;
    let customer = param_id(params, "customerId")?;
    let applicants = applicant_leases_asked(params)?;
    let mut leases: Vec<(u64, &Application)> = data
        .applications
        .values()
        .filter(|a| a.property_id == property.id && applicants)
        .filter_map(|a| a.lease().map(|lease_id| (lease_id, a)))
        .filter(|(_, a)| application.is_none_or(|id| id == a.application_id))
        .filter(|(lease_id, _)| lease_ids.as_ref().is_none_or(|ids| ids.contains(lease_id)))
        .filter(|(_, a)| customer.is_none_or(|id| a.customers.iter().any(|c| c.id == id)))
        .collect();
    leases.sort_by_key(|(lease_id, _)| *lease_id);
    let not_found = || MethodError::new(404, "No leases found for the given criteria.");
    if leases.is_empty() {
        return Err(not_found());
    }
    let page = paging::page(leases, page).ok_or_else(not_found)?;
    let leases: Vec<Value> = page.items.iter().map(|(_, a)| lease(property, a)).collect();
    Ok(Answer {
        result: json!({ "currencyCode": "USD", "leases": { "lease": one_or_many(leases) } }),
        page: Some(page.info),
    })
}

fn charges(app: &Application) -> Vec<Value> {
    let mut charges = Vec::new();
    // Without a rent there is no base charge at all, not one of "0.00".
    if !app.rent.is_empty() {
        charges.push(json!({
            "id": app.lease_id * 10 + 1, "frequency": "Monthly", "leaseIntervalId": app.lease_interval_id,
            "chargeCodeId": 155, "startDate": app.move_in_date, "endDate": "", "chargeType": "Rent",
            "chargeCode": "Base Rent", "amount": app.rent, "chargeUsage": "Base", "description": "",
        }));
    }
    for (i, (code, usage, frequency, amount)) in app.other_charges.iter().enumerate() {
        charges.push(json!({
            "id": app.lease_id * 10 + 2 + i as u64, "frequency": frequency,
            "leaseIntervalId": app.lease_interval_id, "chargeCodeId": 200 + i, "startDate": app.move_in_date,
            "endDate": "", "chargeType": "Other", "chargeCode": code, "amount": amount,
            "chargeUsage": usage, "description": "",
        }));
    }
    charges
}

fn lease(property: &Property, app: &Application) -> Value {
    let customers: Vec<Value> = app
        .customers
        .iter()
        .map(|c| lease_customer(property, app, c))
        .collect();
    json!({
        "id": app.lease_id,
        "leaseStatusTypeId": APPLICANT.to_string(),
        "propertyId": property.id.to_string(),
        "propertyName": property.name,
        "moveInDate": app.move_in_date,
        "leaseIntervalStatus": "Applicant",
        "leaseIntervalId": app.lease_interval_id,
        "occupancyType": "Conventional",
        "floorPlanId": 61_000 + app.unit_id % 7,
        "floorPlanName": "2 Bed 2 Bath",
        "spaceConfiguration": "Conventional",
        "unitId": app.unit_id,
        "unitSpaces": { "unitSpace": { "unitSpaceId": app.unit_id + 1_000_000, "unitSpace": app.unit_number } },
        "customers": { "customer": one_or_many(customers) },
        "scheduledCharges": { "scheduledCharge": one_or_many(charges(app)) },
        "leaseIntervals": { "leaseInterval": {
            "id": app.lease_interval_id, "startDate": app.move_in_date, "endDate": "",
            "leaseIntervalTypeName": "Application", "leaseIntervalStatusTypeName": "Applicant",
            "applicationId": app.application_id, "applicationCompletedOn": app.created_on,
            "intervalDateTime": format!("{} 10:15:00.000000 MDT", app.created_on),
            "applications": { "application": {
                "id": app.application_id, "leaseTerm": 12, "leaseStartDate": app.move_in_date,
                "leaseEndDate": "", "applicationCompletedOn": app.created_on, "leaseApprovedOn": "",
                "isActiveLeaseInterval": 1,
            } },
        } },
    })
}

/// `phones.phone[]`: the work number first when there is one, then the customer's phone.
fn phones(c: &Customer) -> Vec<Value> {
    let work = c.work_phone.as_ref().map(|number| {
        json!({
            "phoneTypeName": "Work", "phoneType": "work", "phoneNumber": number,
            "countryCode": c.country_code(),
        })
    });
    let primary = c.phone.as_ref().map(|number| {
        json!({
            "phoneTypeName": "Primary", "phoneType": c.phone_type, "phoneNumber": number,
            "countryCode": c.country_code(),
        })
    });
    work.into_iter().chain(primary).collect()
}

fn lease_customer(property: &Property, app: &Application, c: &Customer) -> Value {
    let mut customer = json!({
        "id": c.id,
        "customerType": c.customer_type,
        "firstName": c.first_name,
        "middleName": "",
        "lastName": c.last_name,
        "nameFull": format!("{} {}", c.first_name, c.last_name),
        "leaseCustomerStatus": "Applicant",
        "relationshipName": match c.customer_type.as_str() {
            "Primary" => "Primary",
            "Guarantor" => "Guarantor",
            "Occupant" => "Other",
            _ => "Roommate",
        },
        "moveInDate": app.move_in_date,
        "addresses": { "address": {
            "addressType": "Current", "streetLine": property.street, "city": property.city,
            "state": property.state_code, "postalCode": property.postal_code, "countryName": "United States",
        } },
    });
    if let Some(email) = &c.email {
        customer["emailAddress"] = json!(email);
    }
    let phones = phones(c);
    if !phones.is_empty() {
        customer["phones"] = json!({ "phone": one_or_many(phones) });
    }
    customer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entrata::seed::Shape;

    fn first_page() -> PageRequest {
        PageRequest {
            page_no: 1,
            per_page: 100,
        }
    }

    #[test]
    fn an_application_without_a_lease_is_never_returned() {
        let shape = Shape {
            without_lease: true,
            ..Shape::default()
        };
        let (data, app) = Data::one_application(&shape);
        let params = json!({ "propertyId": 100_001, "applicationId": app.application_id,
                             "leaseStatusTypeIds": "1,2,3,4,5,6" });
        let error = get_leases(&data, &params, first_page(), false).expect_err("none");
        assert_eq!(error.code, 404);
    }

    #[test]
    fn without_rent_there_is_no_base_charge_and_other_charges_stay() {
        let shape = Shape {
            without_rent: true,
            ..Shape::default()
        };
        let (_, app) = Data::one_application(&shape);
        let charges = charges(&app);
        assert!(!charges.is_empty());
        assert!(
            charges
                .iter()
                .all(|c| c["chargeUsage"] != "Base" && c["chargeCode"] != "Base Rent")
        );
    }

    #[test]
    fn the_given_phone_comes_with_its_type_and_country_code_after_the_work_phone() {
        let shape = Shape {
            applicants: Some(2),
            phone: Some("7946 0958".into()),
            phone_type: Some("personal".into()),
            phone_country_code: Some("44".into()),
            work_phone: Some("0000000000".into()),
            ..Shape::default()
        };
        let (_, app) = Data::one_application(&shape);
        for customer in &app.customers {
            let phones = phones(customer);
            assert_eq!(phones.len(), 2);
            assert_eq!(phones[0]["phoneType"], "work");
            assert_eq!(phones[0]["phoneNumber"], "0000000000");
            assert_eq!(phones[1]["phoneType"], "personal");
            assert_eq!(phones[1]["phoneNumber"], "7946 0958");
            assert_eq!(phones[1]["countryCode"], "44");
        }
        let plain = Customer {
            phone_country_code: None,
            work_phone: None,
            ..app.customers[0].clone()
        };
        assert_eq!(phones(&plain)[0]["countryCode"], "1");
        assert_eq!(phones(&plain).len(), 1);
    }
}
