//! Reading configuration from the environment: the only module that looks at variables.
//!
//! Every binary builds its typed configuration once, at start-up, through an [`Env`]. A value
//! that does not parse stops the binary with a [`ConfigError`] naming the variable (exit code
//! [`EXIT_CONFIG`]). Tests pass a map instead of touching the process environment.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// Exit code for a configuration error (`EX_USAGE` from sysexits.h).
pub const EXIT_CONFIG: u8 = 64;

/// Where configuration values come from.
pub trait Env {
    /// The value of `key`, or `None` when unset. Empty values count as unset.
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned().filter(|v| !v.trim().is_empty())
    }
}

impl Env for HashMap<&str, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned().filter(|v| !v.trim().is_empty())
    }
}

/// A variable that is missing or does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    /// The variable's name.
    pub var: String,
    /// What is wrong with it (never its value when it is a secret).
    pub reason: String,
}

impl ConfigError {
    /// A new error about `var`.
    pub fn new(var: &str, reason: impl Into<String>) -> Self {
        Self {
            var: var.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A secret: its `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

// === impl Env helpers ===

/// Typed access to an [`Env`], with the variable's name in every error.
pub trait EnvExt: Env {
    /// An optional string.
    fn string(&self, key: &str) -> Option<String> {
        self.var(key).map(|v| v.trim().to_owned())
    }

    /// A string with a default.
    fn string_or(&self, key: &str, default: &str) -> String {
        self.string(key).unwrap_or_else(|| default.to_owned())
    }

    /// A required string.
    fn required(&self, key: &str) -> Result<String, ConfigError> {
        self.string(key)
            .ok_or_else(|| ConfigError::new(key, "is required but not set"))
    }

    /// An optional secret (not trimmed: whitespace may be part of it).
    fn secret(&self, key: &str) -> Option<Secret> {
        self.var(key).map(Secret::new)
    }

    /// A required secret.
    fn required_secret(&self, key: &str) -> Result<Secret, ConfigError> {
        self.secret(key)
            .ok_or_else(|| ConfigError::new(key, "is required but not set"))
    }

    /// Any `FromStr` value with a default.
    fn parse_or<T>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.string(key) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e| ConfigError::new(key, format!("cannot parse {raw:?}: {e}"))),
        }
    }

    /// A positive integer with a default.
    fn positive_or(&self, key: &str, default: u64) -> Result<u64, ConfigError> {
        let value: u64 = self.parse_or(key, default)?;
        if value == 0 {
            return Err(ConfigError::new(key, "must be greater than 0"));
        }
        Ok(value)
    }

    /// A duration in milliseconds (`*_MS` variables).
    fn millis_or(&self, key: &str, default_ms: u64) -> Result<Duration, ConfigError> {
        self.positive_or(key, default_ms).map(Duration::from_millis)
    }

    /// A duration in seconds (`*_SECONDS` variables).
    fn seconds_or(&self, key: &str, default_s: u64) -> Result<Duration, ConfigError> {
        self.positive_or(key, default_s).map(Duration::from_secs)
    }

    /// A socket address such as `0.0.0.0:8080`.
    fn listen_or(&self, key: &str, default: &str) -> Result<SocketAddr, ConfigError> {
        let raw = self.string_or(key, default);
        raw.parse()
            .map_err(|e| ConfigError::new(key, format!("not a host:port address ({raw:?}): {e}")))
    }

    /// A comma-separated list (empty items dropped).
    fn list(&self, key: &str) -> Vec<String> {
        self.string(key)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A boolean (`true/false/1/0/yes/no`).
    fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.string(key).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => Ok(false),
            Some(v) => Err(ConfigError::new(
                key,
                format!("expected true or false, got {v:?}"),
            )),
        }
    }
}

impl<E: Env + ?Sized> EnvExt for E {}

// === common settings ===

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines (local runs).
    Pretty,
}

/// Settings every binary has.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// `ADMIN_LISTEN`: address of `/livez`, `/readyz`, `/metrics`.
    pub admin_listen: SocketAddr,
    /// `SHUTDOWN_GRACE_SECONDS`: how long a drain may take after SIGTERM.
    pub shutdown_grace: Duration,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// The broker settings.
    pub amqp: crate::amqp::AmqpConfig,
}

impl CommonConfig {
    /// Read the common settings.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let log_format = match env
            .string_or("LOG_FORMAT", "json")
            .to_ascii_lowercase()
            .as_str()
        {
            "json" => LogFormat::Json,
            "pretty" | "text" => LogFormat::Pretty,
            other => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("expected json or pretty, got {other:?}"),
                ));
            }
        };
        Ok(Self {
            admin_listen: env.listen_or("ADMIN_LISTEN", "0.0.0.0:9090")?,
            shutdown_grace: env.seconds_or("SHUTDOWN_GRACE_SECONDS", 20)?,
            log_format,
            amqp: crate::amqp::AmqpConfig::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_display() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn a_bad_number_names_the_variable() {
        let e = env(&[("SHUTDOWN_GRACE_SECONDS", "soon")]);
        let err = CommonConfig::from_env(&e).expect_err("must fail");
        assert_eq!(err.var, "SHUTDOWN_GRACE_SECONDS");
    }

    #[test]
    fn zero_is_not_a_valid_duration() {
        let e = env(&[("SHUTDOWN_GRACE_SECONDS", "0")]);
        assert!(CommonConfig::from_env(&e).is_err());
    }

    #[test]
    fn defaults_apply_when_unset() {
        let c = CommonConfig::from_env(&env(&[])).expect("defaults are valid");
        assert_eq!(c.admin_listen.port(), 9090);
        assert_eq!(c.shutdown_grace, Duration::from_secs(20));
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.amqp.prefix, "");
    }

    #[test]
    fn lists_drop_empty_items() {
        let e = env(&[("X", " a, ,b ,")]);
        assert_eq!(e.list("X"), vec!["a", "b"]);
    }
}
