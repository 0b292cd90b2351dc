#!/usr/bin/env bash
# fwatchdog benchmark: wrk on loopback at concurrency 1, 8 and 64 with a small POST body, for
# each mode, next to references measured in the same run:
#   spawn floor  tests/bench/spawn_floor: posix_spawn `cat` + pipe + reap, one loop per core
#   nginx        proxy_pass with a keep-alive upstream, in front of the same `return 200` nginx
#                that fwatchdog's http mode runs as its fprocess
# Prints one table (requests/s, p50, p99, the watchdog's own CPU time per request) and the
# idle RSS. Usage: tests/bench/watchdog_bench.sh [seconds-per-run, default 5]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source tests/bench/lib.sh

SECS=${1:-5}
scripts/install-deps.sh >&2
bench_log "building the release preset"
if ! { cmake --preset release && cmake --build --preset release --target fwatchdog spawn_floor; } >"${TMPDIR:-/tmp}/faas-bench-build.log" 2>&1; then
  tail -30 "${TMPDIR:-/tmp}/faas-bench-build.log" >&2
  bench_log "build failed"
  exit 1
fi
BIN=build/release/bin
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cat > "$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "hello world"
wrk.headers["Content-Type"] = "text/plain"
LUA

# nginx configs: an upstream that answers 200 itself, and a proxy in front of it.
UP_PORT=$(free_port); NGX_PORT=$(free_port)
mkdir -p "$WORK/up" "$WORK/proxy"
nginx_conf() { # dir port body
  cat <<NGX
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1; uwsgi_temp_path $1; scgi_temp_path $1;
  keepalive_requests 1000000;
  $3
}
NGX
}
nginx_conf "$WORK/up" "$UP_PORT" "server { listen 127.0.0.1:$UP_PORT; location / { return 200 'hello world'; } }" > "$WORK/up.conf"
nginx_conf "$WORK/proxy" "$NGX_PORT" "upstream fn { server 127.0.0.1:$UP_PORT; keepalive 128; }
  server { listen 127.0.0.1:$NGX_PORT; location / { proxy_pass http://fn; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }" > "$WORK/proxy.conf"

start_watchdog() { # mode port [extra env...]
  local mode=$1 port=$2; shift 2
  mkdir -p "$WORK/tmp-$mode"
  env -i PATH="$PATH" TMPDIR="$WORK/tmp-$mode" port="$port" metrics_port="$(free_port)" mode="$mode" \
      healthcheck_interval=0 "$@" "$BIN/fwatchdog" >"$WORK/wd-$mode.log" 2>&1 &
  PIDS+=($!)
  WD_PID=$!
  wait_http "http://127.0.0.1:$port/_/health"
}

# Rows go to a file: measure runs in a subshell (process substitution).
ROWS_FILE="$WORK/rows"
: > "$ROWS_FILE"
row() { printf '%-34s %5s %10s %9s %9s %10s\n' "$@" >> "$ROWS_FILE"; }

measure() { # label conns url pid-for-cpu
  local label=$1 conns=$2 url=$3 pid=${4:-}
  local cpu0=0 cpu1=0
  [ -n "$pid" ] && cpu0=$(cpu_seconds "$pid")
  read -r rps p50 p99 non2xx errors < <(run_wrk "$conns" "$SECS" "$url" "$WORK/post.lua")
  [ -n "$pid" ] && cpu1=$(cpu_seconds "$pid")
  local cpu_us="-"
  if [ -n "$pid" ] && [ "$rps" -gt 0 ]; then
    cpu_us=$(awk -v a="$cpu0" -v b="$cpu1" -v r="$rps" -v s="$SECS" 'BEGIN { printf "%.1f", (b - a) * 1e6 / (r * s) }')
  fi
  [ "$non2xx" -gt 0 ] || [ "$errors" -gt 0 ] && label="$label (non2xx=$non2xx err=$errors)"
  row "$label" "$conns" "$rps" "$p50" "$p99" "$cpu_us"
  echo "$rps $p50"
}

declare -A RPS P50
bench_log "spawn floor ($(nproc) loops, ${SECS}s)"
FLOOR=$("$BIN/spawn_floor" "$(nproc)" "$SECS")
row "spawn floor (no HTTP, $(nproc) loops)" "-" "$FLOOR" "-" "-" "-"

for mode in serializing streaming; do
  port=$(free_port)
  start_watchdog "$mode" "$port" fprocess=cat
  [ "$mode" = serializing ] && IDLE_RSS=$(rss_kib "$WD_PID")
  for c in 1 8 64; do
    bench_log "$mode c=$c"
    read -r RPS[$mode-$c] P50[$mode-$c] < <(measure "fwatchdog $mode (cat)" "$c" "http://127.0.0.1:$port/" "$WD_PID" | tail -1)
  done
  kill "$WD_PID"; wait "$WD_PID" 2>/dev/null || true
done

bench_log "starting nginx references"
nginx -c "$WORK/proxy.conf" -g 'daemon off;' 2>"$WORK/nginx-proxy.err" &
PIDS+=($!)
port=$(free_port)
# http mode's fprocess is the upstream nginx itself: the watchdog starts and supervises it.
start_watchdog http "$port" fprocess="nginx -c $WORK/up.conf -g 'daemon off;'" upstream_url="http://127.0.0.1:$UP_PORT"
wait_http "http://127.0.0.1:$NGX_PORT/"
for c in 1 8 64; do
  bench_log "nginx c=$c"
  read -r RPS[nginx-$c] P50[nginx-$c] < <(measure "nginx proxy_pass -> nginx" "$c" "http://127.0.0.1:$NGX_PORT/" | tail -1)
  bench_log "http c=$c"
  read -r RPS[http-$c] P50[http-$c] < <(measure "fwatchdog http -> nginx" "$c" "http://127.0.0.1:$port/" "$WD_PID" | tail -1)
done
HTTP_IDLE_RSS=$(rss_kib "$WD_PID")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
echo
echo "fwatchdog benchmark: $(nproc) cores, ${SECS}s per run, POST 'hello world', wrk --latency"
printf '%-34s %5s %10s %9s %9s %10s\n' "target" "conc" "req/s" "p50 us" "p99 us" "cpu us/req"
cat "$ROWS_FILE"
echo
echo "serializing c=8 vs spawn floor:        $(ratio "${RPS[serializing-8]}" "$FLOOR") (target >= 90%)"
echo "http c=8 vs nginx proxy:               $(ratio "${RPS[http-8]}" "${RPS[nginx-8]}") (target >= 60%)"
echo "http c=64 vs nginx proxy:              $(ratio "${RPS[http-64]}" "${RPS[nginx-64]}") (target >= 60%)"
echo "http p50 c=1 minus nginx p50 c=1:      $(( ${P50[http-1]} - ${P50[nginx-1]} )) us (target <= 60 us)"
echo "idle RSS (this build, dynamically linked): serializing ${IDLE_RSS} KiB, http ${HTTP_IDLE_RSS} KiB"
if command -v docker >/dev/null && docker image inspect faas/watchdog >/dev/null 2>&1; then
  cid=$(docker create faas/watchdog /fwatchdog)
  docker cp "$cid:/fwatchdog" "$WORK/fwatchdog-static" >/dev/null; docker rm "$cid" >/dev/null
  sport=$(free_port)
  env -i PATH="$PATH" TMPDIR="$WORK" port="$sport" metrics_port="$(free_port)" fprocess=cat "$WORK/fwatchdog-static" >"$WORK/static.log" 2>&1 &
  PIDS+=($!); spid=$!
  wait_http "http://127.0.0.1:$sport/_/health"
  echo "idle RSS (static binary from the faas/watchdog image): $(rss_kib "$spid") KiB (target < 4096 KiB)"
fi
