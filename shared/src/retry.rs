//! Retry policy: the delay before the next attempt, as pure functions.
//!
//! A transient failure first gets a short in-process backoff (seconds, [`in_process`]); when
//! that does not help, the message is re-published to a wait queue with the next delay of the
//! schedule ([`RetryPolicy::next`]), jittered ±`jitter`, and `x-attempt` counts the failures.
//! When the schedule is spent, the message is dead-lettered with `retries_exhausted`.
//!
//! A server's `Retry-After` is honoured but clamped to [base, 2 × base], base being the
//! schedule's own delay, as Svix does (`../shared/reference/queues-and-retries.md` §5): a server
//! cannot make the worker hammer it, nor park a message for a day. After a timeout or a 429 (an
//! overloaded server) the next delay is at least `RETRY_OVERLOAD_MIN` (60 s). Nothing goes
//! beyond the longest wait queue. An Entrata rate limit is not a failure: the job waits until
//! the reset without spending an attempt ([`RetryPolicy::throttle`]).

use backon::{BackoffBuilder, ExponentialBuilder};
use std::time::Duration;

/// The schedule and its limits.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Delay before attempt `n + 2` after `n + 1` failures (`RETRY_SCHEDULE`).
    pub schedule: Vec<Duration>,
    /// Relative jitter, 0.0–0.25 (`RETRY_JITTER_PERCENT` / 100).
    pub jitter: f64,
    /// The longest delay a wait queue can hold.
    pub max_delay: Duration,
    /// The shortest delay after a timeout or a 429 (`RETRY_OVERLOAD_MIN`, default 60 s).
    pub overload_min: Duration,
}

/// What the failed attempt met, as far as the next delay is concerned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pressure {
    /// The server's `Retry-After`.
    pub retry_after: Option<Duration>,
    /// A timeout or a 429: the server is overloaded.
    pub overloaded: bool,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NextStep {
    /// Try again after this delay; `attempt` is the new `x-attempt`.
    RetryAfter {
        /// The delay.
        delay: Duration,
        /// Failures so far, including this one.
        attempt: u32,
    },
    /// The schedule is spent.
    Exhausted,
}

impl RetryPolicy {
    /// The step after the `failures`-th failure (1-based), given what the attempt met.
    /// `unit` is a number in `[0, 1)` (random in production, fixed in tests).
    pub fn next(&self, failures: u32, pressure: Pressure, unit: f64) -> NextStep {
        let Some(base) = self.schedule.get(failures.saturating_sub(1) as usize) else {
            return NextStep::Exhausted;
        };
        let jittered = jitter(*base, self.jitter, unit);
        let mut delay = match pressure.retry_after {
            Some(wanted) => wanted.clamp(jittered, (*base * 2).max(jittered)),
            None => jittered,
        };
        if pressure.overloaded {
            delay = delay.max(self.overload_min);
        }
        NextStep::RetryAfter {
            delay: delay.min(self.max_delay),
            attempt: failures,
        }
    }

    /// The delay of a rate-limited job: until the reset, at least a second, at most the
    /// longest wait queue.
    pub fn throttle(&self, until_reset: Duration) -> Duration {
        until_reset.clamp(Duration::from_secs(1), self.max_delay)
    }
}

/// `base` scaled by a factor in `[1 - spread, 1 + spread)`, `unit` in `[0, 1)`.
pub fn jitter(base: Duration, spread: f64, unit: f64) -> Duration {
    let spread = spread.clamp(0.0, 0.25);
    let factor = 1.0 - spread + 2.0 * spread * unit.clamp(0.0, 1.0);
    base.mul_f64(factor)
}

/// The short in-process backoff before giving a message back to the broker: `retries`
/// delays from 200 ms doubling up to 2 s, with jitter.
pub fn in_process(retries: usize) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(2))
        .with_max_times(retries)
        .with_jitter()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            schedule: ["30s", "2m", "10m", "30m", "2h", "6h", "12h", "12h"]
                .iter()
                .map(|s| crate::amqp::parse_duration(s).expect("duration"))
                .collect(),
            jitter: 0.2,
            max_delay: Duration::from_secs(12 * 3600 + 1800),
            overload_min: Duration::from_secs(60),
        }
    }

    fn after(retry_after: u64) -> Pressure {
        Pressure {
            retry_after: Some(Duration::from_secs(retry_after)),
            overloaded: false,
        }
    }

    #[test]
    fn the_default_schedule_is_eight_retries_over_more_than_a_day() {
        let p = policy();
        let mut total = Duration::ZERO;
        let mut failures = 0;
        while let NextStep::RetryAfter { delay, .. } =
            p.next(failures + 1, Pressure::default(), 0.0)
        {
            total += delay;
            failures += 1;
        }
        // Even with the most negative jitter, 9 attempts span more than 24 h.
        assert_eq!(failures, 8);
        assert!(total >= Duration::from_secs(24 * 3600), "{total:?}");
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let base = Duration::from_secs(100);
        assert_eq!(jitter(base, 0.2, 0.0), Duration::from_secs(80));
        assert_eq!(jitter(base, 0.2, 0.5), Duration::from_secs(100));
        assert!(jitter(base, 0.2, 0.999_999) < Duration::from_secs(120));
        assert_eq!(
            jitter(base, 0.9, 0.0),
            Duration::from_secs(75),
            "spread is capped at 25 %"
        );
    }

    #[test]
    fn retry_after_is_clamped_between_the_schedules_delay_and_twice_it() {
        let p = policy();
        let delay = |failures, pressure| match p.next(failures, pressure, 0.5) {
            NextStep::RetryAfter { delay, .. } => delay,
            NextStep::Exhausted => panic!("not exhausted"),
        };
        assert_eq!(delay(1, after(2)), Duration::from_secs(30), "never earlier");
        assert_eq!(delay(1, after(45)), Duration::from_secs(45));
        assert_eq!(
            delay(1, after(90)),
            Duration::from_secs(60),
            "at most twice"
        );
        assert_eq!(
            delay(7, after(7 * 24 * 3600)),
            p.max_delay,
            "never beyond the longest wait queue"
        );
    }

    #[test]
    fn a_timeout_or_a_429_waits_at_least_the_overload_minimum() {
        let p = policy();
        let overloaded = Pressure {
            retry_after: None,
            overloaded: true,
        };
        assert_eq!(
            p.next(1, overloaded, 0.0),
            NextStep::RetryAfter {
                delay: Duration::from_secs(60),
                attempt: 1
            }
        );
        assert_eq!(
            p.next(2, overloaded, 0.5),
            NextStep::RetryAfter {
                delay: Duration::from_secs(120),
                attempt: 2
            },
            "a longer scheduled delay stays"
        );
    }

    #[test]
    fn the_schedule_runs_out() {
        let p = policy();
        assert!(matches!(
            p.next(8, Pressure::default(), 0.5),
            NextStep::RetryAfter { attempt: 8, .. }
        ));
        assert_eq!(p.next(9, Pressure::default(), 0.5), NextStep::Exhausted);
    }

    #[test]
    fn rate_limit_waits_are_clamped() {
        let p = policy();
        assert_eq!(p.throttle(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(p.throttle(Duration::from_secs(26)), Duration::from_secs(26));
        assert_eq!(p.throttle(Duration::from_secs(10 * 86_400)), p.max_delay);
    }

    #[tokio::test(start_paused = true)]
    async fn the_in_process_backoff_is_short_and_bounded() {
        let delays: Vec<_> = in_process(3).collect();
        assert_eq!(delays.len(), 3);
        let started = tokio::time::Instant::now();
        for d in &delays {
            assert!(
                *d >= Duration::from_millis(200) && *d <= Duration::from_secs(4),
                "{d:?}"
            );
            tokio::time::sleep(*d).await;
        }
        // Paused time: the whole backoff takes virtual seconds, not real ones.
        assert!(started.elapsed() <= Duration::from_secs(12));
    }
}
