//! `worker doctor`: check a deployment's assumptions against the real services with the
//! worker's own configuration, read-only. It never creates a group, uploads a file, publishes
//! a message or writes to the ledger; the only requests that change nothing but are not
//! reads are a token request to Payscore and an unsigned webhook that ingest must refuse.
//!
//! One line per check: `ok`, `warn` (works, but an assumption could not be confirmed) or
//! `FAIL` (what is wrong and what to do). The command exits non-zero when a check fails.

use crate::address::state_name;
use crate::clients::entrata::{Address, EntrataClient, EntrataError};
use crate::clients::http::Downstream;
use crate::clients::payscore::{PayscoreClient, PayscoreError};
use crate::config::{Lookup, WorkerConfig};
use crate::ledger::{Ledger, LedgerMetrics, migrate};
use crate::metrics::WorkerMetrics;
use crate::properties::{PayscoreApi, PropertySettings};
use lapin::{Connection, ConnectionProperties};
use shared::metrics::Metrics;
use std::fmt;
use std::time::Duration;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// As expected.
    Ok,
    /// Works, but something could not be confirmed or is risky.
    Warn,
    /// Wrong: the fleet will fail (dead letters, lost webhooks) until it is fixed.
    Fail,
}

/// One checked assumption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. `entrata.property 100001`.
    pub name: String,
    /// How it ended.
    pub verdict: Verdict,
    /// What was found and, unless all is well, what to do.
    pub detail: String,
}

impl Check {
    fn new(name: impl Into<String>, verdict: Verdict, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            verdict,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.verdict {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Fail => "FAIL",
        };
        write!(f, "{verdict:<5} {:<32} {}", self.name, self.detail)
    }
}

/// Run every check, in order: Entrata, each enabled property, Payscore, ingest, the broker,
/// the ledger, the triggers.
pub async fn doctor(config: &WorkerConfig) -> Vec<Check> {
    let metrics = WorkerMetrics::register(&Metrics::new());
    let entrata = EntrataClient::new(
        Downstream::new("entrata", config.entrata_timeout, metrics.clone()),
        config.entrata_base_url.clone(),
        config.entrata_api_key.clone(),
        Duration::ZERO,
    )
    .with_page_size(config.entrata_page_size);
    let payscore = PayscoreClient::new(
        Downstream::new("payscore", config.payscore_timeout, metrics.clone()),
        config.payscore_base_url.clone(),
        config.payscore_client_id.clone(),
        config.payscore_secret_key.clone(),
        config.payscore_token_refresh,
        config.lookup,
    );
    let mut checks = Vec::new();
    let readable = entrata_key(&entrata, &mut checks).await;
    if let Some(readable) = readable {
        properties(config, &entrata, &readable, &mut checks).await;
    }
    checks.extend(payscore_checks(config, &payscore).await);
    checks.push(public_url(config, &metrics).await);
    checks.push(broker(config).await);
    checks.push(ledger(config).await);
    checks.push(triggers(config));
    checks
}

fn entrata_problem(error: &EntrataError) -> String {
    match error {
        EntrataError::RateLimited(wait) => format!(
            "Entrata's rate limit for this key is spent for {} s (shared with the running \
             workers): run worker doctor again later",
            wait.as_secs()
        ),
        EntrataError::Transient { code: 401 | 403 }
        | EntrataError::Rejected { code: 401 | 403 } => {
            "Entrata refused the API key: check ENTRATA_API_KEY and that the API user is enabled"
                .to_owned()
        }
        EntrataError::Call(call) => format!(
            "Entrata did not answer ({call}): check ENTRATA_API_BASE_URL and the network path"
        ),
        other => format!("Entrata answered {other}"),
    }
}

/// The key works: the properties it can read (with their addresses), or `None` when it does
/// not.
async fn entrata_key(
    entrata: &EntrataClient,
    checks: &mut Vec<Check>,
) -> Option<Vec<(String, Option<Address>)>> {
    match entrata.readable_properties().await {
        Ok(properties) => {
            let ids: Vec<&str> = properties.iter().map(|(id, _)| id.as_str()).collect();
            let shown: Vec<&str> = ids.iter().take(10).copied().collect();
            let more = if ids.len() > shown.len() { ", …" } else { "" };
            checks.push(Check::new(
                "entrata.key",
                Verdict::Ok,
                format!(
                    "the key reads {} properties ({}{more})",
                    ids.len(),
                    shown.join(", ")
                ),
            ));
            Some(properties)
        }
        Err(error) => {
            checks.push(Check::new(
                "entrata.key",
                Verdict::Fail,
                entrata_problem(&error),
            ));
            None
        }
    }
}

/// Every enabled property: readable with the key, an address Payscore takes, and its
/// `document_file_type` among the lease file types. Two Entrata calls in all, whatever the
/// number of properties (the key's rate budget is shared with the running workers).
async fn properties(
    config: &WorkerConfig,
    entrata: &EntrataClient,
    readable: &[(String, Option<Address>)],
    checks: &mut Vec<Check>,
) {
    let mut ids: Vec<&str> = config.properties.ids().collect();
    ids.sort_unstable();
    if ids.is_empty() {
        checks.push(Check::new(
            "properties",
            Verdict::Warn,
            "PROPERTIES_FILE enables no property: every application is ignored",
        ));
        return;
    }
    let file_types = entrata.lease_file_types().await;
    for id in ids {
        let name = format!("entrata.property {id}");
        let Some((_, address)) = readable.iter().find(|(r, _)| r == id) else {
            checks.push(Check::new(
                name,
                Verdict::Fail,
                "the API key cannot read this property: select it for the API user in Entrata \
                 (Apps → API Access), or remove it from PROPERTIES_FILE",
            ));
            continue;
        };
        checks.push(match address {
            Some(address) if state_name(&address.state).is_some() => Check::new(
                name,
                Verdict::Ok,
                format!(
                    "readable; address in {}, {}",
                    address.city, address.postal_code
                ),
            ),
            Some(_) => Check::new(
                name,
                Verdict::Fail,
                "the property's state is not a US state Payscore takes: correct the address in \
                 Entrata",
            ),
            None => Check::new(
                name,
                Verdict::Fail,
                "Entrata gives no complete address (street, city, state, ZIP) for it: complete \
                 it in Entrata",
            ),
        });
        let Some(settings) = config.properties.get(id) else {
            continue;
        };
        let file_type = &settings.document_file_type;
        let name = format!("entrata.file_type {id}");
        checks.push(match &file_types {
            Ok(types) if crate::json::mentions(types, file_type) => Check::new(
                name,
                Verdict::Ok,
                format!("lease file type {file_type} exists"),
            ),
            Ok(_) => Check::new(
                name,
                Verdict::Fail,
                format!(
                    "lease file type {file_type} is not in getLeasePickList's leaseFileTypes: \
                     every upload would be refused; set document_file_type to a system code \
                     Entrata lists (SR, SCR, REPORT, OTHER …)"
                ),
            ),
            Err(error) => Check::new(name, Verdict::Warn, entrata_problem(error)),
        });
    }
}

async fn payscore_checks(config: &WorkerConfig, payscore: &PayscoreClient) -> Vec<Check> {
    let credentials = match payscore.check_credentials().await {
        Ok(()) => Check::new("payscore.credentials", Verdict::Ok, "a token was issued"),
        Err(PayscoreError::Unauthorized) => {
            return vec![Check::new(
                "payscore.credentials",
                Verdict::Fail,
                "Payscore refused PAYSCORE_CLIENT_ID / PAYSCORE_SECRET_KEY",
            )];
        }
        Err(error) => {
            return vec![Check::new(
                "payscore.credentials",
                Verdict::Fail,
                format!("no token ({error}): check PAYSCORE_API_BASE_URL and the network path"),
            )];
        }
    };
    let probe = format!("doctor:{}", uuid::Uuid::now_v7());
    let name = "payscore.lookup";
    let lookup = match (config.lookup, payscore.find_group(&probe).await) {
        (Lookup::None, _) => Check::new(
            name,
            Verdict::Warn,
            "PAYSCORE_LOOKUP=none: a create whose answer is lost is dead-lettered as \
             create_outcome_unknown instead of being resolved",
        ),
        // Nothing for a random correlation_id: filtered, or an account without groups.
        (_, Ok(None)) => match payscore.lists_any_group().await {
            Ok(true) => Check::new(
                name,
                Verdict::Ok,
                "filtered: the account's groups are listed, none for a random correlation_id",
            ),
            Ok(false) => Check::new(
                name,
                Verdict::Warn,
                "answers, but the account has no groups yet, so filtering cannot be proven: \
                 run worker doctor again after the first screening",
            ),
            Err(error) => Check::new(name, Verdict::Fail, format!("{error}")),
        },
        // The worker filters the answer again, so a group for a random id cannot come back;
        // an answer listing other groups is the unfiltered case.
        (_, Ok(Some(_))) | (_, Err(PayscoreError::Malformed(_))) => Check::new(
            name,
            Verdict::Fail,
            "the lookup lists groups of other correlation_ids: it does not filter; try the \
             other PAYSCORE_LOOKUP value",
        ),
        (_, Err(error)) => Check::new(
            name,
            Verdict::Fail,
            format!("{error}: set PAYSCORE_LOOKUP to the list route Payscore filters"),
        ),
    };
    let mut checks = vec![credentials, lookup];
    checks.extend(payscore_v2(config, payscore).await);
    checks
}

/// For properties on Payscore's v2 API: the applicant-group list answers (the route v2 report
/// checks read a group's status from), and which wire names their verifications are sent as.
async fn payscore_v2(config: &WorkerConfig, payscore: &PayscoreClient) -> Option<Check> {
    let mut v2: Vec<(&str, &PropertySettings)> = config
        .properties
        .ids()
        .filter_map(|id| Some((id, config.properties.get(id)?)))
        .filter(|(_, s)| s.payscore_api == PayscoreApi::V2)
        .collect();
    if v2.is_empty() {
        return None;
    }
    v2.sort_by_key(|(id, _)| *id);
    let name = "payscore.v2";
    let probe = format!("doctor:{}", uuid::Uuid::now_v7());
    if let Err(error) = payscore.applicant_group_status(&probe, &probe).await {
        return Some(Check::new(
            name,
            Verdict::Fail,
            format!(
                "{} properties use payscore_api = \"v2\" but the applicant-group list does not answer: {error}",
                v2.len()
            ),
        ));
    }
    let described: Vec<String> = v2
        .iter()
        .map(|(id, settings)| {
            let wires: Vec<&str> = settings
                .verifications
                .iter()
                .filter_map(|v| config.verification_types.get(v).map(String::as_str))
                .collect();
            format!("{id} ({})", wires.join(", "))
        })
        .collect();
    Some(Check::new(
        name,
        Verdict::Ok,
        format!(
            "the applicant-group list answers; v2 properties and the verifications they ask for: {}",
            described.join("; ")
        ),
    ))
}

/// `PUBLIC_BASE_URL/webhooks/payscore` reaches our ingest: an unsigned webhook gets 401.
async fn public_url(config: &WorkerConfig, metrics: &WorkerMetrics) -> Check {
    let url = format!("{}/webhooks/payscore", config.public_base_url);
    let http = Downstream::new("ingest", Duration::from_secs(10), metrics.clone());
    let request = http
        .client()
        .post(&url)
        .header("content-type", "application/json")
        .body("{}");
    let name = "ingest.public_url";
    match http.send("doctor", request).await {
        Ok(answer)
            if answer.status == 401
                && answer.json().ok().and_then(|b| {
                    b.get("error")
                        .and_then(|e| e.as_str())
                        .map(|e| e == "unauthorized")
                }) == Some(true) =>
        {
            Check::new(
                name,
                Verdict::Ok,
                format!("{url} refuses an unsigned webhook as ingest does (401)"),
            )
        }
        Ok(answer) if answer.status == 401 => Check::new(
            name,
            Verdict::Fail,
            format!(
                "{url} answered 401 but not as ingest does: something in front of ingest \
                 (an authenticating proxy) would refuse Payscore's webhooks too"
            ),
        ),
        Ok(answer) if answer.is_success() => Check::new(
            name,
            Verdict::Fail,
            format!(
                "{url} accepted an unsigned webhook ({}): it is not our ingest, or ingest does \
                 not check Payscore's signature (PAYSCORE_WEBHOOK_SECRET)",
                answer.status
            ),
        ),
        Ok(answer) => Check::new(
            name,
            Verdict::Fail,
            format!(
                "{url} answered {} instead of 401: PUBLIC_BASE_URL does not reach ingest's \
                 webhook route, so Payscore's webhooks are lost",
                answer.status
            ),
        ),
        Err(error) => Check::new(
            name,
            Verdict::Fail,
            format!(
                "{url} unreachable ({error}): Payscore's webhooks would be lost (report checks \
                 still upload, later); fix PUBLIC_BASE_URL"
            ),
        ),
    }
}

/// The exchange and queues exist with the arguments this configuration declares.
async fn broker(config: &WorkerConfig) -> Check {
    let name = "broker.topology";
    let amqp = &config.common.amqp;
    let connection_name = shared::amqp::connection_name("worker-doctor", &amqp.prefix);
    let connection = match Connection::connect(
        amqp.url.expose(),
        ConnectionProperties::default().with_connection_name(connection_name.into()),
    )
    .await
    {
        Ok(connection) => connection,
        Err(error) => {
            return Check::new(
                name,
                Verdict::Fail,
                format!("cannot connect to AMQP_URL ({error})"),
            );
        }
    };
    let topology = amqp.topology();
    let check = match topology.check(&connection).await {
        Ok(problems) if problems.is_empty() => Check::new(
            name,
            Verdict::Ok,
            format!(
                "exchange {} and {} queues as configured",
                topology.exchange(),
                topology.queue_arguments().len()
            ),
        ),
        Ok(problems) => {
            let listed: Vec<String> = problems
                .iter()
                .map(|(queue, problem)| format!("{queue}: {problem}"))
                .collect();
            Check::new(
                name,
                Verdict::Fail,
                format!(
                    "{}; start ingest or a worker to declare what is missing; a queue with other \
                     arguments must be drained and deleted (see the README's topology section)",
                    listed.join("; ")
                ),
            )
        }
        Err(error) => Check::new(name, Verdict::Fail, format!("could not check ({error})")),
    };
    let _ = connection.close(200, "doctor done".into()).await;
    check
}

/// The ledger answers and has this build's schema.
async fn ledger(config: &WorkerConfig) -> Check {
    let name = "ledger.schema";
    let ledger = Ledger::new(config.ledger.clone(), LedgerMetrics::unregistered());
    let latest = migrate::latest();
    match ledger.schema_version().await {
        Ok(version) if version == latest => {
            let commits = match ledger.commit_modes().await {
                Ok((guards, relaxed)) => format!(
                    "; commits wait for the disk: {guards} (intents, groups, uploads), {relaxed} \
                     (journal, run counter)"
                ),
                Err(_) => String::new(),
            };
            Check::new(
                name,
                Verdict::Ok,
                format!("schema version {version}{commits}"),
            )
        }
        Ok(version) if version < latest => Check::new(
            name,
            Verdict::Fail,
            format!("schema version {version}, this build needs {latest}: run `worker migrate`"),
        ),
        Ok(version) => Check::new(
            name,
            Verdict::Warn,
            format!("schema version {version} is newer than this build's {latest}"),
        ),
        Err(error) => Check::new(
            name,
            Verdict::Fail,
            format!("the ledger does not answer ({error}): check DATABASE_URL"),
        ),
    }
}

/// The trigger names in force (Entrata does not publish its event names).
fn triggers(config: &WorkerConfig) -> Check {
    Check::new(
        "entrata.triggers",
        Verdict::Ok,
        format!(
            "screenings start for events named {} (the Entrata event types panel shows the \
             names that arrive)",
            config.trigger_events.join(", ")
        ),
    )
}
