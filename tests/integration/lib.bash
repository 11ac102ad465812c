# Shared helpers for the integration scripts (sourced, not a test). Everything runs on loopback,
# in a scratch directory removed on exit, and every process is bounded by a timeout.
set -euo pipefail
: "${DSTREAM:?set DSTREAM to the dstream binary}" "${DSCLIENT:?set DSCLIENT to the dsclient binary}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pdtp-it.XXXXXX")
# Keys and known hosts go to the scratch directory, never to the user's own config.
export XDG_CONFIG_HOME="$WORK/config"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  [ -f "$WORK/dstream.log" ] && { echo "--- dstream log:" >&2; tail -n 30 "$WORK/dstream.log" >&2; }
  exit 1
}
pass() { echo "ok: $*"; }

# Any socket on the port counts (a connected one blocks a listener too).
port_in_use() { ss -Htan "sport = :$1" | grep -q .; }

# Two consecutive free ports (control, control+1 for HTTP).
pick_ports() {
  for _ in $(seq 1 50); do
    local p=$((20000 + RANDOM % 12000))  # below the kernel's ephemeral range (32768-60999)
    if ! port_in_use "$p" && ! port_in_use $((p + 1)); then
      PORT=$p
      HTTP=$((p + 1))
      return 0
    fi
  done
  fail "no free port pair"
}

# start_dstream ROOT [extra dstream args...]: sets PORT, HTTP, DSTREAM_PID. Retries on new ports if
# another process took the chosen ones in the meantime.
start_dstream() {
  local root=$1
  shift
  for _ in 1 2 3; do
    pick_ports
    "$DSTREAM" --host 127.0.0.1 --port "$PORT" --root "$root" "$@" >"$WORK/dstream.log" 2>&1 &
    DSTREAM_PID=$!
    PIDS+=("$DSTREAM_PID")
    for _ in $(seq 1 100); do
      curl -sf "http://127.0.0.1:$HTTP/status.json" >/dev/null 2>&1 && return 0
      kill -0 "$DSTREAM_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$DSTREAM_PID" 2>/dev/null && fail "dstream did not answer on port $HTTP"
    grep -q "Address already in use" "$WORK/dstream.log" || fail "dstream exited at start"
  done
  fail "dstream found no free ports"
}

status_json() { curl -sf "http://127.0.0.1:$HTTP/status.json"; }
