#!/usr/bin/env bash
# Every check CI runs, in the order CI runs them: get a broker and a PostgreSQL server, then
# formatting, lints, the binaries the process-level tests start, every test against the real
# broker and database, and the offline validation of the deployment files.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! bash deploy/local/broker.sh; then
  echo "test: no RabbitMQ broker could be had; the tests need one (see above). Nothing was run." >&2
  exit 1
fi
# The worker's ledger: the tests reach this server through DATABASE_ADMIN_URL.
if ! bash deploy/local/database.sh; then
  echo "test: no PostgreSQL server could be had; the ledger tests need one (see above). Nothing was run." >&2
  exit 1
fi
export DATABASE_ADMIN_URL="${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo build (binaries for the process-level tests)"
cargo build --workspace --bins
echo "== cargo test"
cargo test --workspace --no-fail-fast
echo "== deploy/validate.sh (manifests, alerts, dashboard)"
bash deploy/validate.sh
