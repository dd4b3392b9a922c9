//! Entrata's API-key gateway: the JSON-RPC-style envelope, errors inside HTTP 200 answers,
//! and per-service rate limits read from `X-RateLimit-*`.
//!
//! Reading an application uses `leases/getLeases` (r2: customers with their `customerType`,
//! unit, scheduled base rent) and `leads/getLeads` (the lease id, contact details, desired
//! unit and rent as fall-backs). Property addresses come from `properties/getProperties` and
//! are cached.

use super::http::{Answer, CallError, Downstream};
use crate::json;
use serde_json::{Value, json};
use shared::config::Secret;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Documents asked for per page of `getLeaseDocumentsList`.
pub const DOCUMENTS_PER_PAGE: u32 = 100;
/// The most pages of one lease's documents read (10,000 documents).
pub const DOCUMENT_PAGES_MAX: u32 = 100;

/// Why an Entrata call failed.
#[derive(Debug, thiserror::Error)]
pub enum EntrataError {
    /// Transport or HTTP status.
    #[error(transparent)]
    Call(#[from] CallError),
    /// A rate limit: wait this long.
    #[error("rate limited for {0:?}")]
    RateLimited(Duration),
    /// An error in the response envelope that may pass (5xx, 310, 401/403 while keys rotate).
    #[error("entrata error {code} (transient)")]
    Transient {
        /// `response.error.code`.
        code: i64,
    },
    /// An error in the response envelope that will not pass by retrying.
    #[error("entrata error {code}")]
    Rejected {
        /// `response.error.code`.
        code: i64,
    },
    /// A success envelope without what it should hold.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
}

/// A property's postal address.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    /// Street line.
    pub street: String,
    /// City.
    pub city: String,
    /// State as Entrata wrote it (code or name).
    pub state: String,
    /// Postal code.
    pub postal_code: String,
}

/// One customer of an application.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// Entrata customer id.
    pub id: Option<String>,
    /// `Primary`, `Co-Applicant`, `Guarantor`, `Occupant` (or `None` when Entrata did not say).
    pub customer_type: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Email, if any.
    pub email: Option<String>,
    /// Phone as Entrata wrote it.
    pub phone: Option<String>,
}

/// An application as the screening needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    /// The lease the application belongs to (for document listing).
    pub lease_id: Option<String>,
    /// Its customers.
    pub customers: Vec<Customer>,
    /// Unit number.
    pub unit: Option<String>,
    /// Monthly rent in dollars.
    pub monthly_rent: Option<f64>,
}

/// The Entrata client.
#[derive(Debug)]
pub struct EntrataClient {
    http: Downstream,
    base_url: String,
    api_key: Secret,
    /// Until when a spent rate-limit budget forbids calls, per service.
    gate: Mutex<HashMap<&'static str, Instant>>,
    properties: Mutex<HashMap<String, (Instant, Address)>>,
    property_ttl: Duration,
}

impl EntrataClient {
    /// A client for `base_url` (`…/ext/orgs/<subdomain>/v1`).
    pub fn new(
        http: Downstream,
        base_url: String,
        api_key: Secret,
        property_ttl: Duration,
    ) -> Self {
        Self {
            http,
            base_url,
            api_key,
            gate: Mutex::default(),
            properties: Mutex::default(),
            property_ttl,
        }
    }

    /// Call `service/method` and return `response.result`.
    pub async fn call(
        &self,
        service: &'static str,
        method: &'static str,
        version: Option<&str>,
        params: Value,
    ) -> Result<Value, EntrataError> {
        self.call_page(service, method, version, params, None).await
    }

    /// [`EntrataClient::call`] for one page of a paginated method (`page_no`, `per_page` as
    /// query parameters, as the reference documents them).
    pub async fn call_page(
        &self,
        service: &'static str,
        method: &'static str,
        version: Option<&str>,
        params: Value,
        page: Option<(u32, u32)>,
    ) -> Result<Value, EntrataError> {
        self.check_gate(service)?;
        let mut method_body = json!({ "name": method, "params": params });
        if let Some(v) = version {
            method_body["version"] = json!(v);
        }
        let envelope = json!({
            "auth": { "type": "apikey" },
            "requestId": uuid::Uuid::now_v7().to_string(),
            "method": method_body,
        });
        let mut request = self
            .http
            .client()
            .post(format!("{}/{service}", self.base_url))
            .header("X-Api-Key", self.api_key.expose())
            .header("Accept", "application/json")
            .json(&envelope);
        if let Some((page_no, per_page)) = page {
            request = request.query(&[("page_no", page_no), ("per_page", per_page)]);
        }
        let answer = self.http.send(method, request).await?;
        self.result(service, answer)
    }

    /// Whether a lease's documents include a file named `name`: `leases/getLeaseDocumentsList`
    /// with every lease status (an application's lease is in Applicant status, which Entrata
    /// leaves out by default), page after page until the name is found, a page brings nothing
    /// new (a server that ignores paging answers the same page again), or
    /// [`DOCUMENT_PAGES_MAX`] pages.
    pub async fn lease_has_document(
        &self,
        property_id: &str,
        lease_id: &str,
        name: &str,
    ) -> Result<bool, EntrataError> {
        let mut previous: Option<Value> = None;
        for page_no in 1..=DOCUMENT_PAGES_MAX {
            let page = self
                .call_page(
                    "leases",
                    "getLeaseDocumentsList",
                    Some("r1"),
                    json!({
                        "propertyId": property_id,
                        "leaseId": lease_id,
                        "leaseStatusTypeIds": "1,2,3,4,5,6",
                    }),
                    Some((page_no, DOCUMENTS_PER_PAGE)),
                )
                .await;
            let page = match page {
                Ok(page) => page,
                // No documents at all.
                Err(EntrataError::Rejected { code: 404 }) => return Ok(false),
                Err(error) => return Err(error),
            };
            if json::mentions(&page, name) {
                return Ok(true);
            }
            let items = json::count_items(&page);
            if items == 0 || items < DOCUMENTS_PER_PAGE as usize || previous.as_ref() == Some(&page)
            {
                return Ok(false);
            }
            previous = Some(page);
        }
        Ok(false)
    }

    /// Upload files with `leases/sendLeaseDocuments` (multipart); returns `response.result`.
    pub async fn send_documents(
        &self,
        params: Value,
        files: Vec<(String, Vec<u8>)>,
    ) -> Result<Value, EntrataError> {
        let service = "leases";
        self.check_gate(service)?;
        let envelope = json!({
            "auth": { "type": "apikey" },
            "requestId": uuid::Uuid::now_v7().to_string(),
            "method": { "name": "sendLeaseDocuments", "version": "r1", "params": params },
        });
        let mut form = reqwest::multipart::Form::new()
            .text("requestBody", envelope.to_string())
            .text("requestContentType", "APPLICATION/JSON; CHARSET=UTF-8");
        for (i, (name, bytes)) in files.into_iter().enumerate() {
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(name)
                .mime_str("application/octet-stream")
                .expect("valid mime type");
            form = form.part(format!("file{}", i + 1), part);
        }
        let request = self
            .http
            .client()
            .post(format!("{}/{service}", self.base_url))
            .header("X-Api-Key", self.api_key.expose())
            .multipart(form);
        let answer = self.http.send("sendLeaseDocuments", request).await?;
        self.result(service, answer)
    }

    fn check_gate(&self, service: &'static str) -> Result<(), EntrataError> {
        let gate = self.gate.lock().expect("not poisoned");
        match gate.get(service) {
            Some(until) if *until > Instant::now() => {
                Err(EntrataError::RateLimited(*until - Instant::now()))
            }
            _ => Ok(()),
        }
    }

    fn result(&self, service: &'static str, answer: Answer) -> Result<Value, EntrataError> {
        let spent = super::rate_limit::spent_budget(&answer.headers);
        if let Some(wait) = spent {
            self.gate
                .lock()
                .expect("not poisoned")
                .insert(service, Instant::now() + wait);
        }
        if answer.status == 429 {
            let wait = answer
                .error()
                .retry_after()
                .or(spent)
                .unwrap_or(Duration::from_secs(60));
            return Err(EntrataError::RateLimited(wait));
        }
        if !answer.is_success() {
            return Err(answer.error().into());
        }
        let body = answer.json()?;
        let response = json::field(&body, "response").unwrap_or(&body);
        if let Some(error) = json::field(response, "error") {
            let code = json::text(json::field(error, "code"))
                .and_then(|c| c.parse::<i64>().ok())
                .unwrap_or(0);
            return Err(match code {
                429 => EntrataError::RateLimited(spent.unwrap_or(Duration::from_secs(60))),
                310 | 401 | 403 | 500..=599 | 0 => EntrataError::Transient { code },
                _ => EntrataError::Rejected { code },
            });
        }
        json::field(response, "result")
            .cloned()
            .ok_or(EntrataError::Malformed(
                "no result in the response envelope",
            ))
    }

    /// A property's address (cached for the configured TTL).
    pub async fn property(&self, property_id: &str) -> Result<Option<Address>, EntrataError> {
        if let Some((at, address)) = self
            .properties
            .lock()
            .expect("not poisoned")
            .get(property_id)
            && at.elapsed() < self.property_ttl
        {
            return Ok(Some(address.clone()));
        }
        let result = self
            .call(
                "properties",
                "getProperties",
                None,
                json!({ "propertyIds": property_id }),
            )
            .await?;
        let properties = json::at(&result, "PhysicalProperty.Property")
            .map(|v| json::list(Some(v)))
            .unwrap_or_default();
        let Some(property) = properties
            .into_iter()
            .find(|p| json::text(json::field(p, "PropertyID")).as_deref() == Some(property_id))
        else {
            return Ok(None);
        };
        let Some(address) = address_of(property) else {
            return Ok(None);
        };
        self.properties
            .lock()
            .expect("not poisoned")
            .insert(property_id.to_owned(), (Instant::now(), address.clone()));
        Ok(Some(address))
    }

    /// Read an application; `None` when Entrata knows neither a lead nor a lease for it.
    pub async fn application(
        &self,
        property_id: &str,
        application_id: &str,
    ) -> Result<Option<Application>, EntrataError> {
        let leads = self
            .call(
                "leads",
                "getLeads",
                Some("r1"),
                json!({ "propertyId": property_id, "leadId": application_id }),
            )
            .await;
        let leads = not_found_as_empty(leads)?;
        let prospect = json::wrapped(&leads, "prospects", "prospect")
            .into_iter()
            .find(|p| {
                json::text(json::field(p, "applicationId")).as_deref() == Some(application_id)
            });
        let leases = self
            .call(
                "leases",
                "getLeases",
                Some("r2"),
                json!({
                    "propertyId": property_id,
                    "applicationId": application_id,
                    "leaseStatusTypeIds": "1,2,3,4,5,6",
                }),
            )
            .await;
        let leases = not_found_as_empty(leases)?;
        let lease = pick_lease(&leases, application_id);
        Ok(super::entrata_read::merge(prospect, lease))
    }
}

fn not_found_as_empty(result: Result<Value, EntrataError>) -> Result<Value, EntrataError> {
    match result {
        Err(EntrataError::Rejected { code: 404 }) => Ok(Value::Null),
        other => other,
    }
}

fn pick_lease<'a>(result: &'a Value, application_id: &str) -> Option<&'a Value> {
    let leases = json::wrapped(result, "leases", "lease");
    let belongs = |lease: &&&Value| {
        json::wrapped(lease, "leaseIntervals", "leaseInterval")
            .iter()
            .any(|interval| {
                json::text(json::field(interval, "applicationId")).as_deref()
                    == Some(application_id)
                    || json::wrapped(interval, "applications", "application")
                        .iter()
                        .any(|a| {
                            json::text(json::field(a, "id")).as_deref() == Some(application_id)
                        })
            })
            || json::text(json::field(lease, "applicationId")).as_deref() == Some(application_id)
    };
    // Only a lease that names this application: a lone lease of another application (a
    // renewal, a transfer, a filter the server ignored) would invite a stranger's household.
    leases.iter().find(belongs).copied()
}

fn address_of(property: &Value) -> Option<Address> {
    let primary = json::field(property, "Address").filter(|a| a.is_object());
    let from_list = json::wrapped(property, "Addresses", "Address")
        .into_iter()
        .next();
    let a = primary.or(from_list)?;
    Some(Address {
        street: json::text(json::field(a, "Address"))
            .or_else(|| json::text(json::field(a, "StreetAddress")))?,
        city: json::text(json::field(a, "City"))?,
        state: json::text(json::field(a, "State"))
            .or_else(|| json::text(json::field(a, "StateCode")))?,
        postal_code: json::text(json::field(a, "PostalCode"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_come_from_the_primary_address_or_the_list() {
        let p = serde_json::json!({"PropertyID": 1, "Address": {"Address": "1 Main St", "City": "Austin", "State": "TX", "PostalCode": "78701", "@attributes": {"AddressType": "Primary"}}});
        assert_eq!(address_of(&p).expect("address").state, "TX");
        let p = serde_json::json!({"PropertyID": 1, "Addresses": {"Address": [{"Address": "2 Elm", "City": "Reno", "StateCode": "NV", "PostalCode": "89501"}]}});
        assert_eq!(address_of(&p).expect("address").city, "Reno");
    }

    #[test]
    fn only_a_lease_that_names_the_application_is_used() {
        let lease = |id: u64, application: u64| {
            serde_json::json!({"id": id, "leaseIntervals": {"leaseInterval": [
                {"id": 1, "applicationId": application}
            ]}})
        };
        let lone_stranger = serde_json::json!({"leases": {"lease": lease(5, 999)}});
        assert!(
            pick_lease(&lone_stranger, "77").is_none(),
            "a lone lease of another application is never taken"
        );
        let several = serde_json::json!({"leases": {"lease": [lease(5, 999), lease(6, 77)]}});
        let picked = pick_lease(&several, "77").expect("the matching lease");
        assert_eq!(picked["id"], 6);
        let nested = serde_json::json!({"leases": {"lease": {"id": 7, "leaseIntervals": {"leaseInterval": {
            "id": 2, "applications": {"application": [{"id": 77}]}}}}}});
        assert!(pick_lease(&nested, "77").is_some());
    }
}
