//! Fault injection: what can go wrong on a route, and the decision for one request.
//!
//! Faults are set per route name (`create_group`, `leads/getLeads`, …; `*` for every route
//! of a simulator) at start-up or at run time through `PUT /_control/faults`. Two kinds:
//! - [`Faults`]: fractions and latency, drawn at random for every request;
//! - [`Scripted`]: "the next N calls get this", consumed in order, deterministic. A scripted
//!   fault wins over the random ones.
//!
//! Deciding is a short critical section, skipped entirely while no fault is configured.

use serde::{Deserialize, Serialize};
use std::time::Duration;

mod table;

pub use table::{FaultTable, RouteFaultsView};

/// The route name that applies to every route of a simulator.
pub const ANY_ROUTE: &str = "*";

/// Random faults for one route. Fractions are between 0 and 1 and are drawn in this order:
/// drop, hang, error, throttle, hang after handling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fraction of requests answered with `error_status` without being handled.
    pub error_rate: f64,
    /// The status for `error_rate` (default 500).
    pub error_status: u16,
    /// Fraction of requests answered 429 with `Retry-After`.
    pub throttle_rate: f64,
    /// The `Retry-After` of injected 429s, in seconds (default 1).
    pub retry_after_seconds: u64,
    /// Latency added before every request of the route.
    pub latency: Option<Latency>,
    /// Fraction of requests that are never answered (see `hang_ms`).
    pub hang_rate: f64,
    /// Fraction of requests whose connection is closed without an answer.
    pub drop_rate: f64,
    /// Fraction of requests that are handled (their side effects happen) and then never
    /// answered: "the create happened, the answer was lost".
    pub hang_after_handling_rate: f64,
    /// How long a hang lasts; `None` means until the sandbox stops. A finite hang ends with
    /// the normal answer, i.e. it is a long latency.
    pub hang_ms: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            error_status: 500,
            throttle_rate: 0.0,
            retry_after_seconds: 1,
            latency: None,
            hang_rate: 0.0,
            drop_rate: 0.0,
            hang_after_handling_rate: 0.0,
            hang_ms: None,
        }
    }
}

impl Faults {
    /// True when these faults change nothing.
    pub fn is_none(&self) -> bool {
        self.error_rate <= 0.0
            && self.throttle_rate <= 0.0
            && self.latency.is_none()
            && self.hang_rate <= 0.0
            && self.drop_rate <= 0.0
            && self.hang_after_handling_rate <= 0.0
    }
}

/// Added latency: a fixed number of milliseconds (`200`) or a uniform range
/// (`{"min_ms": 100, "max_ms": 300}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Latency {
    /// Always this many milliseconds.
    Fixed(u64),
    /// Uniformly between the two bounds, inclusive.
    Uniform {
        /// Lower bound in milliseconds.
        min_ms: u64,
        /// Upper bound in milliseconds.
        max_ms: u64,
    },
}

impl Latency {
    fn sample(self) -> Duration {
        let ms = match self {
            Latency::Fixed(ms) => ms,
            Latency::Uniform { min_ms, max_ms } if max_ms > min_ms => {
                fastrand::u64(min_ms..=max_ms)
            }
            Latency::Uniform { min_ms, .. } => min_ms,
        };
        Duration::from_millis(ms)
    }
}

/// "The next `count` calls of the route get this": deterministic faults for tests such as
/// "500 twice then 200" or "429 with `Retry-After: 2` once".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scripted {
    /// How many calls, from the next one on.
    pub count: u32,
    /// What happens to them (default `status`).
    #[serde(default)]
    pub action: ScriptedAction,
    /// The status for `action: status` (default 500).
    #[serde(default = "default_status")]
    pub status: u16,
    /// A `Retry-After` header (seconds) on those answers.
    #[serde(default)]
    pub retry_after_seconds: Option<u64>,
    /// For hangs: how long, in milliseconds; unset means until the sandbox stops.
    #[serde(default)]
    pub hang_ms: Option<u64>,
}

fn default_status() -> u16 {
    500
}

impl Scripted {
    /// The next `count` calls are answered with `status`.
    pub fn status(count: u32, status: u16) -> Self {
        Self {
            count,
            action: ScriptedAction::Status,
            status,
            retry_after_seconds: None,
            hang_ms: None,
        }
    }

    /// The same with a `Retry-After` header.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    /// The next `count` calls get `action` (hangs last until the sandbox stops).
    pub fn action(count: u32, action: ScriptedAction) -> Self {
        Self {
            action,
            ..Self::status(count, 500)
        }
    }
}

/// What a scripted fault does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptedAction {
    /// Answer with the given status without handling the request.
    #[default]
    Status,
    /// Never answer (or answer after `hang_ms`).
    Hang,
    /// Close the connection without answering.
    Drop,
    /// Handle the request, then never answer (or answer after `hang_ms`).
    HangAfterHandling,
}

/// The decision for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Latency to add first.
    pub delay: Option<Duration>,
    /// What to do after the delay.
    pub verdict: Verdict,
}

/// What happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Handle it normally.
    Pass,
    /// Answer with this status (and `Retry-After`) without handling it.
    Status {
        /// The status.
        status: u16,
        /// `Retry-After` seconds, if any.
        retry_after: Option<u64>,
    },
    /// Wait (`None`: until shutdown), then handle it normally.
    Hang(Option<Duration>),
    /// Close the connection without answering.
    Drop,
    /// Handle it, then wait (`None`: until shutdown) before answering.
    HangAfterHandling(Option<Duration>),
}

/// The decision when nothing is configured.
pub(crate) const PASS: Decision = Decision {
    delay: None,
    verdict: Verdict::Pass,
};

pub(crate) fn scripted_verdict(s: &Scripted) -> Verdict {
    let hang = s.hang_ms.map(Duration::from_millis);
    match s.action {
        ScriptedAction::Status => Verdict::Status {
            status: s.status,
            retry_after: s.retry_after_seconds,
        },
        ScriptedAction::Hang => Verdict::Hang(hang),
        ScriptedAction::Drop => Verdict::Drop,
        ScriptedAction::HangAfterHandling => Verdict::HangAfterHandling(hang),
    }
}

/// The random verdict for a draw `roll` in `[0, 1)`: fractions are stacked in a fixed order.
pub fn random_verdict(f: &Faults, roll: f64) -> Verdict {
    let hang = f.hang_ms.map(Duration::from_millis);
    let mut edge = 0.0;
    let mut hit = |rate: f64| {
        edge += rate.clamp(0.0, 1.0);
        roll < edge
    };
    if hit(f.drop_rate) {
        Verdict::Drop
    } else if hit(f.hang_rate) {
        Verdict::Hang(hang)
    } else if hit(f.error_rate) {
        Verdict::Status {
            status: f.error_status,
            retry_after: None,
        }
    } else if hit(f.throttle_rate) {
        Verdict::Status {
            status: 429,
            retry_after: Some(f.retry_after_seconds),
        }
    } else if hit(f.hang_after_handling_rate) {
        Verdict::HangAfterHandling(hang)
    } else {
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_fractions_stack_in_a_fixed_order() {
        let f = Faults {
            drop_rate: 0.1,
            error_rate: 0.2,
            throttle_rate: 0.1,
            ..Faults::default()
        };
        assert_eq!(random_verdict(&f, 0.05), Verdict::Drop);
        assert!(matches!(
            random_verdict(&f, 0.15),
            Verdict::Status { status: 500, .. }
        ));
        assert!(matches!(
            random_verdict(&f, 0.35),
            Verdict::Status {
                status: 429,
                retry_after: Some(1)
            }
        ));
        assert_eq!(random_verdict(&f, 0.5), Verdict::Pass);
    }

    #[test]
    fn latency_accepts_a_number_or_a_range() {
        let fixed: Faults = serde_json::from_str(r#"{"latency": 20}"#).expect("fixed");
        assert_eq!(fixed.latency, Some(Latency::Fixed(20)));
        let range: Faults =
            serde_json::from_str(r#"{"latency": {"min_ms": 5, "max_ms": 9}}"#).expect("range");
        let d = range.latency.map(Latency::sample).expect("sampled");
        assert!(d >= Duration::from_millis(5) && d <= Duration::from_millis(9));
    }
}
