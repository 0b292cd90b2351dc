#!/bin/sh
# Gateway benchmarks with wrk, printed as one table from one run.
#
#   tests/bench/gateway_bench.sh [BIN_DIR]      (default: build/release/bin)
#
# Rows, each at concurrency 1, 8, 64 and 256 (keep-alive connections):
#   nginx200   direct      client -> nginx `return 200`
#   nginx200   gateway     client -> gateway -> nginx `return 200`
#   nginx200   nginx       client -> nginx proxy_pass (keep-alive upstream) -> nginx `return 200`
#   wd-http    direct      client -> fwatchdog mode=http -> nginx `return 200`
#   wd-http    gateway     client -> gateway -> fwatchdog mode=http
#   wd-http    nginx       client -> nginx proxy_pass -> fwatchdog mode=http
#   wd-serial  direct      client -> fwatchdog mode=serializing (fork per request, fprocess=cat)
#   wd-serial  gateway     client -> gateway (local provider, real replica) -> fwatchdog serializing
#   wd-serial  nginx       client -> nginx proxy_pass -> fwatchdog serializing (for comparison)
#   admin      gateway     client -> gateway GET /system/functions (the admin API), c=8 only
# then p50 at c=1 and the fork-mode comparison again, from rounds that alternate between the
# paths (one run drifts by more than the difference measured here), the CPU each proxy spends
# per call, and RSS of the gateway after 100k+ requests, sampled twice to show it is flat.
#
# The "gateway" rows for nginx and wd-http run gateway_bench_server: the same request path
# (routing, libcurl proxy, balancer, metrics) with a static provider, since the local provider
# only starts fwatchdog replicas. The wd-serial row runs the real gateway binary.
# wrk waits 10 s for an answer, so an error is a failed request, not a slow fork-mode one.
# Everything listens on 127.0.0.1; every process started is stopped on exit.
set -eu

here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$here/build/release/bin}
duration=${DURATION:-5s}
concurrencies=${CONCURRENCIES:-"1 8 64 256"}
for tool in wrk nginx curl; do
  command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
for program in gateway gateway_bench_server fwatchdog; do
  [ -x "$bin/$program" ] || { echo "missing $bin/$program (build the release preset)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/gateway-bench.XXXXXX)
pids=""
cleanup() {
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${BENCH_KEEP_LOGS:-}" ]; then mkdir -p "$BENCH_KEEP_LOGS"; cp "$work"/*.log "$BENCH_KEEP_LOGS"/ 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_http() { # url [status]
  i=0
  while [ $i -lt 200 ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)
    [ "$code" = "${2:-200}" ] && return 0
    i=$((i + 1)); sleep 0.05
  done
  echo "timed out waiting for $1" >&2; exit 1
}

nginx_conf() { # dir port body(server block contents) workers
  mkdir -p "$1/logs"
  cat > "$1/nginx.conf" <<CONF
worker_processes $4;
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  $3
}
CONF
}

start() { # log command...
  log=$1; shift
  "$@" > "$log" 2>&1 &
  pids="$pids $!"
  last_pid=$!
}

# Upstream: nginx return 200 (one worker, like one function replica).
p_nginx200=$(free_port)
nginx_conf "$work/n200" "$p_nginx200" "server { listen 127.0.0.1:$p_nginx200; location / { return 200 'ok'; } }" 1
start "$work/n200.log" nginx -p "$work/n200" -c "$work/n200/nginx.conf"
wait_http "http://127.0.0.1:$p_nginx200/"

# fwatchdog in http mode, its fprocess another nginx return 200.
p_wdup=$(free_port)
nginx_conf "$work/wdup" "$p_wdup" "server { listen 127.0.0.1:$p_wdup; location / { return 200 'ok'; } }" 1
p_wdhttp=$(free_port)
mkdir -p "$work/wdhttp-tmp"
start "$work/wdhttp.log" env TMPDIR="$work/wdhttp-tmp" mode=http port=$p_wdhttp metrics_port=0 \
  upstream_url="http://127.0.0.1:$p_wdup" fprocess="nginx -p $work/wdup -c $work/wdup/nginx.conf" \
  "$bin/fwatchdog"
wait_http "http://127.0.0.1:$p_wdhttp/_/health"

# fwatchdog serializing, fprocess=cat.
p_wdser=$(free_port)
mkdir -p "$work/wdser-tmp"
start "$work/wdser.log" env TMPDIR="$work/wdser-tmp" mode=serializing port=$p_wdser metrics_port=0 \
  fprocess=cat "$bin/fwatchdog"
wait_http "http://127.0.0.1:$p_wdser/_/health"

# Gateways (bench server with a static provider) in front of each upstream.
p_gw_n200=$(free_port)
start "$work/gw-n200.log" env port=$p_gw_n200 bench_upstream_port=$p_nginx200 "$bin/gateway_bench_server"
gw_bench_pid=$last_pid
p_gw_wdhttp=$(free_port)
start "$work/gw-wdhttp.log" env port=$p_gw_wdhttp bench_upstream_port=$p_wdhttp "$bin/gateway_bench_server"
wait_http "http://127.0.0.1:$p_gw_n200/healthz"
wait_http "http://127.0.0.1:$p_gw_wdhttp/healthz"

# The real gateway with the local provider and one serializing replica of cat.
p_gw=$(free_port)
start "$work/gw.log" env port=$p_gw state_dir="$work/state" watchdog_path="$bin/fwatchdog" "$bin/gateway"
gw_pid=$last_pid
wait_http "http://127.0.0.1:$p_gw/healthz"
curl -s -o /dev/null -d '{"service":"cat","image":"bench/cat","envProcess":"cat","envVars":{"mode":"serializing"}}' \
  "http://127.0.0.1:$p_gw/system/functions"
wait_http "http://127.0.0.1:$p_gw/function/cat"

# nginx as a reverse proxy (keep-alive upstream), two workers like the gateway's two cores.
p_proxy_n200=$(free_port); p_proxy_wd=$(free_port); p_proxy_ser=$(free_port)
nginx_conf "$work/proxy" 0 "
  upstream n200 { server 127.0.0.1:$p_nginx200; keepalive 512; }
  upstream wd { server 127.0.0.1:$p_wdhttp; keepalive 512; }
  upstream ser { server 127.0.0.1:$p_wdser; keepalive 512; }
  server { listen 127.0.0.1:$p_proxy_n200; location / { proxy_pass http://n200; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }
  server { listen 127.0.0.1:$p_proxy_wd; location / { proxy_pass http://wd; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }
  server { listen 127.0.0.1:$p_proxy_ser; location / { proxy_pass http://ser; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }" 2
start "$work/proxy.log" nginx -p "$work/proxy" -c "$work/proxy/nginx.conf"
proxy_pid=$last_pid
wait_http "http://127.0.0.1:$p_proxy_n200/"

cat > "$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.timeout + summary.errors.status
  io.write(string.format("RESULT %.0f %.1f %.1f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), errors, summary.requests))
end
LUA

run() { # url concurrency -> "rps p50 p99 errors requests"
  threads=2; [ "$2" -lt 2 ] && threads=1
  wrk -t$threads -c"$2" -d1s --timeout 10s "$1" > /dev/null 2>&1 || true   # warm-up
  wrk -t$threads -c"$2" -d"$duration" --timeout 10s -s "$work/report.lua" "$1" 2>/dev/null | awk '/^RESULT/ {print $2, $3, $4, $5, $6}'
}

printf '%-10s %-8s %5s %10s %9s %9s %7s\n' upstream path conc req/s p50_us p99_us errors
alive() { # pid name: a dead upstream would make its rows meaningless
  kill -0 "$1" 2>/dev/null || { echo "$2 (pid $1) is no longer running" >&2; }
}
row() { # upstream path url
  up=$1; path=$2; url=$3
  for c in $concurrencies; do
    set -- $(run "$url" "$c")
    printf '%-10s %-8s %5s %10s %9s %9s %7s\n' "$up" "$path" "$c" "${1:-?}" "${2:-?}" "${3:-?}" "${4:-?}"
    # Kept for the summary: rps_<upstream>_<path>_<conc> and p50_<...>.
    key=$(printf '%s_%s_%s' "$up" "$path" "$c" | tr -- '-' '_')
    eval "rps_$key=${1:-0}; p50_$key=${2:-0}"
  done
}
row nginx200 direct  "http://127.0.0.1:$p_nginx200/"
row nginx200 gateway "http://127.0.0.1:$p_gw_n200/function/bench"
row nginx200 nginx   "http://127.0.0.1:$p_proxy_n200/"
row wd-http  direct  "http://127.0.0.1:$p_wdhttp/"
row wd-http  gateway "http://127.0.0.1:$p_gw_wdhttp/function/bench"
row wd-http  nginx   "http://127.0.0.1:$p_proxy_wd/"
row wd-serial direct  "http://127.0.0.1:$p_wdser/"
row wd-serial gateway "http://127.0.0.1:$p_gw/function/cat"
row wd-serial nginx   "http://127.0.0.1:$p_proxy_ser/"
# An admin read on the real gateway: GET /system/functions (a worker thread, answered through
# the loop), at c=8 only.
saved_concurrencies=$concurrencies; concurrencies=${ADMIN_CONCURRENCIES:-8}
row admin    gateway "http://127.0.0.1:$p_gw/system/functions"
concurrencies=$saved_concurrencies

# p50 at c=1 flips between two levels from one wrk run to the next on these shared 2-core
# machines (where the scheduler puts three processes that wake each other), so it is also
# taken from short runs that alternate between the three paths, and summarised by the median.
rounds=${LATENCY_ROUNDS:-9}
echo
echo "p50 at c=1 (us), $rounds alternating 1 s runs per path, nginx200 upstream:"
printf '%-8s %7s %7s %7s\n' path median min max
for path in direct gateway nginx; do eval "samples_$path="; done
i=0
while [ $i -lt "$rounds" ]; do
  for path in direct gateway nginx; do
    case $path in
      direct) url="http://127.0.0.1:$p_nginx200/" ;;
      gateway) url="http://127.0.0.1:$p_gw_n200/function/bench" ;;
      nginx) url="http://127.0.0.1:$p_proxy_n200/" ;;
    esac
    p50=$(wrk -t1 -c1 -d1s -s "$work/report.lua" "$url" 2>/dev/null | awk '/^RESULT/ {print $3}')
    eval "samples_$path=\"\$samples_$path ${p50:-0}\""
  done
  i=$((i + 1))
done
for path in direct gateway nginx; do
  set -- $(eval "printf '%s\n' \$samples_$path" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
  n=$#; mid=$(( (n + 1) / 2 ))
  eval "median=\${$mid}"; min=$1; eval "max=\${$n}"
  printf '%-8s %7s %7s %7s\n' "$path" "$median" "$min" "$max"
  eval "p50med_$path=$median"
done

value() { eval "printf '%s' \"\${$1:-}\""; }

# CPU time of processes, in clock ticks (utime + stime of every thread).
cpu_ticks() { # pid...
  ticks=0
  for pid in "$@"; do
    set -- $(cut -d' ' -f14,15 "/proc/$pid/stat")
    ticks=$((ticks + $1 + $2))
  done
  echo "$ticks"
}
proxy_workers=$(pgrep -P "$proxy_pid" | tr '\n' ' ')
clk_tck=$(getconf CLK_TCK)

# A timed run of one path: adds its good answers to total_<key>, its failed ones to
# errors_<key>, its rate of good answers to rates_<key>, and the CPU ticks that the `watched`
# processes spent to ticks_<key>.
timed_run() { # key url concurrency seconds "pid..."
  key=$1; url=$2; conc=$3; seconds=$4; watched=${5:-}
  before=0; [ -z "$watched" ] || before=$(cpu_ticks $watched)
  # Only answers without an error count: a fast 503 is no throughput.
  set -- $(wrk -t2 -c"$conc" -d"${seconds}s" --timeout 10s -s "$work/report.lua" "$url" 2>/dev/null |
    awk '/^RESULT/ { ok = $6 - $5; printf "%.1f %d %d\n", ($6 > 0 ? $2 * ok / $6 : 0), ok, $5 }')
  after=0; [ -z "$watched" ] || after=$(cpu_ticks $watched)
  eval "total_$key=\$(( \${total_$key:-0} + ${2:-0} ))"
  eval "errors_$key=\$(( \${errors_$key:-0} + ${3:-0} ))"
  eval "ticks_$key=\$(( \${ticks_$key:-0} + after - before ))"
  eval "rates_$key=\"\${rates_$key:-} ${1:-0}\""
}

# In front of a fork-mode watchdog a proxy costs a few percent of a rate that drifts by more
# than that from one 5 s run to the next on these machines, so the watchdog alone and the two
# proxies are run in alternating rounds and compared by their totals over all rounds.
fork_rounds=${FORK_ROUNDS:-5}
fork_seconds=${FORK_SECONDS:-3}
fork_concurrencies=${FORK_CONCURRENCIES:-"8 64 256"}
echo
echo "fwatchdog serializing (cat), $fork_rounds alternating ${fork_seconds} s runs per path:"
printf '%5s %-8s %10s %10s %10s %10s %14s %7s\n' conc path mean_req/s min_run max_run vs_direct proxy_cpu_us errors
for c in $fork_concurrencies; do
  i=0
  while [ $i -lt "$fork_rounds" ]; do
    timed_run "ser_direct_$c" "http://127.0.0.1:$p_wdser/" "$c" "$fork_seconds"
    timed_run "ser_gateway_$c" "http://127.0.0.1:$p_gw/function/cat" "$c" "$fork_seconds" "$gw_pid"
    timed_run "ser_nginx_$c" "http://127.0.0.1:$p_proxy_ser/" "$c" "$fork_seconds" "$proxy_workers"
    i=$((i + 1))
  done
  for path in direct gateway nginx; do
    key="ser_${path}_$c"
    total=$(value "total_$key"); direct=$(value "total_ser_direct_$c"); ticks=$(value "ticks_$key")
    errors=$(value "errors_$key")
    set -- $(value "rates_$key" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
    min=${1:-0}; eval "max=\${$#:-0}"
    mean=$(value "rates_$key" | awk '{ for (i = 1; i <= NF; i++) s += $i; if (NF) printf "%.1f", s / NF }')
    awk -v c="$c" -v path="$path" -v total="$total" -v direct="$direct" -v ticks="$ticks" \
        -v mean="$mean" -v min="$min" -v max="$max" -v tck="$clk_tck" -v errors="$errors" \
      'BEGIN {
         ratio = path == "direct" || direct == 0 ? "-" : sprintf("%.1f%%", 100 * total / direct)
         cpu = path == "direct" || total == 0 ? "-" : sprintf("%.1f", ticks / tck * 1e6 / total)
         printf "%5s %-8s %10.0f %10.0f %10.0f %10s %14s %7d\n", c, path, mean, min, max, ratio, cpu, errors
       }'
    eval "fork_total_${path}_$c=$total"
  done
done

# The CPU each proxy spends per call with a cheap upstream (nginx return 200), alternating too.
cpu_rounds=${CPU_ROUNDS:-3}
i=0
while [ $i -lt "$cpu_rounds" ]; do
  timed_run cpu_gateway "http://127.0.0.1:$p_gw_n200/function/bench" 8 3 "$gw_bench_pid"
  timed_run cpu_nginx "http://127.0.0.1:$p_proxy_n200/" 8 3 "$proxy_workers"
  i=$((i + 1))
done
echo
awk -v g="${total_cpu_gateway:-0}" -v gt="${ticks_cpu_gateway:-0}" -v n="${total_cpu_nginx:-0}" \
    -v nt="${ticks_cpu_nginx:-0}" -v tck="$clk_tck" -v rounds="$cpu_rounds" 'BEGIN {
  if (g > 0 && n > 0)
    printf "CPU per call, nginx200 upstream, c=8, %d alternating 3 s runs: gateway %.1f us, nginx %.1f us\n",
      rounds, gt / tck * 1e6 / g, nt / tck * 1e6 / n }'

# The issue's targets, from the rows above (where the concurrencies were measured).
ratio() { # name numerator denominator target
  n=$(value "$2"); d=$(value "$3")
  [ -n "$n" ] && [ -n "$d" ] || return 0
  awk -v n="$n" -v d="$d" -v name="$1" -v target="$4" \
    'BEGIN { if (d > 0) printf "%-52s %5.0f%%  (target %s)\n", name, 100 * n / d, target }'
}
gap() { # name gateway direct target
  g=$(value "$2"); d=$(value "$3")
  [ -n "$g" ] && [ -n "$d" ] || return 0
  awk -v g="$g" -v d="$d" -v name="$1" -v target="$4" \
    'BEGIN { printf "%-52s %+5.0f us (target %s)\n", name, g - d, target }'
}
echo
gap   "p50 added at c=1 (median runs), gateway"     p50med_gateway p50med_direct "<= +60 us"
gap   "p50 added at c=1 (median runs), nginx"       p50med_nginx   p50med_direct "for comparison"
ratio "req/s c=64 nginx200, gateway vs nginx"         rps_nginx200_gateway_64 rps_nginx200_nginx_64 ">= 60%"
ratio "req/s c=64 wd-http, gateway vs nginx"          rps_wd_http_gateway_64  rps_wd_http_nginx_64  ">= 60%"
for c in $fork_concurrencies; do
  ratio "req/s c=$c wd-serial, gateway vs direct (rounds)" "fork_total_gateway_$c" "fork_total_direct_$c" ">= 95%"
  ratio "req/s c=$c wd-serial, nginx vs direct (rounds)" "fork_total_nginx_$c" "fork_total_direct_$c" "for comparison"
done

rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# RSS: the bench gateway has served every nginx200 row above (well over 100k requests); serve
# 100k more at concurrency 64 and compare.
before=$(rss "$gw_bench_pid")
wrk -t2 -c64 -d3s "http://127.0.0.1:$p_gw_n200/function/bench" > /dev/null 2>&1
after=$(rss "$gw_bench_pid")
served=$(curl -s "http://127.0.0.1:$p_gw_n200/metrics" | awk -F' ' '/^gateway_function_invocation_total/ {s += $2} END {printf "%d", s}')
echo "gateway RSS: ${before} MiB, then ${after} MiB after ${served} requests in total"
