#!/usr/bin/env bash
# Get a PostgreSQL server for the local run and the tests (the worker's ledger), and wait until
# it answers.
#
#   1. DATABASE_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres) already answers: use it.
#   2. A PostgreSQL server is installed (Debian: /usr/lib/postgresql/<version>): start the cluster
#      on that port (pg_ctlcluster, else `service postgresql start`); as root, create one on that
#      port when there is none.
#   3. Running as root on Debian/Ubuntu: install Debian's postgresql, then start it.
#   4. Otherwise: say how to run one, and fail.
#
# Only a cluster this script created itself (2, 3) is opened up: local TCP connections
# (127.0.0.1/32, ::1/128) are let in without a password (`trust`), so DATABASE_ADMIN_URL needs
# none. An existing server's authentication is never touched.
#
# Source it or run it; it exports DATABASE_ADMIN_URL and exits non-zero when no server can be had.
set -euo pipefail

DATABASE_ADMIN_URL="${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export DATABASE_ADMIN_URL

# user, host, port and database out of postgres[ql]://user:pass@host:port/db?params
rest="${DATABASE_ADMIN_URL#*://}"
dbname=""
case "$rest" in */*) dbname="${rest#*/}"; dbname="${dbname%%\?*}" ;; esac
rest="${rest%%[/?]*}"
userinfo=""
case "$rest" in *@*) userinfo="${rest%@*}"; rest="${rest##*@}" ;; esac
user="${userinfo%%:*}"
user="${user:-${PGUSER:-$(id -un)}}"
case "$rest" in
  \[*\]:*) host="${rest%%]*}"; host="${host#[}"; port="${rest##*]:}" ;;  # [::1]:5432
  \[*\]) host="${rest#[}"; host="${host%]}"; port="" ;;
  *:*) host="${rest%%:*}"; port="${rest##*:}" ;;
  *) host="$rest"; port="" ;;
esac
host="${host:-localhost}"
port="${port:-5432}"
# Shown instead of the URL, which may carry a password.
where="${host}:${port} as ${user}"

say() { echo "database: $*" >&2; }

is_local() {
  case "$host" in 127.*|localhost|::1) return 0 ;; *) return 1 ;; esac
}

answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -t 3 -d "$DATABASE_ADMIN_URL" >/dev/null 2>&1
  else
    (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null
  fi
}

wait_for_server() {
  local deadline=$((SECONDS + ${1:-60}))
  until answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 1
  done
}

# A server that answers but refuses DATABASE_ADMIN_URL's login is no use to the tests: say why.
# Without psql there is no way to ask, and the tests will tell.
logs_in() {
  command -v psql >/dev/null 2>&1 || return 0
  local error
  if error="$(PGCONNECT_TIMEOUT=5 psql "$DATABASE_ADMIN_URL" -w -X -A -t -q -c 'SELECT 1' 2>&1 >/dev/null)"; then
    return 0
  fi
  say "PostgreSQL answers at ${host}:${port} but refuses DATABASE_ADMIN_URL's login: ${error}"
  cat >&2 <<HOW
database: use a role that may create databases, e.g.
  DATABASE_ADMIN_URL=postgres://postgres:<password>@${host}:${port}/postgres
or, on a throwaway local server, let local TCP connections in without a password: add
  host all all 127.0.0.1/32 trust
  host all all ::1/128      trust
at the top of its pg_hba.conf and reload it (Debian: sudo pg_ctlcluster <version> <cluster> reload).
HOW
  return 1
}

done_ok() {
  if logs_in; then
    say "PostgreSQL answers at ${where}"
    return 0
  fi
  return 1
}

how_to_run_one() {
  cat >&2 <<HOW
database: no PostgreSQL answers at ${host}:${port} and none can be started or installed here. Run one, then try again:
  sudo apt-get install postgresql && sudo pg_ctlcluster <version> main start   (Debian/Ubuntu)
  brew install postgresql@17 && brew services start postgresql@17             (macOS)
  docker run -d -p ${port}:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:17   (any Docker host)
or set DATABASE_ADMIN_URL to a server you have. Its role must log in from here (Debian's default
pg_hba.conf asks for a password over TCP: put it in the URL, or trust 127.0.0.1/32 on a
throwaway server) and may create databases (brew: createuser -s postgres).
HOW
}

# --- Debian's postgresql-common: clusters live in /etc/postgresql/<version>/<name> ---

# "version name" of the cluster configured for our port, if any.
cluster_on_port() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 1
  pg_lsclusters -h 2>/dev/null | awk -v p="$port" '$3 == p { print $1, $2; found = 1; exit } END { exit !found }'
}

newest_installed_version() {
  local server version newest=""
  for server in /usr/lib/postgresql/*/bin/postgres; do
    [ -x "$server" ] || continue
    version="${server#/usr/lib/postgresql/}"
    version="${version%%/*}"
    if [ -z "$newest" ] || [ "${version%%.*}" -gt "${newest%%.*}" ]; then
      newest="$version"
    fi
  done
  echo "$newest"
}

# Let local TCP connections in without a password, first in pg_hba.conf (the first matching
# line wins). Only for a cluster this script created: it is a throwaway.
trust_local_tcp() {
  local version="$1" name="$2" hba="/etc/postgresql/$1/$2/pg_hba.conf" tmp
  grep -q '^# deploy/local/database.sh' "$hba" 2>/dev/null && return 0
  tmp="$(mktemp)"
  {
    echo "# deploy/local/database.sh: a throwaway cluster for the local run and the tests;"
    echo "# local TCP connections need no password."
    echo "host    all             all             127.0.0.1/32            trust"
    echo "host    all             all             ::1/128                 trust"
    cat "$hba"
  } >"$tmp"
  cat "$tmp" >"$hba"
  rm -f "$tmp"
  say "cluster ${version}/${name}: local TCP connections (127.0.0.1/32, ::1/128) need no password (trust)"
}

start_cluster() {
  local version="$1" name="$2"
  say "starting PostgreSQL cluster ${version}/${name} (port ${port})"
  pg_ctlcluster "$version" "$name" start >/dev/null 2>&1 && return 0
  service postgresql start >/dev/null 2>&1 && return 0
  say "could not start cluster ${version}/${name}: that needs root or its owner (sudo pg_ctlcluster ${version} ${name} start)"
  return 1
}

# The role and database of DATABASE_ADMIN_URL, in a cluster this script created (it has only
# the role and database `postgres`).
create_admin_role() {
  command -v psql >/dev/null 2>&1 || return 0
  if [ "$user" != "postgres" ]; then
    say "creating role ${user} (superuser) for DATABASE_ADMIN_URL"
    runuser -u postgres -- psql -X -q -p "$port" -d postgres \
      -c "DO \$\$ BEGIN CREATE ROLE \"${user}\" LOGIN SUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" \
      >/dev/null
  fi
  if [ -n "$dbname" ] && [ "$dbname" != "postgres" ]; then
    say "creating database ${dbname} for DATABASE_ADMIN_URL"
    runuser -u postgres -- psql -X -q -p "$port" -d postgres -v ON_ERROR_STOP=1 -v db="$dbname" -v owner="$user" >/dev/null <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')
\gexec
SQL
  fi
}

if answers; then
  done_ok && { return 0 2>/dev/null || exit 0; }
  return 1 2>/dev/null || exit 1
fi

if ! is_local; then
  say "nothing answers at ${host}:${port} (DATABASE_ADMIN_URL points at another machine; start that server)"
  return 1 2>/dev/null || exit 1
fi

created=""
if [ -z "$(newest_installed_version)" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # The package creates the cluster `main`; policy-rc.d may keep it from starting (no systemd).
    if ! { apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null; }; then
      say "apt-get could not install postgresql (see above)"
      how_to_run_one
      return 1 2>/dev/null || exit 1
    fi
    created=1
  else
    how_to_run_one
    return 1 2>/dev/null || exit 1
  fi
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  say "a PostgreSQL server is installed but not Debian's cluster tools (pg_ctlcluster); start it yourself"
  how_to_run_one
  return 1 2>/dev/null || exit 1
fi

if [ -n "$created" ] && ! cluster_on_port >/dev/null; then
  # The package's cluster took another port (ours was in use, or DATABASE_ADMIN_URL names
  # another one): move it, it is ours and nothing uses it yet.
  read -r cver cname <<<"$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" { print $1, $2; exit }')" || true
  if [ -n "${cname:-}" ]; then
    pg_ctlcluster "$cver" "$cname" stop >/dev/null 2>&1 || true
    pg_conftool "$cver" "$cname" set port "$port"
  fi
fi

if cluster="$(cluster_on_port)"; then
  read -r cver cname <<<"$cluster"
else
  # Installed, but no cluster on our port: as root, create one (a throwaway).
  cver="$(newest_installed_version)"
  if [ "$(id -u)" != "0" ]; then
    say "PostgreSQL ${cver} is installed but has no cluster on port ${port}, and creating one needs root"
    how_to_run_one
    return 1 2>/dev/null || exit 1
  fi
  cname=main
  [ -d "/etc/postgresql/${cver}/main" ] && cname=fleet
  say "creating PostgreSQL cluster ${cver}/${cname} on port ${port}"
  pg_createcluster -p "$port" "$cver" "$cname" >/dev/null
  created=1
fi

if [ -n "$created" ]; then
  trust_local_tcp "$cver" "$cname"
  # Running already (the package may have started it): reload so the new pg_hba.conf applies.
  pg_ctlcluster "$cver" "$cname" reload >/dev/null 2>&1 || true
fi
if ! answers; then
  if [ -z "$created" ] && pg_lsclusters -h 2>/dev/null | awk -v v="$cver" -v n="$cname" '$1 == v && $2 == n && $4 == "online" { f = 1 } END { exit !f }'; then
    say "cluster ${cver}/${cname} runs on port ${port} but does not answer at ${host}: see listen_addresses in /etc/postgresql/${cver}/${cname}/"
    return 1 2>/dev/null || exit 1
  fi
  start_cluster "$cver" "$cname" || { how_to_run_one; return 1 2>/dev/null || exit 1; }
fi
if ! wait_for_server 60; then
  say "PostgreSQL ${cver}/${cname} did not answer within 60 s; see /var/log/postgresql/postgresql-${cver}-${cname}.log"
  return 1 2>/dev/null || exit 1
fi
if [ -n "$created" ]; then
  create_admin_role
fi
done_ok || { return 1 2>/dev/null || exit 1; }
