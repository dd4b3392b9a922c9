//! `worker`: read configuration, start telemetry, bind the admin port, run, map the result to
//! an exit code. `worker replay …` moves dead letters back into their work queue, `worker
//! sweep` queues applications whose webhook never came, `worker migrate` applies the ledger's
//! migrations, `worker status` prints an application's journey, `worker doctor` checks a
//! deployment's assumptions against the real services.

use shared::amqp::AmqpConfig;
use shared::config::{EXIT_CONFIG, ProcessEnv};
use std::process::ExitCode;
use worker::config::WorkerConfig;
use worker::ledger::{Ledger, LedgerConfig, LedgerMetrics};
use worker::properties::PayscoreApi;
use worker::replay::{ReplayArgs, replay};
use worker::status::{StatusArgs, journey, render};
use worker::sweep::{SweepArgs, sweep};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => serve(),
        Some("replay") => replay_dead_letters(&args[1..]),
        Some("sweep") => sweep_applications(&args[1..]),
        Some("migrate") => migrate(),
        Some("status") => status(&args[1..]),
        Some("resolve") => resolve(&args[1..]),
        Some("doctor") => doctor(),
        Some(other) => {
            eprintln!(
                "worker: unknown command {other:?} (run without arguments, or `worker replay --queue …`, `worker sweep`, `worker migrate`, `worker status --application …`, `worker resolve …`, `worker doctor`)"
            );
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn serve() -> ExitCode {
    let config = match WorkerConfig::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("worker: configuration error: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let _telemetry = shared::telemetry::init(config.common.log_format, "worker");
    let result = runtime().block_on(async {
        let shutdown = shared::shutdown::on_signals();
        let admin = tokio::net::TcpListener::bind(config.common.admin_listen).await?;
        worker::run(config, admin, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "worker failed");
            eprintln!("worker: {error}");
            ExitCode::FAILURE
        }
    }
}

fn replay_dead_letters(args: &[String]) -> ExitCode {
    let (config, args) = match (AmqpConfig::from_env(&ProcessEnv), ReplayArgs::parse(args)) {
        (Ok(config), Ok(args)) => (config, args),
        (Err(error), _) => {
            eprintln!("worker replay: configuration error: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
        (_, Err(error)) => {
            eprintln!("worker replay: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match runtime().block_on(replay(&config, &args)) {
        Ok(report) => {
            let verb = if args.dry_run {
                "would replay"
            } else {
                "replayed"
            };
            println!(
                "{verb}: {:?}; left in place: {:?}",
                report.replayed, report.skipped
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("worker replay: {error}");
            ExitCode::FAILURE
        }
    }
}

fn doctor() -> ExitCode {
    let config = match WorkerConfig::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("worker doctor: configuration error: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let checks = runtime().block_on(worker::doctor::doctor(&config));
    for check in &checks {
        println!("{check}");
    }
    let failed = checks
        .iter()
        .filter(|c| c.verdict == worker::doctor::Verdict::Fail)
        .count();
    let warned = checks
        .iter()
        .filter(|c| c.verdict == worker::doctor::Verdict::Warn)
        .count();
    println!(
        "doctor: {} checks, {failed} failed, {warned} warnings",
        checks.len()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("the tokio runtime starts")
}

fn sweep_applications(args: &[String]) -> ExitCode {
    let args = match SweepArgs::parse(args) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("worker sweep: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let config = match WorkerConfig::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("worker sweep: configuration error: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let _telemetry = shared::telemetry::init(config.common.log_format, "worker");
    match runtime().block_on(sweep(&config, &args)) {
        Ok(report) => {
            let verb = if args.dry_run {
                "would queue"
            } else {
                "queued"
            };
            for found in &report.queued {
                println!(
                    "property {} application {}: {verb} (completed {})",
                    found.property_id, found.application_id, found.completed_on
                );
            }
            for found in &report.already_known {
                println!(
                    "property {} application {}: left out, the ledger knows it",
                    found.property_id, found.application_id
                );
            }
            for (property, why) in &report.failed {
                println!("property {property}: not swept: {why}");
            }
            println!(
                "sweep: applications {verb}: {}; left out (known to the ledger): {}; properties not swept: {}",
                report.queued.len(),
                report.already_known.len(),
                report.failed.len()
            );
            if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("worker sweep: {error}");
            ExitCode::FAILURE
        }
    }
}

fn ledger_from_env(command: &str) -> Result<Ledger, ExitCode> {
    match LedgerConfig::from_env(&ProcessEnv) {
        Ok(config) => Ok(Ledger::new(config, LedgerMetrics::unregistered())),
        Err(error) => {
            eprintln!("worker {command}: configuration error: {error}");
            Err(ExitCode::from(EXIT_CONFIG))
        }
    }
}

fn migrate() -> ExitCode {
    let ledger = match ledger_from_env("migrate") {
        Ok(ledger) => ledger,
        Err(code) => return code,
    };
    match runtime().block_on(ledger.migrate()) {
        Ok(migrated) => {
            println!(
                "migrate: schema version {} (applied now: {:?})",
                migrated.version, migrated.applied
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("worker migrate: {error}");
            ExitCode::FAILURE
        }
    }
}

fn status(args: &[String]) -> ExitCode {
    let args = match StatusArgs::parse(args) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("worker status: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let ledger = match ledger_from_env("status") {
        Ok(ledger) => ledger,
        Err(code) => return code,
    };
    let found = match runtime().block_on(journey(&ledger, &args.subject)) {
        Ok(found) => found,
        Err(error) => {
            eprintln!("worker status: {error}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&found).expect("serialisable")
        );
    } else if found.is_empty() {
        println!("status: the ledger knows nothing of it");
    } else {
        print!("{}", render(&found));
    }
    if found.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

const RESOLVE_USAGE: &str = "usage: worker resolve --property <id> --application <id> \
     (--group <screening group id> [--api v1|v2] | --not-created)";

/// `worker resolve`: an operator's answer to `create_outcome_unknown`, after looking in
/// Payscore for a group with the application's correlation id.
fn resolve(args: &[String]) -> ExitCode {
    let mut it = args.iter();
    let (mut property, mut application, mut group, mut not_created) = (None, None, None, false);
    let mut api = None;
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--property" => property = it.next().cloned(),
            "--application" => application = it.next().cloned(),
            "--group" => group = it.next().cloned(),
            "--not-created" => not_created = true,
            "--api" => {
                api = match it.next().map(String::as_str) {
                    Some("v1") => Some(PayscoreApi::V1),
                    Some("v2") => Some(PayscoreApi::V2),
                    _ => {
                        eprintln!("worker resolve: --api takes v1 or v2\n{RESOLVE_USAGE}");
                        return ExitCode::from(EXIT_CONFIG);
                    }
                }
            }
            other => {
                eprintln!("worker resolve: unknown argument {other:?}\n{RESOLVE_USAGE}");
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }
    let (Some(property), Some(application)) = (property, application) else {
        eprintln!("worker resolve: --property and --application are needed\n{RESOLVE_USAGE}");
        return ExitCode::from(EXIT_CONFIG);
    };
    if group.is_some() == not_created {
        eprintln!("worker resolve: either --group or --not-created\n{RESOLVE_USAGE}");
        return ExitCode::from(EXIT_CONFIG);
    }
    // Without --api: the generation the property is on in PROPERTIES_FILE, else v1.
    let api = api.unwrap_or_else(|| {
        std::env::var("PROPERTIES_FILE")
            .ok()
            .and_then(|path| worker::properties::Properties::load(&path).ok())
            .and_then(|p| p.get(&property).map(|s| s.payscore_api))
            .unwrap_or_default()
    });
    let ledger = match ledger_from_env("resolve") {
        Ok(ledger) => ledger,
        Err(code) => return code,
    };
    match runtime().block_on(ledger.resolve_create(&property, &application, group.as_deref(), api))
    {
        Ok(true) => {
            println!(
                "resolve: application {application} at property {property}: {}; now replay its dead letter",
                match &group {
                    Some(group) => format!(
                        "{} group {group} recorded (Payscore {})",
                        if api == PayscoreApi::V2 {
                            "applicant"
                        } else {
                            "screening"
                        },
                        api.as_str()
                    ),
                    None => "recorded as never created".to_owned(),
                }
            );
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!(
                "worker resolve: the ledger has no unknown create for application {application} at property {property}"
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("worker resolve: {error}");
            ExitCode::FAILURE
        }
    }
}
