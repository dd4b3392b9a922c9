//! The `sandbox` binary: configured by flags, prints its URLs, serves, stops on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const URL_NAMES: [&str; 4] = [
    "PAYSCORE_API_BASE_URL",
    "ENTRATA_API_BASE_URL",
    "SANDBOX_PAYSCORE_CONTROL_URL",
    "SANDBOX_ENTRATA_CONTROL_URL",
];

#[tokio::test]
async fn the_binary_prints_its_urls_serves_and_stops_cleanly_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sandbox"))
        .args([
            "--payscore-listen",
            "127.0.0.1:0",
            "--entrata-listen=127.0.0.1:0",
            "--seed",
            "7",
        ])
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    // Logs share stdout with the URL lines: keep every line until the four URLs are in, and
    // keep reading afterwards so the binary never writes into a closed pipe.
    let stdout = child.stdout.take().expect("stdout");
    let (found, urls) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            lines.push(line);
            let urls = lines
                .iter()
                .filter(|l| URL_NAMES.iter().any(|n| l.starts_with(&format!("{n}="))))
                .count();
            if urls == URL_NAMES.len()
                && let Some(found) = found.take()
            {
                let _ = found.send(lines.clone());
            }
        }
    });
    let lines = tokio::time::timeout(Duration::from_secs(20), urls)
        .await
        .expect("URLs printed in time")
        .expect("the binary printed its URLs before closing stdout");
    let url = |name: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {lines:?}"))
            .to_owned()
    };
    let payscore = url("PAYSCORE_API_BASE_URL");
    assert!(url("ENTRATA_API_BASE_URL").ends_with("/ext/orgs/sandbox/v1"));
    assert!(url("SANDBOX_ENTRATA_CONTROL_URL").starts_with("http://127.0.0.1:"));
    let metrics = common::http()
        .get(format!("{payscore}/metrics"))
        .send()
        .await
        .expect("answers");
    assert_eq!(metrics.status(), 200);
    let groups = common::http()
        .get(format!("{}/groups", url("SANDBOX_PAYSCORE_CONTROL_URL")))
        .send()
        .await
        .expect("answers");
    assert_eq!(groups.text().await.expect("text"), "[]");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = common::eventually(Duration::from_secs(10), "the binary to exit", || {
        let exited = child.try_wait().expect("wait");
        async move { exited }
    })
    .await;
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn a_bad_flag_value_exits_with_the_configuration_error_code() {
    let output = Command::new(env!("CARGO_BIN_EXE_sandbox"))
        .args(["--seed", "many"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("SANDBOX_SEED"));
}
