#!/usr/bin/env bash
# Get a RabbitMQ broker for the local run and the tests, and wait until it answers.
#
#   1. AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/%2f) already answers: use it.
#   2. rabbitmq-server is installed: start it (detached).
#   3. Running as root on Debian/Ubuntu: install Debian's rabbitmq-server, then start it.
#   4. Otherwise: say how to run one, and fail.
#
# Source it or run it; it prints the AMQP_URL to use and exits non-zero when no broker can be had.
set -euo pipefail

AMQP_URL="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"
export AMQP_URL

# host and port out of amqp[s]://user:pass@host:port/vhost
hostport="${AMQP_URL#*://}"
hostport="${hostport##*@}"
hostport="${hostport%%/*}"
host="${hostport%%:*}"
port="${hostport##*:}"
[ "$port" = "$hostport" ] && port=5672

answers() {
  (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null
}

wait_for_broker() {
  local deadline=$((SECONDS + ${1:-90}))
  until answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 1
  done
  # The port opens before the broker accepts work; wait for it to finish booting if we can ask.
  if command -v rabbitmqctl >/dev/null 2>&1 && is_local; then
    rabbitmqctl -q await_startup --timeout 60 >/dev/null 2>&1 || true
  fi
}

is_local() {
  case "$host" in 127.*|localhost|::1|"[::1]") return 0 ;; *) return 1 ;; esac
}

say() { echo "broker: $*" >&2; }

if answers; then
  say "RabbitMQ answers at ${host}:${port}"
  exit 0 2>/dev/null || return 0
fi

if ! is_local; then
  say "nothing answers at ${host}:${port} (AMQP_URL points at another machine; start that broker)"
  exit 1 2>/dev/null || return 1
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's rabbitmq-server (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # policy-rc.d keeps the package's own service start from failing without systemd.
    apt-get install -y -qq rabbitmq-server >/dev/null
  else
    cat >&2 <<'HOW'
broker: no RabbitMQ answers and none can be installed here. Run one, then try again:
  sudo apt-get install rabbitmq-server && sudo rabbitmq-server -detached     (Debian/Ubuntu)
  brew install rabbitmq && brew services start rabbitmq                       (macOS)
  docker run -d -p 5672:5672 rabbitmq:3.13                                    (any Docker host)
or set AMQP_URL to a broker you have.
HOW
    exit 1 2>/dev/null || return 1
  fi
fi

say "starting rabbitmq-server"
rabbitmq-server -detached >/dev/null 2>&1 || true
if wait_for_broker 120; then
  say "RabbitMQ answers at ${host}:${port}"
else
  say "rabbitmq-server did not answer within 120 s; see /var/log/rabbitmq/"
  exit 1 2>/dev/null || return 1
fi
