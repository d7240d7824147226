# shellcheck shell=bash
# An S3-protocol server for the tests: moto's server, from PyPI, in a venv.
#
# Sourced by scripts/test. start_s3 installs moto into .venv/moto (once), starts
# it on a free loopback port, creates the bucket and exports what the S3 tests
# and benchmarks read:
#   HYPERSTATE_S3_ENDPOINT, HYPERSTATE_S3_BUCKET, AWS_ACCESS_KEY_ID,
#   AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, and HYPERSTATE_S3_LOG (moto's
#   log, one line per request: benchmarks count the store's GETs in it)
# stop_s3 stops the server. Both return non-zero on failure; scripts/test decides
# whether that is a warning (locally) or an error (CI=true).

_s3_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
_s3_venv="$_s3_root/.venv/moto"
_s3_pid=""
_s3_log=""

_s3_python() {
  local python
  for python in python3 python; do
    if command -v "$python" >/dev/null 2>&1; then
      echo "$python"
      return 0
    fi
  done
  echo "s3: no python3 found" >&2
  return 1
}

# shellcheck source=../lib/free_port.sh
source scripts/lib/free_port.sh

_s3_install() {
  if [ -x "$_s3_venv/bin/moto_server" ]; then
    return 0
  fi
  local python
  python=$(_s3_python) || return 1
  echo "s3: installing moto[server] into $_s3_venv" >&2
  "$python" -m venv "$_s3_venv" || return 1
  "$_s3_venv/bin/python" -m pip install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6' || return 1
}

start_s3() {
  _s3_install || return 1
  local port
  port=$(free_port "$_s3_venv/bin/python") || return 1
  _s3_log=$(mktemp -t moto.XXXXXX.log)
  "$_s3_venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$_s3_log" 2>&1 &
  _s3_pid=$!

  export HYPERSTATE_S3_ENDPOINT="http://127.0.0.1:$port"
  export HYPERSTATE_S3_BUCKET="hyperstate-test"
  export HYPERSTATE_S3_LOG="$_s3_log"
  export AWS_ACCESS_KEY_ID="testing"
  export AWS_SECRET_ACCESS_KEY="testing"
  export AWS_DEFAULT_REGION="us-east-1"

  # Wait for the server, then create the bucket (a PUT on the bucket's URL).
  local i
  for i in $(seq 1 100); do
    if "$_s3_venv/bin/python" - "$HYPERSTATE_S3_ENDPOINT" "$HYPERSTATE_S3_BUCKET" <<'PY' 2>/dev/null
import sys, urllib.request
endpoint, bucket = sys.argv[1], sys.argv[2]
urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{bucket}", method="PUT"), timeout=2)
PY
    then
      echo "s3: moto on $HYPERSTATE_S3_ENDPOINT, bucket $HYPERSTATE_S3_BUCKET (pid $_s3_pid)" >&2
      return 0
    fi
    if ! kill -0 "$_s3_pid" 2>/dev/null; then
      echo "s3: moto_server exited; its log:" >&2
      cat "$_s3_log" >&2
      break
    fi
    sleep 0.2
  done
  stop_s3
  unset HYPERSTATE_S3_ENDPOINT HYPERSTATE_S3_BUCKET HYPERSTATE_S3_LOG
  return 1
}

stop_s3() {
  if [ -n "$_s3_pid" ]; then
    kill "$_s3_pid" 2>/dev/null || true
    wait "$_s3_pid" 2>/dev/null || true
    _s3_pid=""
  fi
  if [ -n "$_s3_log" ]; then
    rm -f "$_s3_log"
    _s3_log=""
  fi
}
