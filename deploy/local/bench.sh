#!/usr/bin/env bash
# The benchmarks, in one command: a broker and a PostgreSQL server (as the tests get them),
# release builds, then
#   1. ingest against the broker's own limit and a minimal hand-written handler, side by side,
#      ingest at fixed rates (open loop), ingest's memory and CPU (tests/benches/ingest_compare.rs);
#   2. the worker: the ledger's share of a job and jobs a second against Little's law
#      (tests/benches/worker_ledger.rs);
#   3. the fleet end to end: webhook sent to screening group stored at 100 applications a
#      second with two workers (tests/benches/fleet_latency.rs).
# Prints markdown tables (what BENCHMARKS.md records, with the date and the machine).
# Usage: deploy/local/bench.sh [ingest|worker|fleet]   (default: all three). 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
which="${1:-all}"
case "$which" in all|ingest|worker|fleet) ;; *) echo "usage: $0 [ingest|worker|fleet]" >&2; exit 64 ;; esac

bash deploy/local/broker.sh
bash deploy/local/database.sh
export DATABASE_ADMIN_URL="${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

echo "== release build (binaries and benchmarks)"
cargo build --release --bins
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
if [ "$which" = all ] || [ "$which" = ingest ]; then
  echo "== ingest against the broker and a peer"
  cargo bench -p fleet-tests --bench ingest_compare
fi
if [ "$which" = all ] || [ "$which" = worker ]; then
  echo "== worker: ledger and Little's law"
  cargo bench -p fleet-tests --bench worker_ledger
fi
if [ "$which" = all ] || [ "$which" = fleet ]; then
  echo "== the fleet end to end at a fixed rate"
  cargo bench -p fleet-tests --bench fleet_latency
fi
