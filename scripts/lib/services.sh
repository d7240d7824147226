# shellcheck shell=bash
# Starts every service in scripts/services/ (sourced by scripts/test and
# scripts/bench). Each service script defines start_<name> (exporting the
# environment variable the tests read) and stop_<name>; every started service is
# stopped when the calling script exits. Under CI=true a service that cannot be
# started is a failure; locally the tests that need it skip loudly.

_service_stops=()
_stop_services() { for f in "${_service_stops[@]}"; do "$f" || true; done; }
trap _stop_services EXIT

start_services() {
  local service name
  for service in scripts/services/*.sh; do
    [ -e "$service" ] || continue
    # shellcheck source=/dev/null
    source "$service"
    name=$(basename "$service" .sh)
    printf '\n=== starting %s\n' "$name"
    if "start_$name"; then
      _service_stops+=("stop_$name")
    elif [ "${CI:-}" = "true" ]; then
      echo "error: could not start $name, and CI=true" >&2
      return 1
    else
      echo "warning: could not start $name; what needs it will skip" >&2
    fi
  done
  # Child scripts (scripts/bench under scripts/test) reuse what was started.
  export HYPERSTATE_SERVICES_STARTED=1
}
