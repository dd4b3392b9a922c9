//! Pagination of the list methods (reference §6): `leads/getLeads`, `leases/getLeases` and
//! `leases/getLeaseDocumentsList` read the query parameters `page_no` (1-based, default 1)
//! and `per_page` (default [`crate::config::EntrataConfig::page_size`], at most
//! [`MAX_PER_PAGE`]) from the request URL, as Entrata's generated clients send them.
//!
//! Items are cut in a stable order (by id). A page carries `X-Total-Count: <items in all
//! pages>` and, when another page follows, `Link: <path?page_no=N+1&per_page=M>;
//! rel="next"` (a reference relative to the request URL, RFC 8288 §3.1). A page past the
//! last one is the method's "nothing found" error. Entrata documents the parameters and the
//! two headers but not their exact values; these are the simulator's reading.

use super::envelope::MethodError;
use axum::http::{HeaderMap, HeaderValue};

/// The largest `per_page` honoured; larger requests get this many.
pub const MAX_PER_PAGE: u32 = 1000;

/// Which page a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page_no: u32,
    /// Items per page, 1 to [`MAX_PER_PAGE`].
    pub per_page: u32,
}

impl PageRequest {
    /// Read `page_no` and `per_page` from a URL query (`a=1&page_no=2`); a missing or blank
    /// one takes its default, anything but a positive integer is a 400 error.
    pub fn from_query(query: Option<&str>, default_per_page: u32) -> Result<Self, MethodError> {
        let mut page = Self {
            page_no: 1,
            per_page: default_per_page,
        };
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match key {
                "page_no" => &mut page.page_no,
                "per_page" => &mut page.per_page,
                _ => continue,
            };
            if value.is_empty() {
                continue;
            }
            *slot = value
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| MethodError::new(400, format!("Invalid {key}.")))?;
        }
        page.per_page = page.per_page.clamp(1, MAX_PER_PAGE);
        Ok(page)
    }

    /// The page after this one.
    pub fn next(self) -> Self {
        Self {
            page_no: self.page_no.saturating_add(1),
            ..self
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// Where the page sits in the whole list, for the headers.
    pub info: PageInfo,
}

/// What the headers of a page say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageInfo {
    /// Items in all pages (`X-Total-Count`).
    pub total: usize,
    /// The next page, when there is one (`Link: <…>; rel="next"`).
    pub next: Option<PageRequest>,
}

/// Cut the page `request` asks for out of `items` (already in their stable order). `None`
/// for a page past the last; an empty list has one empty page.
pub fn page<T>(items: Vec<T>, request: PageRequest) -> Option<Page<T>> {
    let total = items.len();
    let per_page = request.per_page.max(1) as usize;
    let start = (request.page_no as usize)
        .checked_sub(1)?
        .checked_mul(per_page)?;
    if start >= total && !(total == 0 && request.page_no == 1) {
        return None;
    }
    let end = start.saturating_add(per_page).min(total);
    Some(Page {
        items: items.into_iter().skip(start).take(per_page).collect(),
        info: PageInfo {
            total,
            next: (end < total).then(|| request.next()),
        },
    })
}

/// `X-Total-Count` and, when a next page exists, `Link` pointing at `path` with its
/// `page_no` and `per_page`.
pub fn headers(path: &str, info: &PageInfo) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(info.total));
    if let Some(next) = info.next {
        let link = format!(
            "<{path}?page_no={}&per_page={}>; rel=\"next\"",
            next.page_no, next.per_page
        );
        // The path came from a parsed request URI, so it is a valid header value.
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(axum::http::header::LINK, value);
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(page_no: u32, per_page: u32) -> PageRequest {
        PageRequest { page_no, per_page }
    }

    #[test]
    fn the_query_gives_page_and_size_with_defaults_and_a_cap() {
        assert_eq!(PageRequest::from_query(None, 100), Ok(request(1, 100)));
        assert_eq!(
            PageRequest::from_query(Some("x=1&page_no=3&per_page=20"), 100),
            Ok(request(3, 20))
        );
        assert_eq!(
            PageRequest::from_query(Some("per_page=5000&page_no="), 100),
            Ok(request(1, MAX_PER_PAGE))
        );
        for bad in ["page_no=0", "per_page=-1", "page_no=two"] {
            assert_eq!(
                PageRequest::from_query(Some(bad), 100).map_err(|e| e.code),
                Err(400),
                "{bad}"
            );
        }
    }

    #[test]
    fn pages_are_cut_in_order_with_the_total_and_the_next_page() {
        let items: Vec<u32> = (1..=5).collect();
        let first = page(items.clone(), request(1, 2)).expect("page 1");
        assert_eq!(first.items, [1, 2]);
        assert_eq!(first.info.total, 5);
        assert_eq!(first.info.next, Some(request(2, 2)));
        let last = page(items.clone(), request(3, 2)).expect("page 3");
        assert_eq!((last.items, last.info.next), (vec![5], None));
        assert_eq!(page(items, request(4, 2)), None, "past the last page");
    }

    #[test]
    fn an_empty_list_has_one_empty_page() {
        let empty = page(Vec::<u32>::new(), request(1, 10)).expect("page 1");
        assert_eq!((empty.items.len(), empty.info.total), (0, 0));
        assert_eq!(page(Vec::<u32>::new(), request(2, 10)), None);
        assert_eq!(page(vec![1], request(u32::MAX, MAX_PER_PAGE)), None);
    }

    #[test]
    fn the_link_header_names_the_next_page_only_when_there_is_one() {
        let info = PageInfo {
            total: 7,
            next: Some(request(2, 3)),
        };
        let h = headers("/ext/orgs/sandbox/v1/leases", &info);
        assert_eq!(h["x-total-count"], "7");
        assert_eq!(
            h["link"],
            "</ext/orgs/sandbox/v1/leases?page_no=2&per_page=3>; rel=\"next\""
        );
        let last = headers(
            "/p",
            &PageInfo {
                total: 7,
                next: None,
            },
        );
        assert!(!last.contains_key("link"));
    }
}
