//! The read methods — `leads/getLeads` (r1), `leases/getLeases` (r2),
//! `properties/getProperties` — rendered with the documented quirks: single-element lists
//! as objects, ids sometimes strings and sometimes numbers, `@attributes` keys, money as
//! `"1650.00"` strings, local phone formats, missing emails.

use super::data::Data;
use super::envelope::{MethodError, one_or_many, param_id, param_ids, required_id};
use super::model::{Application, Customer, Property};
use serde_json::{Value, json};

fn id_value(id: u64, as_string: bool) -> Value {
    if as_string {
        json!(id.to_string())
    } else {
        json!(id)
    }
}

fn property<'a>(data: &'a Data, params: &Value) -> Result<&'a Property, MethodError> {
    let id = required_id(params, "propertyId")?;
    data.property(id)
        .ok_or_else(|| MethodError::new(404, "Property not found or not accessible."))
}

/// `leads/getLeads`: the prospects of a property, optionally only `leadId`s (comma list;
/// in this simulator a lead id is the application id).
pub fn get_leads(data: &Data, params: &Value) -> Result<Value, MethodError> {
    let property = property(data, params)?;
    let wanted = param_ids(params, "leadId")?.or(param_ids(params, "leadIds")?);
    let prospects: Vec<Value> = data
        .applications
        .values()
        .filter(|a| a.property_id == property.id)
        .filter(|a| {
            wanted
                .as_ref()
                .is_none_or(|w| w.contains(&a.application_id))
        })
        .map(prospect)
        .collect();
    if prospects.is_empty() {
        return Err(MethodError::new(
            404,
            "No leads found for the given criteria.",
        ));
    }
    Ok(json!({
        "propertyId": id_value(property.id, property.id_as_string),
        "currencyCode": "USD",
        "prospects": { "prospect": one_or_many(prospects) },
    }))
}

fn prospect(app: &Application) -> Value {
    let customers: Vec<Value> = app.customers.iter().map(lead_customer).collect();
    json!({
        "applicationId": app.application_id.to_string(),
        "status": "Application Completed",
        "statusId": "6",
        "leadSourceId": 71,
        "leadSource": "Property Website",
        "createdOn": format!("{}T10:15:00", app.created_on),
        "lastUpdatedDate": format!("{}T10:20:00", app.created_on),
        "screeningResultStatus": "",
        "lease": {
            "leaseId": app.lease_id,
            "status": "Applicant",
            "leaseIntervalId": app.lease_interval_id,
            "expectedMoveInDate": app.move_in_date,
        },
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
    })
}

fn lead_customer(c: &Customer) -> Value {
    let phone = c.phone.clone().unwrap_or_default();
    let (personal, cell, office) = match c.phone_type.as_str() {
        "mobile" => ("", phone.as_str(), ""),
        "work" => ("", "", phone.as_str()),
        _ => (phone.as_str(), "", ""),
    };
    json!({
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
    })
}

/// `leases/getLeases` (r2): by default only Current (4) and Notice (5) leases, as Entrata
/// does; applications are status 1 (Applicant), so callers must ask for it.
pub fn get_leases(data: &Data, params: &Value) -> Result<Value, MethodError> {
    let property = property(data, params)?;
    let application = param_id(params, "applicationId")?;
    let lease_ids = param_ids(params, "leaseIds")?;
    let customer = param_id(params, "customerId")?;
    let statuses = param_ids(params, "leaseStatusTypeIds")?.unwrap_or_else(|| vec![4, 5]);
    let leases: Vec<Value> = data
        .applications
        .values()
        .filter(|a| a.property_id == property.id && statuses.contains(&1))
        .filter(|a| application.is_none_or(|id| id == a.application_id))
        .filter(|a| {
            lease_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&a.lease_id))
        })
        .filter(|a| customer.is_none_or(|id| a.customers.iter().any(|c| c.id == id)))
        .map(|a| lease(property, a))
        .collect();
    if leases.is_empty() {
        return Err(MethodError::new(
            404,
            "No leases found for the given criteria.",
        ));
    }
    Ok(json!({ "currencyCode": "USD", "leases": { "lease": one_or_many(leases) } }))
}

fn lease(property: &Property, app: &Application) -> Value {
    let customers: Vec<Value> = app
        .customers
        .iter()
        .map(|c| lease_customer(property, app, c))
        .collect();
    let mut charges = vec![json!({
        "id": app.lease_id * 10 + 1, "frequency": "Monthly", "leaseIntervalId": app.lease_interval_id,
        "chargeCodeId": 155, "startDate": app.move_in_date, "endDate": "", "chargeType": "Rent",
        "chargeCode": "Base Rent", "amount": app.rent, "chargeUsage": "Base", "description": "",
    })];
    for (i, (code, usage, frequency, amount)) in app.other_charges.iter().enumerate() {
        charges.push(json!({
            "id": app.lease_id * 10 + 2 + i as u64, "frequency": frequency,
            "leaseIntervalId": app.lease_interval_id, "chargeCodeId": 200 + i, "startDate": app.move_in_date,
            "endDate": "", "chargeType": "Other", "chargeCode": code, "amount": amount,
            "chargeUsage": usage, "description": "",
        }));
    }
    json!({
        "id": app.lease_id,
        "leaseStatusTypeId": "1",
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
        "scheduledCharges": { "scheduledCharge": one_or_many(charges) },
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
    if let Some(phone) = &c.phone {
        customer["phones"] = json!({ "phone": {
            "phoneTypeName": "Primary", "phoneType": c.phone_type, "phoneNumber": phone, "countryCode": "1",
        } });
    }
    customer
}

/// `properties/getProperties`, optionally only `propertyIds` (comma list).
pub fn get_properties(data: &Data, params: &Value) -> Result<Value, MethodError> {
    let wanted = param_ids(params, "propertyIds")?;
    let properties: Vec<Value> = data
        .properties
        .iter()
        .filter(|p| wanted.as_ref().is_none_or(|w| w.contains(&p.id)))
        .map(|p| json!({
            "PropertyID": id_value(p.id, p.id_as_string),
            "MarketingName": p.name,
            "Type": "Apartment",
            "webSite": format!("https://property-{}.example.com", p.id),
            "Address": {
                "@attributes": { "AddressType": "property" },
                "Address": p.street, "City": p.city, "State": p.state,
                "PostalCode": p.postal_code, "Country": "US",
                "Email": format!("leasing-{}@example.com", p.id),
            },
            "Addresses": { "Address": [
                { "AddressType": "Primary", "Address": p.street, "City": p.city,
                  "StateCode": p.state_code, "PostalCode": p.postal_code, "Country": "US" },
                { "AddressType": "Mailing", "Address": format!("PO Box {}", p.id % 1000), "City": p.city,
                  "StateCode": p.state_code, "PostalCode": p.postal_code, "Country": "US" },
            ] },
            "IsDisabled": 0,
        }))
        .collect();
    if properties.is_empty() {
        return Err(MethodError::new(404, "No properties found."));
    }
    Ok(json!({ "PhysicalProperty": { "Property": one_or_many(properties) } }))
}
