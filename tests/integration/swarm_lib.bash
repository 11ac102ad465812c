# The swarm test, shared by swarm_tcp.sh, swarm_udp.sh and swarm_mixed.sh (sourced, not a test).
# swarm_test T1 T2 T3: three clients on their own 127.0.0.x addresses, speaking transports T1..T3,
# fetch one 20 MB random file at once: every output is byte-exact and a real share of the bytes went
# peer-to-peer. Then the same into pipes.
source "$(dirname "$0")/lib.bash"

swarm_test() {
  local transports=("$@")
  mkdir -p "$WORK/root"
  head -c 20000000 /dev/urandom >"$WORK/root/big.bin"
  local want
  want=$(sha256sum <"$WORK/root/big.bin" | cut -d' ' -f1)
  start_dstream "$WORK/root" --chunk-size 250000

  # --- to files ---
  local pids=() i idx
  for idx in 0 1 2; do
    i=$((idx + 2))
    timeout 120 "$DSCLIENT" -q --transport "${transports[$idx]}" --bind "127.0.0.$i" -o "$WORK/out$i.bin" \
      "pdtp://127.0.0.1:$PORT/big.bin" 2>"$WORK/client$i.log" &
    pids+=($!)
  done
  for idx in 0 1 2; do
    wait "${pids[$idx]}" || fail "client $((idx + 2)) (${transports[$idx]}) exited non-zero: $(cat "$WORK/client$((idx + 2)).log")"
  done
  for i in 2 3 4; do
    cmp -s "$WORK/root/big.bin" "$WORK/out$i.bin" || fail "output $i differs from the served file"
    [ ! -e "$WORK/out$i.bin.part" ] || fail "output $i left a .part file"
  done
  pass "three file downloads (${transports[*]}) are byte-exact"

  local json peers server
  json=$(status_json)
  peers=$(jq '.totals.bytes_from_peers' <<<"$json")
  server=$(jq '.totals.bytes_from_server' <<<"$json")
  echo "bytes from peers: $peers, from server: $server"
  [ "$((peers + server))" -ge 60000000 ] || fail "server counted $((peers + server)) verified bytes, expected >= 60000000"
  # A real share: at least a tenth of all verified bytes came from peers rather than the server
  # (the file service answers fast on loopback, so peers get fewer chances than on a real network).
  [ "$((peers * 10))" -ge "$((peers + server))" ] || fail "only $peers of $((peers + server)) bytes came from peers"
  pass "peer-to-peer share $((100 * peers / (peers + server)))%"

  # --- into pipes ---
  pids=()
  for idx in 0 1 2; do
    i=$((idx + 5))
    ( timeout 120 "$DSCLIENT" -q --transport "${transports[$idx]}" --bind "127.0.0.$i" -o - \
        "pdtp://127.0.0.1:$PORT/big.bin" 2>"$WORK/pipe$i.log" |
        sha256sum | cut -d' ' -f1 >"$WORK/pipe$i.sum"; exit "${PIPESTATUS[0]}" ) &
    pids+=($!)
  done
  for idx in 0 1 2; do
    wait "${pids[$idx]}" || fail "piped client $((idx + 5)) exited non-zero: $(cat "$WORK/pipe$((idx + 5)).log")"
  done
  for i in 5 6 7; do
    [ "$(cat "$WORK/pipe$i.sum")" = "$want" ] || fail "piped output $i has the wrong SHA-256"
  done
  pass "three piped downloads (${transports[*]}) are byte-exact"
}
