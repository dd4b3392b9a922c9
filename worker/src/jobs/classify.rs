//! How Entrata's and Payscore's failures become outcomes: transient ones are retried, a rate
//! limit waits without spending an attempt, permanent ones go to the dead-letter queue. Pure
//! functions, shared by both jobs.

use crate::clients::entrata::EntrataError;
use crate::clients::http::CallError;
use crate::clients::payscore::PayscoreError;
use crate::outcome::{DeadReason, Failure, Outcome};

/// Mark a retry as one that must wait for the schedule's delay (no quick retry in process):
/// its call may have taken effect, or an immediate retry would meet the same answer.
pub fn wait_for_schedule(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Retry(failure) => Outcome::Retry(Failure {
            wait_for_schedule: true,
            ..failure
        }),
        other => other,
    }
}

/// A timeout or a 429: the next attempt waits at least `RETRY_OVERLOAD_MIN`
/// (`../shared/reference/queues-and-retries.md` §5).
fn overloaded(call: &CallError) -> bool {
    matches!(
        call,
        CallError::Timeout | CallError::Status { status: 429, .. }
    )
}

/// Entrata's failure as an outcome.
pub fn entrata_failure(error: EntrataError) -> Outcome {
    let detail = error.to_string();
    match error {
        EntrataError::RateLimited(until) => Outcome::Throttle {
            until,
            failure: Failure::new("entrata_rate_limited", detail, Some(until)),
        },
        EntrataError::Rejected { .. } => Outcome::dead(DeadReason::EntrataRejected, detail),
        EntrataError::Call(call) => {
            let failure = Failure::new("entrata_unavailable", detail, call.retry_after());
            Outcome::Retry(if overloaded(&call) {
                failure.overloaded()
            } else {
                failure
            })
        }
        EntrataError::Transient { .. } | EntrataError::Malformed(_) => {
            Outcome::Retry(Failure::new("entrata_error", detail, None))
        }
    }
}

/// Payscore's failure as an outcome.
pub fn payscore_failure(error: PayscoreError, operation: &'static str) -> Outcome {
    let detail = format!("{operation}: {error}");
    match error {
        PayscoreError::Rejected { .. } => Outcome::dead(DeadReason::PayscoreRejected, detail),
        PayscoreError::Call(call) => {
            let failure = Failure::new("payscore_unavailable", detail, call.retry_after());
            Outcome::Retry(if overloaded(&call) {
                failure.overloaded()
            } else {
                failure
            })
        }
        // Wrong credentials are fixed by an operator; keep the work until then.
        PayscoreError::Unauthorized => {
            Outcome::Retry(Failure::new("payscore_unauthorized", detail, None))
        }
        PayscoreError::Malformed(_) => Outcome::Retry(Failure::new("payscore_error", detail, None)),
        // The group it conflicts with is not visible (yet): look again on the next attempt,
        // after the schedule's delay (an immediate retry would only meet the 409 again).
        PayscoreError::Conflict => Outcome::Retry(Failure {
            wait_for_schedule: true,
            ..Failure::new("payscore_conflict", detail, None)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::http::CallError;
    use std::time::Duration;

    #[test]
    fn entrata_failures_are_classified() {
        let until = Duration::from_secs(26);
        assert!(
            matches!(entrata_failure(EntrataError::RateLimited(until)), Outcome::Throttle { until: u, .. } if u == until)
        );
        assert!(matches!(
            entrata_failure(EntrataError::Rejected { code: 400 }),
            Outcome::Dead {
                reason: DeadReason::EntrataRejected,
                ..
            }
        ));
        assert!(matches!(
            entrata_failure(EntrataError::Transient { code: 310 }),
            Outcome::Retry(_)
        ));
        let status = CallError::Status {
            status: 503,
            retry_after: Some(Duration::from_secs(7)),
        };
        match entrata_failure(EntrataError::Call(status)) {
            Outcome::Retry(f) => assert_eq!(f.retry_after, Some(Duration::from_secs(7))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn payscore_failures_are_classified() {
        assert!(matches!(
            payscore_failure(PayscoreError::Rejected { status: 400 }, "create_group"),
            Outcome::Dead {
                reason: DeadReason::PayscoreRejected,
                ..
            }
        ));
        assert!(matches!(
            payscore_failure(PayscoreError::Call(CallError::Timeout), "create_group"),
            Outcome::Retry(_)
        ));
        assert!(matches!(
            payscore_failure(PayscoreError::Unauthorized, "auth"),
            Outcome::Retry(_)
        ));
        match payscore_failure(PayscoreError::Conflict, "create_group") {
            Outcome::Retry(f) => assert!(f.wait_for_schedule, "no quick retry into the same 409"),
            other => panic!("a 409 whose group is not visible yet is retried: {other:?}"),
        }
        match payscore_failure(
            PayscoreError::Call(CallError::Status {
                status: 429,
                retry_after: Some(Duration::from_secs(2)),
            }),
            "create_group",
        ) {
            Outcome::Retry(f) => {
                assert_eq!(f.retry_after, Some(Duration::from_secs(2)));
                assert!(f.detail.starts_with("create_group: "), "{}", f.detail);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_timeout_or_5xx_leaves_the_create_outcome_unknown_but_a_4xx_does_not() {
        assert!(CallError::Timeout.outcome_unknown());
        assert!(
            CallError::Status {
                status: 502,
                retry_after: None
            }
            .outcome_unknown()
        );
        assert!(
            !CallError::Status {
                status: 429,
                retry_after: None
            }
            .outcome_unknown()
        );
        assert!(!CallError::TooLarge(1).outcome_unknown());
    }
}
