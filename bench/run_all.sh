#!/usr/bin/env bash
# Builds Release into build-bench and runs every benchmark; prints each one's output and a summary.
#   bench/run_all.sh      (env: JOBS=2 make jobs; QUICK=1 for smaller runs; BUILD to use another dir;
#                          BENCH_RT=1 runs the measured processes under SCHED_FIFO, see lib.sh)
# The emulated-path runs (lossy_path.sh, with 0.5% loss and with none) need root and nfq_delay, which
# is built only where libnetfilter-queue is installed; without either they are skipped and say so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
export BUILD=${BUILD:-$root/build-bench}
jobs=${JOBS:-2}

cmake -S "$root" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPDTP_BUILD_TESTS=OFF >/dev/null
make -C "$BUILD" -j"$jobs" dstream dsclient control_plane control_load first_byte >/dev/null
have_nfq=0
if make -C "$BUILD" help 2>/dev/null | grep -w nfq_delay >/dev/null; then make -C "$BUILD" -j"$jobs" nfq_delay >/dev/null && have_nfq=1; fi

if [ "${QUICK:-0}" = 1 ]; then
  export DATA_MIB=256 RUNS=1 STREAM_MIB=512 LOAD_SECONDS=2 LOOP_MIB=256 FILE_MB=20 TTFB_RUNS=3
  cp_args=(--scale 0.2)
else
  cp_args=()
fi

rt=()
if [ "${BENCH_RT:-0}" = 1 ] && chrt -f 10 true 2>/dev/null; then rt=(chrt -f 10); fi

log=$(mktemp "${TMPDIR:-/tmp}/pdtp-bench-log.XXXXXX")
trap 'rm -f "$log"' EXIT
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
     "git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), load average $(cut -d' ' -f1-3 /proc/loadavg),"\
     "${rt[*]:-normal priority}"
awk '$1 > 1.5 { print "== warning: the machine is busy (load average " $1 "); figures will be low and noisy" }' /proc/loadavg

status=0
run() {
  echo "== $*"
  "$@" 2>&1 | tee -a "$log" || { echo "== FAILED: $*"; status=1; }
}
run "${rt[@]}" "$BUILD/bench/control_plane" "${cp_args[@]}"
run "$here/control_load.sh"
run "$here/data_plane.sh"
run "$here/memory.sh"
run "$here/udp_vs_tcp_loopback.sh"
if [ "$(id -u)" -ne 0 ]; then
  echo "== skipped: bench/lossy_path.sh (the emulated path needs root: namespaces, iptables, sysctl)"
elif [ "$have_nfq" != 1 ]; then
  echo "== skipped: bench/lossy_path.sh (nfq_delay not built: install libnetfilter-queue-dev and libmnl-dev, see scripts/setup.sh)"
else
  run "$here/lossy_path.sh"
  run env LOSS=0 "$here/lossy_path.sh"
fi

echo "== summary"
grep -E 'msg/s|target|CRASHED|UDP / TCP =' "$log" | grep -vE '^  swarm:' | sed 's/^ *//' || true
exit "$status"
