#!/usr/bin/env bash
# Memory: (1) peak RSS of dsclient streaming a file in order into a pipe (target <= 64 MB);
# (2) dstream's RSS growth with idle registered clients (target <= 10 KB per client).
#   bench/memory.sh            (env: BUILD=build dir, STREAM_MIB=2048, IDLE_CLIENTS=2000, TRANSPORT=tcp or udp)
source "$(dirname "$0")/lib.sh"
MIB=${STREAM_MIB:-2048}
IDLE=${IDLE_CLIENTS:-2000}
[ -x "$CONTROL_LOAD" ] || die "missing $CONTROL_LOAD"

mkdir -p "$WORK/www"
make_file "$WORK/www/big.bin" "$MIB"
head -c 1000000 /dev/urandom >"$WORK/www/small.bin"
WANT=$(sha256sum "$WORK/www/big.bin" | cut -d' ' -f1)
ulimit -n $((IDLE + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
start_dstream "$WORK/www"

# ---- (1) dsclient -o - | sha256sum: peak RSS of dsclient ----
# Peak RSS = VmHWM, read from /proc/PID/status while it runs (it only grows; the last read before
# the process exits is kept). GNU time's %M is printed too when /usr/bin/time exists.
mkfifo "$WORK/pipe"
sha256sum <"$WORK/pipe" >"$WORK/got.sha" &
SUM_PID=$!
PIDS+=("$SUM_PID")
"$DSCLIENT" -q --transport "${TRANSPORT:-tcp}" -o - "pdtp://127.0.0.1:$DS_PORT/big.bin" >"$WORK/pipe" 2>"$WORK/dsclient.err" &
CL_PID=$!
PIDS+=("$CL_PID")
hwm=0
deadline=$((SECONDS + 600))
while kill -0 "$CL_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
  v=$(proc_kb "$CL_PID" VmHWM 2>/dev/null || true)
  [ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
  sleep 0.02
done
wait "$CL_PID" || die "dsclient -o - | sha256sum failed: $(cat "$WORK/dsclient.err")"
wait "$SUM_PID" || die "sha256sum failed"
[ "$(cut -d' ' -f1 "$WORK/got.sha")" = "$WANT" ] || die "streamed file has the wrong SHA-256"
verdict=met; [ "$hwm" -le 65536 ] || verdict="NOT met"
printf 'memory: dsclient -o - | sha256sum, %d MiB file: peak RSS (VmHWM) %.1f MiB (target <= 64 MiB: %s)\n' \
  "$MIB" "$(awk -v k="$hwm" 'BEGIN { print k / 1024 }')" "$verdict"
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f '%M' -o "$WORK/time.out" "$DSCLIENT" -q --transport "${TRANSPORT:-tcp}" -o - "pdtp://127.0.0.1:$DS_PORT/big.bin" 2>/dev/null \
    | sha256sum >"$WORK/got2.sha"
  printf '        same again under /usr/bin/time: max RSS %.1f MiB\n' "$(awk '{ print $1 / 1024 }' "$WORK/time.out")"
fi

# ---- (2) dstream with idle registered clients ----
url="http://127.0.0.1/small.bin"
# Warm up: one client registers, asks, leaves (the file becomes known to the server).
timeout 30 "$CONTROL_LOAD" idle --port "$DS_PORT" --url "$url" --conns 1 --hold 0 >/dev/null
sleep 0.5
base=$(proc_kb "$DSTREAM_PID" VmRSS)
mkfifo "$WORK/hold"
timeout 300 "$CONTROL_LOAD" idle --port "$DS_PORT" --url "$url" --conns "$IDLE" --hold 240 \
  <"$WORK/hold" >"$WORK/idle.out" 2>&1 &
IDLE_PID=$!
PIDS+=("$IDLE_PID")
exec 9>"$WORK/hold"  # holding the fifo open keeps the clients connected; closing it releases them
for _ in $(seq 1 600); do
  grep -q '^ready' "$WORK/idle.out" 2>/dev/null && break
  kill -0 "$IDLE_PID" 2>/dev/null || die "control_load idle failed: $(cat "$WORK/idle.out")"
  sleep 0.1
done
grep -q '^ready' "$WORK/idle.out" || die "idle clients did not all register"
sleep 1
with=$(proc_kb "$DSTREAM_PID" VmRSS)
clients=$(curl -sf "http://127.0.0.1:$((DS_PORT + 1))/status.json" | grep -o '"clients": *[0-9]*' | grep -o '[0-9]*$' || echo "?")
exec 9>&-
wait "$IDLE_PID" || true
per=$(awk -v a="$with" -v b="$base" -v n="$IDLE" 'BEGIN { printf "%.2f", (a - b) * 1.024 / n }')
verdict=$(awk -v p="$per" 'BEGIN { print (p <= 10 ? "met" : "NOT met") }')
printf 'memory: dstream RSS %d kB before, %d kB with %d idle registered clients (status.json clients: %s):\n' \
  "$base" "$with" "$IDLE" "$clients"
printf '        %s KB per client, 1 KB = 1000 bytes (target <= 10 KB: %s)\n' "$per" "$verdict"
