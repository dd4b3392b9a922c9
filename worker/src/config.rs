//! The worker's configuration, read once from the environment.

use crate::ledger::LedgerConfig;
use crate::properties::{Properties, Verification};
use shared::amqp::{
    self, DEFAULT_REPORT_CHECK_FIRST_DELAY, DEFAULT_REPORT_CHECK_SCHEDULE, DEFAULT_RETRY_SCHEDULE,
};
use shared::config::{CommonConfig, ConfigError, Env, EnvExt, Secret};
use shared::retry::RetryPolicy;
use std::time::Duration;

/// How to find an existing screening group by correlation id (DESIGN.md invariant 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// `GET /api/v1/applicant_groups?correlation_id=` (documented v2 list).
    ApplicantGroups,
    /// `GET /api/v1/screening_groups?correlation_id=` (assumed v1 filter).
    ScreeningGroups,
    /// No lookup: an unknown create outcome is dead-lettered (`create_outcome_unknown`) for an
    /// operator, and a 409 on create is retried until it exhausts the schedule.
    None,
}

/// Everything `worker` needs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Admin port, shutdown, logs, broker.
    pub common: CommonConfig,
    /// `ENTRATA_API_BASE_URL`, without a trailing slash.
    pub entrata_base_url: String,
    /// `ENTRATA_API_KEY`.
    pub entrata_api_key: Secret,
    /// `ENTRATA_TIMEOUT_MS` (default 15 000).
    pub entrata_timeout: Duration,
    /// `ENTRATA_PAGE_SIZE` (default 100): `per_page` of Entrata's paginated reads.
    pub entrata_page_size: u32,
    /// `ENTRATA_PROPERTY_CACHE_SECONDS` (default 600).
    pub property_cache_ttl: Duration,
    /// `PAYSCORE_API_BASE_URL`, without a trailing slash.
    pub payscore_base_url: String,
    /// `PAYSCORE_CLIENT_ID`.
    pub payscore_client_id: String,
    /// `PAYSCORE_SECRET_KEY`.
    pub payscore_secret_key: Secret,
    /// `PAYSCORE_TIMEOUT_MS` (default 15 000).
    pub payscore_timeout: Duration,
    /// `PAYSCORE_TOKEN_REFRESH_SECONDS`: token age at which it is renewed (default 1500).
    pub payscore_token_refresh: Duration,
    /// `PAYSCORE_LOOKUP`.
    pub lookup: Lookup,
    /// `PAYSCORE_LOOKUP_SETTLE` (default 2m): how old an unanswered create must be before a
    /// lookup that does not show its group is believed (Payscore's lists may lag).
    pub lookup_settle: Duration,
    /// `DATABASE_URL` and `LEDGER_*`.
    pub ledger: LedgerConfig,
    /// `PUBLIC_BASE_URL`, without a trailing slash.
    pub public_base_url: String,
    /// `PROPERTIES_FILE`, parsed.
    pub properties: Properties,
    /// `SCREENING_TRIGGER_EVENTS`, normalised (`*` = any event).
    pub trigger_events: Vec<String>,
    /// `ENTRATA_PROPERTY_ID_PATHS`, `ENTRATA_APPLICATION_ID_PATHS`, `ENTRATA_EVENT_TYPE_PATHS`.
    pub payload_paths: PayloadPaths,
    /// `PHONE_DEFAULT_COUNTRY_CODE` (default 1).
    pub phone_country_code: u16,
    /// `PAYSCORE_V2_VERIFICATION_TYPES`: the wire name of each verification a v2 property may
    /// ask for (the reference confirms only `asset_verification`).
    pub verification_types: std::collections::BTreeMap<Verification, String>,
    /// `PAYSCORE_MONTHLY_RENT`: `required` (default: the current v1 page requires it; an
    /// application without rent is dead-lettered as `rent_unknown` before any call) or
    /// `optional` (an older page: left out, and the multiplier is not calculated).
    pub rent_required: bool,
    /// `WORKER_PREFETCH`: unacknowledged `screenings` deliveries per process (default 32).
    pub prefetch: u16,
    /// `WORKER_REPORTS_PREFETCH`: unacknowledged `reports` deliveries per process (default 8;
    /// each may hold a report of up to `REPORT_MAX_BYTES` in memory).
    pub reports_prefetch: u16,
    /// `WORKER_MAX_RUNS`: runs of one copy of a message that may end without settling it (a
    /// panic, a worker lost mid-job, an outcome the broker would not store) before the worker
    /// dead-letters it as `delivery_limit` (default 5).
    pub max_runs: u32,
    /// `WORKER_INPROCESS_RETRIES`: quick retries before a message goes to a wait queue (default 1).
    pub in_process_retries: usize,
    /// `WORKER_INPROCESS_MAX_WAIT_MS`: longest `Retry-After` waited out in process (default 5000).
    pub in_process_max_wait: Duration,
    /// `RETRY_SCHEDULE` and `RETRY_JITTER_PERCENT`.
    pub retry: RetryPolicy,
    /// `REPORT_CHECK_FIRST_DELAY`.
    pub report_check_first_delay: Duration,
    /// `REPORT_CHECK_SCHEDULE`.
    pub report_check_schedule: Vec<Duration>,
    /// `REPORT_CHECK_MAX_AGE`: checks stop when the group is this old (default 14d, Payscore's expiry).
    pub report_check_max_age: Duration,
    /// `REPORT_MAX_BYTES`: larger report downloads are refused (default 20 MiB).
    pub report_max_bytes: usize,
}

/// Where the Entrata webhook keeps the fields the worker needs (dotted paths, first match wins).
#[derive(Debug, Clone)]
pub struct PayloadPaths {
    /// Property id paths.
    pub property_id: Vec<String>,
    /// Application id paths.
    pub application_id: Vec<String>,
    /// Event type paths.
    pub event_type: Vec<String>,
}

impl WorkerConfig {
    /// Read and validate the configuration.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        let lookup = match env
            .string_or("PAYSCORE_LOOKUP", "applicant_groups")
            .as_str()
        {
            "applicant_groups" => Lookup::ApplicantGroups,
            "screening_groups" => Lookup::ScreeningGroups,
            "none" => Lookup::None,
            other => {
                return Err(ConfigError::new(
                    "PAYSCORE_LOOKUP",
                    format!("expected applicant_groups, screening_groups or none, got {other:?}"),
                ));
            }
        };
        let rent_required = match env.string_or("PAYSCORE_MONTHLY_RENT", "required").as_str() {
            "required" => true,
            "optional" => false,
            other => {
                return Err(ConfigError::new(
                    "PAYSCORE_MONTHLY_RENT",
                    format!("expected required or optional, got {other:?}"),
                ));
            }
        };
        let jitter_percent: u8 = env.parse_or("RETRY_JITTER_PERCENT", 20)?;
        if jitter_percent > 25 {
            return Err(ConfigError::new(
                "RETRY_JITTER_PERCENT",
                "must be between 0 and 25",
            ));
        }
        let prefetch: u16 = env.parse_or("WORKER_PREFETCH", 32)?;
        if prefetch == 0 {
            return Err(ConfigError::new(
                "WORKER_PREFETCH",
                "must be greater than 0",
            ));
        }
        let max_runs: u32 = env.parse_or("WORKER_MAX_RUNS", 5)?;
        if max_runs == 0 {
            return Err(ConfigError::new("WORKER_MAX_RUNS", "must be at least 1"));
        }
        let reports_prefetch: u16 = env.parse_or("WORKER_REPORTS_PREFETCH", 8)?;
        if reports_prefetch == 0 {
            return Err(ConfigError::new(
                "WORKER_REPORTS_PREFETCH",
                "must be greater than 0",
            ));
        }
        let trigger_events: Vec<String> = {
            let raw = env.list("SCREENING_TRIGGER_EVENTS");
            let raw = if raw.is_empty() {
                vec![
                    "ApplicationSubmitted".to_owned(),
                    "ApplicationCompleted".to_owned(),
                ]
            } else {
                raw
            };
            raw.iter().map(|e| normalise_event(e)).collect()
        };
        let properties_path = env.required("PROPERTIES_FILE")?;
        let properties = Properties::load(&properties_path)
            .map_err(|e| ConfigError::new("PROPERTIES_FILE", e.to_string()))?;
        let topology = common.amqp.topology();
        let ledger = LedgerConfig::from_env(env)?;
        let entrata_timeout = env.millis_or("ENTRATA_TIMEOUT_MS", 15_000)?;
        let payscore_timeout = env.millis_or("PAYSCORE_TIMEOUT_MS", 15_000)?;
        // A fenced claim has a full TTL left when a create or upload starts: the call must
        // end (answered or timed out) well before anyone else could take the claim over.
        let longest_call = entrata_timeout.max(payscore_timeout) + Duration::from_secs(5);
        if ledger.claim_ttl < longest_call {
            return Err(ConfigError::new(
                "LEDGER_CLAIM_TTL_SECONDS",
                format!(
                    "must be at least {} s: the longest downstream timeout \
                     (ENTRATA_TIMEOUT_MS, PAYSCORE_TIMEOUT_MS) plus 5 s",
                    longest_call.as_secs()
                ),
            ));
        }
        Ok(Self {
            entrata_base_url: url(env, "ENTRATA_API_BASE_URL")?,
            entrata_api_key: env.required_secret("ENTRATA_API_KEY")?,
            entrata_timeout,
            entrata_page_size: u32::try_from(env.positive_or("ENTRATA_PAGE_SIZE", 100)?.min(1000))
                .unwrap_or(100),
            property_cache_ttl: env.seconds_or("ENTRATA_PROPERTY_CACHE_SECONDS", 600)?,
            payscore_base_url: url(env, "PAYSCORE_API_BASE_URL")?,
            payscore_client_id: env.required("PAYSCORE_CLIENT_ID")?,
            payscore_secret_key: env.required_secret("PAYSCORE_SECRET_KEY")?,
            payscore_timeout,
            payscore_token_refresh: env.seconds_or("PAYSCORE_TOKEN_REFRESH_SECONDS", 1500)?,
            lookup,
            lookup_settle: amqp::durations(env, "PAYSCORE_LOOKUP_SETTLE", "2m")?[0],
            ledger,
            public_base_url: url(env, "PUBLIC_BASE_URL")?,
            properties,
            trigger_events,
            payload_paths: PayloadPaths {
                property_id: paths(
                    env,
                    "ENTRATA_PROPERTY_ID_PATHS",
                    "propertyId,property_id,PropertyId,PropertyID,property.id,data.propertyId,data.property_id,payload.propertyId,application.propertyId",
                ),
                application_id: paths(
                    env,
                    "ENTRATA_APPLICATION_ID_PATHS",
                    "applicationId,application_id,ApplicationId,ApplicationID,application.id,data.applicationId,data.application_id,payload.applicationId,leadId",
                ),
                event_type: paths(
                    env,
                    "ENTRATA_EVENT_TYPE_PATHS",
                    "eventType,event_type,EventType,event.type,eventName,event,type,data.eventType,payload.eventType",
                ),
            },
            phone_country_code: env.parse_or("PHONE_DEFAULT_COUNTRY_CODE", 1)?,
            verification_types: verification_types(env)?,
            rent_required,
            prefetch,
            reports_prefetch,
            max_runs,
            in_process_retries: env.parse_or("WORKER_INPROCESS_RETRIES", 1)?,
            in_process_max_wait: env.millis_or("WORKER_INPROCESS_MAX_WAIT_MS", 5_000)?,
            retry: RetryPolicy {
                schedule: amqp::durations(env, "RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE)?,
                jitter: f64::from(jitter_percent) / 100.0,
                max_delay: topology.max_delay(),
                overload_min: amqp::durations(env, "RETRY_OVERLOAD_MIN", "60s")?[0],
            },
            report_check_first_delay: amqp::durations(
                env,
                "REPORT_CHECK_FIRST_DELAY",
                DEFAULT_REPORT_CHECK_FIRST_DELAY,
            )?[0],
            report_check_schedule: amqp::durations(
                env,
                "REPORT_CHECK_SCHEDULE",
                DEFAULT_REPORT_CHECK_SCHEDULE,
            )?,
            report_check_max_age: amqp::durations(env, "REPORT_CHECK_MAX_AGE", "14d")?[0],
            report_max_bytes: env.positive_or("REPORT_MAX_BYTES", 20 * 1024 * 1024)? as usize,
            common,
        })
    }
}

/// `PAYSCORE_V2_VERIFICATION_TYPES`: `income=…,identity=…,asset=…`; a name left out keeps its
/// default wire name (`income_verification`, `identity_verification`, `asset_verification`).
fn verification_types(
    env: &impl Env,
) -> Result<std::collections::BTreeMap<Verification, String>, ConfigError> {
    const KEY: &str = "PAYSCORE_V2_VERIFICATION_TYPES";
    let mut types: std::collections::BTreeMap<Verification, String> = Verification::ALL
        .into_iter()
        .map(|v| (v, format!("{}_verification", v.as_str())))
        .collect();
    for item in env.list(KEY) {
        let (name, wire) = item.split_once('=').ok_or_else(|| {
            ConfigError::new(
                KEY,
                "each entry must read name=wire_name, e.g. income=income_verification",
            )
        })?;
        let verification = Verification::parse(name)
            .ok_or_else(|| ConfigError::new(KEY, "names are income, identity and asset"))?;
        let wire = wire.trim();
        if wire.is_empty() {
            return Err(ConfigError::new(KEY, "a wire name must not be empty"));
        }
        types.insert(verification, wire.to_owned());
    }
    Ok(types)
}

/// Event names compare without case or punctuation: `ApplicationSubmitted`,
/// `application.submitted` and `Application Submitted` are the same event.
pub fn normalise_event(name: &str) -> String {
    if name.trim() == "*" {
        return "*".to_owned();
    }
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn url(env: &impl Env, key: &str) -> Result<String, ConfigError> {
    let raw = env.required(key)?;
    if !(raw.starts_with("http://") || raw.starts_with("https://")) {
        return Err(ConfigError::new(key, "must start with http:// or https://"));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn paths(env: &impl Env, key: &str, default: &str) -> Vec<String> {
    let list = env.list(key);
    if list.is_empty() {
        default.split(',').map(str::to_owned).collect()
    } else {
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn verification_wire_names_default_and_can_be_renamed_one_by_one() {
        let defaults = verification_types(&HashMap::<&str, String>::new()).expect("defaults");
        assert_eq!(defaults[&Verification::Income], "income_verification");
        assert_eq!(defaults[&Verification::Identity], "identity_verification");
        assert_eq!(defaults[&Verification::Asset], "asset_verification");
        let env: HashMap<&str, String> = [(
            "PAYSCORE_V2_VERIFICATION_TYPES",
            "Identity=id_check, income = income".to_owned(),
        )]
        .into();
        let renamed = verification_types(&env).expect("valid");
        assert_eq!(renamed[&Verification::Identity], "id_check");
        assert_eq!(renamed[&Verification::Income], "income");
        assert_eq!(renamed[&Verification::Asset], "asset_verification", "kept");
        for bad in ["income", "credit=credit_check", "asset="] {
            let env: HashMap<&str, String> =
                [("PAYSCORE_V2_VERIFICATION_TYPES", bad.to_owned())].into();
            let error = verification_types(&env).expect_err(bad);
            assert_eq!(error.var, "PAYSCORE_V2_VERIFICATION_TYPES");
        }
    }
}
