#!/usr/bin/env bash
# Control plane over real loopback TCP: control_load pipelines frames on K connections against a
# running dstream and counts replies (target >= 150,000 msg/s). Each case gets a fresh dstream, and
# whether dstream survived the clients' disconnect at the end is reported.
#   bench/control_load.sh          (env: BUILD=build dir, LOAD_SECONDS=5)
source "$(dirname "$0")/lib.sh"
S=${LOAD_SECONDS:-5}
[ -x "$CONTROL_LOAD" ] || die "missing $CONTROL_LOAD"
mkdir -p "$WORK/www"
head -c 1000000 /dev/urandom >"$WORK/www/a.bin"
url="http://127.0.0.1/a.bin"
echo "control_load: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; ${RT[*]:-normal priority}"
run() {
  start_dstream "$WORK/www"
  timeout $((S + 60)) "${RT[@]}" "$CONTROL_LOAD" load --port "$DS_PORT" --url "$url" --seconds "$S" "$@" || echo "control_load $* failed"
  sleep 0.5
  if kill -0 "$DSTREAM_PID" 2>/dev/null; then
    stop_pid "$DSTREAM_PID"
  else
    local rc=0
    wait "$DSTREAM_PID" 2>/dev/null || rc=$?
    echo "  DSTREAM CRASHED when the clients disconnected (exit status $rc; $([ $rc -gt 128 ] && kill -l $((rc - 128))))"
  fi
}
run --conns 16 --depth 64 --msg ask_info
run --conns 16 --depth 64 --msg ask_verify
run --conns 256 --depth 8 --msg ask_info
run --conns 1 --depth 256 --msg ask_info
