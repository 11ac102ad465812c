# A client started with --seed keeps serving after its download: a client that comes later gets a real
# share of the file from it (the seeder's upload slots bound that share; the server fills the rest),
# and the seeder stops cleanly when interrupted.
source "$(dirname "$0")/lib.bash"

mkdir -p "$WORK/root"
head -c 10000000 /dev/urandom >"$WORK/root/file.bin"
start_dstream "$WORK/root" --chunk-size 250000

# No `timeout` wrapper here: the signal must reach dsclient itself (the cleanup trap and ctest's
# time limit bound the run).
"$DSCLIENT" -q --seed --bind 127.0.0.2 -o "$WORK/seeder.bin" "pdtp://127.0.0.1:$PORT/file.bin" \
  2>"$WORK/seeder.log" &
seeder=$!
PIDS+=("$seeder")
for _ in $(seq 1 300); do [ -e "$WORK/seeder.bin" ] && break; sleep 0.05; done
cmp -s "$WORK/root/file.bin" "$WORK/seeder.bin" || fail "the seeder's download is not byte-exact"
kill -0 "$seeder" 2>/dev/null || fail "the seeder exited after its download"
before=$(status_json | jq '.totals.bytes_from_peers')

timeout 120 "$DSCLIENT" -q --bind 127.0.0.3 -o "$WORK/late.bin" "pdtp://127.0.0.1:$PORT/file.bin" 2>"$WORK/late.log" ||
  fail "the late client failed: $(cat "$WORK/late.log")"
cmp -s "$WORK/root/file.bin" "$WORK/late.bin" || fail "the late client's download is not byte-exact"
after=$(status_json | jq '.totals.bytes_from_peers')
echo "the late client got $((after - before)) of 10000000 bytes from peers"
[ $((after - before)) -ge 2500000 ] || fail "the late client got only $((after - before)) bytes from the seeder"
pass "a late client got a real share of the file from the seeder"

kill -INT "$seeder"
wait "$seeder" && status=0 || status=$?
[ "$status" -eq 0 ] || fail "the seeder exited with $status on SIGINT: $(cat "$WORK/seeder.log")"
pass "the seeder stops cleanly on SIGINT"
