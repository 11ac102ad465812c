# Three clients, each on its own 127.0.0.x address, fetch one 20 MB random file at once: every
# output is byte-exact and a real share of the bytes went peer-to-peer. Then the same into pipes.
source "$(dirname "$0")/lib.bash"

mkdir -p "$WORK/root"
head -c 20000000 /dev/urandom >"$WORK/root/big.bin"
want=$(sha256sum <"$WORK/root/big.bin" | cut -d' ' -f1)
start_dstream "$WORK/root" --chunk-size 250000

# --- to files ---
pids=()
for i in 2 3 4; do
  timeout 120 "$DSCLIENT" -q --bind "127.0.0.$i" -o "$WORK/out$i.bin" "pdtp://127.0.0.1:$PORT/big.bin" \
    2>"$WORK/client$i.log" &
  pids+=($!)
done
for idx in 0 1 2; do
  wait "${pids[$idx]}" || fail "client $((idx + 2)) exited non-zero: $(cat "$WORK/client$((idx + 2)).log")"
done
for i in 2 3 4; do
  cmp -s "$WORK/root/big.bin" "$WORK/out$i.bin" || fail "output $i differs from the served file"
  [ ! -e "$WORK/out$i.bin.part" ] || fail "output $i left a .part file"
done
pass "three file downloads are byte-exact"

json=$(status_json)
peers=$(jq '.totals.bytes_from_peers' <<<"$json")
server=$(jq '.totals.bytes_from_server' <<<"$json")
echo "bytes from peers: $peers, from server: $server"
[ "$((peers + server))" -ge 60000000 ] || fail "server counted $((peers + server)) verified bytes, expected >= 60000000"
# A real share: at least a tenth of all verified bytes came from peers rather than the server
# (measured here: 22-40%; the file service answers fast on loopback, so peers get fewer chances).
[ "$((peers * 10))" -ge "$((peers + server))" ] || fail "only $peers of $((peers + server)) bytes came from peers"
pass "peer-to-peer share $((100 * peers / (peers + server)))%"

# --- into pipes ---
pids=()
for i in 5 6 7; do
  ( timeout 120 "$DSCLIENT" -q --bind "127.0.0.$i" -o - "pdtp://127.0.0.1:$PORT/big.bin" 2>"$WORK/pipe$i.log" |
      sha256sum | cut -d' ' -f1 >"$WORK/pipe$i.sum"; exit "${PIPESTATUS[0]}" ) &
  pids+=($!)
done
for idx in 0 1 2; do
  wait "${pids[$idx]}" || fail "piped client $((idx + 5)) exited non-zero: $(cat "$WORK/pipe$((idx + 5)).log")"
done
for i in 5 6 7; do
  [ "$(cat "$WORK/pipe$i.sum")" = "$want" ] || fail "piped output $i has the wrong SHA-256"
done
pass "three piped downloads are byte-exact"
