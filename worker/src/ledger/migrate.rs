//! Versioned SQL migrations (`worker/migrations/NNNN_name.sql`, compiled in), applied in order,
//! each in its own transaction, under a PostgreSQL advisory lock: when several pods start at
//! once on an empty database, one migrates and the others wait, then find nothing to do.

use super::{Ledger, LedgerError};

/// Every migration, in order: (version, name, SQL). Never edit one that has shipped; add the
/// next.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "ledger",
        include_str!("../../migrations/0001_ledger.sql"),
    ),
    (
        2,
        "deliveries",
        include_str!("../../migrations/0002_deliveries.sql"),
    ),
    (
        3,
        "payscore_api",
        include_str!("../../migrations/0003_payscore_api.sql"),
    ),
];

/// The advisory lock key migrations hold ("fleet" + "ledger" in ASCII, any fixed number works).
const LOCK_KEY: i64 = 0x666c_6565_7400_6c64;

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Versions applied by this run.
    pub applied: Vec<i32>,
    /// The schema version now.
    pub version: i32,
}

impl Ledger {
    /// Apply the migrations this database lacks.
    pub async fn migrate(&self) -> Result<Migrated, LedgerError> {
        let query = "migrate";
        let mut client = self.client(query, false).await?;
        let fail = |source| LedgerError::Query { query, source };
        // A session lock, held across the transactions below; other migrators wait here.
        client
            .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
            .await
            .map_err(fail)?;
        let result = async {
            client
                .batch_execute(
                    "CREATE TABLE IF NOT EXISTS ledger_migrations (\
                       version integer PRIMARY KEY, name text NOT NULL, \
                       applied_at timestamptz NOT NULL DEFAULT now())",
                )
                .await?;
            let mut applied = Vec::new();
            for (version, name, sql) in MIGRATIONS {
                let transaction = client.transaction().await?;
                let done = transaction
                    .query_opt(
                        "SELECT 1 FROM ledger_migrations WHERE version = $1",
                        &[version],
                    )
                    .await?
                    .is_some();
                if done {
                    continue;
                }
                transaction.batch_execute(sql).await?;
                transaction
                    .execute(
                        "INSERT INTO ledger_migrations (version, name) VALUES ($1, $2)",
                        &[version, name],
                    )
                    .await?;
                transaction.commit().await?;
                tracing::info!(version, name, "ledger: migration applied");
                applied.push(*version);
            }
            let version: i32 = client
                .query_one(
                    "SELECT COALESCE(max(version), 0) FROM ledger_migrations",
                    &[],
                )
                .await?
                .get(0);
            Ok(Migrated { applied, version })
        }
        .await
        .map_err(fail);
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
            .await;
        if unlocked.is_err() {
            // The session ends with the connection; so does its lock.
            drop(deadpool_postgres::Object::take(client));
        }
        if result.is_ok() {
            self.set_connected(true);
        }
        result
    }

    /// The schema version of the database (0 when never migrated).
    pub async fn schema_version(&self) -> Result<i32, LedgerError> {
        let exists = self
            .query(
                "schema_version",
                "SELECT to_regclass('ledger_migrations') IS NOT NULL",
                &[],
            )
            .await?;
        if !exists.first().is_some_and(|row| row.get::<_, bool>(0)) {
            return Ok(0);
        }
        let rows = self
            .query(
                "schema_version",
                "SELECT COALESCE(max(version), 0) FROM ledger_migrations",
                &[],
            )
            .await?;
        Ok(rows.first().map(|row| row.get(0)).unwrap_or(0))
    }
}

/// The version this build expects.
pub fn latest() -> i32 {
    MIGRATIONS.last().map(|(v, _, _)| *v).unwrap_or(0)
}
