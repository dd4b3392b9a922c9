//! `ingest`: read configuration, start telemetry, bind, run, map the result to an exit code.

use ingest::{Listeners, config::IngestConfig};
use shared::config::{EXIT_CONFIG, ProcessEnv};
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match IngestConfig::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("ingest: configuration error: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let _telemetry = shared::telemetry::init(config.common.log_format, "ingest");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ingest: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let shutdown = shared::shutdown::on_signals();
        let listeners = Listeners::bind(&config).await?;
        ingest::run(config, listeners, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "ingest failed");
            eprintln!("ingest: {error}");
            ExitCode::FAILURE
        }
    }
}
