//! Entrata's rate limits: a budget per service and per minute (hour and day budgets are
//! reported too, at 60× and 1440× the minute budget), announced on every answer as
//! `X-RateLimit-Limit: 14400000/DAY;600000/HOUR;10000/MINUTE`, `X-RateLimit-Remaining`
//! and `X-RateLimit-Reset` (seconds until each window resets), and HTTP 429 once spent.
//! No `Retry-After`: Entrata does not document one; clients wait for the reset.
//!
//! Fixed windows stand in for Entrata's leaky bucket; the visible behaviour (a budget that
//! runs out, 429, then recovery at the announced reset) is the same.

use axum::http::{HeaderMap, HeaderValue};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const WINDOWS: [(Duration, u32, &str); 3] = [
    (Duration::from_secs(86_400), 1440, "DAY"),
    (Duration::from_secs(3_600), 60, "HOUR"),
    (Duration::from_secs(60), 1, "MINUTE"),
];

#[derive(Debug, Clone, Copy)]
struct Window {
    resets_at: Instant,
    used: u32,
}

/// The verdict for one call, with its headers.
#[derive(Debug, Clone)]
pub struct RateVerdict {
    /// Whether the call is within budget.
    pub allowed: bool,
    /// The `X-RateLimit-*` headers.
    pub headers: HeaderMap,
}

/// Budgets per service.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: AtomicU32,
    services: Mutex<HashMap<String, [Window; 3]>>,
}

impl RateLimiter {
    /// A limiter allowing `per_minute` calls per service and minute.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: AtomicU32::new(per_minute.max(1)),
            services: Mutex::new(HashMap::new()),
        }
    }

    /// Change the budget; windows in progress keep their counts.
    pub fn set_per_minute(&self, per_minute: u32) {
        self.per_minute.store(per_minute.max(1), Ordering::Relaxed);
    }

    fn limits(&self) -> [u32; 3] {
        let m = self.per_minute.load(Ordering::Relaxed);
        WINDOWS.map(|(_, factor, _)| m.saturating_mul(factor))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, [Window; 3]>> {
        self.services
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Count a call to `service` at `now`.
    pub fn check(&self, service: &str, now: Instant) -> RateVerdict {
        let limits = self.limits();
        let mut services = self.lock();
        if !services.contains_key(service) {
            services.insert(service.to_owned(), fresh(now));
        }
        let windows = services.get_mut(service).expect("inserted above");
        for (i, w) in windows.iter_mut().enumerate() {
            if now >= w.resets_at {
                *w = Window {
                    resets_at: now + WINDOWS[i].0,
                    used: 0,
                };
            }
        }
        let allowed = windows.iter().zip(limits).all(|(w, limit)| w.used < limit);
        if allowed {
            windows.iter_mut().for_each(|w| w.used += 1);
        }
        RateVerdict {
            allowed,
            headers: headers(windows, limits, now),
        }
    }

    /// Spend the minute budget of `service` (every service seen so far, and the usual
    /// three, when `None`); it resets after `reset_after`.
    pub fn exhaust(&self, service: Option<&str>, reset_after: Duration, now: Instant) {
        let limits = self.limits();
        let mut services = self.lock();
        let names: Vec<String> = match service {
            Some(s) => vec![s.to_owned()],
            None => ["leads", "leases", "properties"]
                .into_iter()
                .map(str::to_owned)
                .chain(services.keys().cloned())
                .collect(),
        };
        for name in names {
            let windows = services.entry(name).or_insert_with(|| fresh(now));
            windows[2] = Window {
                resets_at: now + reset_after,
                used: limits[2],
            };
        }
    }
}

fn fresh(now: Instant) -> [Window; 3] {
    WINDOWS.map(|(length, _, _)| Window {
        resets_at: now + length,
        used: 0,
    })
}

fn headers(windows: &[Window; 3], limits: [u32; 3], now: Instant) -> HeaderMap {
    let join = |f: &dyn Fn(usize) -> String| -> HeaderValue {
        let value = (0..3).map(f).collect::<Vec<_>>().join(";");
        HeaderValue::from_str(&value).expect("digits, letters and separators")
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-ratelimit-limit",
        join(&|i| format!("{}/{}", limits[i], WINDOWS[i].2)),
    );
    headers.insert(
        "x-ratelimit-remaining",
        join(&|i| {
            format!(
                "{}/{}",
                limits[i].saturating_sub(windows[i].used),
                WINDOWS[i].2
            )
        }),
    );
    headers.insert(
        "x-ratelimit-reset",
        // Rounded up: a client that waits this long always finds the budget reset.
        join(&|i| {
            let left = windows[i].resets_at.saturating_duration_since(now);
            left.as_millis().div_ceil(1000).to_string()
        }),
    );
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_runs_out_then_recovers_at_the_reset() {
        let limiter = RateLimiter::new(2);
        let t0 = Instant::now();
        assert!(limiter.check("leads", t0).allowed);
        let second = limiter.check("leads", t0);
        assert!(second.allowed);
        assert_eq!(
            second.headers["x-ratelimit-remaining"],
            "2878/DAY;118/HOUR;0/MINUTE"
        );
        assert!(!limiter.check("leads", t0).allowed);
        assert!(
            limiter.check("leases", t0).allowed,
            "budgets are per service"
        );
        assert!(limiter.check("leads", t0 + Duration::from_secs(60)).allowed);
    }

    #[test]
    fn an_exhausted_service_announces_its_reset() {
        let limiter = RateLimiter::new(100);
        let t0 = Instant::now();
        limiter.exhaust(Some("leads"), Duration::from_secs(3), t0);
        let verdict = limiter.check("leads", t0);
        assert!(!verdict.allowed);
        assert_eq!(verdict.headers["x-ratelimit-reset"], "86400;3600;3");
    }
}
