//! Command-line flags for the `sandbox` binary: `--foo-bar VALUE` (or `--foo-bar=VALUE`)
//! stands for `SANDBOX_FOO_BAR=VALUE` and wins over the environment.

use shared::config::{ConfigError, Env, EnvExt, LogFormat, ProcessEnv};
use std::collections::HashMap;
use std::io::Write as _;

/// `--help` text.
pub const USAGE: &str = "\
usage: sandbox [--NAME VALUE]...

Every flag --foo-bar VALUE stands for the variable SANDBOX_FOO_BAR=VALUE and wins over it;
--log-format stands for LOG_FORMAT (json or pretty). Common ones:
  --payscore-listen 127.0.0.1:18081   --entrata-listen 127.0.0.1:18082   --seed 1
  --ingest-url http://127.0.0.1:8080/webhooks/entrata
  --ingest-username U --ingest-password P --ingest-token T
  --faults '{\"payscore\":{\"create_group\":{\"error_rate\":0.3}}}'
The README (tests/sandbox/README.md) lists every variable and control route.";

/// Flags first, then the process environment.
#[derive(Debug, Default)]
pub struct FlagsThenEnv {
    flags: HashMap<String, String>,
    /// `--help` was given.
    pub help: bool,
}

impl FlagsThenEnv {
    /// Parse the arguments (without the program name).
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Self::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if arg == "--help" || arg == "-h" {
                parsed.help = true;
                continue;
            }
            let Some(flag) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => {
                    let value = args
                        .next()
                        .ok_or_else(|| format!("--{flag} needs a value"))?;
                    (flag.to_owned(), value)
                }
            };
            let key = name.replace('-', "_").to_ascii_uppercase();
            let key = if key == "LOG_FORMAT" {
                key
            } else {
                format!("SANDBOX_{key}")
            };
            parsed.flags.insert(key, value);
        }
        Ok(parsed)
    }
}

impl Env for FlagsThenEnv {
    fn var(&self, key: &str) -> Option<String> {
        self.flags
            .get(key)
            .cloned()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| ProcessEnv.var(key))
    }
}

/// `LOG_FORMAT`: `json` (default) or `pretty`.
pub fn log_format(env: &impl Env) -> Result<LogFormat, ConfigError> {
    match env
        .string_or("LOG_FORMAT", "json")
        .to_ascii_lowercase()
        .as_str()
    {
        "json" => Ok(LogFormat::Json),
        "pretty" | "text" => Ok(LogFormat::Pretty),
        other => Err(ConfigError::new(
            "LOG_FORMAT",
            format!("expected json or pretty, got {other:?}"),
        )),
    }
}

/// Print the `NAME=URL` lines a script or test reads, and flush them so it sees them at once.
///
/// Written in one locked write so log lines (also on stdout) never split them, and a reader
/// that closed its end of the pipe does not bring the simulators down.
pub fn print_urls(urls: &[(&str, String)]) {
    let text: String = urls
        .iter()
        .map(|(name, url)| format!("{name}={url}\n"))
        .collect();
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}
