//! The wire contract between `ingest` and `worker`: routing keys, header names and the trace
//! context every message carries. The message body is always the raw webhook body.

use std::time::{SystemTime, UNIX_EPOCH};

/// Header names carried on every message (`x-attempt` and the error headers once retried).
pub mod headers {
    /// `entrata` or `payscore`.
    pub const SOURCE: &str = "x-source";
    /// When ingest received the delivery: Unix time in milliseconds.
    pub const RECEIVED_AT: &str = "x-received-at";
    /// How many times a worker has tried this message (absent = 0).
    pub const ATTEMPT: &str = "x-attempt";
    /// The first failure's classification and detail (no PII).
    pub const FIRST_ERROR: &str = "x-first-error";
    /// The latest failure's classification and detail (no PII).
    pub const LAST_ERROR: &str = "x-last-error";
    /// Why a message is in a `.dead` queue (see the README's dead-letter table).
    pub const DEAD_REASON: &str = "x-dead-reason";
    /// W3C trace context, so a trace follows a delivery across hops.
    pub const TRACEPARENT: &str = "traceparent";
    /// When `worker replay` moved the message out of a dead-letter queue (Unix ms).
    pub const REPLAYED_AT: &str = "x-replayed-at";
}

/// Who sent a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Entrata `oa.application.events`.
    Entrata,
    /// Payscore screening-group webhooks.
    Payscore,
}

impl Source {
    /// The label used in headers and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Entrata => "entrata",
            Source::Payscore => "payscore",
        }
    }
}

/// Routing key of every Entrata delivery.
pub const ENTRATA_ROUTING_KEY: &str = "entrata.application";

/// Routing key of a Payscore delivery: `payscore.<code>` in lower case, or `payscore.unknown`
/// when the body has no usable `code`. Only `[a-z0-9_]` survive, so a hostile code cannot
/// reach another binding.
pub fn payscore_routing_key(code: Option<&str>) -> String {
    let code = code
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| {
            !c.is_empty()
                && c.len() <= 64
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .unwrap_or_else(|| "unknown".to_owned());
    format!("payscore.{code}")
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The UTC calendar date `(year, month, day)` of a Unix time in milliseconds (the proleptic
/// Gregorian calendar; Howard Hinnant's `civil_from_days`).
pub fn utc_date(unix_millis: i64) -> (i64, u32, u32) {
    let days = unix_millis.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A W3C `traceparent` for a new hop: the incoming trace id is kept when the incoming header
/// is valid, a new span id is always drawn.
/// <https://www.w3.org/TR/trace-context/#traceparent-header>
pub fn traceparent(incoming: Option<&str>) -> String {
    let trace_id = incoming
        .and_then(parse_trace_id)
        .unwrap_or_else(|| format!("{:032x}", fastrand::u128(1..)));
    format!("00-{trace_id}-{:016x}-01", fastrand::u64(1..))
}

fn parse_trace_id(header: &str) -> Option<String> {
    let mut parts = header.trim().split('-');
    let (version, trace_id, span_id, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && hex(span_id, 16)
        && hex(flags, 2);
    valid.then(|| trace_id.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payscore_codes_become_lower_case_routing_keys() {
        assert_eq!(
            payscore_routing_key(Some("SCREENING_GROUP_COMPLETED")),
            "payscore.screening_group_completed"
        );
        assert_eq!(payscore_routing_key(None), "payscore.unknown");
        assert_eq!(payscore_routing_key(Some("a.#")), "payscore.unknown");
        assert_eq!(payscore_routing_key(Some("")), "payscore.unknown");
    }

    #[test]
    fn traceparent_keeps_a_valid_incoming_trace_id() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let out = traceparent(Some(incoming));
        assert!(out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert_ne!(out, incoming, "a new span id is drawn");
    }

    #[test]
    fn traceparent_replaces_an_invalid_incoming_header() {
        let out = traceparent(Some(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ));
        assert_eq!(out.len(), 55);
        assert!(!out.contains("00000000000000000000000000000000"));
        assert_eq!(traceparent(Some("garbage")).len(), 55);
    }

    #[test]
    fn utc_dates_of_known_instants() {
        assert_eq!(utc_date(0), (1970, 1, 1));
        assert_eq!(utc_date(951_782_400_000), (2000, 2, 29));
        assert_eq!(utc_date(1_795_391_999_999), (2026, 11, 22));
        assert_eq!(utc_date(1_795_392_000_000), (2026, 11, 23));
        assert_eq!(utc_date(-1), (1969, 12, 31));
    }
}
