//! Entrata's API-key gateway: the JSON-RPC-style envelope, errors inside HTTP 200 answers,
//! and per-service rate limits read from `X-RateLimit-*`.
//!
//! Reading an application uses `leases/getLeases` (r2: customers with their `customerType`,
//! unit, scheduled base rent) and `leads/getLeads` (the lease id, contact details, desired
//! unit and rent as fall-backs). Property addresses come from `properties/getProperties` and
//! are cached.

use super::http::{Answer, CallError, Downstream};
use crate::json;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use shared::config::Secret;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The fewest pages one paginated read may take before it is an error.
pub const PAGES_MAX: u32 = 100;
/// The most items one paginated read lists before it is an error (at least [`PAGES_MAX`]
/// pages whatever the page size).
pub const MAX_LISTED: u32 = 10_000;
/// `per_page` unless configured (`ENTRATA_PAGE_SIZE`).
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Every lease status (Applicant 1, Cancelled 2, Future 3, Current 4, Notice 5, Past 6):
/// Entrata's reads default to Current and Notice, which leaves applications out.
pub const ALL_LEASE_STATUSES: &str = "1,2,3,4,5,6";

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
    /// The numbers invitations may be texted to, best first (mobile, then personal or
    /// untyped; never a work or fax number), as Entrata wrote them.
    pub phones: Vec<Phone>,
}

/// A phone number as Entrata wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct Phone {
    /// The number, in whatever format Entrata holds.
    pub number: String,
    /// Its `countryCode`, when Entrata gave a usable one (1 to 999).
    pub country: Option<u16>,
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
    page_size: u32,
}

/// One page of a paginated read, with what its headers say about the rest.
#[derive(Debug)]
struct Page {
    result: Value,
    /// `X-Total-Count`.
    total: Option<u64>,
    /// A `Link` with `rel="next"`.
    next: bool,
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
            page_size: DEFAULT_PAGE_SIZE,
        }
    }

    /// Ask for `per_page` items per page of the paginated reads.
    pub fn with_page_size(mut self, per_page: u32) -> Self {
        self.page_size = per_page.max(1);
        self
    }

    /// Call `service/method` and return `response.result`.
    pub async fn call(
        &self,
        service: &'static str,
        method: &'static str,
        version: Option<&str>,
        params: Value,
    ) -> Result<Value, EntrataError> {
        self.call_page(service, method, version, params, None)
            .await
            .map(|page| page.result)
    }

    /// [`EntrataClient::call`] for one page of a paginated method (`page_no`, `per_page` as
    /// query parameters, as the reference documents them).
    async fn call_page(
        &self,
        service: &'static str,
        method: &'static str,
        version: Option<&str>,
        params: Value,
        page: Option<(u32, u32)>,
    ) -> Result<Page, EntrataError> {
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
        let (total, next) = paging_headers(&answer.headers);
        let result = self.result(service, answer)?;
        Ok(Page {
            result,
            total,
            next,
        })
    }

    /// Read every page of a paginated method, handing each page's result to `visit` until it
    /// breaks. Reading stops after the last page: a `Link` without `rel="next"` and an
    /// `X-Total-Count` reached (`items` counts a page's items), or, without those headers, a
    /// page with nothing in it; also when a page past the first answers "not found", or a page
    /// repeats the one before (a server that ignores paging). A first page "not found" is an
    /// empty list. A list longer than [`MAX_LISTED`] items is an error, never a silent end:
    /// a document missed there would be uploaded twice.
    pub async fn each_page(
        &self,
        service: &'static str,
        method: &'static str,
        version: Option<&str>,
        params: Value,
        items: fn(&Value) -> usize,
        mut visit: impl FnMut(&Value) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, EntrataError> {
        let per_page = self.page_size;
        let max_pages = (MAX_LISTED / per_page).max(PAGES_MAX);
        let mut previous: Option<Value> = None;
        let mut seen = 0u64;
        for page_no in 1..=max_pages {
            let page = match self
                .call_page(
                    service,
                    method,
                    version,
                    params.clone(),
                    Some((page_no, per_page)),
                )
                .await
            {
                Ok(page) => page,
                // Entrata answers an empty list (or a page past the end) with "not found".
                Err(EntrataError::Rejected { code: 404 }) => return Ok(ControlFlow::Continue(())),
                Err(error) => return Err(error),
            };
            if previous.as_ref() == Some(&page.result) {
                return Ok(ControlFlow::Continue(()));
            }
            let count = items(&page.result);
            seen += count as u64;
            if visit(&page.result).is_break() {
                return Ok(ControlFlow::Break(()));
            }
            // Without paging headers a short page proves nothing (Entrata may cap per_page
            // below what was asked): only an empty page ends the list.
            let more = count > 0 && (page.next || page.total.is_none_or(|total| seen < total));
            if !more {
                return Ok(ControlFlow::Continue(()));
            }
            previous = Some(page.result);
        }
        Err(EntrataError::Malformed(
            "a paginated list goes on past the most pages read",
        ))
    }

    /// Whether a lease's documents include a file named `name`: `leases/getLeaseDocumentsList`
    /// with every lease status (an application's lease is in Applicant status, which Entrata
    /// leaves out by default), page after page until the name is found or the list ends.
    pub async fn lease_has_document(
        &self,
        property_id: &str,
        lease_id: &str,
        name: &str,
    ) -> Result<bool, EntrataError> {
        let found = self
            .each_page(
                "leases",
                "getLeaseDocumentsList",
                Some("r1"),
                json!({
                    "propertyId": property_id,
                    "leaseId": lease_id,
                    "leaseStatusTypeIds": ALL_LEASE_STATUSES,
                }),
                |page| match json::wrapped(page, "leaseDocuments", "leaseDocument").len() {
                    // The list's shape is not documented: without the known wrapper, its
                    // longest array.
                    0 => json::count_items(page),
                    known => known,
                },
                |page| {
                    if json::mentions(page, name) {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                },
            )
            .await?;
        Ok(found.is_break())
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
            // Entrata documents a failure as HTTP 400 with the error envelope as well as
            // HTTP 200 with it: read the envelope of a 400 like the same error in a 200. Other
            // statuses (401, 404 for a wrong organisation, 5xx) are the gateway's, not the
            // method's, and are classified by their status.
            if answer.status == 400
                && let Ok(body) = answer.json()
                && let Some(code) = envelope_error(&body)
            {
                return Err(classify_code(code, spent));
            }
            return Err(answer.error().into());
        }
        let body = answer.json()?;
        if let Some(code) = envelope_error(&body) {
            return Err(classify_code(code, spent));
        }
        let response = json::field(&body, "response").unwrap_or(&body);
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
                Some("r1"),
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

    /// Every property the API key can read (`properties/getProperties` without a filter): its
    /// id, and its street address when Entrata gives a complete one.
    pub async fn readable_properties(
        &self,
    ) -> Result<Vec<(String, Option<Address>)>, EntrataError> {
        let result = self
            .call("properties", "getProperties", Some("r1"), json!({}))
            .await?;
        Ok(json::at(&result, "PhysicalProperty.Property")
            .map(|v| json::list(Some(v)))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| Some((json::text(json::field(p, "PropertyID"))?, address_of(p))))
            .collect())
    }

    /// `leases/getLeasePickList`'s `leaseFileTypes` (the whole result when that key is
    /// missing): the list's shape is not documented, so callers look for a code anywhere in it
    /// with [`json::mentions`].
    pub async fn lease_file_types(&self) -> Result<Value, EntrataError> {
        let result = self
            .call("leases", "getLeasePickList", Some("r1"), json!({}))
            .await?;
        Ok(json::field(&result, "leaseFileTypes")
            .cloned()
            .unwrap_or(result))
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
        // A lead Entrata will not give (not found, or any other refusal of the lead filter)
        // does not stop the read: the applicant lease alone describes the household.
        let (leads, lead_refused) = match leads {
            Ok(leads) => (leads, None),
            Err(EntrataError::Rejected { code }) => (Value::Null, Some(code)),
            Err(error) => return Err(error),
        };
        let prospect = json::wrapped(&leads, "prospects", "prospect")
            .into_iter()
            .find(|p| {
                json::text(json::field(p, "applicationId")).as_deref() == Some(application_id)
            });
        // Every page until the lease that names the application: a server that does not apply
        // the filter lists the property's other applications' leases too.
        let mut lease: Option<Value> = None;
        let _found = self
            .each_page(
                "leases",
                "getLeases",
                Some("r2"),
                json!({
                    "propertyId": property_id,
                    "applicationId": application_id,
                    "leaseStatusTypeIds": ALL_LEASE_STATUSES,
                }),
                |page| json::wrapped(page, "leases", "lease").len(),
                |page| match pick_lease(page, application_id) {
                    Some(found) => {
                        lease = Some(found.clone());
                        ControlFlow::Break(())
                    }
                    None => ControlFlow::Continue(()),
                },
            )
            .await?;
        match (
            super::entrata_read::merge(prospect, lease.as_ref()),
            lead_refused,
        ) {
            (Some(application), _) => Ok(Some(application)),
            // Neither found: a refusal other than "not found" is what the operator must see.
            (None, Some(code)) if code != 404 => Err(EntrataError::Rejected { code }),
            (None, _) => Ok(None),
        }
    }
}

/// `response.error.code` of an error envelope (0 when the code is not a number).
fn envelope_error(body: &Value) -> Option<i64> {
    let response = json::field(body, "response").unwrap_or(body);
    let error = json::field(response, "error")?;
    Some(
        json::text(json::field(error, "code"))
            .and_then(|c| c.parse::<i64>().ok())
            .unwrap_or(0),
    )
}

/// An envelope error code as an [`EntrataError`].
fn classify_code(code: i64, spent: Option<Duration>) -> EntrataError {
    match code {
        429 => EntrataError::RateLimited(spent.unwrap_or(Duration::from_secs(60))),
        310 | 401 | 403 | 500..=599 | 0 => EntrataError::Transient { code },
        _ => EntrataError::Rejected { code },
    }
}

/// `X-Total-Count`, and whether a `Link` header names a `rel="next"` page.
fn paging_headers(headers: &HeaderMap) -> (Option<u64>, bool) {
    let total = headers
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let next = headers.get_all(reqwest::header::LINK).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',').any(|link| {
                link.split(';').skip(1).any(|p| {
                    p.trim().eq_ignore_ascii_case("rel=\"next\"")
                        || p.trim().eq_ignore_ascii_case("rel=next")
                })
            })
        })
    });
    (total, next)
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

/// The property's street address: among `Address` and `Addresses.Address[]`, the first whose
/// `AddressType` names the property itself (primary, physical, property, street); else the
/// first that is not a mailing or billing address; else the first listed.
fn address_of(property: &Value) -> Option<Address> {
    let candidates: Vec<(Option<String>, Address)> = json::field(property, "Address")
        .filter(|a| a.is_object())
        .into_iter()
        .chain(json::wrapped(property, "Addresses", "Address"))
        .filter_map(|a| {
            let kind = json::text(json::field(a, "AddressType")).map(|t| t.to_ascii_lowercase());
            Some((kind, one_address(a)?))
        })
        .collect();
    let typed = |wanted: &dyn Fn(&str) -> bool| {
        candidates
            .iter()
            .find(|(kind, _)| kind.as_deref().is_some_and(wanted))
            .map(|(_, a)| a.clone())
    };
    typed(&|k| ["primary", "physical", "property", "street"].contains(&k))
        .or_else(|| {
            candidates
                .iter()
                .find(|(kind, _)| {
                    !kind
                        .as_deref()
                        .is_some_and(|k| k.contains("mail") || k.contains("billing"))
                })
                .map(|(_, a)| a.clone())
        })
        .or_else(|| candidates.first().map(|(_, a)| a.clone()))
}

fn one_address(a: &Value) -> Option<Address> {
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
    fn a_mailing_address_listed_first_is_not_used() {
        let p = serde_json::json!({"PropertyID": 1,
        "Address": {"@attributes": {"AddressType": "Mailing"}, "Address": "PO Box 1", "City": "Austin", "State": "TX", "PostalCode": "78701"},
        "Addresses": {"Address": [
            {"AddressType": "Mailing", "Address": "PO Box 1", "City": "Austin", "StateCode": "TX", "PostalCode": "78701"},
            {"AddressType": "Primary", "Address": "1 Main St", "City": "Austin", "StateCode": "TX", "PostalCode": "78702"}
        ]}});
        assert_eq!(address_of(&p).expect("address").street, "1 Main St");
        // Without a property type, anything but a mailing address; failing that, the first.
        let p = serde_json::json!({"Addresses": {"Address": [
            {"AddressType": "Mailing", "Address": "PO Box 1", "City": "A", "StateCode": "TX", "PostalCode": "1"},
            {"AddressType": "Office", "Address": "9 Side St", "City": "A", "StateCode": "TX", "PostalCode": "1"}
        ]}});
        assert_eq!(address_of(&p).expect("address").street, "9 Side St");
        let p = serde_json::json!({"Addresses": {"Address":
            {"AddressType": "Mailing", "Address": "PO Box 1", "City": "A", "StateCode": "TX", "PostalCode": "1"}}});
        assert_eq!(address_of(&p).expect("address").street, "PO Box 1");
    }

    #[test]
    fn errors_are_read_from_the_envelope_with_their_code() {
        let body = serde_json::json!({"response": {"requestId": "1", "error": {"code": 400, "message": "x"}}});
        assert_eq!(envelope_error(&body), Some(400));
        let body = serde_json::json!({"response": {"error": {"code": "310", "message": "x"}}});
        assert!(matches!(
            classify_code(envelope_error(&body).expect("error"), None),
            EntrataError::Transient { code: 310 }
        ));
        assert!(matches!(
            classify_code(404, None),
            EntrataError::Rejected { code: 404 }
        ));
        assert!(envelope_error(&serde_json::json!({"response": {"result": {}}})).is_none());
    }

    #[test]
    fn paging_headers_say_whether_more_pages_follow() {
        let mut headers = HeaderMap::new();
        headers.insert("X-Total-Count", "7".parse().expect("header"));
        headers.insert(
            reqwest::header::LINK,
            r#"<https://x/v1/leases?page_no=1>; rel="prev", <https://x/v1/leases?page_no=3>; rel="next""#
                .parse()
                .expect("header"),
        );
        assert_eq!(paging_headers(&headers), (Some(7), true));
        let mut last = HeaderMap::new();
        last.insert(
            reqwest::header::LINK,
            r#"<https://x/v1/leases?page_no=2>; rel="prev""#
                .parse()
                .expect("header"),
        );
        assert_eq!(paging_headers(&last), (None, false));
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
