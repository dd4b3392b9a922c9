//! The record of calls a simulator received: route, arrival time, answer. Tests and
//! benchmarks read it through `GET /_control/calls` to assert what the fleet did (for
//! example "no call before `Retry-After` had passed").
//!
//! Bounded: the most recent [`KEEP`] calls are kept; counts per route and status are exact.
//! An Entrata call also keeps the `method.version` it asked for (its first
//! [`VERSION_CHARS`] characters), so a test can check which version each method was called
//! with.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// How many individual calls are kept.
pub const KEEP: usize = 50_000;

/// How much of a call's `method.version` is kept (real ones are `r1`…`r4`).
pub const VERSION_CHARS: usize = 16;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The simulator's own answer (success or its own 4xx).
    Answered,
    /// An answer produced by fault injection.
    Injected,
    /// Never answered (a hang that lasts until shutdown).
    Hung,
    /// The connection was closed without an answer.
    Dropped,
}

/// One call, as `GET /_control/calls` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Route name (`create_group`, `leads/getLeads`, …).
    pub route: String,
    /// When the request arrived, in Unix milliseconds.
    pub received_at_ms: u64,
    /// The HTTP status answered; `null` when there was no answer.
    pub status: Option<u16>,
    /// How the call ended.
    pub outcome: Outcome,
    /// The Entrata envelope's `method.version` (`r1`, `r2`, …); `null` for Payscore calls
    /// and for Entrata calls that named no version (or whose body did not parse).
    #[serde(default)]
    pub version: Option<String>,
}

#[derive(Debug, Clone)]
struct Call {
    route: &'static str,
    received_at_ms: u64,
    status: Option<u16>,
    outcome: Outcome,
    version: Option<Box<str>>,
}

#[derive(Debug, Default)]
struct Inner {
    recent: VecDeque<Call>,
    counts: BTreeMap<(&'static str, Option<u16>), u64>,
}

/// The call log of one simulator.
#[derive(Debug, Default)]
pub struct CallLog {
    inner: Mutex<Inner>,
}

impl CallLog {
    /// Record a call; `version` is the Entrata `method.version`, when there was one.
    pub fn record(
        &self,
        route: &'static str,
        version: Option<&str>,
        received_at_ms: u64,
        status: Option<u16>,
        outcome: Outcome,
    ) {
        let version = version.map(|v| v.chars().take(VERSION_CHARS).collect());
        let mut inner = self.lock();
        if inner.recent.len() == KEEP {
            inner.recent.pop_front();
        }
        inner.recent.push_back(Call {
            route,
            received_at_ms,
            status,
            outcome,
            version,
        });
        *inner.counts.entry((route, status)).or_default() += 1;
    }

    /// The kept calls of `route` (every route when `None`), oldest first.
    pub fn list(&self, route: Option<&str>) -> Vec<CallRecord> {
        self.lock()
            .recent
            .iter()
            .filter(|c| route.is_none_or(|r| r == c.route))
            .map(|c| CallRecord {
                route: c.route.to_owned(),
                received_at_ms: c.received_at_ms,
                status: c.status,
                outcome: c.outcome,
                version: c.version.as_deref().map(str::to_owned),
            })
            .collect()
    }

    /// Exact counts: route → status (`"none"` for unanswered) → calls.
    pub fn counts(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for ((route, status), n) in &self.lock().counts {
            let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
            *out.entry((*route).to_owned())
                .or_default()
                .entry(status)
                .or_default() += n;
        }
        out
    }

    /// Forget every call.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.recent.clear();
        inner.counts.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_listed_per_route_and_counted_per_status() {
        let log = CallLog::default();
        log.record("create_group", None, 1, Some(500), Outcome::Injected);
        log.record("create_group", None, 2, Some(201), Outcome::Answered);
        log.record("get_group", None, 3, None, Outcome::Dropped);
        let created = log.list(Some("create_group"));
        assert_eq!(created.len(), 2);
        assert_eq!(created[0].status, Some(500));
        assert_eq!(log.counts()["get_group"]["none"], 1);
        assert_eq!(log.counts()["create_group"]["201"], 1);
    }

    #[test]
    fn the_version_is_kept_and_a_record_without_one_still_reads() {
        let log = CallLog::default();
        log.record(
            "leads/getLeads",
            Some("r1"),
            1,
            Some(200),
            Outcome::Answered,
        );
        log.record(
            "leads/getLeads",
            Some(&"r".repeat(100)),
            2,
            None,
            Outcome::Hung,
        );
        let calls = log.list(None);
        assert_eq!(calls[0].version.as_deref(), Some("r1"));
        assert_eq!(
            calls[1].version.as_deref().map(str::len),
            Some(VERSION_CHARS)
        );
        let old: CallRecord = serde_json::from_value(serde_json::json!({
            "route": "auth", "received_at_ms": 1, "status": 204, "outcome": "answered"
        }))
        .expect("a record without a version reads");
        assert_eq!(old.version, None);
    }
}
