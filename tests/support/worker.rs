//! Starting the real `worker` in-process, on port 0, with a test's own prefix, against the
//! sandbox simulators.

use std::collections::HashMap;
use std::path::PathBuf;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running in-process worker.
#[derive(Debug)]
pub struct WorkerHandle {
    /// `http://127.0.0.1:<port>` of the admin port.
    pub admin_url: String,
    /// Cancel to shut it down.
    pub shutdown: CancellationToken,
    /// The `run` task.
    pub task: JoinHandle<std::io::Result<()>>,
}

/// Write a properties file for the test and return its path.
pub fn properties_file(test_prefix: &str, toml: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("{}properties.toml", test_prefix.replace('.', "-")));
    std::fs::write(&path, toml).expect("write properties file");
    path
}

/// The `/metrics` text of a process with its admin server at `admin_url`.
pub async fn metrics_text(admin_url: &str) -> String {
    reqwest::get(format!("{admin_url}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

/// The value of the first sample line starting with `series` (`name{labels}`) in a metrics
/// text, 0 when absent.
pub fn sample_in(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

/// Wait until a worker's `/readyz` (at `admin_url`) answers 200.
pub async fn wait_until_ready(admin_url: &str) {
    let client = reqwest::Client::new();
    let url = format!("{admin_url}/readyz");
    crate::eventually(
        std::time::Duration::from_secs(30),
        "worker /readyz 200",
        || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                client
                    .get(url)
                    .send()
                    .await
                    .ok()?
                    .status()
                    .is_success()
                    .then_some(())
            }
        },
    )
    .await;
}

impl WorkerHandle {
    /// Start the worker with `env` (the admin port is always 127.0.0.1:0).
    pub async fn start(mut env: HashMap<String, String>) -> Self {
        env.insert("ADMIN_LISTEN".into(), "127.0.0.1:0".into());
        let config =
            worker::config::WorkerConfig::from_env(&env).expect("valid test configuration");
        let admin = TcpListener::bind(config.common.admin_listen)
            .await
            .expect("bind");
        let admin_url = format!("http://{}", admin.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(worker::run(config, admin, shutdown.clone()));
        let handle = Self {
            admin_url,
            shutdown,
            task,
        };
        handle.wait_ready().await;
        handle
    }

    /// Wait until `/readyz` answers 200 (connected and consuming).
    pub async fn wait_ready(&self) {
        wait_until_ready(&self.admin_url).await;
    }

    /// The current `/metrics` text.
    pub async fn metrics(&self) -> String {
        metrics_text(&self.admin_url).await
    }

    /// The value of one sample line (`name{labels}`), 0 when absent.
    pub async fn sample(&self, series: &str) -> f64 {
        sample_in(&self.metrics().await, series)
    }

    /// Wait until a sample (`name{labels}`) reaches exactly `value`.
    pub async fn wait_for(&self, series: &str, value: f64) {
        crate::eventually(std::time::Duration::from_secs(30), series, || async {
            (self.sample(series).await == value).then_some(())
        })
        .await;
    }

    /// Shut down and wait for `run` to return.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("worker task").expect("worker run");
    }
}
