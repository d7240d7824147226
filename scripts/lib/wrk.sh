# shellcheck shell=bash
# ensure_wrk: makes sure the wrk load generator (a Debian package) is on PATH,
# installing it with apt when it is missing and the script runs as root, for
# the scripts that put an HTTP server under load (scripts/flood,
# scripts/bench-http). Fails with a message when it cannot.
ensure_wrk() {
  command -v wrk >/dev/null && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "wrk is not installed (apt-get install wrk)" >&2
    return 1
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null
}
