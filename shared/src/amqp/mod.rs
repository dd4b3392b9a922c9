//! The AMQP layer: broker settings, the topology both binaries declare, the connection
//! supervisor and the confirmed publisher.

mod publisher;
mod supervisor;
mod topology;

pub use publisher::{Outgoing, PublishChannels, PublishError, Publisher, WhileBlocked};
pub use supervisor::{Session, SessionWatch, Supervisor, connection_name};
pub use topology::{DelayTier, Topology, WorkQueue};

use crate::config::{ConfigError, Env, EnvExt, Secret};
use std::time::Duration;

/// Broker settings, shared by every binary.
#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// `AMQP_URL` (a secret: it usually carries a password).
    pub url: Secret,
    /// `AMQP_PREFIX`, prepended verbatim to every exchange and queue name.
    pub prefix: String,
    /// `AMQP_HEARTBEAT_SECONDS` (default 15; RabbitMQ calls 5–20 s optimal).
    pub heartbeat: u16,
    /// `AMQP_RECONNECT_MAX_MS`: the cap of the reconnect backoff (default 10 000).
    pub reconnect_max: Duration,
    /// `AMQP_DELIVERY_LIMIT`: quorum `x-delivery-limit` of the work queues (default 100): the
    /// broker's backstop, above the worker's own cap (`WORKER_MAX_RUNS`), because every
    /// RabbitMQ version counts a delivery returned by a closed connection.
    pub delivery_limit: u32,
    /// `AMQP_PUBLISH_CHANNELS`: confirm-mode channels shared by all publishers (default 64).
    pub publish_channels: usize,
    /// `AMQP_PUBLISH_BATCH`: the most messages a publish channel has unconfirmed at once
    /// (default 64; 1 confirms every message on its own).
    pub publish_batch: usize,
    /// Delays of the wait queues, from `RETRY_SCHEDULE` and the report-check schedule.
    pub delay_tiers: Vec<Duration>,
}

/// Default `RETRY_SCHEDULE`: 8 delayed retries over ≈ 32.7 h (≥ 26 h with the most negative jitter), after the first attempt.
pub const DEFAULT_RETRY_SCHEDULE: &str = "30s,2m,10m,30m,2h,6h,12h,12h";
/// Default `REPORT_CHECK_SCHEDULE`: the checks after the first, the last one repeating.
pub const DEFAULT_REPORT_CHECK_SCHEDULE: &str = "2h,4h,8h,12h,24h";
/// Default `REPORT_CHECK_FIRST_DELAY`.
pub const DEFAULT_REPORT_CHECK_FIRST_DELAY: &str = "1h";

impl AmqpConfig {
    /// Read the broker settings.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let url = env
            .secret("AMQP_URL")
            .unwrap_or_else(|| Secret::new("amqp://guest:guest@127.0.0.1:5672/%2f"));
        if !(url.expose().starts_with("amqp://") || url.expose().starts_with("amqps://")) {
            return Err(ConfigError::new(
                "AMQP_URL",
                "must start with amqp:// or amqps://",
            ));
        }
        if url.expose().parse::<lapin::uri::AMQPUri>().is_err() {
            return Err(ConfigError::new("AMQP_URL", "is not a valid AMQP URI"));
        }
        let prefix = env.string_or("AMQP_PREFIX", "");
        if prefix.len() > 100 || prefix.chars().any(|c| c.is_whitespace()) {
            return Err(ConfigError::new(
                "AMQP_PREFIX",
                "must be at most 100 characters without spaces",
            ));
        }
        let heartbeat: u16 = env.parse_or("AMQP_HEARTBEAT_SECONDS", 15)?;
        let delivery_limit: u32 = env.parse_or("AMQP_DELIVERY_LIMIT", 100)?;
        if delivery_limit == 0 {
            return Err(ConfigError::new(
                "AMQP_DELIVERY_LIMIT",
                "must be greater than 0",
            ));
        }
        let publish_channels = env.positive_or("AMQP_PUBLISH_CHANNELS", 64)? as usize;
        if publish_channels > 64 {
            return Err(ConfigError::new(
                "AMQP_PUBLISH_CHANNELS",
                "must be at most 64",
            ));
        }
        let publish_batch = env.positive_or("AMQP_PUBLISH_BATCH", 64)? as usize;
        if publish_batch > 1024 {
            return Err(ConfigError::new(
                "AMQP_PUBLISH_BATCH",
                "must be at most 1024",
            ));
        }
        let mut delay_tiers = durations(env, "RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE)?;
        delay_tiers.extend(durations(
            env,
            "REPORT_CHECK_FIRST_DELAY",
            DEFAULT_REPORT_CHECK_FIRST_DELAY,
        )?);
        delay_tiers.extend(durations(
            env,
            "REPORT_CHECK_SCHEDULE",
            DEFAULT_REPORT_CHECK_SCHEDULE,
        )?);
        delay_tiers.sort();
        delay_tiers.dedup();
        Ok(Self {
            url,
            prefix,
            heartbeat,
            reconnect_max: env.millis_or("AMQP_RECONNECT_MAX_MS", 10_000)?,
            delivery_limit,
            publish_channels,
            publish_batch,
            delay_tiers,
        })
    }

    /// The names and arguments of everything this configuration declares.
    pub fn topology(&self) -> Topology {
        Topology::new(&self.prefix, self.delivery_limit, &self.delay_tiers)
    }
}

/// A comma-separated list of durations such as `30s,2m,1h`, each positive.
pub fn durations(env: &impl Env, key: &str, default: &str) -> Result<Vec<Duration>, ConfigError> {
    let raw = env.string_or(key, default);
    let list: Vec<Duration> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            parse_duration(item).ok_or_else(|| {
                ConfigError::new(
                    key,
                    format!("{item:?} is not a duration such as 500ms, 30s, 2m, 1h or 1d"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err(ConfigError::new(key, "needs at least one duration"));
    }
    Ok(list)
}

/// Parse `500ms`, `30s`, `2m`, `1h`, `1d` (a positive whole number and a unit).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let ms = match unit {
        "ms" => n,
        "s" => n.checked_mul(1_000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

/// The shortest label for a duration, as used in wait-queue names (`30s`, `2m`, `1500ms`).
pub fn duration_label(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn durations_parse_and_label_round_trip() {
        for s in ["500ms", "30s", "2m", "1h", "1d", "1500ms", "90m"] {
            let d = parse_duration(s).expect(s);
            assert_eq!(parse_duration(&duration_label(d)), Some(d));
        }
        assert_eq!(duration_label(Duration::from_secs(120)), "2m");
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("5w"), None);
    }

    #[test]
    fn default_tiers_cover_retries_and_report_checks() {
        let c = AmqpConfig::from_env(&HashMap::<String, String>::new()).expect("defaults");
        let labels: Vec<_> = c.delay_tiers.iter().map(|d| duration_label(*d)).collect();
        assert_eq!(
            labels,
            [
                "30s", "2m", "10m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d"
            ]
        );
    }

    #[test]
    fn a_bad_schedule_names_the_variable() {
        let env: HashMap<String, String> =
            [("RETRY_SCHEDULE".to_owned(), "30s,soon".to_owned())].into();
        let err = AmqpConfig::from_env(&env).expect_err("must fail");
        assert_eq!(err.var, "RETRY_SCHEDULE");
    }

    #[test]
    fn publish_pool_sizes_default_and_are_bounded() {
        let c = AmqpConfig::from_env(&HashMap::<String, String>::new()).expect("defaults");
        assert_eq!((c.publish_channels, c.publish_batch), (64, 64));
        for (var, value) in [
            ("AMQP_PUBLISH_BATCH", "0"),
            ("AMQP_PUBLISH_BATCH", "1025"),
            ("AMQP_PUBLISH_CHANNELS", "65"),
        ] {
            let env: HashMap<String, String> = [(var.to_owned(), value.to_owned())].into();
            assert_eq!(AmqpConfig::from_env(&env).expect_err(value).var, var);
        }
        let env: HashMap<String, String> =
            [("AMQP_PUBLISH_BATCH".to_owned(), "1".to_owned())].into();
        assert_eq!(AmqpConfig::from_env(&env).expect("1").publish_batch, 1);
    }

    #[test]
    fn the_url_is_validated_and_redacted() {
        let env: HashMap<String, String> = [("AMQP_URL".to_owned(), "http://x".to_owned())].into();
        assert_eq!(AmqpConfig::from_env(&env).expect_err("bad").var, "AMQP_URL");
        let ok = AmqpConfig::from_env(&HashMap::<String, String>::new()).expect("default");
        assert!(!format!("{ok:?}").contains("guest"));
    }
}
