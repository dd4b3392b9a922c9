//! The ledger's settings: `DATABASE_URL` and the `LEDGER_*` variables.

use shared::config::{ConfigError, Env, EnvExt, Secret};
use std::str::FromStr;
use std::time::Duration;

/// Everything the ledger needs.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// `DATABASE_URL` (a `postgres://` URL or a libpq key=value string); a secret, since it
    /// usually carries the password.
    pub url: Secret,
    /// `LEDGER_POOL_SIZE`: connections per process (default 16). Each in-flight job holds one
    /// only for the length of a query.
    pub pool_size: usize,
    /// `LEDGER_CLAIM_TTL_SECONDS` (default 30): a claim whose holder stops renewing it (killed,
    /// cut off from the database) can be taken over this long after its last renewal.
    pub claim_ttl: Duration,
    /// `LEDGER_RETENTION_DAYS` (default 90): journal entries older than this are purged daily.
    pub retention_days: u32,
    /// `LEDGER_CONNECT_TIMEOUT_MS` (default 5000).
    pub connect_timeout: Duration,
    /// `LEDGER_RELAXED_COMMITS` (default true): the journal and the delivery-run counter are
    /// written on connections with `synchronous_commit = off` (set as a startup option, which
    /// PgBouncer accepts only with `ignore_startup_parameters = options`; set false there).
    pub relaxed_commits: bool,
}

impl LedgerConfig {
    /// Read and validate.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let url = env.required_secret("DATABASE_URL")?;
        tokio_postgres::Config::from_str(url.expose()).map_err(|_| {
            ConfigError::new(
                "DATABASE_URL",
                "not a PostgreSQL URL (postgres://user:password@host:5432/database)",
            )
        })?;
        let pool_size: usize = env.parse_or("LEDGER_POOL_SIZE", 16)?;
        if pool_size == 0 {
            return Err(ConfigError::new(
                "LEDGER_POOL_SIZE",
                "must be greater than 0",
            ));
        }
        let claim_ttl = env.seconds_or("LEDGER_CLAIM_TTL_SECONDS", 30)?;
        if claim_ttl < Duration::from_secs(3) {
            return Err(ConfigError::new(
                "LEDGER_CLAIM_TTL_SECONDS",
                "must be at least 3",
            ));
        }
        Ok(Self {
            url,
            pool_size,
            claim_ttl,
            retention_days: env.parse_or("LEDGER_RETENTION_DAYS", 90)?,
            connect_timeout: env.millis_or("LEDGER_CONNECT_TIMEOUT_MS", 5_000)?,
            relaxed_commits: env.bool_or("LEDGER_RELAXED_COMMITS", true)?,
        })
    }

    /// The driver's configuration (checked in [`LedgerConfig::from_env`]).
    pub fn pg_config(&self) -> tokio_postgres::Config {
        tokio_postgres::Config::from_str(self.url.expose()).expect("checked at start")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn a_missing_or_bad_url_names_the_variable() {
        let missing = LedgerConfig::from_env(&env(&[])).expect_err("required");
        assert_eq!(missing.var, "DATABASE_URL");
        let bad = LedgerConfig::from_env(&env(&[(
            "DATABASE_URL",
            "postgres://a:secretword@db:port/x",
        )]))
        .expect_err("not a URL");
        assert_eq!(bad.var, "DATABASE_URL");
        assert!(
            !bad.reason.contains("secretword"),
            "the value is never echoed"
        );
    }

    #[test]
    fn defaults_apply() {
        let config =
            LedgerConfig::from_env(&env(&[("DATABASE_URL", "postgres://u:p@db:5432/fleet")]))
                .expect("valid");
        assert_eq!(config.pool_size, 16);
        assert_eq!(config.claim_ttl, Duration::from_secs(30));
        assert_eq!(config.retention_days, 90);
        assert!(
            !format!("{config:?}").contains(":p@"),
            "the password is redacted"
        );
    }
}
