# Shared helpers for the benchmark scripts (sourced). Loopback only; a scratch directory removed on
# exit; every process we start is remembered and stopped by its pid; every command has a timeout.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$(realpath -m "${BUILD:-$BENCH_DIR/../build-bench}")  # absolute: scripts cd elsewhere
DSTREAM=${DSTREAM:-$BUILD/server/dstream}
DSCLIENT=${DSCLIENT:-$BUILD/client/dsclient}
CONTROL_LOAD=${CONTROL_LOAD:-$BUILD/bench/control_load}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pdtp-bench.XXXXXX")
# dstream's key file and dsclient's known hosts stay in the scratch directory, not the user's.
export XDG_CONFIG_HOME="$WORK/xdg"
chmod 755 "$WORK"  # nginx's worker (user nobody) must read the files below it
PIDS=()
bench_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap bench_cleanup EXIT

die() {
  echo "bench: $*" >&2
  [ -f "$WORK/dstream.log" ] && { echo "--- dstream log:" >&2; tail -n 20 "$WORK/dstream.log" >&2; }
  exit 1
}

for b in "$DSTREAM" "$DSCLIENT"; do [ -x "$b" ] || die "missing $b (build first: bench/run_all.sh builds it)"; done

# BENCH_RT=1: run the measured processes (servers and clients alike) under SCHED_FIFO, so that on a
# machine shared with other work each gets a core when it is runnable. Needs root or CAP_SYS_NICE.
RT=()
if [ "${BENCH_RT:-0}" = 1 ]; then
  if chrt -f 10 true 2>/dev/null; then RT=(chrt -f 10); else echo "bench: BENCH_RT=1 but chrt -f is not permitted; normal priority" >&2; fi
fi

port_in_use() { ss -Htan "sport = :$1" | grep -q .; }

# A free port p with p+1 free too (dstream's HTTP port).
pick_port_pair() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 30000))
    if ! port_in_use "$p" && ! port_in_use $((p + 1)); then
      echo "$p"
      return 0
    fi
  done
  die "no free port pair"
}

# start_dstream ROOT: sets DS_PORT and DSTREAM_PID.
start_dstream() {
  DS_PORT=$(pick_port_pair)
  "${RT[@]}" "$DSTREAM" --host 127.0.0.1 --port "$DS_PORT" --root "$1" >"$WORK/dstream.log" 2>&1 &
  DSTREAM_PID=$!
  PIDS+=("$DSTREAM_PID")
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$((DS_PORT + 1))/status.json" >/dev/null 2>&1 && return 0
    kill -0 "$DSTREAM_PID" 2>/dev/null || die "dstream exited at start"
    sleep 0.1
  done
  die "dstream did not answer on port $((DS_PORT + 1))"
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# A value in kB from /proc/PID/status (VmRSS, VmHWM).
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

now() { date +%s.%N; }
# mb_per_s BYTES START END -> MB/s (10^6 bytes per second), one decimal.
mb_per_s() { awk -v b="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%.1f", b / (e - s) / 1e6 }'; }
# median of the numbers given as arguments
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# make_file PATH MIB: random contents (not compressible, not sparse).
make_file() { head -c "$(($2 * 1048576))" /dev/urandom >"$1"; }

# write_nginx_conf DIR LISTEN ROOT: a one-worker nginx config serving ROOT on LISTEN (addr:port) with
# sendfile, every temporary path inside DIR (the reference server of data_plane.sh and lossy_path.sh).
write_nginx_conf() {
  local dir=$1 listen=$2 root=$3
  mkdir -p "$dir"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  default_type application/octet-stream;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server { listen $listen; root $root; }
}
CONF
}
