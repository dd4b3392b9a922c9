//! The whole fleet in one test: a broker namespace, the sandbox simulators, the real `ingest`
//! and the real `worker`, wired together exactly as in production except for the base URLs.

use crate::broker::header_text;
use crate::ingest::{IngestHandle, PASSWORD, USER, default_env};
use crate::process::{Running, binary, free_port};
use crate::worker::{WorkerHandle, properties_file};
use crate::{TestBroker, TestDatabase, eventually};
use lapin::message::BasicGetMessage;
use sandbox::entrata::submit::{SubmitOptions, SubmittedApplication};
use sandbox::payscore::ControlGroup;
use sandbox::{CallRecord, ControlClient, IngestTarget, Sandbox, SandboxConfig, Simulator};
use shared::amqp::WorkQueue;
use shared::config::Secret;
use std::collections::HashMap;
use std::time::Duration;

/// The properties file of test fleets: every seeded property but the last is enabled.
pub const PROPERTIES: &str = r#"
[defaults]
decision_maker_display_name = "Acme Residential"
income_multiplier_threshold = 3.0

[properties."100001"]
[properties."100002"]
[properties."100003"]
[properties."100004"]
decision_maker_display_name = "Maple Court"
invite_customer_types = ["Primary", "Co-Applicant", "Guarantor"]
document_file_type = "OTHER"
"#;

/// A property the test fleet does not enable.
pub const DISABLED_PROPERTY: u64 = 100005;

/// A running fleet.
#[derive(Debug)]
pub struct Fleet {
    /// The test's broker namespace.
    pub broker: TestBroker,
    /// The test's ledger database.
    pub database: TestDatabase,
    /// The simulators.
    pub sandbox: Sandbox,
    /// Ingest.
    pub ingest: IngestHandle,
    /// The worker (`None` while stopped).
    pub worker: Option<WorkerHandle>,
    /// The worker's environment, to restart it the same way.
    pub worker_env: HashMap<String, String>,
}

/// Settings a test may change before the fleet starts.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Extra worker (and ingest: the delay tiers must agree) variables.
    pub env: Vec<(&'static str, String)>,
    /// Sandbox configuration (ingest target and listen addresses are filled in).
    pub sandbox: SandboxConfig,
    /// Start the worker in-process (false: the test starts it another way).
    pub start_worker: bool,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            sandbox: SandboxConfig::default(),
            start_worker: true,
        }
    }
}

impl Fleet {
    /// Start broker namespace, ingest, sandbox and worker; wait until all are ready.
    pub async fn start(test: &str, options: FleetOptions) -> Self {
        let broker = TestBroker::new(test).await;
        let database = TestDatabase::new(test).await;
        let mut common: HashMap<String, String> = default_env(&broker);
        // Short delays so retries and report checks happen within a test.
        for (k, v) in [
            ("RETRY_SCHEDULE", "1s,1s,2s"),
            // Believe a lookup that finds nothing at once after an unanswered create, in step
            // with the short schedule (tests of a lagging list set it longer).
            ("PAYSCORE_LOOKUP_SETTLE", "1ms"),
            // After a timeout or a 429 the next attempt waits 1 s, not 60 s.
            ("RETRY_OVERLOAD_MIN", "1s"),
            ("REPORT_CHECK_FIRST_DELAY", "1h"),
            ("REPORT_CHECK_SCHEDULE", "1h"),
            ("LOG_FORMAT", "pretty"),
        ] {
            common.insert(k.into(), v.into());
        }
        let mut config = options.sandbox;
        common.insert(
            "PAYSCORE_WEBHOOK_SECRET".into(),
            config.payscore.webhook_secret.expose().to_owned(),
        );
        for (k, v) in &options.env {
            common.insert((*k).into(), v.clone());
        }
        let ingest = IngestHandle::start(common.clone()).await;
        ingest.wait_ready().await;
        config.ingest = IngestTarget {
            url: Some(format!("{}/webhooks/entrata", ingest.url)),
            username: Some(USER.into()),
            password: Some(Secret::new(PASSWORD)),
            token: None,
        };
        let client_id = config.payscore.client_id.clone();
        let secret_key = config.payscore.secret_key.expose().to_owned();
        let api_key = config.entrata.api_key.expose().to_owned();
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        let mut worker_env = common;
        for (k, v) in [
            ("ENTRATA_API_BASE_URL", sandbox.entrata_url()),
            ("ENTRATA_API_KEY", api_key),
            ("PAYSCORE_API_BASE_URL", sandbox.payscore_url()),
            ("PAYSCORE_CLIENT_ID", client_id),
            ("PAYSCORE_SECRET_KEY", secret_key),
            ("PUBLIC_BASE_URL", ingest.url.clone()),
            (
                "PROPERTIES_FILE",
                properties_file(&broker.prefix, PROPERTIES)
                    .display()
                    .to_string(),
            ),
            ("PAYSCORE_TIMEOUT_MS", "2000".into()),
            ("ENTRATA_TIMEOUT_MS", "2000".into()),
            ("DATABASE_URL", database.url.clone()),
        ] {
            worker_env.entry(k.into()).or_insert(v);
        }
        // Test options win over the defaults above.
        for (k, v) in &options.env {
            worker_env.insert((*k).into(), v.clone());
        }
        // Claims of killed workers expire soon after the longest downstream call could end
        // (the worker refuses a shorter TTL).
        let longest_ms = ["PAYSCORE_TIMEOUT_MS", "ENTRATA_TIMEOUT_MS"]
            .iter()
            .filter_map(|k| worker_env.get(*k)?.parse::<u64>().ok())
            .max()
            .unwrap_or(15_000);
        worker_env
            .entry("LEDGER_CLAIM_TTL_SECONDS".into())
            .or_insert_with(|| (longest_ms.div_ceil(1000) + 5).to_string());
        let worker = if options.start_worker {
            Some(WorkerHandle::start(worker_env.clone()).await)
        } else {
            None
        };
        Self {
            broker,
            database,
            sandbox,
            ingest,
            worker,
            worker_env,
        }
    }

    /// The sandbox's control client.
    pub fn control(&self) -> &ControlClient {
        self.sandbox.control()
    }

    /// The calls a simulator received on `route`, oldest first.
    pub async fn calls(&self, simulator: Simulator, route: &str) -> Vec<CallRecord> {
        self.control()
            .calls(simulator, Some(route))
            .await
            .expect("the simulator lists its calls")
    }

    /// Submit an application at `property_id` whose applicants all have an email, sending its
    /// webhook to ingest.
    pub async fn submit(&self, property_id: u64) -> SubmittedApplication {
        let options = SubmitOptions {
            property_id: Some(property_id),
            every_email: true,
            ..Default::default()
        };
        self.control()
            .submit_application(&options)
            .await
            .expect("submit")
    }

    /// Wait for the next message in `queue`'s dead-letter queue, check its `x-dead-reason`,
    /// and return it.
    pub async fn dead_letter(&self, queue: WorkQueue, reason: &str) -> BasicGetMessage {
        let dead = self.broker.topology().dead_queue(queue);
        let message = eventually(Duration::from_secs(20), "a dead letter", || {
            self.broker.get(&dead)
        })
        .await;
        assert_eq!(
            header_text(&message, "x-dead-reason").as_deref(),
            Some(reason)
        );
        message
    }

    /// The running worker.
    pub fn worker(&self) -> &WorkerHandle {
        self.worker.as_ref().expect("the worker is running")
    }

    /// Wait until exactly one group exists for the application and return it.
    pub async fn one_group(&self, property_id: u64, application_id: u64) -> ControlGroup {
        let correlation = format!("entrata:{property_id}:{application_id}");
        let group = eventually(Duration::from_secs(30), "a screening group", || async {
            let groups = self
                .control()
                .groups_by_correlation(&correlation)
                .await
                .ok()?;
            groups.into_iter().next()
        })
        .await;
        // A second group would come from a job still running or waiting: let the screenings
        // settle (nothing queued, nothing in flight) before counting.
        if let Some(worker) = &self.worker {
            let queue = self
                .broker
                .topology()
                .queue(shared::amqp::WorkQueue::Screenings);
            eventually(
                Duration::from_secs(30),
                "the screenings settled",
                || async {
                    let idle = worker
                        .sample(r#"worker_in_flight{queue="screenings"}"#)
                        .await
                        == 0.0;
                    (idle && self.broker.count(&queue).await == 0).then_some(())
                },
            )
            .await;
        }
        let all = self
            .control()
            .groups_by_correlation(&correlation)
            .await
            .expect("groups");
        assert_eq!(all.len(), 1, "exactly one group for {correlation}");
        group
    }

    /// How many groups exist for the application now.
    pub async fn group_count(&self, property_id: u64, application_id: u64) -> usize {
        let correlation = format!("entrata:{property_id}:{application_id}");
        self.control()
            .groups_by_correlation(&correlation)
            .await
            .expect("groups")
            .len()
    }

    /// Start the real `worker` binary with the fleet's worker environment (plus `extra`), its
    /// admin port on a free local port, and wait until it is ready. Its log goes to
    /// `/tmp/<prefix>worker-<port>.log`.
    pub async fn spawn_worker(&self, extra: &[(&str, String)]) -> WorkerProcess {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("{}worker-{port}.log", self.broker.prefix));
        let mut command = std::process::Command::new(binary("worker"));
        command
            .envs(&self.worker_env)
            .env("ADMIN_LISTEN", format!("127.0.0.1:{port}"))
            .env("LOG_FORMAT", "json")
            .stdout(std::fs::File::create(&log).expect("log file"))
            .stderr(std::process::Stdio::null());
        for (k, v) in extra {
            command.env(k, v);
        }
        let process = WorkerProcess {
            admin_url: format!("http://127.0.0.1:{port}"),
            running: Running(command.spawn().expect("start the worker binary")),
        };
        process.wait_ready().await;
        process
    }

    /// Make Payscore perform the next create but never answer it (the worker's call times
    /// out): the create's outcome is unknown to the worker.
    pub async fn lose_next_create_answer(&self) {
        self.control()
            .fail_next(
                Simulator::Payscore,
                "create_group",
                sandbox::Scripted::action(1, sandbox::ScriptedAction::HangAfterHandling),
            )
            .await
            .expect("fault");
    }

    /// Every `leads/getLeads` answers 503 from now on: each screening run fails and wants a
    /// retry.
    pub async fn fail_entrata_reads(&self) {
        let faults = sandbox::Faults {
            error_rate: 1.0,
            error_status: 503,
            ..Default::default()
        };
        self.control()
            .set_faults(Simulator::Entrata, "leads/getLeads", faults)
            .await
            .expect("faults");
    }

    /// Every Entrata and Payscore call takes `latency` longer from now on.
    pub async fn slow_every_call(&self, latency: Duration) {
        let slow = sandbox::Faults {
            latency: Some(sandbox::Latency::Fixed(latency.as_millis() as u64)),
            ..Default::default()
        };
        for simulator in [Simulator::Entrata, Simulator::Payscore] {
            self.control()
                .set_faults(simulator, "*", slow.clone())
                .await
                .expect("faults");
        }
    }

    /// Wait until both work queues are empty and none of `workers` has a job in flight.
    pub async fn settled(&self, workers: &[&WorkerProcess]) {
        let topology = self.broker.topology();
        eventually(Duration::from_secs(120), "the fleet idle", || async {
            for queue in [WorkQueue::Screenings, WorkQueue::Reports] {
                if self.broker.count(&topology.queue(queue)).await != 0 {
                    return None;
                }
            }
            for worker in workers {
                if worker.sample("worker_in_flight").await != 0.0 {
                    return None;
                }
            }
            Some(())
        })
        .await;
    }

    /// Both dead-letter queues are empty.
    pub async fn assert_nothing_dead_lettered(&self) {
        let topology = self.broker.topology();
        for queue in [WorkQueue::Screenings, WorkQueue::Reports] {
            let dead = topology.dead_queue(queue);
            assert_eq!(self.broker.count(&dead).await, 0, "nothing in {dead}");
        }
    }

    /// Stop everything.
    pub async fn stop(self) {
        if let Some(worker) = self.worker {
            worker.stop().await;
        }
        self.ingest.stop().await;
        self.sandbox.shutdown().await;
        if let Some(path) = self.worker_env.get("PROPERTIES_FILE") {
            let _ = std::fs::remove_file(path);
        }
        drop(self.broker);
    }
}

/// The real `worker` binary, stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct WorkerProcess {
    /// `http://127.0.0.1:<port>` of its admin port.
    pub admin_url: String,
    /// The process.
    pub running: Running,
}

impl WorkerProcess {
    /// Wait until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        crate::worker::wait_until_ready(&self.admin_url).await;
    }

    /// `/readyz`: status code and body.
    pub async fn readyz(&self) -> Option<(u16, String)> {
        let answer = reqwest::get(format!("{}/readyz", self.admin_url))
            .await
            .ok()?;
        let status = answer.status().as_u16();
        Some((status, answer.text().await.ok()?))
    }

    /// The sum of every sample of a series: `name` sums all its label sets, `name{labels}`
    /// takes that one. 0 when absent or unreachable.
    pub async fn sample(&self, series: &str) -> f64 {
        let Ok(answer) = reqwest::get(format!("{}/metrics", self.admin_url)).await else {
            return 0.0;
        };
        let text = answer.text().await.unwrap_or_default();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let rest = l.strip_prefix(series)?;
                let whole =
                    rest.starts_with(' ') || (!series.contains('{') && rest.starts_with('{'));
                if !whole {
                    return None;
                }
                l.rsplit(' ').next()?.parse::<f64>().ok()
            })
            .sum()
    }

    /// Wait until `series` has been counted at least once.
    pub async fn wait_until_seen(&self, series: &str) {
        eventually(Duration::from_secs(30), series, || async {
            (self.sample(series).await >= 1.0).then_some(())
        })
        .await;
    }

    /// SIGKILL: no drain, no goodbye to the broker or the database.
    pub fn kill(&mut self) {
        let _ = self.running.0.kill();
        let _ = self.running.0.wait();
    }
}
