//! `sandbox`: read configuration (flags or `SANDBOX_*` variables), start telemetry, serve
//! both simulators until SIGTERM or SIGINT.

mod cli;

use sandbox::{Sandbox, SandboxConfig};
use shared::config::EXIT_CONFIG;
use std::process::ExitCode;

fn main() -> ExitCode {
    let env = match cli::FlagsThenEnv::from_args(std::env::args().skip(1)) {
        Ok(env) => env,
        Err(message) => {
            eprintln!("sandbox: {message}\n\n{}", cli::USAGE);
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if env.help {
        println!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    let (config, log_format) =
        match SandboxConfig::from_env(&env).and_then(|c| Ok((c, cli::log_format(&env)?))) {
            Ok(parsed) => parsed,
            Err(error) => {
                eprintln!("sandbox: configuration error: {error}");
                return ExitCode::from(EXIT_CONFIG);
            }
        };
    let _telemetry = shared::telemetry::init(log_format, "sandbox");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sandbox: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let shutdown = shared::shutdown::on_signals();
        let sandbox = Sandbox::start(config).await?;
        cli::print_urls(&[
            ("PAYSCORE_API_BASE_URL", sandbox.payscore_url()),
            ("ENTRATA_API_BASE_URL", sandbox.entrata_url()),
            (
                "SANDBOX_PAYSCORE_CONTROL_URL",
                sandbox.payscore_control_url(),
            ),
            ("SANDBOX_ENTRATA_CONTROL_URL", sandbox.entrata_control_url()),
        ]);
        shutdown.cancelled().await;
        sandbox.shutdown().await;
        Ok::<(), std::io::Error>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sandbox: {error}");
            ExitCode::FAILURE
        }
    }
}
