//! Entrata's rate limits, read from `X-RateLimit-Remaining` and `X-RateLimit-Reset`: each
//! service has day, hour and minute windows, and header case varies, so nothing is hard-coded.

use std::time::Duration;

/// How long until a spent `X-RateLimit-*` window resets, if one is spent.
/// `X-RateLimit-Remaining: 14996/DAY;999/HOUR;0/MINUTE` with `X-RateLimit-Reset: 36686;686;26`.
pub fn spent_budget(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let remaining = get("x-ratelimit-remaining")?;
    let reset = get("x-ratelimit-reset").unwrap_or_default();
    let resets: Vec<u64> = reset
        .split(';')
        .map(|r| {
            r.trim()
                .split('/')
                .next()
                .unwrap_or("")
                .trim()
                .parse()
                .unwrap_or(60)
        })
        .collect();
    remaining
        .split(';')
        .enumerate()
        .filter(|(_, r)| {
            r.trim()
                .split('/')
                .next()
                .and_then(|n| n.trim().parse::<i64>().ok())
                == Some(0)
        })
        .map(|(i, _)| Duration::from_secs(resets.get(i).copied().unwrap_or(60).max(1)))
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(remaining: &str, reset: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "X-RateLimit-Remaining",
            HeaderValue::from_str(remaining).expect("value"),
        );
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(reset).expect("value"),
        );
        h
    }

    #[test]
    fn a_spent_window_waits_for_its_own_reset() {
        assert_eq!(
            spent_budget(&headers("14996/DAY;999/HOUR;149/MINUTE", "36686;686;26")),
            None
        );
        assert_eq!(
            spent_budget(&headers("14996/DAY;999/HOUR;0/MINUTE", "36686;686;26")),
            Some(Duration::from_secs(26))
        );
        assert_eq!(
            spent_budget(&headers("0/day;0/hour;0/minute", "36686;686;26")),
            Some(Duration::from_secs(36686)),
            "the longest spent window wins"
        );
        assert_eq!(spent_budget(&HeaderMap::new()), None);
    }
}
