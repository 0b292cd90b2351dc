#!/bin/sh
# Two builds of the gateway's request path, A and B, in front of the same nginx `return 200`,
# measured in rounds that alternate between them: on these shared machines two runs minutes
# apart drift by more than a change on the call path costs, alternating rounds do not.
#
#   tests/bench/gateway_ab_bench.sh BIN_A BIN_B     (each a bin/ with gateway_bench_server)
#   RECORD_B=1 tests/bench/gateway_ab_bench.sh BIN BIN
#       B records every call as record_calls=all does, in a nats-server -js the script starts:
#       the cost of recording, and at the end how many records B stored and dropped.
#
# Prints, for a function call per concurrency and an admin read (GET /system/functions, c=8),
# each side's mean req/s over the rounds, B/A and the CPU each side spends per request (from
# /proc/<pid>/stat around its rounds), then the median p50 of a call at c=1.
# Everything listens on 127.0.0.1; every process started is stopped on exit.
set -eu

a=${1:?usage: gateway_ab_bench.sh BIN_A BIN_B}
b=${2:?usage: gateway_ab_bench.sh BIN_A BIN_B}
rounds=${ROUNDS:-5}
seconds=${SECONDS_PER_ROUND:-3}
concurrencies=${CONCURRENCIES:-"8 64"}
for tool in wrk nginx curl python3; do
  command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
for bin in "$a" "$b"; do
  [ -x "$bin/gateway_bench_server" ] || { echo "missing $bin/gateway_bench_server" >&2; exit 1; }
done

work=$(mktemp -d /tmp/gateway-ab.XXXXXX)
pids=""
cleanup() {
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_http() {
  i=0
  while [ $i -lt 200 ]; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" = 200 ] && return 0
    i=$((i + 1)); sleep 0.05
  done
  echo "timed out waiting for $1" >&2; exit 1
}

p_up=$(free_port)
mkdir -p "$work/up/logs"
cat > "$work/up/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/up/nginx.pid;
error_log $work/up/logs/error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  client_body_temp_path $work/up/body; proxy_temp_path $work/up/proxy;
  fastcgi_temp_path $work/up/f; uwsgi_temp_path $work/up/u; scgi_temp_path $work/up/s;
  server { listen 127.0.0.1:$p_up; location / { return 200 'ok'; } } }
CONF
nginx -p "$work/up" -c "$work/up/nginx.conf" > "$work/up.log" 2>&1 &
pids="$pids $!"
wait_http "http://127.0.0.1:$p_up/"

b_env=""
if [ "${RECORD_B:-0}" = 1 ]; then
  command -v nats-server >/dev/null || { echo "RECORD_B=1 needs nats-server" >&2; exit 1; }
  p_nats=$(free_port)
  nats-server -js -a 127.0.0.1 -p "$p_nats" -sd "$work/nats" > "$work/nats.log" 2>&1 &
  pids="$pids $!"
  b_env="nats_url=nats://127.0.0.1:$p_nats"
fi

p_a=$(free_port); p_b=$(free_port)
env port=$p_a bench_upstream_port=$p_up "$a/gateway_bench_server" > "$work/a.log" 2>&1 &
pid_a=$!; pids="$pids $pid_a"
env port=$p_b bench_upstream_port=$p_up $b_env "$b/gateway_bench_server" > "$work/b.log" 2>&1 &
pid_b=$!; pids="$pids $pid_b"
wait_http "http://127.0.0.1:$p_a/healthz"
wait_http "http://127.0.0.1:$p_b/healthz"

cat > "$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write +
                 summary.errors.timeout + summary.errors.status
  io.write(string.format("RESULT %d %.1f %d\n", summary.requests, latency:percentile(50), errors))
end
LUA
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# wrk against one side; prints "requests p50 errors cpu_ticks".
measure() { # port pid concurrency seconds [path]
  threads=2; [ "$3" -lt 2 ] && threads=1
  before=$(ticks "$2")
  result=$(wrk -t$threads -c"$3" -d"$4"s --timeout 10s -s "$work/report.lua" \
    "http://127.0.0.1:$1${5:-/function/bench}" 2>/dev/null | awk '/^RESULT/ {print $2, $3, $4}')
  after=$(ticks "$2")
  echo "$result $((after - before))"
}

for side in a b; do  # warm both: connections, handle pools, page cache
  eval "port=\$p_$side"; wrk -t2 -c64 -d1s "http://127.0.0.1:$port/function/bench" >/dev/null 2>&1 || true
done

hz=$(getconf CLK_TCK)
printf '%-8s %5s %12s %12s %8s %10s %10s %7s\n' route conc A_req/s B_req/s B/A A_cpu_us B_cpu_us errors
# A function call at each concurrency, then an admin read (GET /system/functions) at c=8.
for c in $concurrencies admin; do
  path=/function/bench; label=call
  if [ "$c" = admin ]; then path=/system/functions; label=admin; c=8; fi
  ra=0; rb=0; ta=0; tb=0; errors=0; round=0
  while [ $round -lt "$rounds" ]; do
    for side in a b; do
      eval "port=\$p_$side; pid=\$pid_$side"
      set -- $(measure "$port" "$pid" "$c" "$seconds" "$path")
      errors=$((errors + ${3:-1}))
      if [ $side = a ]; then ra=$((ra + ${1:-0})); ta=$((ta + ${4:-0})); else rb=$((rb + ${1:-0})); tb=$((tb + ${4:-0})); fi
    done
    round=$((round + 1))
  done
  awk -v route="$label" -v c="$c" -v ra="$ra" -v rb="$rb" -v ta="$ta" -v tb="$tb" -v s="$((rounds * seconds))" \
      -v hz="$hz" -v e="$errors" 'BEGIN {
    printf "%-8s %5s %12.0f %12.0f %7.1f%% %10.1f %10.1f %7d\n", route, c, ra / s, rb / s, 100 * rb / ra,
      1e6 * ta / hz / ra, 1e6 * tb / hz / rb, e }'
done

# p50 at c=1: nine alternating 1 s runs each, the median.
: > "$work/p50a"; : > "$work/p50b"
i=0
while [ $i -lt 9 ]; do
  set -- $(measure "$p_a" "$pid_a" 1 1); echo "$2" >> "$work/p50a"
  set -- $(measure "$p_b" "$pid_b" 1 1); echo "$2" >> "$work/p50b"
  i=$((i + 1))
done
median() { sort -n "$1" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "p50 at c=1 (median of 9 alternating 1 s runs): A $(median "$work/p50a") us, B $(median "$work/p50b") us"
if [ -n "$b_env" ]; then
  curl -s "http://127.0.0.1:$p_b/metrics" |
    awk '/^gateway_call_records_(stored|dropped)_total/ {printf "B %s %s\n", $1, $2}'
fi
