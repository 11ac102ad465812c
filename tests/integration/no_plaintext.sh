# No plaintext on the wire: a file full of a known marker goes from dstream to two UDP clients (and
# between them) while every process records each datagram it sends (PDTP_RECORD_DATAGRAMS); the
# marker is in none of them.
source "$(dirname "$0")/lib.bash"

marker="PDTP-CLEARTEXT-MARKER-7f3a"
mkdir -p "$WORK/root"
# 6 MB: the marker every 100 bytes, with random filler so nothing compresses into a pattern.
python3 - "$WORK/root/marked.bin" "$marker" <<'PY'
import os, sys
path, marker = sys.argv[1], sys.argv[2].encode()
with open(path, "wb") as f:
    for _ in range(60000):
        f.write(marker + os.urandom(100 - len(marker)))
PY
PDTP_RECORD_DATAGRAMS="$WORK/server.rec" start_dstream "$WORK/root" --chunk-size 250000

pids=()
for i in 2 3; do
  PDTP_RECORD_DATAGRAMS="$WORK/client$i.rec" timeout 120 "$DSCLIENT" -q --transport udp --bind "127.0.0.$i" \
    -o "$WORK/out$i.bin" "pdtp://127.0.0.1:$PORT/marked.bin" 2>"$WORK/client$i.log" &
  pids+=($!)
done
for idx in 0 1; do wait "${pids[$idx]}" || fail "client $((idx + 2)) failed: $(cat "$WORK/client$((idx + 2)).log")"; done
for i in 2 3; do cmp -s "$WORK/root/marked.bin" "$WORK/out$i.bin" || fail "output $i differs"; done
pass "two UDP clients got the marked file byte-exact"

# The same search does find the marker where it is in clear: the served file itself.
[ "$(grep -a -c "$marker" "$WORK/root/marked.bin")" -gt 1000 ] || fail "the search cannot find the marker in the file"
recorded=$(cat "$WORK"/*.rec | wc -c)
[ "$recorded" -ge 12000000 ] || fail "only $recorded bytes of datagrams were recorded (expected >= 12 MB)"
for rec in "$WORK"/*.rec; do
  n=$(grep -a -c "$marker" "$rec" || true)
  [ "$n" = 0 ] || fail "$(basename "$rec"): the marker appears in $n recorded datagrams"
done
pass "$recorded bytes of datagrams recorded by 3 processes, the marker in none"

