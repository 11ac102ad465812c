# IPv6 end to end: dstream listening on ::1 (UDP only) serves dsclient pdtp://[::1]:PORT/file byte-exact,
# and its status page (also on ::1) counts what it sent.
source "$(dirname "$0")/lib.bash"

if ! python3 -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null; then
  echo "SKIP: ::1 is not configured on this machine; the IPv6 end-to-end test is skipped"
  exit 0
fi

status6() { curl -gsf "http://[::1]:$HTTP/status.json"; }

# start_dstream (lib.bash) on ::1 instead of 127.0.0.1.
start_dstream6() {
  local root=$1
  shift
  for _ in 1 2 3; do
    pick_ports
    "$DSTREAM" --host ::1 --port "$PORT" --root "$root" "$@" >"$WORK/dstream.log" 2>&1 &
    DSTREAM_PID=$!
    PIDS+=("$DSTREAM_PID")
    for _ in $(seq 1 100); do
      status6 >/dev/null 2>&1 && return 0
      kill -0 "$DSTREAM_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$DSTREAM_PID" 2>/dev/null && fail "dstream did not answer on [::1]:$HTTP"
    grep -q "Address already in use" "$WORK/dstream.log" || fail "dstream exited at start"
  done
  fail "dstream found no free ports"
}

mkdir -p "$WORK/root"
head -c 5000000 /dev/urandom >"$WORK/root/file.bin"
start_dstream6 "$WORK/root" --transport udp --chunk-size 250000

timeout 120 "$DSCLIENT" -q --transport udp -o "$WORK/out.bin" "pdtp://[::1]:$PORT/file.bin" 2>"$WORK/client.log" ||
  fail "dsclient over IPv6 failed: $(cat "$WORK/client.log")"
cmp -s "$WORK/root/file.bin" "$WORK/out.bin" || fail "the download over IPv6 is not byte-exact"
pass "dstream on ::1 served pdtp://[::1]:$PORT/file.bin over UDP byte-exact"

served=$(status6 | jq '.totals.bytes_from_server')
[ "$served" -gt 0 ] || fail "the status page on [::1]:$HTTP counts no bytes sent by the server"
pass "the status page on [::1]:$HTTP counts $served bytes sent by the server"
grep -q "files:  pdtp://\[::1\]:$PORT/" "$WORK/dstream.log" || fail "dstream's banner does not bracket ::1: $(head -3 "$WORK/dstream.log")"
pass "dstream's banner names its files as pdtp://[::1]:$PORT/..."
