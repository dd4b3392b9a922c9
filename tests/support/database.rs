//! A database of its own on the machine's PostgreSQL for each test, as each gets its own
//! `AMQP_PREFIX`: created empty (the worker migrates it) and dropped when the test ends.

use std::time::Duration;
use tokio_postgres::NoTls;

/// `DATABASE_ADMIN_URL`, or the local default (a role that may create databases).
pub fn admin_url() -> String {
    std::env::var("DATABASE_ADMIN_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Restart the PostgreSQL server behind `DATABASE_ADMIN_URL` (every connection drops; a fast
/// shutdown writes what was committed) and wait until it accepts connections again. The
/// command is `FLEET_TEST_DATABASE_RESTART` (run with `sh -c`) when set, else `pg_ctlcluster
/// <version> <cluster> restart -m fast` for the Debian cluster on the admin URL's port. Fails the
/// test, saying how to set the variable, when neither is possible.
pub async fn restart_server() {
    let admin = admin_url();
    let mut command = match std::env::var("FLEET_TEST_DATABASE_RESTART") {
        Ok(custom) if !custom.is_empty() => {
            let mut c = std::process::Command::new("sh");
            c.args(["-c", &custom]);
            c
        }
        _ => {
            let config: tokio_postgres::Config = admin.parse().expect("DATABASE_ADMIN_URL");
            let port = config
                .get_ports()
                .first()
                .copied()
                .unwrap_or(5432)
                .to_string();
            let clusters = std::process::Command::new("pg_lsclusters")
                .arg("--no-header")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let cluster = clusters
                .lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[2] == port)
                .unwrap_or_else(|| {
                    panic!(
                        "no Debian PostgreSQL cluster listens on port {port} (pg_lsclusters): set \
                         FLEET_TEST_DATABASE_RESTART to a command that restarts the server behind \
                         DATABASE_ADMIN_URL"
                    )
                });
            let mut c = std::process::Command::new("pg_ctlcluster");
            c.args([cluster[0], cluster[1], "restart", "-m", "fast"]);
            c
        }
    };
    let status = command
        .status()
        .expect("run the PostgreSQL restart command");
    assert!(status.success(), "restarting PostgreSQL failed: {status}");
    crate::eventually(
        Duration::from_secs(60),
        "PostgreSQL accepting connections",
        || async {
            let (client, connection) = tokio_postgres::connect(&admin, NoTls).await.ok()?;
            tokio::spawn(connection);
            client.simple_query("SELECT 1").await.ok().map(|_| ())
        },
    )
    .await;
}

/// One test's database.
#[derive(Debug)]
pub struct TestDatabase {
    /// Its name.
    pub name: String,
    /// `DATABASE_URL` for the worker.
    pub url: String,
}

impl TestDatabase {
    /// Create an empty database. Fails the test, saying how to get a server, when none answers.
    pub async fn new(test: &str) -> Self {
        let safe: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!("fleet_t_{safe}_{:08x}", fastrand::u32(..));
        let admin = admin_url();
        let (client, connection) =
            tokio_postgres::connect(&admin, NoTls)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at DATABASE_ADMIN_URL ({e}). Start one with \
                     deploy/local/database.sh, or point DATABASE_ADMIN_URL at one; the README's \
                     test command does this for you."
                    )
                });
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("CREATE DATABASE");
        let url = database_url(&admin, &name);
        Self { name, url }
    }

    /// Run SQL in the test's database (for assertions on the ledger).
    pub async fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        client.query(sql, &[]).await.expect("query")
    }

    /// A single number from SQL.
    pub async fn count(&self, sql: &str) -> i64 {
        self.query(sql).await[0].get(0)
    }
}

/// `admin` with its database name replaced by `name`.
pub fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{root}/{name}{query}")
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // On a thread with its own runtime: Drop may run inside or outside one.
        let (admin, name) = (admin_url(), self.name.clone());
        crate::wait::on_own_runtime(async move {
            let Ok(Ok((client, connection))) = tokio::time::timeout(
                Duration::from_secs(5),
                tokio_postgres::connect(&admin, NoTls),
            )
            .await
            else {
                return;
            };
            tokio::spawn(connection);
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            database_url("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://h:5432", "t3"),
            "postgres://h:5432/t3"
        );
    }
}
