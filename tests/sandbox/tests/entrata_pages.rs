//! Pagination of `getLeads`, `getLeases` and `getLeaseDocumentsList`: `page_no` and
//! `per_page` on the URL, `X-Total-Count`, `Link: <…>; rel="next"`, and the "nothing found"
//! error past the last page.

mod common;

use common::{as_list, entrata_with, envelope, start, start_with};
use sandbox::SandboxConfig;
use serde_json::{Value, json};

fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    as_list(list)
        .iter()
        .map(|item| match &item[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[tokio::test]
async fn get_leads_pages_carry_the_total_and_a_link_to_the_next_page_until_the_last() {
    let sandbox = start().await;
    let leads = envelope("getLeads", json!({ "propertyId": 100001 }));
    let (status, headers, body) =
        entrata_with(&sandbox, "leads", "page_no=1&per_page=2", &leads).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-total-count"), Some("3"));
    assert_eq!(
        header(&headers, "link"),
        Some("</ext/orgs/sandbox/v1/leads?page_no=2&per_page=2>; rel=\"next\"")
    );
    assert!(headers.contains_key("x-ratelimit-remaining"));
    let first = ids(
        &body["response"]["result"]["prospects"]["prospect"],
        "applicationId",
    );
    assert_eq!(first.len(), 2);

    let (_, headers, body) = entrata_with(&sandbox, "leads", "page_no=2&per_page=2", &leads).await;
    assert_eq!(header(&headers, "x-total-count"), Some("3"));
    assert!(!headers.contains_key("link"), "no page after the last");
    let prospect = &body["response"]["result"]["prospects"]["prospect"];
    assert!(prospect.is_object(), "a one-item page is an object");
    let mut all = first.clone();
    all.extend(ids(prospect, "applicationId"));
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "in id order");

    let (status, _, body) = entrata_with(&sandbox, "leads", "page_no=3&per_page=2", &leads).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["response"]["error"],
        json!({ "code": 404, "message": "No leads found for the given criteria." })
    );
}

#[tokio::test]
async fn without_per_page_the_configured_page_size_applies() {
    let mut config = SandboxConfig::default();
    config.entrata.page_size = 1;
    let sandbox = start_with(config).await;
    let leases = envelope(
        "getLeases",
        json!({ "propertyId": 100001, "leaseStatusTypeIds": "1" }),
    );
    let mut seen = Vec::new();
    let mut query = String::new();
    for _ in 0..3 {
        let (status, headers, body) = entrata_with(&sandbox, "leases", &query, &leases).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(header(&headers, "x-total-count"), Some("3"));
        seen.extend(ids(&body["response"]["result"]["leases"]["lease"], "id"));
        query = match header(&headers, "link") {
            Some(link) => link
                .split_once('?')
                .and_then(|(_, rest)| rest.split_once('>'))
                .map(|(q, _)| q.to_owned())
                .expect("a next link"),
            None => break,
        };
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "in lease-id order");
    let (_, _, body) = entrata_with(&sandbox, "leases", "page_no=4", &leases).await;
    assert_eq!(
        body["response"]["error"],
        json!({ "code": 404, "message": "No leases found for the given criteria." })
    );
}

#[tokio::test]
async fn a_page_number_that_is_not_a_positive_integer_is_a_400_error_envelope() {
    let sandbox = start().await;
    let leads = envelope("getLeads", json!({ "propertyId": 100001 }));
    for query in ["page_no=0", "per_page=x"] {
        let (status, _, body) = entrata_with(&sandbox, "leads", query, &leads).await;
        assert_eq!(status, 200);
        assert_eq!(body["response"]["error"]["code"], 400, "{query}");
    }
    let properties = envelope("getProperties", json!({}));
    let (_, headers, body) = entrata_with(&sandbox, "properties", "page_no=0", &properties).await;
    assert!(
        body["response"]["result"].is_object(),
        "getProperties is not paginated"
    );
    assert!(!headers.contains_key("x-total-count"));
}
