# Shared helpers for the benchmark scripts (sourced, not run).

bench_log() { printf '[bench] %s\n' "$*" >&2; }

# remove_function URL NAME [CURL_ARGS...]: DELETE /system/functions, for cleanup (errors ignored).
remove_function() {
  local url=$1 name=$2
  shift 2
  curl -s -o /dev/null -m 30 "$@" -X DELETE "$url/system/functions" \
    -d "{\"functionName\":\"$name\"}" || true
}

# stop_process PID: SIGTERM and reap, when PID is set.
stop_process() {
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null && return
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
  return 1
}

# wait_http URL [seconds]: until the URL answers 2xx.
wait_http() {
  local url=$1 deadline=$((SECONDS + ${2:-15}))
  while [ $SECONDS -lt $deadline ]; do
    curl -fs -o /dev/null "$url" && return 0
    sleep 0.05
  done
  bench_log "timed out waiting for $url"
  return 1
}

# CPU seconds (user+system) a process has used, from /proc (excludes its children).
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# run_wrk CONNECTIONS SECONDS URL [LUA]: prints "rps p50_us p99_us non2xx errors".
run_wrk() {
  local conns=$1 secs=$2 url=$3 lua=${4:-}
  local threads=2
  [ "$conns" -lt 2 ] && threads=1
  local args=(-t "$threads" -c "$conns" -d "${secs}s" --latency)
  [ -n "$lua" ] && args+=(-s "$lua")
  wrk "${args[@]}" "$url" 2>&1 | awk '
    function us(v) {
      if (v ~ /us$/) return v + 0;
      if (v ~ /ms$/) return (v + 0) * 1000;
      if (v ~ /m$/) return (v + 0) * 60e6;
      if (v ~ /s$/) return (v + 0) * 1e6;
      return v + 0;
    }
    /^ +50%/ { p50 = us($2) }
    /^ +99%/ { p99 = us($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non2xx = $5 }
    /Socket errors:/ { errors = $4 + $6 + $8 + $10 }
    END { printf "%.0f %.0f %.0f %d %d\n", rps, p50, p99, non2xx, errors }'
}
