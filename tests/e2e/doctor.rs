//! `worker doctor` against the sandbox: every check passes on a healthy fleet, and each broken
//! assumption fails by name, with nothing created, uploaded or published.

use fleet_tests::fleet::{Fleet, FleetOptions};
use fleet_tests::process::binary;
use fleet_tests::worker::properties_file;
use sandbox::SandboxConfig;
use sandbox::core::Simulator;
use shared::amqp::WorkQueue;

/// Run the real `worker doctor` with the fleet's worker environment and `extra`; whether it
/// succeeded, and what it printed.
async fn doctor(fleet: &Fleet, extra: &[(&str, String)]) -> (bool, String) {
    let mut command = std::process::Command::new(binary("worker"));
    command
        .arg("doctor")
        .envs(&fleet.worker_env)
        .env("LOG_FORMAT", "json");
    for (k, v) in extra {
        command.env(k, v);
    }
    // The fleet runs on this test's runtime: wait for the process off it.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("joined")
        .expect("worker doctor runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

fn failures(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("FAIL")).collect()
}

#[tokio::test]
async fn doctor_passes_against_the_sandbox_and_names_each_broken_assumption() {
    let mut config = SandboxConfig::default();
    // The assumed v1 list route ignores correlation_id under this reading.
    config.payscore.screening_groups_unfiltered = true;
    let fleet = Fleet::start(
        "doctor",
        FleetOptions {
            sandbox: config,
            ..Default::default()
        },
    )
    .await;
    // One group, so that a list that does not filter has something to show.
    let submitted = fleet.submit(100001).await;
    fleet
        .one_group(submitted.property_id, submitted.application_id)
        .await;
    let creates = fleet.calls(Simulator::Payscore, "create_group").await.len();

    let (ok, out) = doctor(&fleet, &[]).await;
    assert!(ok, "{out}");
    assert!(failures(&out).is_empty(), "{out}");
    for line in [
        "ok    entrata.key",
        "ok    entrata.property 100001",
        "ok    entrata.file_type 100004",
        "ok    payscore.credentials",
        "ok    payscore.lookup",
        "ok    ingest.public_url",
        "ok    broker.topology",
        "ok    ledger.schema",
        "ok    entrata.triggers",
    ] {
        assert!(out.contains(line), "{line:?} in\n{out}");
    }

    assert!(
        !out.contains("payscore.v2"),
        "no v2 property, no v2 check:\n{out}"
    );

    // A property on Payscore's v2 API: the applicant-group list answers, and the wire names of
    // its verifications are printed.
    let v2 = properties_file(
        &format!("{}v2.", fleet.broker.prefix),
        r#"
[defaults]
decision_maker_display_name = "Acme Residential"
[properties."100001"]
[properties."100003"]
payscore_api = "v2"
verifications = ["income", "identity"]
"#,
    );
    let v2_env = [("PROPERTIES_FILE", v2.display().to_string())];
    let (ok, out) = doctor(&fleet, &v2_env).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("ok    payscore.v2")
            && out.contains("100003 (income_verification, identity_verification)"),
        "{out}"
    );
    fleet
        .control()
        .set_faults(
            Simulator::Payscore,
            "applicant_groups",
            sandbox::Faults {
                error_rate: 1.0,
                ..Default::default()
            },
        )
        .await
        .expect("faults");
    let (ok, out) = doctor(&fleet, &v2_env).await;
    assert!(!ok);
    assert!(
        failures(&out)
            .iter()
            .any(|l| l.starts_with("FAIL  payscore.v2")),
        "{out}"
    );
    fleet
        .control()
        .clear_faults(Simulator::Payscore)
        .await
        .expect("clear");
    let _ = std::fs::remove_file(&v2);

    // A property the key cannot read, and a file type the property does not have.
    let broken = properties_file(
        &format!("{}broken.", fleet.broker.prefix),
        r#"
[defaults]
decision_maker_display_name = "Acme Residential"
[properties."100001"]
document_file_type = "NOPE"
[properties."999999"]
"#,
    );
    let (ok, out) = doctor(&fleet, &[("PROPERTIES_FILE", broken.display().to_string())]).await;
    let _ = std::fs::remove_file(&broken);
    assert!(!ok, "{out}");
    let failed = failures(&out);
    assert_eq!(failed.len(), 2, "{out}");
    assert!(
        failed[0].starts_with("FAIL  entrata.file_type 100001"),
        "{out}"
    );
    assert!(
        failed[1].starts_with("FAIL  entrata.property 999999"),
        "{out}"
    );

    // PUBLIC_BASE_URL that does not reach ingest.
    let (ok, out) = doctor(&fleet, &[("PUBLIC_BASE_URL", fleet.sandbox.payscore_url())]).await;
    assert!(!ok);
    let failed = failures(&out);
    assert_eq!(failed.len(), 1, "{out}");
    assert!(failed[0].starts_with("FAIL  ingest.public_url"), "{out}");

    // A lookup that does not filter by correlation_id.
    let (ok, out) = doctor(&fleet, &[("PAYSCORE_LOOKUP", "screening_groups".into())]).await;
    assert!(!ok);
    let failed = failures(&out);
    assert_eq!(failed.len(), 1, "{out}");
    assert!(failed[0].starts_with("FAIL  payscore.lookup"), "{out}");

    // A broker without this prefix's topology: named, and nothing is created there.
    let elsewhere = format!("{}elsewhere.", fleet.broker.prefix);
    let (ok, out) = doctor(&fleet, &[("AMQP_PREFIX", elsewhere.clone())]).await;
    assert!(!ok);
    let failed = failures(&out);
    assert_eq!(failed.len(), 1, "{out}");
    assert!(failed[0].starts_with("FAIL  broker.topology"), "{out}");
    let connection = lapin::Connection::connect(
        &fleet_tests::broker::amqp_url(),
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("connect");
    for queue in [WorkQueue::Screenings, WorkQueue::Reports] {
        let channel = connection.create_channel().await.expect("channel");
        let name = format!("{elsewhere}{}", queue.as_str());
        let exists = channel
            .queue_declare(
                name.clone().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .is_ok();
        assert!(!exists, "{name} was not created");
    }
    let _ = connection.close(200, "checked".into()).await;

    // Read-only: no create, no upload, no webhook accepted (the unsigned one is refused).
    assert_eq!(
        fleet.calls(Simulator::Payscore, "create_group").await.len(),
        creates
    );
    assert!(
        fleet
            .calls(Simulator::Entrata, "leases/sendLeaseDocuments")
            .await
            .is_empty()
    );
    let metrics = reqwest::get(format!("{}/metrics", fleet.ingest.admin_url))
        .await
        .expect("ingest metrics")
        .text()
        .await
        .expect("text");
    assert!(
        !metrics.contains(r#"ingest_webhooks_total{outcome="accepted",source="payscore"}"#),
        "no Payscore webhook was accepted"
    );
    assert!(
        metrics.contains(r#"ingest_webhooks_total{outcome="unauthorized",source="payscore"}"#),
        "the doctor's unsigned webhooks were refused"
    );
    fleet.stop().await;
}
