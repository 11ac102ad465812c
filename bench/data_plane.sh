#!/usr/bin/env bash
# Data plane: one dsclient fetching a file from dstream on loopback (default chunk size 250 kB),
# side by side with curl fetching the same file from nginx on loopback. Target: dsclient >= 50% of
# curl's rate. Prints MB/s (10^6 bytes per second) for each run and the medians. dsclient speaks plain
# TCP here (--transport tcp), as curl does; bench/udp_vs_tcp_loopback.sh compares the two transports.
#   bench/data_plane.sh            (env: BUILD=build dir, DATA_MIB=1024, RUNS=3)
source "$(dirname "$0")/lib.sh"
MIB=${DATA_MIB:-1024}
RUNS=${RUNS:-3}
BYTES=$((MIB * 1048576))
command -v nginx >/dev/null || die "nginx not found (scripts/setup.sh installs nginx-light)"

mkdir -p "$WORK/www" "$WORK/out" "$WORK/nginx"
make_file "$WORK/www/file.bin" "$MIB"
chmod 644 "$WORK/www/file.bin"
WANT=$(sha256sum "$WORK/www/file.bin" | cut -d' ' -f1)

start_dstream "$WORK/www"
DS_URL="pdtp://127.0.0.1:$DS_PORT/file.bin"

NG_PORT=$(pick_port_pair)
write_nginx_conf "$WORK/nginx" "127.0.0.1:$NG_PORT" "$WORK/www"
"${RT[@]}" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx/start.log" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
NG_URL="http://127.0.0.1:$NG_PORT/file.bin"
for _ in $(seq 1 100); do curl -sf -o /dev/null -r 0-0 "$NG_URL" && break; sleep 0.1; done
curl -sf -o /dev/null -r 0-0 "$NG_URL" || die "nginx did not start: $(cat "$WORK/nginx/start.log" "$WORK/nginx/error.log" 2>/dev/null)"

T=300  # seconds any one fetch may take
NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -n 1)
[ -n "$NGINX_WORKER" ] || die "no nginx worker process"
HZ=$(getconf CLK_TCK)
# CPU seconds used so far by a running process (utime + stime).
proc_cpu() { awk -v hz="$HZ" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"; }
# CPU seconds used by this shell's finished children (user + sys), from the `times` builtin.
# (`times` must run in this shell, not in a $(...) subshell, so it writes to a file.)
children_cpu() {
  times >"$WORK/times"
  tail -n 1 "$WORK/times" | awk '{ for (i = 1; i <= 2; ++i) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.2f", t }'
}
# measure SERVER_PID CMD: runs CMD (a shell string) under a timeout; sets RATE (MB/s) and
# CCPU / SCPU (CPU seconds of the client side and of the server process during the fetch).
measure() {
  local s e c0 s0
  children_cpu >"$WORK/c0"
  c0=$(cat "$WORK/c0")
  s0=$(proc_cpu "$1")
  s=$(now)
  timeout "$T" "${RT[@]}" bash -c "$2" || die "failed: $2"
  e=$(now)
  RATE=$(mb_per_s "$BYTES" "$s" "$e")
  children_cpu >"$WORK/c1"
  CCPU=$(awk -v a="$(cat "$WORK/c1")" -v b="$c0" 'BEGIN { printf "%.2f", a - b }')
  SCPU=$(awk -v a="$(proc_cpu "$1")" -v b="$s0" 'BEGIN { printf "%.2f", a - b }')
}
check_hash() { [ "$(cut -d' ' -f1 "$1")" = "$WANT" ] || die "$2: wrong SHA-256"; }

echo "data_plane: ${MIB} MiB file on loopback, dstream chunk size 250000; $RUNS runs; MB/s = 10^6 bytes/s"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; ${RT[*]:-normal priority}"
# The first fetch from dstream also computes every chunk's SHA-256 on the server (cached after).
measure "$DSTREAM_PID" "'$DSCLIENT' -q --transport tcp -o - '$DS_URL' > /dev/null"
echo "  first dsclient fetch (server hashes the file on the way): $RATE MB/s"

declare -a c_null d_null c_file d_file c_sha d_sha c_cpu d_cpu
for r in $(seq 1 "$RUNS"); do
  measure "$NGINX_WORKER" "curl -sS -o /dev/null '$NG_URL'"
  c_null+=("$RATE"); c_cpu+=("client $CCPU s + nginx $SCPU s")
  measure "$DSTREAM_PID" "'$DSCLIENT' -q --transport tcp -o - '$DS_URL' > /dev/null"
  d_null+=("$RATE"); d_cpu+=("client $CCPU s + dstream $SCPU s")
  measure "$NGINX_WORKER" "curl -sS -o '$WORK/out/curl.bin' '$NG_URL'"; c_file+=("$RATE")
  cmp -s "$WORK/out/curl.bin" "$WORK/www/file.bin" || die "curl: output differs"
  rm -f "$WORK/out/curl.bin"
  measure "$DSTREAM_PID" "cd '$WORK/out' && '$DSCLIENT' -q --transport tcp -o dsclient.bin '$DS_URL'"; d_file+=("$RATE")
  cmp -s "$WORK/out/dsclient.bin" "$WORK/www/file.bin" || die "dsclient: output differs"
  rm -f "$WORK/out/dsclient.bin"
  measure "$NGINX_WORKER" "curl -sS '$NG_URL' | sha256sum > '$WORK/out/c.sha'"; c_sha+=("$RATE")
  check_hash "$WORK/out/c.sha" "curl | sha256sum"
  measure "$DSTREAM_PID" "'$DSCLIENT' -q --transport tcp -o - '$DS_URL' | sha256sum > '$WORK/out/d.sha'"; d_sha+=("$RATE")
  check_hash "$WORK/out/d.sha" "dsclient -o - | sha256sum"
  echo "  run $r: to /dev/null curl ${c_null[-1]} dsclient ${d_null[-1]} | to a file curl ${c_file[-1]} dsclient ${d_file[-1]} | into sha256sum curl ${c_sha[-1]} dsclient ${d_sha[-1]}"
  echo "         CPU to /dev/null: curl: ${c_cpu[-1]}; dsclient: ${d_cpu[-1]}"
done
echo "  load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

line() {  # line NAME CURL_MEDIAN DSCLIENT_MEDIAN
  local pct verdict
  pct=$(awk -v c="$2" -v d="$3" 'BEGIN { printf "%.0f", 100 * d / c }')
  verdict="met"; [ "$pct" -ge 50 ] || verdict="NOT met"
  printf '  %-34s curl %8s MB/s  dsclient %8s MB/s  = %3s%% of curl (target >= 50%%: %s)\n' "$1" "$2" "$3" "$pct" "$verdict"
}
echo "data_plane medians:"
line "to /dev/null (dsclient -o -)" "$(median "${c_null[@]}")" "$(median "${d_null[@]}")"
line "to a file" "$(median "${c_file[@]}")" "$(median "${d_file[@]}")"
line "into a pipe to sha256sum" "$(median "${c_sha[@]}")" "$(median "${d_sha[@]}")"
