#!/usr/bin/env bash
# Emulated path: UDP goodput vs plain TCP (CUBIC and BBR) in the same run, and time to first byte.
# Two network namespaces of this run's own (pdtpA-PID with dstream, pdtpB-PID with dsclient) joined
# by a veth pair, 10.77.0.1/24 (A) and 10.77.0.2/24 (B). Each direction of the path:
#   sender's egress: RATE_MBIT (100) with a drop-tail queue of QUEUE_PKTS (340) full-size packets
#   in bytes (about one 40 ms BDP). SHAPER=tbf (default): tbf with a 2-packet burst, which cuts
#   GSO batches (UDP sendmsg with UDP_SEGMENT reaches the qdisc as one skb) into packets before
#   they are queued, so they queue and drop packet by packet as at a router; SHAPER=htb: htb with
#   a bfifo (GSO batches queue and drop whole).
#   receiver's PREROUTING (iptables mangle): random loss LOSS percent (0.5; statistic module), then
#   NFQUEUE to bench/nfq_delay holding each packet DELAY_MS (20) -> RTT 2 * DELAY_MS. nfq_delay
#   runs under SCHED_FIFO where chrt is allowed, so a busy machine does not stretch the delay.
# Both veth ends have gso_max_segs 1, so every packet on the wire is one MTU-sized frame and the loss
# and the delay act per packet, not per 64 KB GSO super-packet.
# Runs: dsclient --transport tcp with net.ipv4.tcp_congestion_control = cubic, then bbr, in both
# namespaces (the sender's, A, is the one that matters; dstream is restarted so its listening
# sockets take the new one), then dsclient --transport udp. Each download goes through sha256sum.
# With each congestion control, a single-flow reference too: curl in B from nginx in A (REFERENCE=1;
# dsclient itself fetches chunks over several TCP connections at once).
# Then TTFB (dsclient start -> first byte on its stdout, bench/first_byte), TCP vs UDP, median of
# TTFB_RUNS (5), on a TTFB_MB (2) file. Everything is torn down on exit, failure or Ctrl-C.
#   bench/lossy_path.sh     (root; env: BUILD, FILE_MB=100, LOSS=0.5, DELAY_MS=20, RATE_MBIT=100,
#                            QUEUE_PKTS=340, SHAPER=tbf, TTFB_MB=2, TTFB_RUNS=5 (0: none), RUN_TIMEOUT=900,
#                            REFERENCE=1, IPTABLES=iptables, UDP_ONLY=0)
# Targets (from the issue): UDP >= 1.5x CUBIC and >= 0.9x BBR; with LOSS=0, UDP >= 90 Mbit/s;
# TTFB UDP <= TCP.
#
# What this kernel offers (found when this was written; the script checks the tools and the
# congestion controls again at start):
#  - no loadable modules at all (CONFIG_MODULES off; no modprobe, no /lib/modules): everything
#    below is built in or missing for good.
#  - built in: veth, network namespaces, sch_htb, sch_tbf, xt_statistic, xt_NFQUEUE,
#    nfnetlink_queue, nft_compat, iptables legacy tables, tcp_cubic, tcp_bbr.
#  - missing: sch_netem (no kernel delay/loss), sch_fq (BBR paces itself in TCP instead),
#    fq_codel, nft's own `queue` expression (NFT_QUEUE; iptables-nft reaches NFQUEUE through
#    nft_compat, and iptables-legacy works too), modprobe.
#  - iptables 1.8.9 from Debian: `iptables` is the nf_tables variant; IPTABLES=iptables-legacy
#    picks the other.
#  - net.ipv4.tcp_available_congestion_control = reno bbr cubic; tcp_allowed_congestion_control =
#    reno bbr (global): a namespace may only choose an allowed one, so cubic is added for the run
#    and the list restored on exit. The namespaces' own tcp_congestion_control go with them.
source "$(dirname "$0")/lib.sh"
FILE_MB=${FILE_MB:-100}
LOSS=${LOSS:-0.5}
DELAY_MS=${DELAY_MS:-20}
RATE_MBIT=${RATE_MBIT:-100}
QUEUE_PKTS=${QUEUE_PKTS:-340}
QUEUE_BYTES=$((QUEUE_PKTS * 1514))
SHAPER=${SHAPER:-tbf}
case "$SHAPER" in tbf | htb) ;; *) echo "bench: SHAPER must be tbf or htb" >&2; exit 2 ;; esac
TTFB_MB=${TTFB_MB:-2}
TTFB_RUNS=${TTFB_RUNS:-5}
T=${RUN_TIMEOUT:-900}  # seconds any one download may take
NFQ_DELAY=${NFQ_DELAY:-$BUILD/bench/nfq_delay}
FIRST_BYTE=${FIRST_BYTE:-$BUILD/bench/first_byte}
IPTABLES=${IPTABLES:-iptables}
REFERENCE=${REFERENCE:-1}  # also time curl from nginx: one plain TCP flow per congestion control

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, iptables, sysctl)"
[ -x "$NFQ_DELAY" ] || die "missing $NFQ_DELAY (needs libnetfilter-queue-dev and libmnl-dev, see scripts/setup.sh)"
[ -x "$FIRST_BYTE" ] || die "missing $FIRST_BYTE"
command -v "$IPTABLES" >/dev/null || die "$IPTABLES not found (scripts/setup.sh installs iptables)"
command -v tc >/dev/null || die "tc not found (iproute2)"
command -v sha256sum >/dev/null || die "sha256sum not found"
if [ "$REFERENCE" = 1 ] && ! command -v nginx >/dev/null; then
  echo "lossy_path: nginx not found (scripts/setup.sh installs nginx-light): no single-flow reference"
  REFERENCE=0
fi

NS_A=pdtpA-$$
NS_B=pdtpB-$$
ADDR_A=10.77.0.1
ADDR_B=10.77.0.2
PORT=6086  # the namespaces are this run's own, so the default port is free there
URL="pdtp://$ADDR_A:$PORT/file.bin"
TTFB_URL="pdtp://$ADDR_A:$PORT/ttfb.bin"
NG_PORT=8080
NG_URL="http://$ADDR_A:$NG_PORT/file.bin"
ALLOWED_KEY=net.ipv4.tcp_allowed_congestion_control
ALLOWED_ORIG=$(sysctl -n "$ALLOWED_KEY")
ALLOWED_CHANGED=0

path_cleanup() {
  set +e
  local ns p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for ns in "$NS_A" "$NS_B"; do  # anything else still running inside this run's own namespaces
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null; done
  done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for ns in "$NS_A" "$NS_B"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [ "$ALLOWED_CHANGED" = 1 ]; then
    sysctl -qw "$ALLOWED_KEY=$ALLOWED_ORIG" || echo "bench: could not restore $ALLOWED_KEY to '$ALLOWED_ORIG'" >&2
  fi
  PIDS=()
  bench_cleanup
}
trap path_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

available=$(sysctl -n net.ipv4.tcp_available_congestion_control)
CCS=()
for cc in cubic bbr; do
  if ! grep -qw "$cc" <<<"$available" && command -v modprobe >/dev/null; then
    modprobe "tcp_$cc" 2>/dev/null || true
    available=$(sysctl -n net.ipv4.tcp_available_congestion_control)
  fi
  if grep -qw "$cc" <<<"$available"; then CCS+=("$cc"); else echo "lossy_path: TCP $cc is not in this kernel; skipped"; fi
done

TCP_FLAG=()
UDP_OK=0
if "$DSCLIENT" --help 2>&1 | grep -q -- '--transport'; then
  TCP_FLAG=(--transport tcp)
  UDP_OK=1
fi

# nfq_delay runs under SCHED_FIFO where allowed: on a busy machine the delay stays the delay.
NFQ_RT=()
if chrt -f 20 true 2>/dev/null; then NFQ_RT=(chrt -f 20); fi

# Runs COMMAND in the background and waits for it, so that a signal ends the run at once (bash runs
# a trap only after the foreground command, which may be a download of minutes).
waited() {
  "$@" &
  local p=$!
  PIDS+=("$p")
  wait "$p"
}

# ---- the path ----
in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }
ip netns add "$NS_A"
ip netns add "$NS_B"
ip -n "$NS_A" link add vA type veth peer name vB netns "$NS_B"
ip -n "$NS_A" addr add "$ADDR_A/24" dev vA
ip -n "$NS_B" addr add "$ADDR_B/24" dev vB
for end in "$NS_A vA" "$NS_B vB"; do
  read -r ns dev <<<"$end"
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$dev" gso_max_segs 1 gso_max_size 1500 up
  if [ "$SHAPER" = tbf ]; then
    tc -n "$ns" qdisc add dev "$dev" root handle 1: tbf rate "${RATE_MBIT}mbit" burst 3028 limit "$QUEUE_BYTES"
  else
    tc -n "$ns" qdisc add dev "$dev" root handle 1: htb default 1
    tc -n "$ns" class add dev "$dev" parent 1: classid 1:1 htb rate "${RATE_MBIT}mbit" ceil "${RATE_MBIT}mbit" quantum 1514
    tc -n "$ns" qdisc add dev "$dev" parent 1:1 handle 10: bfifo limit "$QUEUE_BYTES"
  fi
  if [ "$LOSS" != 0 ]; then
    prob=$(awk -v l="$LOSS" 'BEGIN { printf "%.6f", l / 100 }')
    ip netns exec "$ns" "$IPTABLES" -t mangle -A PREROUTING -i "$dev" -m statistic --mode random --probability "$prob" -j DROP
  fi
  ip netns exec "$ns" "$IPTABLES" -t mangle -A PREROUTING -i "$dev" -j NFQUEUE --queue-num 0
  ip netns exec "$ns" "${NFQ_RT[@]}" "$NFQ_DELAY" --queue 0 --delay-ms "$DELAY_MS" >"$WORK/nfq-$dev.log" 2>&1 &
  PIDS+=("$!")
  eval "NFQ_PID_$dev=\$!"
done
for dev in vA vB; do
  for _ in $(seq 1 50); do grep -q ': ready$' "$WORK/nfq-$dev.log" && break; sleep 0.1; done
  grep -q ': ready$' "$WORK/nfq-$dev.log" || die "nfq_delay in front of $dev did not start: $(cat "$WORK/nfq-$dev.log")"
done
CC_DEFAULT=$(in_a sysctl -n net.ipv4.tcp_congestion_control)

# ---- files and helpers ----
mkdir -p "$WORK/www" "$WORK/xdgA" "$WORK/xdgB"
make_file "$WORK/www/file.bin" "$FILE_MB"
make_file "$WORK/www/ttfb.bin" "$TTFB_MB"
chmod 644 "$WORK/www/"*.bin  # nginx's worker (user nobody) reads them
BYTES=$((FILE_MB * 1048576))
WANT=$(sha256sum "$WORK/www/file.bin" | cut -d' ' -f1)

set_cc() {  # set_cc NAME: both namespaces' default TCP congestion control
  in_a sysctl -qw "net.ipv4.tcp_congestion_control=$1"
  in_b sysctl -qw "net.ipv4.tcp_congestion_control=$1"
}

stop_dstream() { [ -n "${DSTREAM_PID:-}" ] && stop_pid "$DSTREAM_PID"; DSTREAM_PID=; }

# (Re)starts dstream in A; a first fetch inside A (over lo, off the emulated path) has the server
# hash both files before anything is timed.
restart_dstream() {
  stop_dstream
  ip netns exec "$NS_A" env XDG_CONFIG_HOME="$WORK/xdgA" \
    "$DSTREAM" --host "$ADDR_A" --port "$PORT" --root "$WORK/www" >"$WORK/dstream.log" 2>&1 &
  DSTREAM_PID=$!
  PIDS+=("$DSTREAM_PID")
  for _ in $(seq 1 100); do
    in_a curl -sf "http://$ADDR_A:$((PORT + 1))/status.json" >/dev/null 2>&1 && break
    kill -0 "$DSTREAM_PID" 2>/dev/null || die "dstream exited at start"
    sleep 0.1
  done
  in_a curl -sf "http://$ADDR_A:$((PORT + 1))/status.json" >/dev/null || die "dstream did not answer"
  for u in "$URL" "$TTFB_URL"; do
    waited timeout 120 ip netns exec "$NS_A" env XDG_CONFIG_HOME="$WORK/xdgA" "$DSCLIENT" "${TCP_FLAG[@]}" -q -o - "$u" >/dev/null \
      || die "warm-up fetch of $u inside $NS_A failed"
  done
}

# The congestion control of dstream's busiest TCP connection, seen by ss a moment into a download.
sample_cc() {
  sleep "${1:-2}"
  in_a ss -tin state established "( sport = :$((PORT + 1)) or sport = :$PORT )" 2>/dev/null \
    | grep -owE 'cubic|bbr|reno' | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }' >"$WORK/cc-seen"
}

# "SENT DROPPED": packet counters of the A->B bottleneck (vA's root qdisc) so far.
queue_counts() {
  tc -s -n "$NS_A" qdisc show dev vA | awk '/Sent/ { gsub(/[(),]/, ""); print $4, $7; exit }'
}

# fetch LABEL COMMAND...: runs COMMAND in B (it writes the file to stdout) into sha256sum and prints
# the goodput; sets MBIT (Mbit/s): file bytes over the time from the start until the reader
# (sha256sum) has every byte, i.e. sees end of file. The whole run, until COMMAND has exited too
# (dsclient then still hands the server its last reports), is printed beside it.
fetch() {
  local label=$1 s e
  shift
  : >"$WORK/cc-seen"
  sample_cc 1 &
  local sampler=$!
  PIDS+=("$sampler")
  local q0 q1
  q0=$(queue_counts)
  s=$(now)
  rm -f "$WORK/reader.end"
  { timeout "$T" ip netns exec "$NS_B" env XDG_CONFIG_HOME="$WORK/xdgB" "$@" 2>"$WORK/fetch.err" \
      | { sha256sum >"$WORK/got.sha"; now >"$WORK/reader.end"; }; } &
  local job=$!
  PIDS+=("$job")
  wait "$job" || die "$label failed: $(tail -n 5 "$WORK/fetch.err")"
  local whole
  whole=$(now)
  e=$(cat "$WORK/reader.end")
  q1=$(queue_counts)
  wait "$sampler" 2>/dev/null || true
  [ "$(cut -d' ' -f1 "$WORK/got.sha")" = "$WANT" ] || die "$label: wrong SHA-256"
  MBIT=$(awk -v b="$BYTES" -v s="$s" -v e="$e" 'BEGIN { printf "%.1f", b * 8 / (e - s) / 1e6 }')
  local seen
  seen=$(cat "$WORK/cc-seen")
  printf '  %-36s %7s Mbit/s  (%.2f s; whole run %.2f s: %s Mbit/s; sha256 ok, %s%s)\n' "$label" "$MBIT" \
    "$(awk -v s="$s" -v e="$e" 'BEGIN { print e - s }')" "$(awk -v s="$s" -v e="$whole" 'BEGIN { print e - s }')" \
    "$(awk -v b="$BYTES" -v s="$s" -v e="$whole" 'BEGIN { printf "%.1f", b * 8 / (e - s) / 1e6 }')" \
    "$(awk -v a="$q0" -v b="$q1" 'BEGIN { split(a, x, " "); split(b, y, " "); n = y[1] - x[1]; d = y[2] - x[2]
      printf "bottleneck queue A->B dropped %d of %d packets", d, n + d }')" \
    "${seen:+, congestion control seen on the sender: $seen}"
}

# The RTT as TCP sees it: curl's connect time from B to dstream's HTTP port, median of 3.
path_rtt() {
  local r=() v
  for _ in 1 2 3; do
    v=$(in_b curl -s -o /dev/null -w '%{time_connect}' "http://$ADDR_A:$((PORT + 1))/status.json") || v=
    [ -n "$v" ] || { echo "?"; return; }
    r+=("$(awk -v v="$v" 'BEGIN { printf "%.1f", v * 1000 }')")
  done
  median "${r[@]}"
}

# A single-flow reference: nginx in A (started after the congestion control is set), curl in B.
start_nginx() {
  write_nginx_conf "$WORK/nginx" "$ADDR_A:$NG_PORT" "$WORK/www"
  ip netns exec "$NS_A" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" 2>"$WORK/nginx/start.log" &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  for _ in $(seq 1 50); do in_a curl -sf -o /dev/null -r 0-0 "$NG_URL" && return 0; sleep 0.1; done
  die "nginx did not start: $(cat "$WORK/nginx/start.log" "$WORK/nginx/error.log" 2>/dev/null)"
}

ratio_line() {  # ratio_line NAME UDP OTHER TARGET; the targets are for the lossy path only
  awk -v n="$1" -v u="$2" -v o="$3" -v t="$4" -v loss="$LOSS" 'BEGIN {
    r = u / o
    if (loss + 0 == 0) printf "  %-30s %.2f (the issue sets no ratio without loss)\n", n, r
    else printf "  %-30s %.2f (target >= %s: %s)\n", n, r, t, (r >= t ? "met" : "NOT met") }'
}

# ---- the runs ----
echo "lossy_path: veth between two namespaces, ${RATE_MBIT} Mbit/s each way ($SHAPER, queue $QUEUE_BYTES bytes),"\
     "one-way delay ${DELAY_MS} ms each way (nfq_delay), random loss ${LOSS}% each way; ${FILE_MB} MiB file;"\
     "Mbit/s = 10^6 bits/s of file data from the start until the reader has every byte"
echo "  load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; kernel $(uname -r); $($IPTABLES -V)"
[ "$UDP_OK" = 1 ] || echo "  this dsclient has no --transport option: TCP only; the UDP runs are skipped"

if ! grep -qw cubic <<<"$ALLOWED_ORIG" || ! grep -qw bbr <<<"$ALLOWED_ORIG"; then
  ALLOWED_CHANGED=1
  sysctl -qw "$ALLOWED_KEY=$({ tr -s ' ' '\n' <<<"$ALLOWED_ORIG"; printf '%s\n' "${CCS[@]}"; } | awk 'NF && !seen[$0]++' | xargs)"
fi

declare -A GOODPUT
restart_dstream
echo "  path RTT (TCP connect from B, median of 3): $(path_rtt) ms"
[ "${UDP_ONLY:-0}" = 1 ] && CCS=()  # UDP_ONLY=1: only the UDP run (quicker, for tuning)
for cc in "${CCS[@]}"; do
  set_cc "$cc"
  restart_dstream
  fetch "dsclient TCP, $cc" "$DSCLIENT" "${TCP_FLAG[@]}" -q -o - "$URL"
  GOODPUT[$cc]=$MBIT
  if [ "$REFERENCE" = 1 ]; then
    start_nginx
    fetch "reference: curl (one TCP flow), $cc" curl -sS "$NG_URL"
    stop_pid "$NGINX_PID"
  fi
done
set_cc "$CC_DEFAULT"
if [ "$UDP_OK" = 1 ]; then
  restart_dstream
  fetch "dsclient UDP" "$DSCLIENT" --transport udp -q -o - "$URL"
  GOODPUT[udp]=$MBIT
fi

if [ "$UDP_OK" = 1 ]; then
  echo "lossy_path ratios (dsclient UDP / dsclient TCP):"
  [ -n "${GOODPUT[cubic]:-}" ] && ratio_line "UDP / TCP CUBIC, ${LOSS}% loss:" "${GOODPUT[udp]}" "${GOODPUT[cubic]}" 1.5
  [ -n "${GOODPUT[bbr]:-}" ] && ratio_line "UDP / TCP BBR, ${LOSS}% loss:" "${GOODPUT[udp]}" "${GOODPUT[bbr]}" 0.9
  if [ "$LOSS" = 0 ]; then
    awk -v u="${GOODPUT[udp]}" 'BEGIN { printf "  UDP with no loss: %.1f Mbit/s (target >= 90: %s)\n", u, (u >= 90 ? "met" : "NOT met") }'
  fi
fi

# ---- time to first byte ----
ttfb() {  # ttfb LABEL DSCLIENT-FLAGS...: one run; sets MS (time to first byte, ms)
  local label=$1 out
  shift
  waited timeout 120 ip netns exec "$NS_B" env XDG_CONFIG_HOME="$WORK/xdgB" "$FIRST_BYTE" -- "$DSCLIENT" "$@" -q -o - "$TTFB_URL" \
    >"$WORK/ttfb.out" 2>"$WORK/dsclient.err" || die "TTFB $label: dsclient failed: $(tail -n 5 "$WORK/dsclient.err")"
  out=$(cat "$WORK/ttfb.out")
  [ "$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$out")" = $((TTFB_MB * 1048576)) ] || die "TTFB $label: short output: $out"
  MS=$(sed -n 's/^first_byte_ms=\([0-9.]*\) .*/\1/p' <<<"$out")
}
tcp_t=()
udp_t=()
if [ "$TTFB_RUNS" -gt 0 ]; then
for _ in $(seq 1 "$TTFB_RUNS"); do
  ttfb tcp "${TCP_FLAG[@]}"
  tcp_t+=("$MS")
  if [ "$UDP_OK" = 1 ]; then
    ttfb udp --transport udp
    udp_t+=("$MS")
  fi
done
echo "lossy_path TTFB (dsclient start -> first byte on its stdout, ${TTFB_MB} MiB file, TCP with $CC_DEFAULT):"
echo "  TCP runs: ${tcp_t[*]} ms; median $(median "${tcp_t[@]}") ms"
if [ "$UDP_OK" = 1 ]; then
  echo "  UDP runs: ${udp_t[*]} ms; median $(median "${udp_t[@]}") ms"
  awk -v u="$(median "${udp_t[@]}")" -v t="$(median "${tcp_t[@]}")" \
    -v l="$LOSS" 'BEGIN { printf "  TTFB UDP %.1f ms vs TCP %.1f ms, %s%% loss (target UDP <= TCP: %s)\n", u, t, l, (u <= t ? "met" : "NOT met") }'
fi
fi

# ---- what the path did ----
stop_dstream
echo "lossy_path: the path's own counters:"
for end in "$NS_A vA" "$NS_B vB"; do
  read -r ns dev <<<"$end"
  dir=$([ "$dev" = vA ] && echo "A->B" || echo "B->A")
  peer=$([ "$dev" = vA ] && echo vB || echo vA)
  pns=$([ "$dev" = vA ] && echo "$NS_B" || echo "$NS_A")
  q=$(tc -s -n "$ns" qdisc show dev "$dev" | awk '/Sent/ { gsub(/[(),]/, ""); print $4 " packets, " $7 " dropped by the queue"; exit }')
  l=$(ip netns exec "$pns" "$IPTABLES" -t mangle -L PREROUTING -v -x -n \
        | awk '/statistic/ { d = $1 } /NFQUEUE/ { q = $1 } END { if (d + q > 0) printf "%d lost at random (%.2f%%)", d, 100 * d / (d + q); else print "no random loss" }')
  pid_var=NFQ_PID_$peer
  kill "${!pid_var}" 2>/dev/null || true
  wait "${!pid_var}" 2>/dev/null || true
  echo "  $dir: $q; $l"
  echo "    $(grep -v ': ready$' "$WORK/nfq-$peer.log" | tail -n 1)"
done
