//! What the read methods share — the [`Answer`] they give the router, the property lookup,
//! ids rendered as numbers or strings — and `properties/getProperties`. `getLeads` is in
//! [`super::leads`], `getLeases` in [`super::leases`].
//!
//! The documented quirks are kept throughout: single-element lists as objects, ids
//! sometimes strings and sometimes numbers, `@attributes` keys, money as `"1650.00"`
//! strings, local phone formats, missing emails.

use super::data::Data;
use super::envelope::{MethodError, one_or_many, param_ids, required_id};
use super::model::Property;
use super::paging::PageInfo;
use serde_json::{Value, json};

/// What a method answers: the envelope's `result` and, for a page of a paginated method,
/// what its headers say.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// `response.result`.
    pub result: Value,
    /// The page, for `X-Total-Count` and `Link`.
    pub page: Option<PageInfo>,
}

impl From<Value> for Answer {
    fn from(result: Value) -> Self {
        Self { result, page: None }
    }
}

/// An id as a JSON number, or as a string where Entrata's data has one.
pub fn id_value(id: u64, as_string: bool) -> Value {
    if as_string {
        json!(id.to_string())
    } else {
        json!(id)
    }
}

/// The property named by the required `propertyId`, or the 404 error Entrata gives.
pub fn property<'a>(data: &'a Data, params: &Value) -> Result<&'a Property, MethodError> {
    let id = required_id(params, "propertyId")?;
    data.property(id)
        .ok_or_else(|| MethodError::new(404, "Property not found or not accessible."))
}

/// `properties/getProperties`, optionally only `propertyIds` (comma list). The top-level
/// `Address` is the street address (`AddressType` `property`) and `Addresses.Address[]`
/// lists the Primary address, then the Mailing one; with `mailing_address_first`, both show
/// the Mailing address first (`PO Box …`), as some Entrata data does.
pub fn get_properties(
    data: &Data,
    params: &Value,
    mailing_address_first: bool,
) -> Result<Value, MethodError> {
    let wanted = param_ids(params, "propertyIds")?;
    let properties: Vec<Value> = data
        .properties
        .iter()
        .filter(|p| wanted.as_ref().is_none_or(|w| w.contains(&p.id)))
        .map(|p| physical_property(p, mailing_address_first))
        .collect();
    if properties.is_empty() {
        return Err(MethodError::new(404, "No properties found."));
    }
    Ok(json!({ "PhysicalProperty": { "Property": one_or_many(properties) } }))
}

fn physical_property(p: &Property, mailing_address_first: bool) -> Value {
    let po_box = format!("PO Box {}", p.id % 1000);
    let primary = json!({ "AddressType": "Primary", "Address": p.street, "City": p.city,
        "StateCode": p.state_code, "PostalCode": p.postal_code, "Country": "US" });
    let mailing = json!({ "AddressType": "Mailing", "Address": po_box, "City": p.city,
        "StateCode": p.state_code, "PostalCode": p.postal_code, "Country": "US" });
    let (address_type, street, addresses) = if mailing_address_first {
        ("Mailing", &po_box, [mailing, primary])
    } else {
        ("property", &p.street, [primary, mailing])
    };
    json!({
        "PropertyID": id_value(p.id, p.id_as_string),
        "MarketingName": p.name,
        "Type": "Apartment",
        "webSite": format!("https://property-{}.example.com", p.id),
        "Address": {
            "@attributes": { "AddressType": address_type },
            "Address": street, "City": p.city, "State": p.state,
            "PostalCode": p.postal_code, "Country": "US",
            "Email": format!("leasing-{}@example.com", p.id),
        },
        "Addresses": { "Address": addresses },
        "IsDisabled": 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mailing_address_can_come_first_and_the_street_stays_in_the_primary_entry() {
        let data = Data::seeded(1, 1, 0);
        let street = data.properties[0].street.clone();
        let params = json!({ "propertyIds": "100001" });
        let plain = get_properties(&data, &params, false).expect("found");
        let property = &plain["PhysicalProperty"]["Property"];
        assert_eq!(
            property["Address"]["@attributes"]["AddressType"],
            "property"
        );
        assert_eq!(property["Address"]["Address"], street.as_str());
        assert_eq!(
            property["Addresses"]["Address"][0]["AddressType"],
            "Primary"
        );

        let mailing = get_properties(&data, &params, true).expect("found");
        let property = &mailing["PhysicalProperty"]["Property"];
        assert_eq!(property["Address"]["@attributes"]["AddressType"], "Mailing");
        assert_eq!(property["Address"]["Address"], "PO Box 1");
        let addresses = &property["Addresses"]["Address"];
        assert_eq!(addresses[0]["AddressType"], "Mailing");
        assert_eq!(addresses[0]["Address"], "PO Box 1");
        assert_eq!(addresses[1]["AddressType"], "Primary");
        assert_eq!(addresses[1]["Address"], street.as_str());
    }
}
