//! A namespace of its own on the machine's broker for each test: a unique `AMQP_PREFIX`, helpers
//! to read what landed in a queue, and clean-up of every queue and exchange on drop.

use lapin::message::BasicGetMessage;
use lapin::options::{
    BasicGetOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use shared::amqp::Topology;
use std::process::Command;
use std::time::Duration;

/// `AMQP_URL`, or the local default.
pub fn amqp_url() -> String {
    std::env::var("AMQP_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// `rabbitmqctl` for the broker under test: `RABBITMQCTL` (a command, e.g. the wrapper for the
/// RabbitMQ 4 node, `deploy/local/rabbitmqctl4`), else the machine's `rabbitmqctl`.
pub fn rabbitmqctl() -> Command {
    let program = std::env::var("RABBITMQCTL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "rabbitmqctl".to_owned());
    Command::new(program)
}

/// One test's namespace on the broker.
pub struct TestBroker {
    /// The test's `AMQP_PREFIX`.
    pub prefix: String,
    connection: tokio::sync::Mutex<Connection>,
    extra_queues: std::sync::Mutex<Vec<String>>,
}

impl std::fmt::Debug for TestBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBroker")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl TestBroker {
    /// Connect and pick a unique prefix. Fails the test, saying how to get a broker, when
    /// none answers.
    pub async fn new(test: &str) -> Self {
        let url = amqp_url();
        let connection = Connection::connect(&url, ConnectionProperties::default())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "RabbitMQ is not reachable ({e}). Start one with deploy/local/broker.sh, \
                     or point AMQP_URL at one; the README's test command does this for you."
                )
            });
        let prefix = format!("t.{test}.{:08x}.", fastrand::u32(..));
        Self {
            prefix,
            connection: tokio::sync::Mutex::new(connection),
            extra_queues: Default::default(),
        }
    }

    /// The topology of this prefix with the default delay tiers.
    pub fn topology(&self) -> Topology {
        let env: std::collections::HashMap<String, String> =
            [("AMQP_PREFIX".to_owned(), self.prefix.clone())].into();
        shared::amqp::AmqpConfig::from_env(&env)
            .expect("valid defaults")
            .topology()
    }

    /// The environment every service of this test starts with.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AMQP_URL".into(), amqp_url()),
            ("AMQP_PREFIX".into(), self.prefix.clone()),
        ]
    }

    /// Also delete `queue` on clean-up (for queues a test declares itself).
    pub fn track(&self, queue: String) {
        self.extra_queues.lock().expect("not poisoned").push(queue);
    }

    /// A channel on the test's own connection, connecting again when the broker closed it (a
    /// test that restarts the broker).
    async fn channel(&self) -> lapin::Channel {
        let mut connection = self.connection.lock().await;
        if !connection.status().connected() {
            *connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
                .await
                .expect("connect to the broker again");
        }
        connection.create_channel().await.expect("channel")
    }

    /// Stop the broker's RabbitMQ application (every client connection drops; the node and
    /// its data stay), wait `down`, start it again and wait until it accepts connections. The
    /// application is started again also when the test fails or is cancelled meanwhile.
    pub async fn restart_broker(&self, down: Duration) {
        struct StartAgain;
        impl Drop for StartAgain {
            fn drop(&mut self) {
                let _ = rabbitmqctl().args(["start_app", "-q"]).status();
            }
        }
        let stopped = rabbitmqctl()
            .args(["stop_app", "-q"])
            .status()
            .expect("rabbitmqctl must be installed where the broker runs (deploy/local/broker.sh)");
        assert!(stopped.success(), "rabbitmqctl stop_app failed");
        let again = StartAgain;
        tokio::time::sleep(down).await;
        drop(again);
        crate::eventually(
            Duration::from_secs(60),
            "the broker accepting connections",
            || async {
                let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
                    .await
                    .ok()?;
                let _ = connection.close(200, "up".into()).await;
                Some(())
            },
        )
        .await;
    }

    /// Take one message from `queue` (prefixed name), if there is one.
    pub async fn get(&self, queue: &str) -> Option<BasicGetMessage> {
        let channel = self.channel().await;
        let message = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get");
        let _ = channel.close(200, "done".into()).await;
        message
    }

    /// Take every message currently in `queue`.
    pub async fn drain(&self, queue: &str) -> Vec<BasicGetMessage> {
        let channel = self.channel().await;
        let mut all = Vec::new();
        while let Some(m) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            all.push(m);
        }
        let _ = channel.close(200, "done".into()).await;
        all
    }

    /// How many messages `queue` holds now (the queue must exist).
    pub async fn count(&self, queue: &str) -> u32 {
        let channel = self.channel().await;
        let count = channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("queue {queue} must exist: {e}"))
            .message_count();
        let _ = channel.close(200, "done".into()).await;
        count
    }

    /// Close, from the broker's side, every connection whose name ends with this test's prefix
    /// (`ingest@<prefix>`, `worker@<prefix>`). Returns how many were closed.
    pub fn close_connections(&self) -> usize {
        let listing = rabbitmqctl()
            .args(["list_connections", "pid", "client_properties", "-q"])
            .output()
            .expect("rabbitmqctl must be installed where the broker runs (deploy/local/broker.sh)");
        let text = String::from_utf8_lossy(&listing.stdout);
        let needle = format!("@{}\"}}", self.prefix);
        let mut closed = 0;
        for line in text.lines().filter(|l| l.contains(&needle)) {
            let pid = line.split('\t').next().unwrap_or_default();
            let status = rabbitmqctl()
                .args(["close_connection", pid, "closed by a test", "-q"])
                .status()
                .expect("rabbitmqctl close_connection");
            if status.success() {
                closed += 1;
            }
        }
        closed
    }

    /// Apply a policy (`definition` as JSON) to this test's queues whose unprefixed name
    /// matches `pattern` (a regular expression without the prefix), above any other policy.
    /// Cleared when the guard drops.
    pub fn set_policy(&self, name: &str, pattern: &str, definition: &str) -> PolicyGuard {
        let name = format!("{}{name}", self.prefix);
        let pattern = format!("^{}{pattern}", regex_escape(&self.prefix));
        let status = rabbitmqctl()
            .args([
                "set_policy",
                "--priority",
                "100",
                "--apply-to",
                "queues",
                &name,
                &pattern,
                definition,
                "-q",
            ])
            .status()
            .expect("rabbitmqctl set_policy");
        assert!(status.success(), "set_policy {name}");
        PolicyGuard { name }
    }

    fn all_queue_names(&self) -> Vec<String> {
        let mut names = self.topology().all_queues();
        names.extend(
            self.extra_queues
                .lock()
                .expect("not poisoned")
                .iter()
                .cloned(),
        );
        // Wait queues of other delay settings: whatever the broker lists under the prefix.
        if let Ok(listing) = rabbitmqctl().args(["list_queues", "name", "-q"]).output() {
            names.extend(
                String::from_utf8_lossy(&listing.stdout)
                    .lines()
                    .map(str::trim)
                    .filter(|n| n.starts_with(&self.prefix))
                    .map(str::to_owned),
            );
        }
        names.sort();
        names.dedup();
        names
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        // Clean up on a thread with its own runtime: Drop may run inside or outside one.
        let names = self.all_queue_names();
        let exchange = self.topology().exchange();
        let url = amqp_url();
        crate::wait::on_own_runtime(async move {
            let Ok(Ok(connection)) = tokio::time::timeout(
                Duration::from_secs(5),
                Connection::connect(&url, ConnectionProperties::default()),
            )
            .await
            else {
                return;
            };
            if let Ok(channel) = connection.create_channel().await {
                for name in names {
                    let _ = channel
                        .queue_delete(name.into(), QueueDeleteOptions::default())
                        .await;
                }
                let _ = channel
                    .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                    .await;
            }
            let _ = connection.close(200, "clean-up".into()).await;
        });
    }
}

/// A policy set by a test, cleared on drop.
#[derive(Debug)]
pub struct PolicyGuard {
    name: String,
}

impl Drop for PolicyGuard {
    fn drop(&mut self) {
        let _ = rabbitmqctl()
            .args(["clear_policy", &self.name, "-q"])
            .status();
    }
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = ".^$|?*+()[]{}\\".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// Publish one persistent message through `exchange` (empty: the default exchange),
/// `mandatory`, on a connection of its own, and wait for the broker to store it.
pub async fn publish_confirmed(
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    properties: lapin::BasicProperties,
) {
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(Default::default())
        .await
        .expect("confirm mode");
    let options = lapin::options::BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    let confirmation = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            options,
            body,
            properties.with_delivery_mode(2),
        )
        .await
        .expect("publish")
        .await
        .expect("confirm");
    assert!(
        confirmation.is_ack() && confirmation.take_message().is_none(),
        "the broker stored the message"
    );
    let _ = connection.close(200, "done".into()).await;
}

/// A text header of a message (`None` when absent or not text).
pub fn header_text(message: &BasicGetMessage, key: &str) -> Option<String> {
    match message
        .delivery
        .properties
        .headers()
        .as_ref()?
        .inner()
        .get(key)?
    {
        lapin::types::AMQPValue::LongString(s) => {
            Some(String::from_utf8_lossy(s.as_bytes()).into_owned())
        }
        _ => None,
    }
}
