#!/usr/bin/env bash
# Every check CI runs, in the order CI runs them: get a broker and a PostgreSQL server, then
# formatting, lints, the binaries the process-level tests start, every test against the real
# broker (RabbitMQ 3.10, the machine's) and database, the broker-facing tests again against
# RabbitMQ 4.0, and the offline validation of the deployment files.
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
version3="$(rabbitmqctl -q version 2>/dev/null || echo 3.x)"
# The fault-injection run (tests/chaos) restarts the broker and PostgreSQL; cargo runs one test
# binary at a time, so nothing else runs meanwhile. Its account is printed after each pass.
fault_run="${CARGO_TARGET_DIR:-target}/tmp/fault-run.md"
show_fault_run() {
  if [ -f "$fault_run" ]; then
    echo "== the fault-injection run's account ($1)"
    cat "$fault_run"
  fi
}
rm -f "$fault_run"
echo "== cargo test (every test; the broker-facing ones against RabbitMQ ${version3})"
if ! cargo test --workspace --no-fail-fast; then
  echo "test: FAILED on RabbitMQ ${version3} (${AMQP_URL:-amqp://127.0.0.1:5672})" >&2
  exit 1
fi
show_fault_run "RabbitMQ ${version3}"

# The broker-facing tests again on RabbitMQ 4.0, the generation production runs: Debian 13's
# package in a chroot beside the machine's broker (deploy/local/broker4.sh; built once, about a
# minute). FLEET_TEST_BROKER4=0 leaves this out, and says so.
if [ "${FLEET_TEST_BROKER4:-1}" = "0" ]; then
  echo "test: NOT run against RabbitMQ 4.0 (FLEET_TEST_BROKER4=0)" >&2
else
  if ! broker4_url="$(bash deploy/local/broker4.sh start)"; then
    echo "test: no RabbitMQ 4.0 node could be started (see above); set FLEET_TEST_BROKER4=0 to run without it" >&2
    exit 1
  fi
  version4="$(deploy/local/rabbitmqctl4 -q version 2>/dev/null || echo 4.x)"
  echo "== cargo test (the broker-facing tests and the fault-injection run against RabbitMQ ${version4})"
  rm -f "$fault_run"
  if ! env "$broker4_url" RABBITMQCTL="$PWD/deploy/local/rabbitmqctl4" \
      cargo test -p fleet-tests --test e2e --test chaos --no-fail-fast; then
    echo "test: FAILED on RabbitMQ ${version4} (${broker4_url#AMQP_URL=})" >&2
    exit 1
  fi
  show_fault_run "RabbitMQ ${version4}"
fi
echo "== deploy/validate.sh (manifests, alerts, dashboard)"
bash deploy/validate.sh
