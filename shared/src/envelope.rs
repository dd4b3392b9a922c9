//! The wire contract between `ingest` and `worker`: routing keys, header names, the trace
//! context every message carries, and the one place every message's properties are built
//! ([`fresh`] for a new message, [`copy_of`] for a re-published one). The message body is
//! always the raw webhook body.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString};
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
    /// The id of this copy of the message: new on every re-published copy (retry, deferral,
    /// dead letter, replay), absent on the first. A redelivery of the same copy keeps it, so
    /// the worker can tell a copy it already settled from a new one.
    pub const COPY_ID: &str = "x-copy-id";
    /// Set (`true`) on every copy re-published from a delivery the broker had redelivered, and
    /// kept on the copies made from such a copy: an earlier run of this message may have done
    /// its work (created the group) without publishing its follow-ups, so a job that finds the
    /// work done publishes them, as it does for a redelivery itself.
    pub const REDELIVERED: &str = "x-redelivered";
}

/// Headers the broker writes (dead-lettering history, quorum delivery counts). A re-published
/// copy must not carry them: a copy with `x-death` may be dropped by the broker's cycle
/// detection, and the counts belong to the broker's own copy.
pub fn is_broker_header(name: &str) -> bool {
    name == "x-death"
        || name.starts_with("x-first-death")
        || name.starts_with("x-last-death")
        || name == "x-delivery-count"
        || name == "x-acquired-count"
}

/// What a new message is.
#[derive(Debug, Clone, Copy)]
pub struct Fresh<'a> {
    /// `x-source`: `entrata`, `payscore`, `worker`, `sweep`.
    pub source: &'a str,
    /// The AMQP `type` (a job kind), if any.
    pub kind: Option<&'a str>,
    /// The body's content type.
    pub content_type: &'a str,
    /// The `traceparent` this message continues (an HTTP request's, a delivery's): its trace
    /// id is kept. `None` or invalid starts a new trace.
    pub trace: Option<&'a str>,
}

/// The properties of a new message: a new `message_id` (returned beside them), timestamp,
/// content type, persistence, `x-source`, `x-received-at` and a `traceparent` continuing
/// `trace`.
pub fn fresh(what: Fresh<'_>) -> (String, BasicProperties) {
    let message_id = uuid::Uuid::now_v7().to_string();
    let received_at = now_millis();
    let mut headers = FieldTable::default();
    headers.insert(headers::SOURCE.into(), text(what.source));
    headers.insert(
        headers::RECEIVED_AT.into(),
        AMQPValue::LongLongInt(received_at),
    );
    headers.insert(headers::TRACEPARENT.into(), text(&traceparent(what.trace)));
    let mut properties = BasicProperties::default()
        .with_message_id(message_id.as_str().into())
        .with_content_type(what.content_type.into())
        .with_timestamp((received_at / 1000) as u64)
        .with_delivery_mode(2)
        .with_headers(headers);
    if let Some(kind) = what.kind {
        properties = properties.with_type(kind.into());
    }
    (message_id, properties)
}

/// The properties of a copy of a delivered message, to re-publish it (retry, deferral, dead
/// letter, replay): the same `message_id`, type, timestamp, content type and headers, minus the
/// broker's own headers and those in `drop`, with a new [`headers::COPY_ID`], persistent, and
/// a `traceparent` that continues the original's trace as a new span. `edit` then sets what
/// this copy adds (attempt, errors, reason).
pub fn copy_of(
    original: &BasicProperties,
    drop: &[&str],
    edit: impl FnOnce(&mut FieldTable),
) -> BasicProperties {
    let mut headers = FieldTable::default();
    let mut trace = None;
    if let Some(existing) = original.headers() {
        for (key, value) in existing {
            let name = key.as_str();
            if name == headers::TRACEPARENT {
                trace = as_text(value);
            } else if !is_broker_header(name) && !drop.contains(&name) && name != headers::COPY_ID {
                headers.insert(key.clone(), value.clone());
            }
        }
    }
    headers.insert(
        headers::COPY_ID.into(),
        text(&uuid::Uuid::now_v7().to_string()),
    );
    headers.insert(
        headers::TRACEPARENT.into(),
        text(&traceparent(trace.as_deref())),
    );
    edit(&mut headers);
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_headers(headers);
    if let Some(id) = original.message_id() {
        properties = properties.with_message_id(id.clone());
    }
    if let Some(content_type) = original.content_type() {
        properties = properties.with_content_type(content_type.clone());
    }
    if let Some(timestamp) = original.timestamp() {
        properties = properties.with_timestamp(*timestamp);
    }
    if let Some(kind) = original.kind() {
        properties = properties.with_type(kind.clone());
    }
    properties
}

/// A text header of a message's properties (`None` when absent or not text).
pub fn header_text(properties: &BasicProperties, name: &str) -> Option<String> {
    properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(name))
        .and_then(as_text)
}

/// Which copy of a message a delivery is: its [`headers::COPY_ID`], or the `message_id` for
/// the first copy (which has none).
pub fn copy_key(properties: &BasicProperties) -> Option<String> {
    header_text(properties, headers::COPY_ID)
        .or_else(|| properties.message_id().as_ref().map(|id| id.to_string()))
}

/// The trace id of a `traceparent`, if it is valid.
pub fn trace_id(traceparent: &str) -> Option<String> {
    parse_trace_id(traceparent)
}

/// An AMQP text value.
pub fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

fn as_text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
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

    fn with_headers(pairs: &[(&str, &str)]) -> BasicProperties {
        let mut headers = FieldTable::default();
        for (k, v) in pairs {
            headers.insert((*k).into(), text(v));
        }
        BasicProperties::default()
            .with_message_id("m-1".into())
            .with_type("report_check".into())
            .with_headers(headers)
    }

    #[test]
    fn a_copy_keeps_the_message_and_its_trace_drops_the_brokers_headers_and_gets_a_new_copy_id() {
        let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let original = with_headers(&[
            (headers::SOURCE, "entrata"),
            (headers::TRACEPARENT, trace),
            (headers::COPY_ID, "old-copy"),
            (headers::DEAD_REASON, "retries_exhausted"),
            ("x-death", "broker"),
            ("x-first-death-queue", "screenings"),
            ("x-delivery-count", "3"),
        ]);
        let copy = copy_of(&original, &[headers::DEAD_REASON], |h| {
            h.insert(headers::ATTEMPT.into(), AMQPValue::LongLongInt(2));
        });
        assert_eq!(copy.message_id().as_ref().map(|m| m.as_str()), Some("m-1"));
        assert_eq!(
            copy.kind().as_ref().map(|k| k.as_str()),
            Some("report_check")
        );
        assert_eq!(copy.delivery_mode(), &Some(2));
        assert_eq!(
            header_text(&copy, headers::SOURCE).as_deref(),
            Some("entrata")
        );
        let names: Vec<String> = copy
            .headers()
            .as_ref()
            .expect("headers")
            .inner()
            .keys()
            .map(|k| k.to_string())
            .collect();
        for gone in [
            "x-death",
            "x-first-death-queue",
            "x-delivery-count",
            headers::DEAD_REASON,
        ] {
            assert!(!names.iter().any(|n| n == gone), "{gone} in {names:?}");
        }
        let copy_id = header_text(&copy, headers::COPY_ID).expect("a copy id");
        assert_ne!(copy_id, "old-copy");
        assert_eq!(copy_key(&copy), Some(copy_id));
        let continued = header_text(&copy, headers::TRACEPARENT).expect("traceparent");
        assert_eq!(trace_id(&continued), trace_id(trace));
        assert_ne!(continued, trace, "a new span");
        // The first copy is named by its message id.
        assert_eq!(copy_key(&with_headers(&[])), Some("m-1".to_owned()));
    }

    #[test]
    fn a_fresh_message_continues_a_valid_trace_and_starts_one_otherwise() {
        let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let fresh_with = |trace| {
            fresh(Fresh {
                source: "worker",
                kind: Some("report_check"),
                content_type: "application/json",
                trace,
            })
        };
        let (id, properties) = fresh_with(Some(trace));
        assert_eq!(
            properties.message_id().as_ref().map(|m| m.to_string()),
            Some(id)
        );
        assert_eq!(properties.delivery_mode(), &Some(2));
        let header = header_text(&properties, headers::TRACEPARENT).expect("traceparent");
        assert_eq!(
            trace_id(&header).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        let (_, other) = fresh_with(Some("garbage"));
        let header = header_text(&other, headers::TRACEPARENT).expect("traceparent");
        assert_ne!(
            trace_id(&header).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert!(trace_id(&header).is_some());
    }
}
