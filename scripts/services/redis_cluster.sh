# shellcheck shell=bash
# A private 3-primary Redis Cluster on free loopback ports for the tests
# (sourced by scripts/test through scripts/lib/services.sh).
#
# Exports HYPERSTATE_REDIS_CLUSTER_URL (one seed node; the client discovers the
# others). If REDIS_CLUSTER_URL is already set, that cluster is used instead and
# nothing is started. Needs redis-server and redis-cli 7 (Debian's redis-server
# package; scripts/services/redis.sh installs it when missing and run as root).

redis_cluster_dir=""
redis_cluster_pids=()
redis_cluster_ports=()

# shellcheck source=../lib/free_port.sh
source scripts/lib/free_port.sh

start_redis_cluster() {
  if [ -n "${REDIS_CLUSTER_URL:-}" ]; then
    export HYPERSTATE_REDIS_CLUSTER_URL="$REDIS_CLUSTER_URL"
    echo "using the Redis Cluster at REDIS_CLUSTER_URL"
    return 0
  fi
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "redis-server/redis-cli are not installed (install them, or set REDIS_CLUSTER_URL)" >&2
    return 1
  fi
  redis_cluster_dir=$(mktemp -d)
  local i port bus nodes=()
  for i in 1 2 3; do
    port=$(free_port) || return 1
    # The cluster bus gets its own free port (cluster-port), not port + 10000.
    bus=$(free_port) || return 1
    mkdir -p "$redis_cluster_dir/$i"
    redis-server --port "$port" --cluster-port "$bus" --bind 127.0.0.1 \
      --cluster-enabled yes --cluster-config-file "$redis_cluster_dir/$i/nodes.conf" \
      --cluster-node-timeout 2000 --save "" --appendonly no \
      --dir "$redis_cluster_dir/$i" --daemonize no --logfile "$redis_cluster_dir/$i/redis.log" &
    redis_cluster_pids+=("$!")
    redis_cluster_ports+=("$port")
    nodes+=("127.0.0.1:$port")
  done
  for port in "${redis_cluster_ports[@]}"; do
    for _ in $(seq 1 50); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  if ! redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
    >"$redis_cluster_dir/create.log" 2>&1; then
    echo "redis-cli --cluster create failed; its output:" >&2
    cat "$redis_cluster_dir/create.log" >&2
    return 1
  fi
  # Every node must see the whole cluster up before the tests start.
  for _ in $(seq 1 100); do
    local ok=0
    for port in "${redis_cluster_ports[@]}"; do
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && ok=$((ok + 1))
    done
    if [ "$ok" = 3 ]; then
      export HYPERSTATE_REDIS_CLUSTER_URL="redis://127.0.0.1:${redis_cluster_ports[0]}"
      echo "Redis Cluster on ports ${redis_cluster_ports[*]} (pids ${redis_cluster_pids[*]})"
      return 0
    fi
    sleep 0.1
  done
  echo "the Redis Cluster did not reach cluster_state:ok; node 1's log:" >&2
  cat "$redis_cluster_dir/1/redis.log" >&2 || true
  return 1
}

stop_redis_cluster() {
  local pid
  for pid in "${redis_cluster_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${redis_cluster_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  redis_cluster_pids=()
  [ -n "$redis_cluster_dir" ] && rm -rf "$redis_cluster_dir"
  return 0
}
