#!/usr/bin/env bash
# Every check CI runs, in the order CI runs them: get a broker, then formatting, lints, the
# binaries the process-level tests start, every test against the real broker, and the offline
# validation of the deployment files.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! bash deploy/local/broker.sh; then
  echo "test: no RabbitMQ broker could be had; the tests need one (see above). Nothing was run." >&2
  exit 1
fi

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
