#!/usr/bin/env bash
# The whole fleet on this machine: a broker, PostgreSQL (the worker's ledger), the sandbox Entrata
# and Payscore simulators, ingest and worker with a ready-made configuration. It submits sample
# applications and prints each one's journey, then keeps everything running until Ctrl-C.
#
#   deploy/local/run.sh [--applications N] [--interval-ms MS] [--finish-after-ms MS] [--no-demo]
#
# Ports (override with the variables): ingest 8080 (admin 9090), worker admin 9091,
# Payscore simulator 18081, Entrata simulator 18082.
set -euo pipefail
cd "$(dirname "$0")/../.."

applications=4 interval_ms=500 finish_after_ms=3000 demo=1
while [ $# -gt 0 ]; do
  case "$1" in
    --applications) applications="$2"; shift 2 ;;
    --interval-ms) interval_ms="$2"; shift 2 ;;
    --finish-after-ms) finish_after_ms="$2"; shift 2 ;;
    --no-demo) demo=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "run: unknown flag $1 (see --help)" >&2; exit 64 ;;
  esac
done

bash deploy/local/broker.sh
bash deploy/local/database.sh
export DATABASE_ADMIN_URL="${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
# The worker's ledger: database fleet_local on the same server, as the admin role. It starts
# empty every run, like the simulators: their application ids repeat from one run to the next,
# and a ledger that remembered the last run would take them for work already done.
admin_base="${DATABASE_ADMIN_URL%%\?*}"
admin_query="${DATABASE_ADMIN_URL#"$admin_base"}"
admin_authority="${admin_base#*://}"
admin_authority="${admin_authority%%/*}"
export DATABASE_URL="${admin_base%%://*}://${admin_authority}/fleet_local${admin_query}"
if command -v psql >/dev/null 2>&1; then
  psql "$DATABASE_ADMIN_URL" -w -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT 'DROP DATABASE fleet_local WITH (FORCE)' WHERE EXISTS (SELECT 1 FROM pg_database WHERE datname = 'fleet_local')
\gexec
CREATE DATABASE fleet_local
SQL
  echo "run: ledger database fleet_local (re)created"
else
  echo "run: psql not found: create the database fleet_local yourself (createdb fleet_local) if the worker cannot reach it" >&2
fi
echo "run: building (the first build takes a few minutes)"
cargo build --workspace --bins --quiet

INGEST_PORT="${INGEST_PORT:-8080}" INGEST_ADMIN_PORT="${INGEST_ADMIN_PORT:-9090}"
WORKER_ADMIN_PORT="${WORKER_ADMIN_PORT:-9091}"
PAYSCORE_PORT="${PAYSCORE_PORT:-18081}" ENTRATA_PORT="${ENTRATA_PORT:-18082}"
logs="$(mktemp -d)"

# One local configuration for all three processes: sandbox credentials on both sides.
export AMQP_PREFIX="${AMQP_PREFIX:-local.}" LOG_FORMAT="${LOG_FORMAT:-pretty}" RUST_LOG="${RUST_LOG:-info}"
export SHUTDOWN_GRACE_SECONDS=5
export ENTRATA_WEBHOOK_USERNAME=entrata ENTRATA_WEBHOOK_PASSWORD=local-password
export PAYSCORE_WEBHOOK_SECRET=sandbox-webhook-secret
export ENTRATA_API_BASE_URL="http://127.0.0.1:${ENTRATA_PORT}/ext/orgs/sandbox/v1" ENTRATA_API_KEY=sandbox-api-key
export PAYSCORE_API_BASE_URL="http://127.0.0.1:${PAYSCORE_PORT}"
export PAYSCORE_CLIENT_ID=sandbox-client PAYSCORE_SECRET_KEY=sandbox-secret
export PUBLIC_BASE_URL="http://127.0.0.1:${INGEST_PORT}"
export PROPERTIES_FILE="$PWD/deploy/local/properties.toml"
# Local delays: report checks every few seconds instead of hours.
export REPORT_CHECK_FIRST_DELAY=5s REPORT_CHECK_SCHEDULE=5s RETRY_SCHEDULE=2s,5s,10s

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "run: stopping (logs were in $logs)"
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

target/debug/sandbox \
  --payscore-listen "127.0.0.1:${PAYSCORE_PORT}" --entrata-listen "127.0.0.1:${ENTRATA_PORT}" \
  --ingest-url "http://127.0.0.1:${INGEST_PORT}/webhooks/entrata" \
  --ingest-username entrata --ingest-password local-password \
  --payscore-begin-after-ms 1000 --payscore-complete-after-ms "$finish_after_ms" \
  >"$logs/sandbox.log" 2>&1 & pids+=($!)
INGEST_LISTEN="127.0.0.1:${INGEST_PORT}" ADMIN_LISTEN="127.0.0.1:${INGEST_ADMIN_PORT}" \
  target/debug/ingest >"$logs/ingest.log" 2>&1 & pids+=($!)
ADMIN_LISTEN="127.0.0.1:${WORKER_ADMIN_PORT}" target/debug/worker >"$logs/worker.log" 2>&1 & pids+=($!)

for url in "127.0.0.1:${INGEST_ADMIN_PORT}/readyz" "127.0.0.1:${WORKER_ADMIN_PORT}/readyz" "127.0.0.1:${PAYSCORE_PORT}/metrics"; do
  for _ in $(seq 1 100); do
    curl -fs "http://$url" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fs "http://$url" >/dev/null || { echo "run: http://$url does not answer; see $logs" >&2; exit 1; }
done
echo "run: sandbox, ingest and worker are up (logs in $logs)"
echo "run: worker doctor (the deployment's assumptions, checked against the sandbox):"
target/debug/worker doctor || { echo "run: worker doctor found a problem (above)" >&2; exit 1; }

if [ "$demo" = 1 ]; then
  target/debug/journey --applications "$applications" --interval-ms "$interval_ms" \
    --payscore "http://127.0.0.1:${PAYSCORE_PORT}" --entrata "http://127.0.0.1:${ENTRATA_PORT}" \
    --prefix "$AMQP_PREFIX" || echo "run: not every journey finished; see $logs"
fi

cat <<WHERE

Where to look:
  ingest metrics   http://127.0.0.1:${INGEST_ADMIN_PORT}/metrics   (webhooks: http://127.0.0.1:${INGEST_PORT}/webhooks/entrata, Basic entrata:local-password)
  worker metrics   http://127.0.0.1:${WORKER_ADMIN_PORT}/metrics
  simulators       http://127.0.0.1:${PAYSCORE_PORT}/_control/groups   http://127.0.0.1:${ENTRATA_PORT}/_control/properties
  queues           rabbitmqctl list_queues name messages | grep '^${AMQP_PREFIX}'
  dead letters     AMQP_PREFIX=${AMQP_PREFIX} target/debug/worker replay --queue screenings --dry-run
  ledger           DATABASE_URL=$(printf '%s' "$DATABASE_URL" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#') target/debug/worker status --application <id>
  logs             $logs
Ctrl-C stops everything.
WHERE
wait
