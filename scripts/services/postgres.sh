# shellcheck shell=bash
# A private PostgreSQL for the tests (sourced by scripts/test and scripts/bench):
# initdb + pg_ctl in a temporary directory, on a free loopback port, as an
# unprivileged system user (PostgreSQL refuses to run as root).
#
# Exports HYPERSTATE_POSTGRES_URL, plus HYPERSTATE_POSTGRES_DATA and
# HYPERSTATE_POSTGRES_BIN, HYPERSTATE_POSTGRES_USER and HYPERSTATE_POSTGRES_LOG
# so fault tests can stop and start the server with pg_ctl.
# If POSTGRES_URL is already set, that server is used instead and nothing is
# started. Installs Debian's postgresql package when initdb is missing and we
# run as root. Never touches the machine's own server on 5432.

postgres_dir=""
postgres_bin=""
postgres_user=""

# shellcheck source=../lib/free_port.sh
source scripts/lib/free_port.sh

# Where initdb and pg_ctl live: PATH, else Debian's versioned directory.
_postgres_find_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return 0
  fi
  # The newest installed major version first.
  local dir
  while IFS= read -r dir; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
  return 1
}

# Runs a command as the server's user ("" when we are not root: ourselves).
_postgres_as() {
  if [ -n "$postgres_user" ]; then
    runuser -u "$postgres_user" -- "$@"
  else
    "$@"
  fi
}

start_postgres() {
  if [ -n "${POSTGRES_URL:-}" ]; then
    export HYPERSTATE_POSTGRES_URL="$POSTGRES_URL"
    echo "using the PostgreSQL at POSTGRES_URL"
    return 0
  fi
  if ! postgres_bin=$(_postgres_find_bin); then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing postgresql"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null || return 1
      postgres_bin=$(_postgres_find_bin) || return 1
    else
      echo "initdb is not installed (install postgresql, or set POSTGRES_URL)" >&2
      return 1
    fi
  fi
  if [ "$(id -u)" = "0" ]; then
    postgres_user=hyperstate-pg
    if ! id "$postgres_user" >/dev/null 2>&1; then
      useradd -r -M -s /usr/sbin/nologin "$postgres_user" || return 1
    fi
  fi
  local port
  port=$(free_port) || return 1
  postgres_dir=$(mktemp -d)
  chmod 755 "$postgres_dir"
  mkdir "$postgres_dir/data" "$postgres_dir/socket"
  [ -n "$postgres_user" ] && chown -R "$postgres_user" "$postgres_dir"
  _postgres_as "$postgres_bin/initdb" -D "$postgres_dir/data" -U postgres \
    --auth=trust --no-sync -E UTF8 --locale=C >"$postgres_dir/initdb.log" 2>&1 || {
    cat "$postgres_dir/initdb.log" >&2
    return 1
  }
  # Loopback only, our own socket directory, room for the tests' many pools.
  # In the config file rather than on the command line, so a fault test's plain
  # `pg_ctl start` brings the same server back.
  cat >>"$postgres_dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$postgres_dir/socket'
max_connections = 400
CONF
  _postgres_as "$postgres_bin/pg_ctl" -D "$postgres_dir/data" -l "$postgres_dir/postgres.log" -w -t 30 \
    start >/dev/null || {
    echo "PostgreSQL did not start on port $port; its log:" >&2
    cat "$postgres_dir/postgres.log" >&2 || true
    return 1
  }
  export HYPERSTATE_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export HYPERSTATE_POSTGRES_DATA="$postgres_dir/data"
  export HYPERSTATE_POSTGRES_BIN="$postgres_bin"
  export HYPERSTATE_POSTGRES_USER="$postgres_user"
  export HYPERSTATE_POSTGRES_LOG="$postgres_dir/postgres.log"
  echo "PostgreSQL on port $port (data in $postgres_dir/data)"
}

stop_postgres() {
  if [ -n "$postgres_dir" ] && [ -d "$postgres_dir/data" ]; then
    _postgres_as "$postgres_bin/pg_ctl" -D "$postgres_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  [ -n "$postgres_dir" ] && rm -rf "$postgres_dir"
  return 0
}
