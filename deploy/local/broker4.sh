#!/usr/bin/env bash
# A RabbitMQ 4.0 node for the tests, beside the machine's own RabbitMQ (3.10 on Debian 12), in a
# Debian 13 "trixie" chroot with Debian's rabbitmq-server 4.0.x. Runs as root.
#
#   deploy/local/broker4.sh start    build the chroot once, start the node (or reuse it), wait
#                                    until it accepts AMQP; prints AMQP_URL=... on stdout and
#                                    the version on stderr
#   deploy/local/broker4.sh stop     stop that node (and its own epmd); the machine's node is
#                                    left alone
#   deploy/local/broker4.sh status   whether it runs, and its version (exit 0 running, 3 not)
#   deploy/local/broker4.sh rebuild  stop, remove the chroot, build it again
#
# Tests against it:
#   url="$(deploy/local/broker4.sh start)" && export "$url"   # AMQP_URL=amqp://guest:guest@127.0.0.1:5673/%2f
#   export RABBITMQCTL="$PWD/deploy/local/rabbitmqctl4"       # absolute: tests run in their crate's directory
#   cargo test ...
# deploy/local/rabbitmqctl4 runs the chroot's rabbitmqctl against this node, with the same
# arguments and output as rabbitmqctl (e.g. `deploy/local/rabbitmqctl4 list_queues name -q`).
#
# What it does:
#   start  1. Something answers on 127.0.0.1:$BROKER4_AMQP_PORT: if it is RabbitMQ 4.x (from the
#             AMQP handshake) and it is this chroot's node (rabbitmqctl4: its AMQP listener is
#             on that port), reuse it; anything else there is an error.
#          2. The chroot is not built (no stamp $BROKER4_ROOT/.fleet-broker4-built, or no
#             rabbitmq-server in it): build it. debootstrap is installed with apt-get when
#             missing; `debootstrap --variant=minbase trixie` from the mirror the machine's apt
#             uses (/etc/apt/sources.list*, or BROKER4_MIRROR) into $BROKER4_ROOT.partial; then
#             /proc is mounted in it and rabbitmq-server is installed with apt-get (a
#             policy-rc.d keeps the package from starting anything), the stamp written and the
#             directory renamed to $BROKER4_ROOT. A half-built chroot (a .partial directory, or
#             one without the stamp) is removed and built again. A few minutes, once.
#          3. Writes the node's configuration inside the chroot (/etc/rabbitmq/rabbitmq.conf,
#             rabbitmq-env.conf, enabled_plugins: rewritten on each start from the variables
#             below), mounts /proc in the chroot, and starts rabbitmq-server in it as the
#             chroot's `rabbitmq` user (owner of /var/lib/rabbitmq and /var/log/rabbitmq there),
#             detached (setsid), console output in $BROKER4_ROOT/var/log/rabbitmq/console.log.
#             A node process of the chroot that does not answer (stale, hung) is killed first.
#          4. Waits until the port accepts AMQP and `rabbitmqctl await_startup` succeeds.
#   stop   `rabbitmqctl stop <pidfile>` on that node (waits until the process has exited; kills
#          it if it does not answer), stops its own epmd, unmounts /proc in the chroot.
#
# Isolation from the machine's node (rabbit@localhost; 5672, 25672, 35672-35682, epmd 4369,
# /etc/rabbitmq, /var/lib/rabbitmq): its own node name (rabbit4@localhost), AMQP port 5673 on
# 127.0.0.1, distribution port 25673 on 127.0.0.1, CLI distribution ports 35683-35693, no
# plugins (so no 15672 management or 15692 prometheus listener), its own epmd on 127.0.0.1:4370
# (ERL_EPMD_PORT; started by the node inside the chroot, stopped by `stop`), its own cookie
# (the chroot's /var/lib/rabbitmq/.erlang.cookie), its own data and logs inside the chroot
# (/var/lib/rabbitmq/mnesia, /var/log/rabbitmq). Nothing here ever talks to the machine's node.
# Sharing the machine's epmd (BROKER4_EPMD_PORT=4369) works as well since the names differ
# (rabbit and rabbit4), but then the 4.0 node depends on that epmd staying up.
#
# guest/guest may log in from 127.0.0.1 only (RabbitMQ's default, loopback_users), which is
# how the tests connect.
#
# Variables (defaults):
#   BROKER4_ROOT=/var/lib/fleet-broker4/trixie   the chroot (outside the repository: survives
#                                                clones; about 240 MB)
#   BROKER4_AMQP_PORT=5673
#   BROKER4_DIST_PORT=$((BROKER4_AMQP_PORT + 20000))   the node's Erlang distribution port
#   BROKER4_EPMD_PORT=4370                       4369 shares the machine's epmd
#   BROKER4_NODENAME=rabbit4@localhost           must differ from the machine's node's name
#   BROKER4_SUITE=trixie
#   BROKER4_MIRROR=(the first Debian mirror in /etc/apt/sources.list*, else http://deb.debian.org/debian)
#   BROKER4_SECURITY_MIRROR=(likewise for debian-security; empty: none)
#   BROKER4_START_TIMEOUT=120                    seconds to wait for the node to start
# Change the ports or the node name only while the node is stopped.
#
# Every step is timed on stderr ("broker4: ... (12.3 s)"). Exits non-zero with a message when
# it cannot: not root, no debootstrap and none installable, mirror unreachable, port taken by
# something else, node did not start (the last lines of its log are shown).
set -euo pipefail

BROKER4_ROOT="${BROKER4_ROOT:-/var/lib/fleet-broker4/trixie}"
BROKER4_ROOT="${BROKER4_ROOT%/}"
BROKER4_AMQP_PORT="${BROKER4_AMQP_PORT:-5673}"
BROKER4_DIST_PORT="${BROKER4_DIST_PORT:-$((BROKER4_AMQP_PORT + 20000))}"
BROKER4_EPMD_PORT="${BROKER4_EPMD_PORT:-4370}"
BROKER4_NODENAME="${BROKER4_NODENAME:-rabbit4@localhost}"
BROKER4_SUITE="${BROKER4_SUITE:-trixie}"
BROKER4_START_TIMEOUT="${BROKER4_START_TIMEOUT:-120}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ctl4="$here/rabbitmqctl4"
export BROKER4_ROOT
stamp="$BROKER4_ROOT/.fleet-broker4-built"
partial="$BROKER4_ROOT.partial"
amqp_url="amqp://guest:guest@127.0.0.1:${BROKER4_AMQP_PORT}/%2f"
# Paths inside the chroot.
rabbit_bin=/usr/lib/rabbitmq/bin
node_pidfile="/var/lib/rabbitmq/mnesia/${BROKER4_NODENAME}.pid"
console_log=/var/log/rabbitmq/console.log

say() { echo "broker4: $*" >&2; }
die() { echo "broker4: $*" >&2; exit 1; }

# step "what" command...: runs it, then says how long it took.
step() {
  local what="$1" t0="$EPOCHREALTIME" rc=0
  shift
  "$@" || rc=$?
  say "$what ($(elapsed "$t0") s)"
  return "$rc"
}
# logged file command...: runs it with its output into the file.
logged() { local log="$1"; shift; "$@" >"$log" 2>&1; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

need_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (it builds and enters a chroot in $BROKER4_ROOT); try: sudo $0 $*"
}

check_settings() {
  case "$BROKER4_ROOT" in
    /?*) ;;
    *) die "BROKER4_ROOT must be an absolute path other than / (it is '$BROKER4_ROOT')" ;;
  esac
  case "$BROKER4_ROOT" in
    /|/bin|/boot|/dev|/etc|/home|/lib|/lib64|/opt|/proc|/root|/run|/sbin|/srv|/sys|/tmp|/usr|/var|/var/lib)
      die "BROKER4_ROOT=$BROKER4_ROOT would be removed on a rebuild; choose a directory of its own" ;;
  esac
  local p
  for p in "$BROKER4_AMQP_PORT" "$BROKER4_DIST_PORT" "$BROKER4_EPMD_PORT"; do
    case "$p" in ''|*[!0-9]*) die "ports must be numbers (got '$p')" ;; esac
  done
  for p in 5672 15672 25672 15692; do
    [ "$BROKER4_AMQP_PORT" != "$p" ] && [ "$BROKER4_DIST_PORT" != "$p" ] \
      || die "port $p belongs to the machine's RabbitMQ node; choose another (BROKER4_AMQP_PORT, BROKER4_DIST_PORT)"
  done
  case "$BROKER4_NODENAME" in
    rabbit@*|*[!A-Za-z0-9_@.-]*|*@*@*) die "BROKER4_NODENAME=$BROKER4_NODENAME: choose a name@host other than rabbit@... (the machine's node)" ;;
    ?*@?*) ;;
    *) die "BROKER4_NODENAME=$BROKER4_NODENAME must be name@host" ;;
  esac
}

# --- the AMQP handshake: what answers on the port --------------------------------------------

# Prints "<product> <version>" from the server properties of connection.start, or fails when
# nothing answers there or it does not speak AMQP 0-9-1. Needs no credentials.
amqp_server() {
  local port="$1" raw
  # shellcheck disable=SC2016  # expanded by the inner bash
  raw="$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "AMQP\0\0\011\001" >&3
    hdr="$(dd bs=1 count=7 <&3 2>/dev/null | od -An -tu1 | tr -s " \n" "  ")"
    set -- $hdr
    [ "$#" -eq 7 ] && [ "$1" = 1 ] || exit 1
    size=$(( ($4 << 24) + ($5 << 16) + ($6 << 8) + $7 ))
    [ "$size" -gt 0 ] && [ "$size" -lt 65536 ] || exit 1
    dd bs=1 count="$size" <&3 2>/dev/null | tr -c "[:print:]" "\n"
  ' _ "$port" 2>/dev/null)" || return 1
  # Each field of the table is <len>key<type><len>value: printable runs end in "productS",
  # "versionS", and the next non-empty run is the value (short lengths are not printable).
  local product version
  product="$(awk 'p && NF { print; exit } /productS$/ { p = 1 }' <<<"$raw")"
  version="$(awk 'p && NF { print; exit } /versionS$/ { p = 1 }' <<<"$raw")"
  [ -n "$product$version" ] || return 1
  echo "${product:-unknown} ${version:-unknown}"
}

# The pid of the process that listens on 127.0.0.1:port (empty when unknown).
listener_pid() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1
}

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- the chroot ------------------------------------------------------------------------------

built() {
  [ -f "$stamp" ] && [ -x "$BROKER4_ROOT$rabbit_bin/rabbitmq-server" ] \
    && [ -x "$BROKER4_ROOT$rabbit_bin/rabbitmqctl" ] && grep -q '^rabbitmq:' "$BROKER4_ROOT/etc/passwd"
}

# The first Debian mirror (suffix, e.g. "debian" or "debian-security") in the machine's apt
# sources, one-line and deb822 formats; ignores disabled stanzas and other repositories.
apt_mirror() {
  local want="$1" f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri="$(awk -v want="$want" '
      $1 == "deb" {
        i = 2
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        uri = $i; sub(/\/+$/, "", uri)
        if (uri ~ ("/" want "$") || uri ~ ("/" want "/")) { print uri; exit }
      }' "$f")"
    [ -z "$uri" ] || { echo "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri="$(awk -v want="$want" '
      BEGIN { RS = ""; FS = "\n" }
      {
        enabled = 1; types = ""; uris = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
          if ($i ~ /^Types:/) types = $i
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
        }
        if (!enabled || types !~ /[ \t]deb([ \t]|$)/) next
        n = split(uris, u, /[ \t]+/)
        for (j = 1; j <= n; j++) {
          uri = u[j]; sub(/\/+$/, "", uri)
          if (uri ~ ("/" want "$") || uri ~ ("/" want "/")) { print uri; exit }
        }
      }' "$f")"
    [ -z "$uri" ] || { echo "$uri"; return 0; }
  done
  return 0
}

# Unmounts everything mounted under a directory (deepest first).
unmount_under() {
  local dir="$1" m
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r \
    | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m"
      done
}

# Processes whose root directory is the chroot (the node, its epmd, its helpers).
chroot_pids() {
  local dir="$1" p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$dir" ] && echo "${p#/proc/}"
  done
  return 0
}

remove_tree() {
  local dir="$1"
  [ -e "$dir" ] || return 0
  if [ -n "$(chroot_pids "$dir")" ]; then
    die "processes still run in $dir (pids $(chroot_pids "$dir" | tr '\n' ' ')); stop them first (deploy/local/broker4.sh stop)"
  fi
  unmount_under "$dir"
  rm -rf --one-file-system -- "$dir"
}

in_chroot() { chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${@:2}"; }

build() {
  local mirror security t0="$EPOCHREALTIME"
  mirror="${BROKER4_MIRROR:-$(apt_mirror debian)}"
  mirror="${mirror:-http://deb.debian.org/debian}"
  security="${BROKER4_SECURITY_MIRROR-$(apt_mirror debian-security)}"

  if ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and there is no apt-get to install it"
    say "installing debootstrap (apt-get)"
    step "debootstrap installed" install_debootstrap \
      || die "could not install debootstrap with apt-get (no network to the mirror?); install it, then try again"
  fi
  [ -f "/usr/share/debootstrap/scripts/$BROKER4_SUITE" ] \
    || die "this debootstrap does not know '$BROKER4_SUITE' (/usr/share/debootstrap/scripts); update debootstrap"

  if command -v curl >/dev/null 2>&1; then
    curl -fsS -m 20 -o /dev/null "$mirror/dists/$BROKER4_SUITE/InRelease" 2>/dev/null \
      || die "cannot reach the Debian mirror $mirror ($mirror/dists/$BROKER4_SUITE/InRelease); set BROKER4_MIRROR to one that answers"
  fi

  say "building the $BROKER4_SUITE chroot in $BROKER4_ROOT from $mirror (once; a few minutes)"
  if [ -e "$partial" ]; then
    step "removed a half-built chroot $partial" remove_tree "$partial"
  fi
  if [ -e "$BROKER4_ROOT" ]; then
    step "removed an incomplete chroot $BROKER4_ROOT (no stamp or no rabbitmq-server)" remove_tree "$BROKER4_ROOT"
  fi
  mkdir -p "$(dirname "$BROKER4_ROOT")"

  local log
  log="$(mktemp /tmp/broker4-build.XXXXXX)"
  if ! step "debootstrap --variant=minbase $BROKER4_SUITE" logged "$log" \
      debootstrap --variant=minbase --components=main "$BROKER4_SUITE" "$partial" "$mirror"; then
    tail -n 20 "$log" >&2
    die "debootstrap failed (log: $log); the half-built chroot is removed on the next start"
  fi

  # Nothing the packages install may start a service; the node is started by this script only.
  printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
  chmod 755 "$partial/usr/sbin/policy-rc.d"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$partial/etc/hosts"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$BROKER4_SUITE" "$BROKER4_SUITE"
    if [ -n "$security" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$security" "$BROKER4_SUITE"
    fi
  } >"$partial/etc/apt/sources.list.d/debian.sources"
  rm -f "$partial/etc/apt/sources.list"
  cp -L /etc/resolv.conf "$partial/etc/resolv.conf" 2>/dev/null || true

  # The chroot's rabbitmq user gets a uid and gid no account of the machine has (the package
  # would take the first free system id, 101 or so, which on the machine is someone else's,
  # e.g. postgres): the node's processes show up under a number of their own in the
  # machine's ps, and nothing that acts on the machine's users touches them.
  local id
  id="$(free_system_id "$partial")"
  echo "rabbitmq:x:$id:" >>"$partial/etc/group"
  echo "rabbitmq:!::" >>"$partial/etc/gshadow"
  echo "rabbitmq:x:$id:$id:RabbitMQ messaging server,,,:/var/lib/rabbitmq:/usr/sbin/nologin" >>"$partial/etc/passwd"
  echo "rabbitmq:!:$(( $(date +%s) / 86400 )):0:99999:7:::" >>"$partial/etc/shadow"

  mountpoint -q "$partial/proc" || mount -t proc proc "$partial/proc"
  if ! step "apt-get install rabbitmq-server (in the chroot)" logged "$log" \
      in_chroot "$partial" sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends rabbitmq-server && apt-get clean'; then
    tail -n 20 "$log" >&2
    unmount_under "$partial"
    die "installing rabbitmq-server in the chroot failed (log: $log)"
  fi
  unmount_under "$partial"
  rm -rf "$partial/var/lib/apt/lists/"* "$partial/var/cache/apt/"*.bin
  rm -f "$log"

  local version
  # shellcheck disable=SC2016  # dpkg-query format
  version="$(chroot "$partial" dpkg-query -W -f '${Version}' rabbitmq-server)"
  printf 'suite=%s\nmirror=%s\nrabbitmq-server=%s\nbuilt=%s\n' \
    "$BROKER4_SUITE" "$mirror" "$version" "$(date -u +%FT%TZ)" >"$partial/.fleet-broker4-built"
  mv -T "$partial" "$BROKER4_ROOT"
  say "chroot built: rabbitmq-server $version, $(du -sh --one-file-system "$BROKER4_ROOT" | cut -f1) in $BROKER4_ROOT ($(elapsed "$t0") s in all)"
}

# A system uid/gid (999 down to 900) that neither the machine nor the chroot uses.
free_system_id() {
  local dir="$1" id
  for id in $(seq 999 -1 900); do
    if ! awk -F: -v id="$id" '$3 == id { found = 1 } END { exit !found }' \
        /etc/passwd /etc/group "$dir/etc/passwd" "$dir/etc/group" \
        && ! getent passwd "$id" >/dev/null && ! getent group "$id" >/dev/null; then
      echo "$id"
      return 0
    fi
  done
  die "no free system uid/gid between 900 and 999 for the chroot's rabbitmq user"
}

install_debootstrap() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq debootstrap >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq debootstrap >/dev/null 2>&1; }
}

# --- the node --------------------------------------------------------------------------------

rabbitmq_ids() {
  local uid gid
  uid="$(awk -F: '$1 == "rabbitmq" { print $3 }' "$BROKER4_ROOT/etc/passwd")"
  gid="$(awk -F: '$1 == "rabbitmq" { print $4 }' "$BROKER4_ROOT/etc/passwd")"
  [ -n "$uid" ] && [ -n "$gid" ] || die "no rabbitmq user in $BROKER4_ROOT/etc/passwd (run: $0 rebuild)"
  echo "$uid:$gid"
}

write_config() {
  local ids="$1" r="$BROKER4_ROOT"
  mkdir -p "$r/etc/rabbitmq" "$r/var/lib/rabbitmq/mnesia" "$r/var/log/rabbitmq"
  chown -R "$ids" "$r/var/lib/rabbitmq" "$r/var/log/rabbitmq"
  chmod 750 "$r/var/lib/rabbitmq" "$r/var/log/rabbitmq"
  cat >"$r/etc/rabbitmq/rabbitmq-env.conf" <<EOF
# Written by deploy/local/broker4.sh start (rewritten on each start). Read by the server and by
# rabbitmqctl (deploy/local/rabbitmqctl4) alike.
RABBITMQ_NODENAME=$BROKER4_NODENAME
RABBITMQ_DIST_PORT=$BROKER4_DIST_PORT
RABBITMQ_CTL_DIST_PORT_MIN=$((BROKER4_DIST_PORT + 10010))
RABBITMQ_CTL_DIST_PORT_MAX=$((BROKER4_DIST_PORT + 10020))
RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# rabbitmqctl listens on 127.0.0.1 only, and must not start an epmd of its own when the node
# is not running (the node starts it; broker4.sh stop stops it with the node).
RABBITMQ_CTL_ERL_ARGS="-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}"
export ERL_EPMD_PORT=$BROKER4_EPMD_PORT
export ERL_EPMD_ADDRESS=127.0.0.1
EOF
  cat >"$r/etc/rabbitmq/rabbitmq.conf" <<EOF
# Written by deploy/local/broker4.sh start (rewritten on each start).
listeners.tcp.1 = 127.0.0.1:$BROKER4_AMQP_PORT
listeners.ssl = none
# guest/guest, from 127.0.0.1 only (the default, said here so that it stays so)
loopback_users.guest = true
EOF
  # No plugins: no management (15672) or prometheus (15692) listener beside the machine's.
  echo '[].' >"$r/etc/rabbitmq/enabled_plugins"
  chmod 644 "$r/etc/rabbitmq/rabbitmq-env.conf" "$r/etc/rabbitmq/rabbitmq.conf" "$r/etc/rabbitmq/enabled_plugins"
}

ctl() { "$ctl4" "$@"; }

# The node answers rabbitmqctl (it may still be booting).
node_pings() { built && [ -f "$BROKER4_ROOT/etc/rabbitmq/rabbitmq-env.conf" ] && ctl -q ping -t 5 >/dev/null 2>&1; }

# The node is up and its AMQP listener is on the port.
node_listens_on_port() {
  local out
  out="$(ctl -q eval "lists:member($BROKER4_AMQP_PORT, [element(6, L) || L <- rabbit_networking:active_listeners(), element(2, L) =:= node(), element(3, L) =:= amqp])." 2>/dev/null)" || return 1
  [ "$(tail -n1 <<<"$out")" = true ]
}

node_version() {
  ctl -q eval '{ok, Otp} = file:read_file(filename:join([code:root_dir(), "releases", erlang:system_info(otp_release), "OTP_VERSION"])), io:format("RabbitMQ ~s on Erlang/OTP ~s, node ~s~n", [rabbit_misc:version(), string:trim(Otp), node()]).' 2>/dev/null | head -n1
}

beam_pids() {
  local p
  for p in $(chroot_pids "$BROKER4_ROOT"); do
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in beam.smp) echo "$p" ;; esac
  done
  return 0
}

kill_chroot_processes() {
  local what="$1" pids
  pids="$(chroot_pids "$BROKER4_ROOT" | tr '\n' ' ')"
  [ -n "${pids// /}" ] || return 0
  say "stopping $what in the chroot: pids $pids"
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null || true
  for _ in $(seq 1 20); do
    [ -n "$(chroot_pids "$BROKER4_ROOT")" ] || return 0
    sleep 0.5
  done
  pids="$(chroot_pids "$BROKER4_ROOT" | tr '\n' ' ')"
  # shellcheck disable=SC2086
  [ -z "${pids// /}" ] || kill -KILL $pids 2>/dev/null || true
  sleep 0.5
}

launch() {
  local ids="$1" r="$BROKER4_ROOT"
  mountpoint -q "$r/proc" || mount -t proc proc "$r/proc"
  : >"$r$console_log"
  chown "$ids" "$r$console_log"
  (
    # The node must not hold our lock (fd 9) or any other descriptor of this shell.
    exec 9>&-
    ulimit -Hn 65536 2>/dev/null || true
    ulimit -n 65536 2>/dev/null || true
    cd /
    exec setsid chroot --userspec="$ids" --groups="${ids#*:}" "$r" \
      /usr/bin/env -i HOME=/var/lib/rabbitmq PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 LC_ALL=C.UTF-8 "$rabbit_bin/rabbitmq-server" \
      </dev/null >>"$r$console_log" 2>&1
  ) &
  launched_pid=$!
  disown 2>/dev/null || true
}
launched_pid=

# A node process runs: the one just launched (still entering the chroot, or its
# rabbitmq-server script), or a beam.smp in the chroot.
node_process() {
  { [ -n "$launched_pid" ] && kill -0 "$launched_pid" 2>/dev/null; } || [ -n "$(beam_pids)" ]
}

wait_up() {
  local deadline=$((SECONDS + BROKER4_START_TIMEOUT))
  until port_answers "$BROKER4_AMQP_PORT"; do
    if ! node_process && ! node_pings; then
      say "the node exited while starting; last lines of its logs:"
      tail -n 25 "$BROKER4_ROOT$console_log" "$BROKER4_ROOT/var/log/rabbitmq/$BROKER4_NODENAME.log" >&2 2>/dev/null || true
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "the node did not open 127.0.0.1:$BROKER4_AMQP_PORT within ${BROKER4_START_TIMEOUT} s; see $BROKER4_ROOT/var/log/rabbitmq/"
      return 1
    fi
    sleep 0.5
  done
  ctl -q await_startup --timeout "$BROKER4_START_TIMEOUT" >/dev/null \
    || { say "rabbitmqctl await_startup failed; see $BROKER4_ROOT/var/log/rabbitmq/"; return 1; }
}

report_up() {
  say "$(node_version); AMQP 127.0.0.1:$BROKER4_AMQP_PORT, distribution 127.0.0.1:$BROKER4_DIST_PORT, epmd 127.0.0.1:$BROKER4_EPMD_PORT, chroot $BROKER4_ROOT"
  echo "AMQP_URL=$amqp_url"
}

lock() {
  mkdir -p "$(dirname "$BROKER4_ROOT")"
  exec 9>"$(dirname "$BROKER4_ROOT")/.broker4.lock"
  flock -w 900 9 || die "another broker4.sh holds $(dirname "$BROKER4_ROOT")/.broker4.lock"
}

cmd_start() {
  local t0="$EPOCHREALTIME" answer ids
  need_root start
  check_settings
  lock

  # 1. Something answers on the port: reuse it if it is our 4.x node.
  if port_answers "$BROKER4_AMQP_PORT"; then
    local owner
    answer="$(amqp_server "$BROKER4_AMQP_PORT")" || answer="something that does not answer the AMQP 0-9-1 handshake"
    owner="$(listener_pid "$BROKER4_AMQP_PORT")"
    if [ -n "$owner" ] && [ "$(readlink "/proc/$owner/root" 2>/dev/null)" = "$BROKER4_ROOT" ]; then
      case "$answer" in
        "RabbitMQ 4."*)
          if ctl -q await_startup --timeout 30 >/dev/null 2>&1; then
            say "reusing the running node ($answer on 127.0.0.1:$BROKER4_AMQP_PORT) ($(elapsed "$t0") s)"
            report_up
            return 0
          fi ;;
      esac
      # Ours, but it does not answer AMQP or rabbitmqctl (hung, or its epmd is gone): restart.
      say "the node of $BROKER4_ROOT holds 127.0.0.1:$BROKER4_AMQP_PORT but does not answer properly ($answer); restarting it"
      kill_chroot_processes "the node that did not answer"
    elif [ -z "$owner" ] && built && [ "${answer#RabbitMQ 4.}" != "$answer" ] && node_listens_on_port \
        && ctl -q await_startup --timeout 30 >/dev/null 2>&1; then
      # (no ss to tell who listens) rabbitmqctl4 reaches a node whose listener is on the port.
      say "reusing the running node ($answer on 127.0.0.1:$BROKER4_AMQP_PORT) ($(elapsed "$t0") s)"
      report_up
      return 0
    else
      die "127.0.0.1:$BROKER4_AMQP_PORT is taken by $answer${owner:+ (pid $owner, $(cat "/proc/$owner/comm" 2>/dev/null), root $(readlink "/proc/$owner/root" 2>/dev/null))}, not the RabbitMQ 4 node of $BROKER4_ROOT; stop it or set BROKER4_AMQP_PORT"
    fi
  fi

  # 2. The chroot, built once.
  if ! built; then
    build
  fi

  # 3. Start the node, unless one of ours is already booting.
  ids="$(rabbitmq_ids)"
  if node_pings; then
    say "the node of $BROKER4_ROOT is running but not yet listening on $BROKER4_AMQP_PORT; waiting for it"
  else
    if [ -n "$(beam_pids)" ]; then
      # A node process that does not answer rabbitmqctl: give a booting node a moment, else
      # it is stale or hung.
      for _ in 1 2 3 4 5 6; do node_pings && break; sleep 1; done
      node_pings || kill_chroot_processes "a node that does not answer"
    fi
    if ! node_pings; then
      # Leftovers of a node that died (its epmd, a pid file) go before a clean start.
      kill_chroot_processes "leftovers of a stopped node"
      rm -f "$BROKER4_ROOT$node_pidfile"
      write_config "$ids"
      step "rabbitmq-server launched as $BROKER4_NODENAME in the chroot" launch "$ids"
    fi
  fi

  # 4. Wait until it accepts AMQP and has finished booting.
  local tw="$EPOCHREALTIME"
  wait_up || die "the RabbitMQ 4 node did not start"
  say "node up, accepting AMQP on 127.0.0.1:$BROKER4_AMQP_PORT ($(elapsed "$tw") s waiting; $(elapsed "$t0") s for start in all)"
  report_up
}

cmd_stop() {
  local t0="$EPOCHREALTIME"
  need_root stop
  check_settings
  lock
  if ! built; then
    say "no chroot in $BROKER4_ROOT: nothing to stop"
    return 0
  fi
  local was="was not running"
  if node_pings; then
    # With the pid file, rabbitmqctl stop returns once the OS process has exited.
    ctl -q stop "$node_pidfile" >/dev/null 2>&1 || ctl -q stop >/dev/null 2>&1 || true
    was="stopped"
  fi
  [ -z "$(beam_pids)" ] || was="stopped"
  if [ -n "$(beam_pids)" ]; then
    for _ in $(seq 1 20); do [ -n "$(beam_pids)" ] || break; sleep 0.5; done
    [ -z "$(beam_pids)" ] || kill_chroot_processes "a node that did not stop"
  fi
  # What remains in the chroot is its own epmd (port $BROKER4_EPMD_PORT) and helpers.
  kill_chroot_processes "what remains of the node (its epmd)"
  rm -f "$BROKER4_ROOT$node_pidfile"
  unmount_under "$BROKER4_ROOT"
  say "$BROKER4_NODENAME $was ($(elapsed "$t0") s)"
}

cmd_status() {
  need_root status
  if ! built; then
    echo "broker4: not built ($BROKER4_ROOT has no chroot; run: $0 start)"
    return 3
  fi
  local answer
  if node_pings; then
    if answer="$(amqp_server "$BROKER4_AMQP_PORT")"; then
      echo "broker4: running: $(node_version), AMQP_URL=$amqp_url ($answer answers)"
      return 0
    fi
    echo "broker4: running but not accepting AMQP on 127.0.0.1:$BROKER4_AMQP_PORT (booting?): $(node_version)"
    return 0
  fi
  if answer="$(amqp_server "$BROKER4_AMQP_PORT")"; then
    echo "broker4: not running; 127.0.0.1:$BROKER4_AMQP_PORT is answered by something else ($answer)"
  else
    echo "broker4: not running (chroot $BROKER4_ROOT: $(grep '^rabbitmq-server=' "$stamp" | cut -d= -f2))"
  fi
  return 3
}

cmd_rebuild() {
  need_root rebuild
  check_settings
  cmd_stop
  lock
  step "removed the chroot $BROKER4_ROOT" remove_tree "$BROKER4_ROOT"
  build
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  rebuild) cmd_rebuild ;;
  *)
    echo "usage: $0 start|stop|status|rebuild   (see the comments at the top of this file)" >&2
    exit 2 ;;
esac
