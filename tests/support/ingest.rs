//! Starting the real `ingest` in-process, on port 0, with a test's own prefix.

use crate::TestBroker;
use ingest::{Listeners, config::IngestConfig};
use std::collections::HashMap;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Basic-auth user of test ingests.
pub const USER: &str = "entrata";
/// Basic-auth password of test ingests.
pub const PASSWORD: &str = "correct horse";
/// Shared token of test ingests.
pub const TOKEN: &str = "s3cret-token";
/// Payscore HMAC key of test ingests.
pub const PAYSCORE_SECRET: &str = "payscore-webhook-secret";

/// A running in-process ingest.
#[derive(Debug)]
pub struct IngestHandle {
    /// `http://127.0.0.1:<port>` of the webhook port.
    pub url: String,
    /// `http://127.0.0.1:<port>` of the admin port.
    pub admin_url: String,
    /// Cancel to shut it down.
    pub shutdown: CancellationToken,
    /// The `run` task.
    pub task: JoinHandle<std::io::Result<()>>,
}

/// The environment of a test ingest: Basic auth and token, the Payscore secret, port 0.
pub fn default_env(broker: &TestBroker) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = broker.env().into_iter().collect();
    for (k, v) in [
        ("ENTRATA_WEBHOOK_USERNAME", USER),
        ("ENTRATA_WEBHOOK_PASSWORD", PASSWORD),
        ("ENTRATA_WEBHOOK_TOKEN", TOKEN),
        ("PAYSCORE_WEBHOOK_SECRET", PAYSCORE_SECRET),
        ("INGEST_LISTEN", "127.0.0.1:0"),
        ("ADMIN_LISTEN", "127.0.0.1:0"),
        ("SHUTDOWN_GRACE_SECONDS", "5"),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    env
}

impl IngestHandle {
    /// Start ingest with `env`.
    pub async fn start(env: HashMap<String, String>) -> Self {
        let config = IngestConfig::from_env(&env).expect("valid test configuration");
        let listeners = Listeners {
            public: TcpListener::bind(config.listen).await.expect("bind"),
            admin: TcpListener::bind(config.common.admin_listen)
                .await
                .expect("bind"),
        };
        let url = format!("http://{}", listeners.public.local_addr().expect("addr"));
        let admin_url = format!("http://{}", listeners.admin.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(ingest::run(config, listeners, shutdown.clone()));
        Self {
            url,
            admin_url,
            shutdown,
            task,
        }
    }

    /// Start with the default test environment and wait until `/readyz` says ready.
    pub async fn start_ready(broker: &TestBroker) -> Self {
        let handle = Self::start(default_env(broker)).await;
        handle.wait_ready().await;
        handle
    }

    /// Wait until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        wait_ready(&self.admin_url).await;
    }

    /// Shut down and wait for `run` to return.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("ingest task").expect("ingest run");
    }
}

/// Wait until ingest's `/readyz` at `admin_url` answers 200.
async fn wait_ready(admin_url: &str) {
    let client = reqwest::Client::new();
    let url = format!("{admin_url}/readyz");
    crate::eventually(
        std::time::Duration::from_secs(30),
        "ingest /readyz 200",
        || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let status = client.get(url).send().await.ok()?.status();
                status.is_success().then_some(())
            }
        },
    )
    .await;
}

/// The Payscore signature of `body` under the test secret (computed independently of ingest).
pub fn sign(body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(PAYSCORE_SECRET.as_bytes()).expect("key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The real `ingest` binary on a fixed local port, so that it can be signalled and started
/// again at the same address. Its log goes to `/tmp/<prefix>ingest-<port>.log`.
#[derive(Debug)]
pub struct IngestProcess {
    /// `http://127.0.0.1:<port>` of the webhook port.
    pub url: String,
    /// `http://127.0.0.1:<port>` of the admin port.
    pub admin_url: String,
    env: HashMap<String, String>,
    log: std::path::PathBuf,
    running: Option<crate::process::Running>,
}

impl IngestProcess {
    /// Start `ingest` with `env` (its listen addresses replaced) and wait until it is ready.
    pub async fn start(mut env: HashMap<String, String>, prefix: &str) -> Self {
        let (port, admin) = (crate::process::free_port(), crate::process::free_port());
        env.insert("INGEST_LISTEN".into(), format!("127.0.0.1:{port}"));
        env.insert("ADMIN_LISTEN".into(), format!("127.0.0.1:{admin}"));
        env.insert("LOG_FORMAT".into(), "json".into());
        let mut process = Self {
            url: format!("http://127.0.0.1:{port}"),
            admin_url: format!("http://127.0.0.1:{admin}"),
            env,
            log: std::env::temp_dir().join(format!("{prefix}ingest-{port}.log")),
            running: None,
        };
        process.spawn().await;
        process
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = std::process::Command::new(crate::process::binary("ingest"))
            .envs(&self.env)
            .stdout(log)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the ingest binary");
        self.running = Some(crate::process::Running(child));
        wait_ready(&self.admin_url).await;
    }

    /// SIGTERM, wait for the process to exit (it drains in-flight requests first) and return
    /// whether it exited with success.
    pub async fn terminate(&mut self) -> bool {
        let Some(mut running) = self.running.take() else {
            return true;
        };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &running.id().to_string()])
            .status();
        let status = tokio::task::spawn_blocking(move || running.0.wait())
            .await
            .expect("wait task");
        status.is_ok_and(|s| s.success())
    }

    /// Start it again on the same ports and wait until it is ready.
    pub async fn restart(&mut self) {
        self.spawn().await;
    }
}
