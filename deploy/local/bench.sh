#!/usr/bin/env bash
# The benchmarks, in one command: a broker and a PostgreSQL server (as the tests get them),
# release builds, then
#   1. ingest against the broker's own limit and a minimal hand-written handler, side by side,
#      ingest at fixed rates (open loop), ingest's memory and CPU (tests/benches/ingest_compare.rs);
#   2. the worker: the ledger's share of a job and jobs a second against Little's law
#      (tests/benches/worker_ledger.rs).
# Prints markdown tables (what BENCHMARKS.md records, with the date and the machine).
# Usage: deploy/local/bench.sh [ingest|worker]   (default: both). 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
which="${1:-all}"
case "$which" in all|ingest|worker) ;; *) echo "usage: $0 [ingest|worker]" >&2; exit 64 ;; esac

bash deploy/local/broker.sh
bash deploy/local/database.sh
export DATABASE_ADMIN_URL="${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

echo "== release build (binaries and benchmarks)"
cargo build --release --bins
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
if [ "$which" != worker ]; then
  echo "== ingest against the broker and a peer"
  cargo bench -p fleet-tests --bench ingest_compare
fi
if [ "$which" != ingest ]; then
  echo "== worker: ledger and Little's law"
  cargo bench -p fleet-tests --bench worker_ledger
fi
