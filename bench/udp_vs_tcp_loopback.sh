#!/usr/bin/env bash
# UDP vs plain TCP over loopback: one dstream (TCP and UDP on the same port) and a LOOP_MIB (1024)
# MiB file; dsclient --transport tcp and --transport udp each fetch it to /dev/null (-o - >
# /dev/null), alternating, in the same run. MB/s = 10^6 bytes/s over dsclient's whole run. Before
# anything is timed, one fetch per transport goes into sha256sum: it checks the bytes once and has
# the server hash the file.
#   bench/udp_vs_tcp_loopback.sh   (env: BUILD=build dir, LOOP_MIB=1024, LOOP_RUNS=1, BENCH_RT=1 see lib.sh)
source "$(dirname "$0")/lib.sh"
MIB=${LOOP_MIB:-1024}
RUNS=${LOOP_RUNS:-1}
BYTES=$((MIB * 1048576))
T=300  # seconds any one fetch may take
# dstream's key file and dsclient's remembered server keys stay in the scratch directory.
export XDG_CONFIG_HOME="$WORK/xdg"
mkdir -p "$XDG_CONFIG_HOME" "$WORK/www"

# dsclient's options per transport (words); without --transport, dsclient speaks plain TCP only.
declare -A FLAGS=([tcp]="--transport tcp" [udp]="--transport udp")
TRANSPORTS=(tcp udp)
if ! "$DSCLIENT" --help 2>&1 | grep -q -- '--transport'; then
  echo "udp_vs_tcp_loopback: this dsclient has no --transport option: TCP only (no flag); UDP skipped"
  FLAGS[tcp]=""
  TRANSPORTS=(tcp)
fi

make_file "$WORK/www/file.bin" "$MIB"
WANT=$(sha256sum "$WORK/www/file.bin" | cut -d' ' -f1)
start_dstream "$WORK/www"
URL="pdtp://127.0.0.1:$DS_PORT/file.bin"

echo "udp_vs_tcp_loopback: ${MIB} MiB file on loopback, dstream chunk size 250000; $RUNS run(s); MB/s = 10^6 bytes/s"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; ${RT[*]:-normal priority}"
for t in "${TRANSPORTS[@]}"; do
  # shellcheck disable=SC2086  # the flags are words on purpose
  timeout "$T" "$DSCLIENT" ${FLAGS[$t]} -q -o - "$URL" 2>"$WORK/dsclient.err" | sha256sum >"$WORK/got.sha" \
    || die "$t: dsclient -o - | sha256sum failed: $(tail -n 5 "$WORK/dsclient.err")"
  [ "$(cut -d' ' -f1 "$WORK/got.sha")" = "$WANT" ] || die "$t: wrong SHA-256"
  echo "  $t: sha256 of the file as fetched: ok"
done

declare -A rates
for r in $(seq 1 "$RUNS"); do
  line="  run $r:"
  for t in "${TRANSPORTS[@]}"; do
    s=$(now)
    # shellcheck disable=SC2086
    timeout "$T" "${RT[@]}" "$DSCLIENT" ${FLAGS[$t]} -q -o - "$URL" >/dev/null 2>"$WORK/dsclient.err" \
      || die "$t: dsclient failed: $(tail -n 5 "$WORK/dsclient.err")"
    e=$(now)
    rate=$(mb_per_s "$BYTES" "$s" "$e")
    rates[$t]="${rates[$t]:-} $rate"
    line+=" ${t^^} $rate MB/s"
  done
  echo "$line"
done
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# shellcheck disable=SC2086  # the lists are words on purpose
tcp=$(median ${rates[tcp]})
if [ -n "${rates[udp]:-}" ]; then
  # shellcheck disable=SC2086
  udp=$(median ${rates[udp]})
  awk -v t="$tcp" -v u="$udp" 'BEGIN { printf "udp_vs_tcp_loopback: TCP %.1f MB/s, UDP %.1f MB/s: UDP / TCP = %.2f\n", t, u, u / t }'
else
  echo "udp_vs_tcp_loopback: TCP $tcp MB/s (UDP not measured)"
fi
