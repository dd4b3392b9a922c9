//! The whole journey through the real binaries, started as processes, with the local run's own
//! properties file: an application submitted in the Entrata simulator ends as a report in its
//! applicant file, one at the property on Payscore's v2 API as its household income report and
//! one identity report per applicant, and one without an applicant email ends in the
//! dead-letter queue with its reason.

use fleet_tests::TestBroker;
use fleet_tests::eventually;
use fleet_tests::ingest::{PASSWORD, USER};
use fleet_tests::process::{Running, binary, free_port};
use fleet_tests::worker::properties_file;
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test]
async fn a_submitted_application_ends_as_a_report_in_the_applicant_file_through_the_real_binaries()
{
    let broker = TestBroker::new("journey").await;
    let database = fleet_tests::TestDatabase::new("journey").await;
    // What `deploy/local/run.sh` runs with: 100002 is on v2 with income and identity.
    let properties = properties_file(
        &broker.prefix,
        include_str!("../../deploy/local/properties.toml"),
    );
    let (ingest, ingest_admin, worker_admin, payscore, entrata) = (
        free_port(),
        free_port(),
        free_port(),
        free_port(),
        free_port(),
    );
    let env: Vec<(String, String)> = broker
        .env()
        .into_iter()
        .chain(
            [
                ("LOG_FORMAT", "json".to_owned()),
                ("RETRY_SCHEDULE", "1s,2s".to_owned()),
                ("REPORT_CHECK_FIRST_DELAY", "2s".to_owned()),
                ("REPORT_CHECK_SCHEDULE", "2s".to_owned()),
                ("ENTRATA_WEBHOOK_USERNAME", USER.to_owned()),
                ("ENTRATA_WEBHOOK_PASSWORD", PASSWORD.to_owned()),
                (
                    "PAYSCORE_WEBHOOK_SECRET",
                    "sandbox-webhook-secret".to_owned(),
                ),
                (
                    "ENTRATA_API_BASE_URL",
                    format!("http://127.0.0.1:{entrata}/ext/orgs/sandbox/v1"),
                ),
                ("ENTRATA_API_KEY", "sandbox-api-key".to_owned()),
                (
                    "PAYSCORE_API_BASE_URL",
                    format!("http://127.0.0.1:{payscore}"),
                ),
                ("PAYSCORE_CLIENT_ID", "sandbox-client".to_owned()),
                ("PAYSCORE_SECRET_KEY", "sandbox-secret".to_owned()),
                ("PUBLIC_BASE_URL", format!("http://127.0.0.1:{ingest}")),
                ("PROPERTIES_FILE", properties.display().to_string()),
                ("DATABASE_URL", database.url.clone()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        )
        .collect();
    let spawn = |name: &str, extra: &[(&str, String)], args: &[String]| {
        Command::new(binary(name))
            .envs(env.iter().cloned())
            .envs(extra.iter().map(|(k, v)| (*k, v.clone())))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(Running)
            .unwrap_or_else(|e| panic!("start {name}: {e}"))
    };
    let sandbox_args: Vec<String> = [
        "--payscore-listen",
        &format!("127.0.0.1:{payscore}"),
        "--entrata-listen",
        &format!("127.0.0.1:{entrata}"),
        "--ingest-url",
        &format!("http://127.0.0.1:{ingest}/webhooks/entrata"),
        "--ingest-username",
        USER,
        "--ingest-password",
        PASSWORD,
        "--payscore-complete-after-ms",
        "1500",
    ]
    .map(str::to_owned)
    .to_vec();
    let _processes = [
        spawn("sandbox", &[], &sandbox_args),
        spawn(
            "ingest",
            &[
                ("INGEST_LISTEN", format!("127.0.0.1:{ingest}")),
                ("ADMIN_LISTEN", format!("127.0.0.1:{ingest_admin}")),
            ],
            &[],
        ),
        spawn(
            "worker",
            &[("ADMIN_LISTEN", format!("127.0.0.1:{worker_admin}"))],
            &[],
        ),
    ];
    for url in [
        format!("http://127.0.0.1:{ingest_admin}/readyz"),
        format!("http://127.0.0.1:{worker_admin}/readyz"),
        format!("http://127.0.0.1:{payscore}/metrics"),
    ] {
        eventually(Duration::from_secs(30), &url, || async {
            reqwest::get(&url)
                .await
                .ok()?
                .status()
                .is_success()
                .then_some(())
        })
        .await;
    }

    let journey = Command::new(binary("journey"))
        .args([
            "--applications",
            "2",
            "--interval-ms",
            "100",
            "--timeout-s",
            "60",
            "--prefix",
            &broker.prefix,
        ])
        .args([
            "--payscore",
            &format!("http://127.0.0.1:{payscore}"),
            "--entrata",
            &format!("http://127.0.0.1:{entrata}"),
        ])
        .env("AMQP_URL", fleet_tests::broker::amqp_url())
        .output()
        .expect("run journey");
    let out = String::from_utf8_lossy(&journey.stdout);
    assert!(
        journey.status.success(),
        "journey failed:\n{out}\n{}",
        String::from_utf8_lossy(&journey.stderr)
    );
    assert_eq!(out.matches("webhook answered 202").count(), 3, "{out}");
    // 100001 on v1, 100002 on v2.
    assert_eq!(out.matches("screening group created").count(), 1, "{out}");
    assert_eq!(
        out.matches("applicant group created (Payscore v2)").count(),
        1,
        "{out}"
    );
    assert!(
        out.contains("each asked for income_verification and identity_verification"),
        "{out}"
    );
    assert_eq!(out.matches("applicants finished").count(), 2, "{out}");
    let uploads = out.matches("report uploaded to the applicant file").count();
    assert!(
        uploads >= 3,
        "one v1 report, a v2 income report and at least one identity report: {out}"
    );
    assert_eq!(out.matches("payscore-income-").count(), 1, "{out}");
    assert!(out.contains("payscore-identity-"), "{out}");
    assert_eq!(
        out.matches("x-dead-reason=no_applicant_email").count(),
        1,
        "{out}"
    );
    assert!(out.contains("every journey ended as expected"), "{out}");
    let _ = std::fs::remove_file(&properties);
}
