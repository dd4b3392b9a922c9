//! Merging what `getLeads` and `getLeases` say about one application. The lease (r2) knows
//! each customer's `customerType`, the unit and the scheduled base rent; the lead knows the
//! lease id and may hold contact details the lease lacks.

use super::entrata::{Application, Customer, Phone};
use crate::json::{self, field, text};
use serde_json::Value;

/// The application, or `None` when neither a lead nor a lease describes it.
pub fn merge(prospect: Option<&Value>, lease: Option<&Value>) -> Option<Application> {
    if prospect.is_none() && lease.is_none() {
        return None;
    }
    let lead_customers: Vec<Customer> = prospect
        .map(|p| {
            json::wrapped(p, "customers", "customer")
                .into_iter()
                .filter_map(lead_customer)
                .collect()
        })
        .unwrap_or_default();
    let mut customers: Vec<Customer> = lease
        .map(|l| {
            json::wrapped(l, "customers", "customer")
                .into_iter()
                .filter_map(lease_customer)
                .collect()
        })
        .unwrap_or_default();
    if customers.is_empty() {
        customers = lead_customers.clone();
    } else {
        for customer in &mut customers {
            let same = lead_customers.iter().find(|c| {
                (c.id.is_some() && c.id == customer.id)
                    || (!c.first_name.is_empty()
                        && !c.last_name.is_empty()
                        && c.first_name.eq_ignore_ascii_case(&customer.first_name)
                        && c.last_name.eq_ignore_ascii_case(&customer.last_name))
            });
            if let Some(same) = same {
                customer.email = customer.email.take().or_else(|| same.email.clone());
                // The lead's numbers after the lease's: one of them may be valid.
                customer.phones.extend(same.phones.iter().cloned());
            }
        }
    }
    let desired = prospect.and_then(|p| json::at(p, "customerPreferences.desiredUnit"));
    Some(Application {
        lease_id: prospect
            .and_then(|p| text(json::at(p, "lease.leaseId")))
            .or_else(|| lease.and_then(|l| text(field(l, "id")))),
        customers,
        unit: lease
            .and_then(|l| {
                json::wrapped(l, "unitSpaces", "unitSpace")
                    .first()
                    .and_then(|s| text(field(s, "unitSpace")))
                    .or_else(|| text(field(l, "unitNumber")))
            })
            .or_else(|| desired.and_then(|d| text(field(d, "unitNumber")))),
        monthly_rent: lease.and_then(base_rent).or_else(|| {
            desired.and_then(|d| {
                json::amount(field(d, "initialRent")).or(json::amount(field(d, "marketRent")))
            })
        }),
    })
}

fn base_rent(lease: &Value) -> Option<f64> {
    json::wrapped(lease, "scheduledCharges", "scheduledCharge")
        .into_iter()
        .find(|c| {
            text(field(c, "chargeUsage")).is_some_and(|u| u.eq_ignore_ascii_case("base"))
                && text(field(c, "frequency")).is_some_and(|f| f.eq_ignore_ascii_case("monthly"))
        })
        .and_then(|c| json::amount(field(c, "amount")))
}

/// How suitable a phone type is for a text invitation: mobile first, then personal or
/// untyped ones; `None` for numbers that cannot take a text (work, office, fax, pager).
fn phone_rank(kind: Option<&str>) -> Option<u8> {
    let kind = kind.unwrap_or("").to_ascii_lowercase();
    if ["work", "office", "business", "fax", "pager"]
        .iter()
        .any(|k| kind.contains(k))
    {
        None
    } else if kind.contains("mobile") || kind.contains("cell") {
        Some(0)
    } else {
        Some(1)
    }
}

fn lease_customer(c: &Value) -> Option<Customer> {
    let mut ranked: Vec<(u8, Phone)> = json::wrapped(c, "phones", "phone")
        .into_iter()
        .filter_map(|p| {
            let rank = phone_rank(text(field(p, "phoneType")).as_deref())?;
            let number = text(field(p, "phoneNumber"))?;
            let country = text(field(p, "countryCode"))
                .and_then(|cc| cc.trim_start_matches('+').parse::<u16>().ok())
                .filter(|cc| (1..=999).contains(cc));
            Some((rank, Phone { number, country }))
        })
        .collect();
    ranked.sort_by_key(|(rank, _)| *rank);
    let mut phones: Vec<Phone> = ranked.into_iter().map(|(_, p)| p).collect();
    if json::wrapped(c, "phones", "phone").is_empty()
        && let Some(number) = text(field(c, "phoneNumber"))
    {
        phones.push(Phone {
            number,
            country: None,
        });
    }
    Some(Customer {
        id: text(field(c, "id")).or_else(|| text(field(c, "customerId"))),
        customer_type: text(field(c, "customerType")),
        // Kept without a name: a household missing one is refused whole, never sent partial.
        first_name: text(field(c, "firstName")).unwrap_or_default(),
        last_name: text(field(c, "lastName")).unwrap_or_default(),
        email: text(field(c, "emailAddress")).or_else(|| text(field(c, "email"))),
        phones,
    })
}

fn lead_customer(c: &Value) -> Option<Customer> {
    Some(Customer {
        id: text(field(c, "customerId")).or_else(|| text(field(c, "id"))),
        customer_type: text(field(c, "customerType")),
        first_name: text(field(c, "firstName")).unwrap_or_default(),
        last_name: text(field(c, "lastName")).unwrap_or_default(),
        email: text(field(c, "email")).or_else(|| text(field(c, "emailAddress"))),
        // Never the office or fax number: invitations are texted.
        phones: ["cellPhoneNumber", "personalPhoneNumber", "phoneNumber"]
            .iter()
            .filter_map(|k| text(field(c, k)))
            .map(|number| Phone {
                number,
                country: None,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_lease_gives_types_and_rent_and_the_lead_fills_contact_gaps() {
        let prospect = json!({
            "applicationId": "77", "lease": {"leaseId": 5001},
            "customers": {"customer": [
                {"customerId": 1, "firstName": "Ana", "lastName": "Ruiz", "email": "ana@example.com", "cellPhoneNumber": "(512) 555-0100"}
            ]},
            "customerPreferences": {"desiredUnit": {"unitNumber": "B-12", "initialRent": "1500.00"}}
        });
        let lease = json!({
            "id": "5001",
            "unitSpaces": {"unitSpace": {"unitSpaceId": 9, "unitSpace": "A-101"}},
            "customers": {"customer": [
                {"id": 1, "customerType": "Primary", "firstName": "Ana", "lastName": "Ruiz"},
                {"id": 2, "customerType": "Guarantor", "firstName": "Luis", "lastName": "Ruiz", "emailAddress": "luis@example.com",
                 "phones": {"phone": [{"phoneType": "work", "phoneNumber": "1"}, {"phoneType": "mobile", "phoneNumber": "5125550101"}]}}
            ]},
            "scheduledCharges": {"scheduledCharge": [
                {"chargeUsage": "Base", "frequency": "Once", "amount": "100.00"},
                {"chargeUsage": "Base", "frequency": "Monthly", "amount": "1650.00"}
            ]}
        });
        let app = merge(Some(&prospect), Some(&lease)).expect("found");
        assert_eq!(app.lease_id.as_deref(), Some("5001"));
        assert_eq!(app.unit.as_deref(), Some("A-101"));
        assert_eq!(app.monthly_rent, Some(1650.0));
        assert_eq!(app.customers[0].email.as_deref(), Some("ana@example.com"));
        assert_eq!(first_phone(&app.customers[0]), Some("(512) 555-0100"));
        assert_eq!(app.customers[1].customer_type.as_deref(), Some("Guarantor"));
        assert_eq!(first_phone(&app.customers[1]), Some("5125550101"));
    }

    #[test]
    fn a_mobile_phone_is_preferred_and_a_work_phone_never_taken() {
        let lease = json!({"id": 1, "customers": {"customer": [
            {"id": 1, "customerType": "Primary", "firstName": "Ana", "lastName": "Ruiz",
             "phones": {"phone": [
                {"phoneType": "work", "phoneNumber": "5125550199", "countryCode": "1"},
                {"phoneType": "personal", "phoneNumber": "5125550188", "countryCode": "1"},
                {"phoneType": "mobile", "phoneNumber": "20 7946 0958", "countryCode": "44"}
             ]}},
            {"id": 2, "customerType": "Co-Applicant", "firstName": "Bo", "lastName": "Li",
             "phones": {"phone": {"phoneType": "work", "phoneNumber": "5125550177"}}}
        ]}});
        let app = merge(None, Some(&lease)).expect("found");
        let numbers: Vec<(&str, Option<u16>)> = app.customers[0]
            .phones
            .iter()
            .map(|p| (p.number.as_str(), p.country))
            .collect();
        assert_eq!(
            numbers,
            [("20 7946 0958", Some(44)), ("5125550188", Some(1))],
            "mobile first, then personal; the work number left out"
        );
        assert_eq!(app.customers[1].phones, [], "a work number is never texted");
        let prospect = json!({"applicationId": 3, "customers": {"customer": {"customerId": 1,
            "firstName": "Bo", "lastName": "Li", "officePhoneNumber": "5125550177", "cellPhoneNumber": ""}}});
        let app = merge(Some(&prospect), None).expect("found");
        assert_eq!(app.customers[0].phones, []);
    }

    fn first_phone(customer: &Customer) -> Option<&str> {
        customer.phones.first().map(|p| p.number.as_str())
    }

    #[test]
    fn without_a_lease_the_lead_is_enough_and_without_both_nothing_is_found() {
        let prospect = json!({"applicationId": 3, "customers": {"customer": {"customerId": 1, "firstName": "Bo", "lastName": "Li"}},
            "customerPreferences": {"desiredUnit": {"unitNumber": "7", "marketRent": 990}}});
        let app = merge(Some(&prospect), None).expect("found");
        assert_eq!(app.customers.len(), 1);
        assert_eq!(app.monthly_rent, Some(990.0));
        assert_eq!(app.unit.as_deref(), Some("7"));
        assert!(merge(None, None).is_none());
    }

    #[test]
    fn a_customer_without_a_name_is_kept_so_that_the_household_is_refused_whole() {
        let lease = json!({"id": 1, "customers": {"customer": [
            {"id": 1, "customerType": "Primary", "firstName": "Ana", "lastName": "Ruiz"},
            {"id": 2, "customerType": "Co-Applicant", "firstName": " ", "lastName": "Ruiz"}
        ]}});
        let app = merge(None, Some(&lease)).expect("found");
        assert_eq!(app.customers.len(), 2);
        assert_eq!(app.customers[1].first_name, "");
    }
}
