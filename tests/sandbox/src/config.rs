//! The sandbox's configuration: [`SandboxConfig::default`] for tests, and
//! [`SandboxConfig::from_env`] for the binary (every `SANDBOX_*` variable, or the equivalent
//! `--flag`, is listed in the README).

use crate::faults::Faults;
use serde::{Deserialize, Serialize};
use shared::config::{ConfigError, Env, EnvExt, Secret};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Everything a sandbox needs to start.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address of the Payscore simulator (`127.0.0.1:0` picks a free port).
    pub payscore_listen: SocketAddr,
    /// Address of the Entrata simulator.
    pub entrata_listen: SocketAddr,
    /// Seed of the generated Entrata data and ids.
    pub seed: u64,
    /// Payscore settings.
    pub payscore: PayscoreConfig,
    /// Entrata settings.
    pub entrata: EntrataConfig,
    /// Where "submit application" sends the `oa.application.events` webhook.
    pub ingest: IngestTarget,
    /// Faults in force from the start, per simulator and route.
    pub faults: InitialFaults,
}

/// Payscore simulator settings.
#[derive(Debug, Clone)]
pub struct PayscoreConfig {
    /// The accepted `client_id`.
    pub client_id: String,
    /// The accepted `secret_key`.
    pub secret_key: Secret,
    /// Key of the `Verification-Signature` HMAC on webhooks.
    pub webhook_secret: Secret,
    /// Lifetime of a token (default 30 minutes).
    pub token_ttl: Duration,
    /// Applicant emails that "do not exist": a create naming one is refused with 400.
    pub nonexistent_emails: Vec<String>,
    /// Automatic progress: screenings begin this long after the group is created.
    pub begin_after: Option<Duration>,
    /// Automatic progress: screenings complete this long after the group is created.
    pub complete_after: Option<Duration>,
    /// Timeout of one webhook delivery attempt.
    pub webhook_timeout: Duration,
    /// Waits before the retries of a failed webhook delivery (one retry per entry).
    pub webhook_retry_delays: Vec<Duration>,
    /// Page size of the list routes.
    pub page_size: usize,
    /// Refuse a create whose `correlation_id` an existing group has, with 409.
    pub unique_correlation_ids: bool,
    /// How long a new group stays out of the list routes (a search index's lag).
    pub list_lag: Duration,
    /// The assumed v1 list `GET /api/v1/screening_groups` ignores `correlation_id` (the other
    /// reading of an undocumented route; the documented v2 `applicant_groups` always filters).
    pub screening_groups_unfiltered: bool,
    /// A create may leave `monthly_rent` out (an older page of seed 003: "If left blank, then
    /// the multiplier will not be calculated"); by default it is required, as the current v1
    /// page says. Applies to v1 screening groups and v2 applicant groups alike.
    pub monthly_rent_optional: bool,
    /// The verification `type` wire names a v2 applicant-group create accepts (reference §10
    /// confirms only `asset_verification`; the others are inferences). A name containing
    /// `income`, `identity` or `asset` produces that kind of report; any other accepted name
    /// produces none.
    pub v2_verification_types: Vec<String>,
    /// A v2 create refuses a `property.state` spelled out in full and wants the two-letter
    /// code of the v2 example (`"CA"`); by default both are accepted.
    pub v2_state_initials_only: bool,
    /// `GET /api/v1/applicant_groups/{id}/reports` answers `{"reports": [...]}` instead of a
    /// bare JSON array (the reference does not say which).
    pub v2_reports_wrapped: bool,
    /// An individual report's `REPORT_READY` leaves `applicant_group_id` out, as the reports
    /// list does ("household reports only"); by default every `REPORT_READY` carries it, as
    /// the reference's example does.
    pub v2_report_ready_group_id_household_only: bool,
}

/// The default of [`PayscoreConfig::v2_verification_types`].
pub const V2_VERIFICATION_TYPES: [&str; 3] = [
    "income_verification",
    "identity_verification",
    "asset_verification",
];

/// Entrata simulator settings.
#[derive(Debug, Clone)]
pub struct EntrataConfig {
    /// The accepted `X-Api-Key`.
    pub api_key: Secret,
    /// The `{subdomain}` in `/ext/orgs/{subdomain}/v1/{service}`.
    pub subdomain: String,
    /// How many properties to generate.
    pub properties: u32,
    /// How many applications to generate per property.
    pub applications_per_property: u32,
    /// Requests per minute and service before 429.
    pub rate_limit_per_minute: u32,
    /// HTTP status of an authentication failure (its body is always an error envelope).
    pub auth_failure_status: u16,
    /// HTTP status of a method's error envelope (an unknown lead, a missing parameter, …):
    /// 200 as the simulator always answered, or 400, the other reading of S1's
    /// "200 Success / 400 Failure". A rate-limited call is 429 either way.
    pub error_status: u16,
    /// Items per page of the paginated methods when the request has no `per_page` (at
    /// most [`crate::entrata::paging::MAX_PER_PAGE`]).
    pub page_size: u32,
    /// `getProperties` shows the Mailing address as the top-level `Address` and first in
    /// `Addresses.Address[]`, the street address second (as some Entrata data does).
    pub mailing_address_first: bool,
    /// A `getLeads` lead id is the application id (the reading the reference presumes, not
    /// confirmed: §7.1, §11 q3). When false, each lead has its own id, shown as `leadId` and
    /// `id` on the prospect, and `leadId` filters on it.
    pub lead_ids_are_application_ids: bool,
    /// Lead customers carry `customerType` (`Primary`, `Co-Applicant`, …), which the
    /// reference's `getLeads` model does not have; by default they do not.
    pub lead_customer_types: bool,
    /// `getLeases` ignores its `applicationId` filter and answers every applicant lease of the
    /// property (a filter the server does not apply): a caller must pick the lease that names
    /// its application.
    pub leases_ignore_application_id: bool,
    /// Waits before the retries of an `oa.application.events` webhook that got no answer, a
    /// 429 or a 5xx (one retry per entry). Entrata does not document whether it retries
    /// (reference §1): empty, the default, is the reading that it does not.
    pub webhook_retry_delays: Vec<Duration>,
}

/// Where and how the Entrata simulator delivers `oa.application.events` webhooks.
#[derive(Debug, Clone, Default)]
pub struct IngestTarget {
    /// The full URL, e.g. `http://127.0.0.1:8080/webhooks/entrata`. `None`: no webhook.
    pub url: Option<String>,
    /// HTTP Basic user name.
    pub username: Option<String>,
    /// HTTP Basic password.
    pub password: Option<Secret>,
    /// Shared token, sent as `X-Webhook-Token`.
    pub token: Option<Secret>,
}

/// The body of `PUT /_control/ingest`: [`IngestTarget`] in plain text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    /// The webhook URL.
    pub url: Option<String>,
    /// HTTP Basic user name.
    pub username: Option<String>,
    /// HTTP Basic password.
    pub password: Option<String>,
    /// `X-Webhook-Token`.
    pub token: Option<String>,
}

impl From<IngestSettings> for IngestTarget {
    fn from(s: IngestSettings) -> Self {
        Self {
            url: s.url,
            username: s.username,
            password: s.password.map(Secret::new),
            token: s.token.map(Secret::new),
        }
    }
}

/// Faults in force from the start: `{"payscore": {"create_group": {...}}, "entrata": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitialFaults {
    /// Payscore routes.
    pub payscore: BTreeMap<String, Faults>,
    /// Entrata routes.
    pub entrata: BTreeMap<String, Faults>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            payscore_listen: loopback,
            entrata_listen: loopback,
            seed: 1,
            payscore: PayscoreConfig {
                client_id: "sandbox-client".into(),
                secret_key: Secret::new("sandbox-secret"),
                webhook_secret: Secret::new("sandbox-webhook-secret"),
                token_ttl: Duration::from_secs(30 * 60),
                nonexistent_emails: vec![
                    "does-not-exist@example.com".into(),
                    "nobody@nowhere.invalid".into(),
                ],
                begin_after: None,
                complete_after: None,
                webhook_timeout: Duration::from_secs(5),
                webhook_retry_delays: vec![
                    Duration::from_millis(200),
                    Duration::from_millis(400),
                    Duration::from_millis(600),
                ],
                page_size: 25,
                unique_correlation_ids: false,
                list_lag: Duration::ZERO,
                screening_groups_unfiltered: false,
                monthly_rent_optional: false,
                v2_verification_types: V2_VERIFICATION_TYPES.map(str::to_owned).to_vec(),
                v2_state_initials_only: false,
                v2_reports_wrapped: false,
                v2_report_ready_group_id_household_only: false,
            },
            entrata: EntrataConfig {
                api_key: Secret::new("sandbox-api-key"),
                subdomain: "sandbox".into(),
                properties: 5,
                applications_per_property: 3,
                rate_limit_per_minute: 10_000,
                auth_failure_status: 200,
                error_status: 200,
                page_size: 100,
                mailing_address_first: false,
                lead_ids_are_application_ids: true,
                lead_customer_types: false,
                leases_ignore_application_id: false,
                webhook_retry_delays: Vec::new(),
            },
            ingest: IngestTarget::default(),
            faults: InitialFaults::default(),
        }
    }
}

impl SandboxConfig {
    /// Read the `SANDBOX_*` variables; unset ones keep the test defaults, except the listen
    /// addresses, which default to fixed ports for the local run.
    pub fn from_env(env: &impl Env) -> Result<Self, ConfigError> {
        let d = Self::default();
        let optional_ms = |key: &str| -> Result<Option<Duration>, ConfigError> {
            match env.string(key) {
                None => Ok(None),
                Some(_) => env.millis_or(key, 1).map(Some),
            }
        };
        let faults = match env.string("SANDBOX_FAULTS") {
            None => InitialFaults::default(),
            Some(raw) => serde_json::from_str(&raw)
                .map_err(|e| ConfigError::new("SANDBOX_FAULTS", format!("not valid: {e}")))?,
        };
        let emails = env.list("SANDBOX_PAYSCORE_NONEXISTENT_EMAILS");
        let verification_types = env.list("SANDBOX_PAYSCORE_V2_VERIFICATION_TYPES");
        let retries: u64 = env.parse_or("SANDBOX_WEBHOOK_RETRIES", 3)?;
        let retry_ms = env.millis_or("SANDBOX_WEBHOOK_RETRY_MS", 200)?;
        let entrata_retries: u64 = env.parse_or("SANDBOX_ENTRATA_WEBHOOK_RETRIES", 0)?;
        let entrata_retry_ms = env.millis_or("SANDBOX_ENTRATA_WEBHOOK_RETRY_MS", 500)?;
        Ok(Self {
            payscore_listen: env.listen_or("SANDBOX_PAYSCORE_LISTEN", "127.0.0.1:18081")?,
            entrata_listen: env.listen_or("SANDBOX_ENTRATA_LISTEN", "127.0.0.1:18082")?,
            seed: env.parse_or("SANDBOX_SEED", d.seed)?,
            payscore: PayscoreConfig {
                client_id: env.string_or("SANDBOX_PAYSCORE_CLIENT_ID", &d.payscore.client_id),
                secret_key: env
                    .secret("SANDBOX_PAYSCORE_SECRET_KEY")
                    .unwrap_or(d.payscore.secret_key),
                webhook_secret: env
                    .secret("SANDBOX_PAYSCORE_WEBHOOK_SECRET")
                    .unwrap_or(d.payscore.webhook_secret),
                token_ttl: env.seconds_or("SANDBOX_PAYSCORE_TOKEN_TTL_SECONDS", 30 * 60)?,
                nonexistent_emails: if emails.is_empty() {
                    d.payscore.nonexistent_emails
                } else {
                    emails
                },
                begin_after: optional_ms("SANDBOX_PAYSCORE_BEGIN_AFTER_MS")?,
                complete_after: optional_ms("SANDBOX_PAYSCORE_COMPLETE_AFTER_MS")?,
                webhook_timeout: env.millis_or("SANDBOX_WEBHOOK_TIMEOUT_MS", 5_000)?,
                webhook_retry_delays: (1..=retries).map(|n| retry_ms * n as u32).collect(),
                page_size: env.positive_or("SANDBOX_PAYSCORE_PAGE_SIZE", 25)? as usize,
                unique_correlation_ids: env
                    .bool_or("SANDBOX_PAYSCORE_UNIQUE_CORRELATION_IDS", false)?,
                list_lag: Duration::from_millis(env.parse_or("SANDBOX_PAYSCORE_LIST_LAG_MS", 0)?),
                screening_groups_unfiltered: env
                    .bool_or("SANDBOX_PAYSCORE_SCREENING_GROUPS_UNFILTERED", false)?,
                monthly_rent_optional: env
                    .bool_or("SANDBOX_PAYSCORE_MONTHLY_RENT_OPTIONAL", false)?,
                v2_verification_types: if verification_types.is_empty() {
                    d.payscore.v2_verification_types
                } else {
                    verification_types
                },
                v2_state_initials_only: env
                    .bool_or("SANDBOX_PAYSCORE_V2_STATE_INITIALS_ONLY", false)?,
                v2_reports_wrapped: env.bool_or("SANDBOX_PAYSCORE_V2_REPORTS_WRAPPED", false)?,
                v2_report_ready_group_id_household_only: env.bool_or(
                    "SANDBOX_PAYSCORE_V2_REPORT_READY_GROUP_ID_HOUSEHOLD_ONLY",
                    false,
                )?,
            },
            entrata: EntrataConfig {
                api_key: env
                    .secret("SANDBOX_ENTRATA_API_KEY")
                    .unwrap_or(d.entrata.api_key),
                subdomain: env.string_or("SANDBOX_ENTRATA_SUBDOMAIN", &d.entrata.subdomain),
                properties: env.positive_or("SANDBOX_ENTRATA_PROPERTIES", 5)? as u32,
                applications_per_property: env
                    .parse_or("SANDBOX_ENTRATA_APPLICATIONS_PER_PROPERTY", 3)?,
                rate_limit_per_minute: env
                    .positive_or("SANDBOX_ENTRATA_RATE_LIMIT_PER_MINUTE", 10_000)?
                    as u32,
                auth_failure_status: env.parse_or("SANDBOX_ENTRATA_AUTH_FAILURE_STATUS", 200)?,
                error_status: http_status(env, "SANDBOX_ENTRATA_ERROR_STATUS", 200)?,
                page_size: env
                    .positive_or("SANDBOX_ENTRATA_PAGE_SIZE", 100)?
                    .min(u64::from(crate::entrata::paging::MAX_PER_PAGE))
                    as u32,
                mailing_address_first: env
                    .bool_or("SANDBOX_ENTRATA_MAILING_ADDRESS_FIRST", false)?,
                lead_ids_are_application_ids: env
                    .bool_or("SANDBOX_ENTRATA_LEAD_IDS_ARE_APPLICATION_IDS", true)?,
                lead_customer_types: env.bool_or("SANDBOX_ENTRATA_LEAD_CUSTOMER_TYPES", false)?,
                leases_ignore_application_id: env
                    .bool_or("SANDBOX_ENTRATA_LEASES_IGNORE_APPLICATION_ID", false)?,
                webhook_retry_delays: (0..entrata_retries).map(|_| entrata_retry_ms).collect(),
            },
            ingest: IngestTarget {
                url: env.string("SANDBOX_INGEST_URL"),
                username: env.string("SANDBOX_INGEST_USERNAME"),
                password: env.secret("SANDBOX_INGEST_PASSWORD"),
                token: env.secret("SANDBOX_INGEST_TOKEN"),
            },
            faults,
        })
    }
}

/// An HTTP status a simulator answers with: 200–599.
fn http_status(env: &impl Env, key: &str, default: u16) -> Result<u16, ConfigError> {
    let status: u16 = env.parse_or(key, default)?;
    if !(200..=599).contains(&status) {
        return Err(ConfigError::new(
            key,
            "must be an HTTP status from 200 to 599",
        ));
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn unset_variables_keep_the_test_defaults() {
        let config = SandboxConfig::from_env(&HashMap::<&str, String>::new()).expect("valid");
        assert_eq!(config.payscore.client_id, "sandbox-client");
        assert_eq!(config.payscore_listen.port(), 18081);
        assert_eq!(config.payscore.webhook_retry_delays.len(), 3);
        assert_eq!(config.entrata.error_status, 200);
        assert_eq!(config.entrata.page_size, 100);
        assert!(!config.entrata.mailing_address_first);
        assert!(config.entrata.lead_ids_are_application_ids);
        assert!(!config.entrata.lead_customer_types);
        assert!(config.entrata.webhook_retry_delays.is_empty());
    }

    #[test]
    fn the_entrata_readings_are_read_from_the_environment() {
        let env: HashMap<&str, String> = [
            ("SANDBOX_ENTRATA_ERROR_STATUS", "400".to_owned()),
            ("SANDBOX_ENTRATA_PAGE_SIZE", "5000".to_owned()),
            ("SANDBOX_ENTRATA_MAILING_ADDRESS_FIRST", "true".to_owned()),
            (
                "SANDBOX_ENTRATA_LEAD_IDS_ARE_APPLICATION_IDS",
                "0".to_owned(),
            ),
            ("SANDBOX_ENTRATA_LEAD_CUSTOMER_TYPES", "yes".to_owned()),
            ("SANDBOX_ENTRATA_WEBHOOK_RETRIES", "4".to_owned()),
            ("SANDBOX_ENTRATA_WEBHOOK_RETRY_MS", "250".to_owned()),
        ]
        .into();
        let entrata = SandboxConfig::from_env(&env).expect("valid").entrata;
        assert_eq!(entrata.error_status, 400);
        assert_eq!(entrata.page_size, 1000, "capped like per_page");
        assert!(entrata.mailing_address_first);
        assert!(!entrata.lead_ids_are_application_ids);
        assert!(entrata.lead_customer_types);
        assert_eq!(
            entrata.webhook_retry_delays,
            vec![Duration::from_millis(250); 4]
        );
    }

    #[test]
    fn the_payscore_v2_readings_are_read_from_the_environment() {
        let defaults = SandboxConfig::from_env(&HashMap::<&str, String>::new())
            .expect("valid")
            .payscore;
        assert_eq!(defaults.v2_verification_types, V2_VERIFICATION_TYPES);
        assert!(!defaults.v2_state_initials_only);
        assert!(!defaults.v2_reports_wrapped);
        let env: HashMap<&str, String> = [
            (
                "SANDBOX_PAYSCORE_V2_VERIFICATION_TYPES",
                "asset_verification, income".to_owned(),
            ),
            ("SANDBOX_PAYSCORE_V2_STATE_INITIALS_ONLY", "true".to_owned()),
            ("SANDBOX_PAYSCORE_V2_REPORTS_WRAPPED", "1".to_owned()),
        ]
        .into();
        let payscore = SandboxConfig::from_env(&env).expect("valid").payscore;
        assert_eq!(
            payscore.v2_verification_types,
            ["asset_verification", "income"]
        );
        assert!(payscore.v2_state_initials_only);
        assert!(payscore.v2_reports_wrapped);
        let bad: HashMap<&str, String> =
            [("SANDBOX_PAYSCORE_V2_REPORTS_WRAPPED", "maybe".to_owned())].into();
        let error = SandboxConfig::from_env(&bad).expect_err("not a boolean");
        assert_eq!(error.var, "SANDBOX_PAYSCORE_V2_REPORTS_WRAPPED");
    }

    #[test]
    fn an_error_status_that_is_not_an_http_status_names_the_variable() {
        for bad in ["99", "600", "abc"] {
            let env: HashMap<&str, String> =
                [("SANDBOX_ENTRATA_ERROR_STATUS", bad.to_owned())].into();
            let error = SandboxConfig::from_env(&env).expect_err(bad);
            assert_eq!(error.var, "SANDBOX_ENTRATA_ERROR_STATUS");
        }
        let zero: HashMap<&str, String> = [("SANDBOX_ENTRATA_PAGE_SIZE", "0".to_owned())].into();
        let error = SandboxConfig::from_env(&zero).expect_err("zero");
        assert_eq!(error.var, "SANDBOX_ENTRATA_PAGE_SIZE");
    }

    #[test]
    fn faults_are_read_from_json_and_bad_json_names_the_variable() {
        let env: HashMap<&str, String> = [(
            "SANDBOX_FAULTS",
            r#"{"payscore": {"create_group": {"error_rate": 0.3}}}"#.to_owned(),
        )]
        .into();
        let config = SandboxConfig::from_env(&env).expect("valid");
        assert_eq!(config.faults.payscore["create_group"].error_rate, 0.3);
        let bad: HashMap<&str, String> = [("SANDBOX_FAULTS", "{".to_owned())].into();
        let error = SandboxConfig::from_env(&bad).expect_err("invalid");
        assert_eq!(error.var, "SANDBOX_FAULTS");
    }
}
