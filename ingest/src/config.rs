//! Ingest's configuration, read once from the environment.

use ipnet::IpNet;
use shared::config::{CommonConfig, ConfigError, Env, EnvExt, Secret};
use std::net::SocketAddr;
use std::time::Duration;

/// Everything `ingest` needs.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Admin port, shutdown, logs, broker.
    pub common: CommonConfig,
    /// `INGEST_LISTEN`: the public webhook port.
    pub listen: SocketAddr,
    /// How Entrata deliveries are authenticated.
    pub entrata: EntrataAuthConfig,
    /// `PAYSCORE_WEBHOOK_SECRET`: HMAC key of `Verification-Signature`.
    pub payscore_secret: Secret,
    /// `INGEST_MAX_BODY_BYTES` (default 1 MiB).
    pub max_body_bytes: usize,
    /// `INGEST_CONFIRM_TIMEOUT_MS` (default 5000).
    pub confirm_timeout: Duration,
    /// `INGEST_PUBLISH_WAIT_MS`: the longest a request waits for a publish channel to take its
    /// message before 503 (default: `INGEST_CONFIRM_TIMEOUT_MS`).
    pub publish_wait: Duration,
    /// `INGEST_REQUEST_TIMEOUT_MS`: the longest a client may take to send its body (default 10 000).
    pub request_timeout: Duration,
    /// `INGEST_MAX_CONCURRENT_REQUESTS`: requests over this get 503 at once (default 256).
    pub max_concurrent_requests: usize,
    /// `INGEST_RETRY_AFTER_SECONDS`: the `Retry-After` of every 503 (default 5).
    pub retry_after: Duration,
}

/// Entrata delivery authentication. Any configured credential (Basic or token) lets a
/// request in; the IP allow-list, when set, applies on top.
#[derive(Debug, Clone)]
pub struct EntrataAuthConfig {
    /// `ENTRATA_WEBHOOK_USERNAME` / `ENTRATA_WEBHOOK_PASSWORD`.
    pub basic: Option<(String, Secret)>,
    /// `ENTRATA_WEBHOOK_TOKEN`: header `X-Webhook-Token` or query `token`.
    pub token: Option<Secret>,
    /// `ENTRATA_WEBHOOK_ALLOWED_IPS`: comma-separated CIDRs; empty = any address.
    pub allowed_ips: Vec<IpNet>,
    /// `INGEST_TRUSTED_PROXIES`: comma-separated CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `ENTRATA_WEBHOOK_AUTH=none`: deliveries need no credentials.
    pub explicitly_open: bool,
}

impl IngestConfig {
    /// Read and validate the configuration.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        let max_body_bytes = env.positive_or("INGEST_MAX_BODY_BYTES", 1024 * 1024)?;
        let confirm_timeout = env.millis_or("INGEST_CONFIRM_TIMEOUT_MS", 5_000)?;
        Ok(Self {
            common,
            listen: env.listen_or("INGEST_LISTEN", "0.0.0.0:8080")?,
            entrata: EntrataAuthConfig::from_env(env)?,
            payscore_secret: env.required_secret("PAYSCORE_WEBHOOK_SECRET")?,
            max_body_bytes: usize::try_from(max_body_bytes)
                .map_err(|_| ConfigError::new("INGEST_MAX_BODY_BYTES", "is too large"))?,
            confirm_timeout,
            publish_wait: env.millis_or(
                "INGEST_PUBLISH_WAIT_MS",
                u64::try_from(confirm_timeout.as_millis()).unwrap_or(u64::MAX),
            )?,
            request_timeout: env.millis_or("INGEST_REQUEST_TIMEOUT_MS", 10_000)?,
            max_concurrent_requests: env.positive_or("INGEST_MAX_CONCURRENT_REQUESTS", 256)?
                as usize,
            retry_after: env.seconds_or("INGEST_RETRY_AFTER_SECONDS", 5)?,
        })
    }
}

impl EntrataAuthConfig {
    fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let username = env.string("ENTRATA_WEBHOOK_USERNAME");
        let password = env.secret("ENTRATA_WEBHOOK_PASSWORD");
        let basic = match (username, password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "ENTRATA_WEBHOOK_PASSWORD",
                    "is required when ENTRATA_WEBHOOK_USERNAME is set",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "ENTRATA_WEBHOOK_USERNAME",
                    "is required when ENTRATA_WEBHOOK_PASSWORD is set",
                ));
            }
        };
        let token = env.secret("ENTRATA_WEBHOOK_TOKEN");
        let explicitly_open = match env.string("ENTRATA_WEBHOOK_AUTH").as_deref() {
            None => false,
            Some("none") => true,
            Some(other) => {
                return Err(ConfigError::new(
                    "ENTRATA_WEBHOOK_AUTH",
                    format!("the only accepted value is \"none\", got {other:?}"),
                ));
            }
        };
        if explicitly_open && (basic.is_some() || token.is_some()) {
            return Err(ConfigError::new(
                "ENTRATA_WEBHOOK_AUTH",
                "is \"none\" but Entrata credentials are configured too; remove one",
            ));
        }
        if !explicitly_open && basic.is_none() && token.is_none() {
            return Err(ConfigError::new(
                "ENTRATA_WEBHOOK_AUTH",
                "no Entrata webhook authentication is configured: set ENTRATA_WEBHOOK_USERNAME and \
                 ENTRATA_WEBHOOK_PASSWORD, or ENTRATA_WEBHOOK_TOKEN, or ENTRATA_WEBHOOK_AUTH=none \
                 to accept unauthenticated deliveries",
            ));
        }
        Ok(Self {
            basic,
            token,
            allowed_ips: cidrs(env, "ENTRATA_WEBHOOK_ALLOWED_IPS")?,
            trusted_proxies: cidrs(env, "INGEST_TRUSTED_PROXIES")?,
            explicitly_open,
        })
    }
}

/// Comma-separated CIDRs; a bare address means that one address.
fn cidrs(env: &impl Env, key: &str) -> Result<Vec<IpNet>, ConfigError> {
    env.list(key)
        .into_iter()
        .map(|item| {
            item.parse::<IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError::new(key, format!("{item:?} is not an address or CIDR")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        let mut map: HashMap<&'static str, String> =
            [("PAYSCORE_WEBHOOK_SECRET", "s".to_owned())].into();
        map.extend(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())));
        map
    }

    fn error_var(pairs: &[(&'static str, &str)]) -> String {
        IngestConfig::from_env(&env(pairs))
            .expect_err("must fail")
            .var
    }

    #[test]
    fn the_publish_wait_defaults_to_the_confirm_timeout_and_may_be_set_apart() {
        let open = [("ENTRATA_WEBHOOK_AUTH", "none")];
        let config = IngestConfig::from_env(&env(&open)).expect("defaults");
        assert_eq!(config.publish_wait, config.confirm_timeout);
        let config =
            IngestConfig::from_env(&env(&[open[0], ("INGEST_CONFIRM_TIMEOUT_MS", "3000")]))
                .expect("confirm timeout");
        assert_eq!(config.publish_wait, Duration::from_millis(3000));
        let config = IngestConfig::from_env(&env(&[
            open[0],
            ("INGEST_CONFIRM_TIMEOUT_MS", "3000"),
            ("INGEST_PUBLISH_WAIT_MS", "200"),
        ]))
        .expect("both");
        assert_eq!(config.publish_wait, Duration::from_millis(200));
        assert_eq!(config.confirm_timeout, Duration::from_millis(3000));
        assert_eq!(
            error_var(&[open[0], ("INGEST_PUBLISH_WAIT_MS", "0")]),
            "INGEST_PUBLISH_WAIT_MS"
        );
    }

    #[test]
    fn no_entrata_authentication_is_refused_unless_explicit() {
        assert_eq!(error_var(&[]), "ENTRATA_WEBHOOK_AUTH");
        let open = IngestConfig::from_env(&env(&[("ENTRATA_WEBHOOK_AUTH", "none")])).expect("ok");
        assert!(open.entrata.explicitly_open);
    }

    #[test]
    fn half_of_basic_auth_is_an_error() {
        assert_eq!(
            error_var(&[("ENTRATA_WEBHOOK_USERNAME", "u")]),
            "ENTRATA_WEBHOOK_PASSWORD"
        );
    }

    #[test]
    fn the_payscore_secret_is_required() {
        let mut e = env(&[("ENTRATA_WEBHOOK_TOKEN", "t")]);
        e.remove("PAYSCORE_WEBHOOK_SECRET");
        assert_eq!(
            IngestConfig::from_env(&e).expect_err("fail").var,
            "PAYSCORE_WEBHOOK_SECRET"
        );
    }

    #[test]
    fn cidrs_and_bare_addresses_parse() {
        let c = IngestConfig::from_env(&env(&[
            ("ENTRATA_WEBHOOK_TOKEN", "t"),
            ("ENTRATA_WEBHOOK_ALLOWED_IPS", "10.0.0.0/8, 192.168.1.7"),
        ]))
        .expect("ok");
        assert_eq!(c.entrata.allowed_ips.len(), 2);
        assert_eq!(
            error_var(&[
                ("ENTRATA_WEBHOOK_TOKEN", "t"),
                ("INGEST_TRUSTED_PROXIES", "nope")
            ]),
            "INGEST_TRUSTED_PROXIES"
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let c = IngestConfig::from_env(&env(&[
            ("ENTRATA_WEBHOOK_USERNAME", "user"),
            ("ENTRATA_WEBHOOK_PASSWORD", "pa55word"),
            ("ENTRATA_WEBHOOK_TOKEN", "tok3n"),
        ]))
        .expect("ok");
        let debug = format!("{c:?}");
        assert!(!debug.contains("pa55word") && !debug.contains("tok3n"));
    }
}
