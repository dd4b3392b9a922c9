#!/usr/bin/env bash
# Offline validation of the production deploy files (deploy/, except deploy/local/):
#   1. yamllint             style of every YAML file
#   2. promtool             alerts.yml parses; alerts_test.yml unit tests pass; the PrometheusRule
#                           manifest is alerts.yml wrapped (single source of truth)
#   3. kustomize            base and every overlay render (kubectl's built-in kustomize)
#   4. kubernetes-validate  built-in kinds against the Kubernetes $K8S_VERSION schemas, strict
#   5. CRD schemas          KEDA, Prometheus Operator, RabbitMQ and CloudNativePG objects against
#                           vendored schemas
#   6. fleet checks         manifests agree with README (variables, probes, drain time, secrets,
#                           the ledger's database...)
#   7. dashboard            valid JSON; every panel query parses (promtool); metrics exist
#   8. hadolint             the Dockerfile
# Installs its own tools when missing (a venv from PyPI, promtool from Debian's `prometheus`
# package, as root), then runs without network. Exits non-zero if any step fails.
#
# Usage: deploy/validate.sh [--fix]   (--fix regenerates prometheus/prometheusrule.yaml first)
# Env:   K8S_VERSION (default 1.30.0, the oldest with native preStop sleep on by default),
#        FLEET_DEPLOY_TOOLS (tool cache, default ~/.cache/fleet-deploy-tools), VERBOSE=1.
set -euo pipefail

DEPLOY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$DEPLOY")"
TOOLS="${FLEET_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/fleet-deploy-tools}"
K8S_VERSION="${K8S_VERSION:-1.30.0}"
FIX=0
case "${1:-}" in
  --fix) FIX=1 ;;
  "") ;;
  *) echo "usage: $0 [--fix]" >&2; exit 64 ;;
esac

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
START=$SECONDS
FAILED=()

log() { printf '%s\n' "$*"; }
die() { printf 'validate.sh: %s\n' "$*" >&2; exit 1; }

# === tools ===

as_root() {
  [[ $(id -u) -eq 0 ]] || die "$1 is missing and installing it needs root: $2"
}

ensure_python() {
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    as_root "python3-venv" "apt-get install python3 python3-venv"
    apt-get install -y -qq python3 python3-venv >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null; }
  fi
  local venv="$TOOLS/venv" stamp
  stamp="$(sha256sum "$DEPLOY/validate/requirements.txt" | cut -d' ' -f1)"
  if [[ "$(cat "$venv/.requirements" 2>/dev/null)" != "$stamp" ]]; then
    log "installing Python tools into $venv (once)"
    rm -rf "$venv"
    mkdir -p "$TOOLS"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$DEPLOY/validate/requirements.txt"
    echo "$stamp" > "$venv/.requirements"
  fi
  PY="$venv/bin/python"
  BIN="$venv/bin"
}

ensure_promtool() {
  if command -v promtool >/dev/null; then PROMTOOL="$(command -v promtool)"; return; fi
  PROMTOOL="$TOOLS/prometheus/usr/bin/promtool"
  [[ -x "$PROMTOOL" ]] && return
  # Only the binary: the whole package would also register a Prometheus server unit.
  as_root "promtool" "apt-get install prometheus (Debian), or put promtool on PATH"
  log "installing promtool from Debian's prometheus package into $TOOLS/prometheus (once)"
  local dl="$TOOLS/download"
  rm -rf "$dl" && mkdir -p "$dl"
  apt-cache show prometheus >/dev/null 2>&1 || apt-get update -qq
  (cd "$dl" && apt-get download -qq prometheus 2>/dev/null)
  dpkg -x "$dl"/prometheus_*.deb "$TOOLS/prometheus"
  rm -rf "$dl"
}

ensure_kubectl() {
  command -v kubectl >/dev/null \
    || die "kubectl (with its built-in kustomize) is missing: it comes with the build image and is not on Debian/PyPI/npm"
}

# === steps ===

# step NAME COMMAND...: runs one check, prints its output indented, records a failure.
step() {
  local name="$1"; shift
  log "== $name"
  if "$@" > "$OUT/step.log" 2>&1; then
    sed 's/^/   /' "$OUT/step.log"
  else
    sed 's/^/   /' "$OUT/step.log"
    log "   FAILED: $name"
    FAILED+=("$name")
  fi
}

# Step functions run inside `if`, where `set -e` does not apply: each failure returns explicitly.
lint_yaml() {
  "$BIN/yamllint" -s -c "$DEPLOY/.yamllint.yaml" \
    "$DEPLOY/kubernetes" "$DEPLOY/prometheus" "$DEPLOY/grafana" "$DEPLOY/.yamllint.yaml" || return 1
  echo "yamllint: $(find "$DEPLOY/kubernetes" "$DEPLOY/prometheus" "$DEPLOY/grafana" -name '*.y*ml' | wc -l) files clean"
}

check_rules() {
  local ok=0
  "$PROMTOOL" check rules "$DEPLOY/prometheus/alerts.yml" || ok=1
  (cd "$DEPLOY/prometheus" && "$PROMTOOL" test rules alerts_test.yml) || ok=1
  "$PY" "$DEPLOY/validate/checks.py" rules-sync \
    "$DEPLOY/prometheus/alerts.yml" "$DEPLOY/prometheus/prometheusrule.yaml" || ok=1
  return $ok
}

render() {
  local ok=0 dir name
  for dir in "$DEPLOY/kubernetes/base" "$DEPLOY"/kubernetes/overlays/*/; do
    name="$(basename "$dir")"
    if kubectl kustomize "$dir" > "$OUT/$name.yaml"; then
      echo "$name: $(grep -c '^kind:' "$OUT/$name.yaml") objects ($(grep '^kind:' "$OUT/$name.yaml" | sort -u | cut -d' ' -f2 | paste -sd' '))"
    else
      ok=1
    fi
  done
  return $ok
}

overlays() { ls "$OUT"/*.yaml | grep -v -e '/base.yaml$' -e '/step.log$'; }

validate_builtin() {
  # Custom resources only get a "no schema" warning here: step 5 checks them.
  "$BIN/kubernetes-validate" --strict --quiet --no-warn -k "$K8S_VERSION" \
    "$OUT"/base.yaml $(overlays) "$DEPLOY/kubernetes/base/secrets.example.yaml" || return 1
  echo "kubernetes-validate --strict -k $K8S_VERSION: base, $(overlays | xargs -n1 basename | paste -sd' '), secrets example"
}

check_dashboard() {
  local ok=0
  "$PY" "$DEPLOY/validate/checks.py" dashboard "$DEPLOY/grafana/fleet-dashboard.json" "$OUT/dashboard-rules.yml" || ok=1
  if [[ -f "$OUT/dashboard-rules.yml" ]]; then
    "$PROMTOOL" check rules "$OUT/dashboard-rules.yml" | sed 's#'"$OUT"'/##' || ok=1
  fi
  "$PY" "$DEPLOY/validate/checks.py" metrics "$REPO/README.md" \
    "$DEPLOY/prometheus/alerts.yml" "$DEPLOY/grafana/fleet-dashboard.json" || ok=1
  return $ok
}

lint_dockerfile() {
  "$BIN/hadolint" "$DEPLOY/Dockerfile" && echo "hadolint: deploy/Dockerfile clean"
}

# === main ===

ensure_kubectl
ensure_python
ensure_promtool
log "tools: $(kubectl version --client 2>/dev/null | paste -sd' '); $("$PROMTOOL" --version | head -1)"

if [[ $FIX -eq 1 ]]; then
  "$PY" "$DEPLOY/validate/checks.py" rules-sync \
    "$DEPLOY/prometheus/alerts.yml" "$DEPLOY/prometheus/prometheusrule.yaml" --fix
fi

step "1 yamllint" lint_yaml
step "2 prometheus rules: check, unit tests, PrometheusRule in sync" check_rules
step "3 kustomize build" render
step "4 kubernetes-validate (built-in kinds)" validate_builtin
step "5 custom resources against vendored CRD schemas" \
  "$PY" "$DEPLOY/validate/checks.py" crds "$DEPLOY/kubernetes/schemas" $(overlays)
step "6 fleet checks (README variables, probes, drain, secrets, KEDA, policies, ledger)" \
  "$PY" "$DEPLOY/validate/checks.py" fleet "$REPO/README.md" "$DEPLOY/kubernetes/base/secrets.example.yaml" $(overlays)
step "6b properties files (base, local run)" "$PY" "$DEPLOY/validate/checks.py" properties "$DEPLOY/kubernetes/base/properties.toml" "$DEPLOY/local/properties.toml"
step "7 dashboard" check_dashboard
step "8 hadolint" lint_dockerfile

if [[ ${#FAILED[@]} -gt 0 ]]; then
  log "validate.sh: FAILED (${#FAILED[@]}): ${FAILED[*]} ($((SECONDS - START)) s)"
  exit 1
fi
log "validate.sh: all checks passed ($((SECONDS - START)) s)"
