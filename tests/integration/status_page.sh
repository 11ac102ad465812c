# The status page during a transfer: /status.json lists the connected peers, /metrics is served, and
# /status/ renders in headless Chromium showing the file and the peer count.
source "$(dirname "$0")/lib.bash"
command -v chromium >/dev/null || fail "chromium is not installed (scripts/setup.sh installs it)"

mkdir -p "$WORK/root/videos"
head -c 30000000 /dev/urandom >"$WORK/root/videos/clip.bin"
start_dstream "$WORK/root" --chunk-size 250000

# Two clients whose readers never read: each fills its window and stays connected, mid-transfer.
for i in 2 3; do
  mkfifo "$WORK/fifo$i"
  sleep 60 <"$WORK/fifo$i" &
  PIDS+=($!)
  timeout 60 "$DSCLIENT" -q --bind "127.0.0.$i" --window 4 -o - "pdtp://127.0.0.1:$PORT/videos/clip.bin" \
    >"$WORK/fifo$i" 2>"$WORK/client$i.log" &
  PIDS+=($!)
done

for _ in $(seq 1 100); do
  n=$(status_json | jq '.peers | length')
  [ "$n" -ge 2 ] && break
  sleep 0.1
done
json=$(status_json)
[ "$(jq '.peers | length' <<<"$json")" -eq 2 ] || fail "status.json lists $(jq '.peers | length' <<<"$json") peers, expected 2"
[ "$(jq '.clients' <<<"$json")" -eq 2 ] || fail "status.json counts $(jq '.clients' <<<"$json") clients, expected 2"
jq -e '[.peers[].address] | sort == ["127.0.0.2","127.0.0.3"]' <<<"$json" >/dev/null ||
  fail "peer addresses wrong: $(jq -c '[.peers[].address]' <<<"$json")"
pass "status.json lists both peers"

curl -sf "http://127.0.0.1:$HTTP/metrics" | grep -q '^pdtp_' || fail "/metrics has no pdtp_ metrics"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/status")" = 301 ] || fail "/status does not redirect"
pass "/metrics and the /status redirect"

dom=$(timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$WORK/chrome" \
  --dump-dom "http://127.0.0.1:$HTTP/status/" 2>/dev/null) || fail "chromium could not render /status/"
grep -q "/videos/clip.bin" <<<"$dom" || fail "the rendered page does not show the file"
grep -qE 'id="client-count"[^>]*>[^<]*2' <<<"$dom" || fail "the rendered page does not show 2 clients"
pass "chromium renders /status/ with the file and 2 clients"
