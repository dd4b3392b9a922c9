#!/usr/bin/env bash
# The fault-injection run at full size, on a release build:
#
#   deploy/local/fault-run.sh [applications] [per second]     # default: 10000 at 50 a second
#
# The same test CI runs at 200 (tests/chaos): ingest, two workers, the ledger and the sandbox,
# with Payscore and Entrata failing, duplicated and lost webhooks, the broker's connections
# closed twice and the broker restarted, PostgreSQL restarted, a worker SIGKILLed and ingest
# SIGTERMed, and planted bad inputs; then the account of every webhook. The table is printed
# and kept in target/tmp/fault-run.md.
#
# It restarts the broker's RabbitMQ application and the PostgreSQL server the tests use (always
# starting them again): run it where nothing else relies on them.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash deploy/local/broker.sh
bash deploy/local/database.sh
export DATABASE_ADMIN_URL="${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export FAULT_RUN_APPLICATIONS="${1:-10000}"
export FAULT_RUN_RATE="${2:-50}"

echo "== cargo build --release (binaries and the run)"
cargo build --release --workspace --bins
echo "== fault-injection run: ${FAULT_RUN_APPLICATIONS} applications at ${FAULT_RUN_RATE}/s"
cargo test --release -p fleet-tests --test chaos -- --nocapture
