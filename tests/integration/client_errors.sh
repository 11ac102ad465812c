# dsclient's failures are clear, non-zero, and never leave a partial file looking complete.
source "$(dirname "$0")/lib.bash"
mkdir -p "$WORK/root" "$WORK/out"
cd "$WORK/out"

# Server not listening.
pick_ports
if timeout 30 "$DSCLIENT" -q "pdtp://127.0.0.1:$PORT/x.bin" 2>err.txt; then fail "succeeded against a closed port"; fi
grep -q "cannot connect to server 127.0.0.1:$PORT" err.txt || fail "unclear message for a closed port: $(cat err.txt)"
[ ! -e x.bin ] && [ ! -e x.bin.part ] || fail "left a file behind after a connection failure"
pass "closed port: $(cat err.txt)"

# Unknown file.
truncate -s 3000000000 "$WORK/root/huge.bin"   # sparse: costs no disk on the server side
start_dstream "$WORK/root" --chunk-size 1048576
if timeout 30 "$DSCLIENT" -q "pdtp://127.0.0.1:$PORT/nope.bin" 2>err.txt; then fail "succeeded for an unknown file"; fi
grep -q "unknown file" err.txt && grep -q "nope.bin" err.txt || fail "unclear message for an unknown file: $(cat err.txt)"
[ ! -e nope.bin ] && [ ! -e nope.bin.part ] || fail "left a file behind for an unknown file"
pass "unknown file: $(cat err.txt)"

# Bad URL.
if "$DSCLIENT" -q "http://127.0.0.1/x" 2>err.txt; then fail "accepted a non-pdtp url"; fi
grep -q "bad url" err.txt || fail "unclear message for a bad url: $(cat err.txt)"
pass "bad url: $(cat err.txt)"

# Server killed mid-download: the client stops with a reason and removes its .part file.
timeout 120 "$DSCLIENT" -q -o huge.bin "pdtp://127.0.0.1:$PORT/huge.bin" 2>err.txt &
client=$!
for _ in $(seq 1 500); do [ -e huge.bin.part ] && break; sleep 0.01; done
[ -e huge.bin.part ] || fail "download never started"
sleep 0.2
kill -9 "$DSTREAM_PID"
if wait "$client"; then fail "client exited 0 although the server was killed"; fi
grep -q "server closed the connection" err.txt || fail "unclear message when the server dies: $(cat err.txt)"
[ ! -e huge.bin ] && [ ! -e huge.bin.part ] || fail "a partial file was left behind"
pass "server killed: $(cat err.txt)"
