# shellcheck shell=bash
# A private redis-server on a free port for the tests (sourced by scripts/test).
#
# Exports HYPERSTATE_REDIS_URL. If REDIS_URL is already set, that server is used
# instead and nothing is started. Installs Debian's redis-server when it is missing
# and we run as root.

redis_dir=""
redis_pid=""

# shellcheck source=../lib/free_port.sh
source scripts/lib/free_port.sh

start_redis() {
  if [ -n "${REDIS_URL:-}" ]; then
    export HYPERSTATE_REDIS_URL="$REDIS_URL"
    echo "using the Redis at REDIS_URL"
    return 0
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing redis-server"
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null || return 1
    else
      echo "redis-server is not installed (install it, or set REDIS_URL)" >&2
      return 1
    fi
  fi
  local port
  port=$(free_port) || return 1
  redis_dir=$(mktemp -d)
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$redis_dir" --daemonize no --logfile "$redis_dir/redis.log" &
  redis_pid=$!
  for _ in $(seq 1 50); do
    if redis-cli -p "$port" ping >/dev/null 2>&1; then
      export HYPERSTATE_REDIS_URL="redis://127.0.0.1:$port"
      echo "redis-server on port $port (pid $redis_pid)"
      return 0
    fi
    sleep 0.1
  done
  echo "redis-server did not answer on port $port; its log:" >&2
  cat "$redis_dir/redis.log" >&2 || true
  return 1
}

stop_redis() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  [ -n "$redis_dir" ] && rm -rf "$redis_dir"
  return 0
}
