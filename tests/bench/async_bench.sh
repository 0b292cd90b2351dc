#!/usr/bin/env bash
# Asynchronous calls (issue #13): how fast calls are stored, how fast two queue workers carry
# them end to end, the latency from the 202 to the callback, the memory of every process, and
# that no accepted call is lost. One run, one Markdown table:
#
#   sync        wrk, 64 connections, DURATION s: POST /function/<name> (the same function called
#               synchronously through the gateway, the yardstick of the next row)
#   enqueue     wrk, 64 connections, DURATION s: POST /async-function/<name> with X-Callback-Url,
#               no queue worker running, so only storing is measured (a record and the call in
#               NATS JetStream before the 202); the ratio enqueue / sync (target >= 0.5). The
#               X-Call-Id of every 202 is kept (async_bench.lua).
#   end-to-end  two queue-worker processes start (nats_url and gateway_url set, their own
#               defaults otherwise); they drain the backlog of the enqueue row while
#               async_bench_client.py feeds new calls up to TOTAL (none when the backlog is
#               already that large): calls called back per second, from the workers' start to
#               the last callback, counted by a callback server (async_bench_callbacks.py)
#               that every call names in X-Callback-Url
#   latency     once the queue is empty, RATE calls a second for LATENCY_SECONDS s: p50/p99 from
#               reading the 202 to the callback's arrival (one clock, CLOCK_MONOTONIC)
#   RSS         VmRSS of the gateway, each worker and nats-server once a tenth of the
#               end-to-end calls are called back (warm) and once all are, so "flat after
#               warm-up" can be judged
#   lost        calls answered 202 and never called back (at least once): must be 0
# The sync, enqueue and end-to-end rows also give the CPU each process spent a call (user +
# system from /proc/<pid>/stat over the phase), to tell where the time goes.
#
# The function is the cheapest the local provider runs with a warm process: fwatchdog in http
# mode in front of nginx `return 200` (one replica, no autoscaling label).
#
#   tests/bench/async_bench.sh                  (a release build: cmake --preset release &&
#                                               cmake --build --preset release)
#   TOTAL=20000 tests/bench/async_bench.sh      (a quicker run)
#
# Environment: BIN_DIR (build/release/bin: gateway, fwatchdog, queue-worker), DURATION (10 s),
# TOTAL (100000), RATE (200), LATENCY_SECONDS (10), MAX_INFLIGHT (the worker's default, 8),
# FEED_CONNECTIONS (8), STALL_TIMEOUT (60 s without a new callback ends the run),
# BENCH_KEEP_LOGS (a folder to copy the logs to).
# Everything listens on 127.0.0.1 on free ports, in a temporary folder: its own nats-server -js,
# the gateway (provider=local, basic_auth=false, nats_url set, so it starts no worker itself) and
# the workers. Every wait is bounded; every process and the folder are removed on exit, also
# on Ctrl-C. Exit status: non-zero when a call was lost, a drain stalled or a step failed.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/lib.sh
. "$here/tests/bench/lib.sh"
bench=$here/tests/bench
bin=${BIN_DIR:-$here/build/release/bin}
duration=${DURATION:-10}
total=${TOTAL:-100000}
rate=${RATE:-200}
latency_seconds=${LATENCY_SECONDS:-10}
feed_connections=${FEED_CONNECTIONS:-8}
stall_timeout=${STALL_TIMEOUT:-60}
function_name=asyncbench

for tool in wrk nginx curl python3; do
  command -v $tool >/dev/null || { bench_log "missing $tool"; exit 1; }
done
nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)
[[ -x $nats_server ]] || { bench_log "missing nats-server (scripts/install-deps.sh)"; exit 1; }
for program in gateway fwatchdog queue-worker; do
  [[ -x $bin/$program ]] || {
    bench_log "missing $bin/$program: cmake --preset release && cmake --build --preset release"
    exit 1
  }
done

work=$(mktemp -d /tmp/async-bench.XXXXXX)
pids=()     # started in the background, stopped in reverse order on exit
child=""    # the wrk or helper run now, stopped by cleanup
# stop PID: SIGTERM (and SIGCONT, should it be stopped), SIGKILL after 15 s, reaped.
stop() {
  [[ -n $1 ]] || return 0
  kill "$1" 2>/dev/null || true
  kill -CONT "$1" 2>/dev/null || true
  local deadline=$((SECONDS + 15))
  while [[ -e /proc/$1 && $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) != Z ]]; do
    ((SECONDS < deadline)) || { kill -KILL "$1" 2>/dev/null || true; break; }
    sleep 0.05
  done
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local i
  stop "$child"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop "${pids[i]}"; done
  if [[ -n ${BENCH_KEEP_LOGS:-} ]]; then
    mkdir -p "$BENCH_KEEP_LOGS"
    cp "$work"/*.log "$BENCH_KEEP_LOGS"/ 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'bench_log "interrupted: cleaning up"; exit 130' INT
trap 'bench_log "terminated: cleaning up"; exit 143' TERM
trap 'bench_log "stopped: line $LINENO: $BASH_COMMAND failed"' ERR

# start LOG COMMAND...: in the background, stopped on exit; its pid in last_pid.
start() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  last_pid=$!
  pids+=("$last_pid")
}

# in_background OUT COMMAND...: runs it with stdout to OUT and waits, so that a signal ends the
# wait at once (cleanup then stops it) instead of when the command is done.
in_background() {
  local out=$1 rc=0
  shift
  "$@" >"$out" 2>>"$work/helpers.log" &
  child=$!
  wait "$child" || rc=$?
  child=""
  return "$rc"
}

# wait_for SECONDS WHAT COMMAND...: until the command succeeds.
wait_for() {
  local seconds=$1 what=$2
  local deadline=$((SECONDS + seconds))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || { bench_log "timed out after $seconds s waiting for $what"; return 1; }
    sleep 0.05
  done
}

fail() { # MESSAGE [LOG...]: the message, the logs' tails, exit 1
  bench_log "$1"
  shift
  for log in "$@"; do
    [[ -s $log ]] && { bench_log "--- last lines of $(basename "$log"):"; tail -n 5 "$log" >&2; }
  done
  exit 1
}

# The callback server, on a port of its own choosing.
start "$work/callbacks.log" python3 "$bench/async_bench_callbacks.py" "$work/callbacks.port"
wait_for 10 "the callback server" test -s "$work/callbacks.port" || fail "no callback server" "$work/callbacks.log"
callbacks="http://127.0.0.1:$(cat "$work/callbacks.port")"
# read_stats: the callback server's counts into st_now (its clock), st_callbacks (duplicates
# included), st_unique, st_expected (202s it was told of), st_missing (of those, not called back),
# st_last (the latest first callback of an expected call) and st_statuses (of X-Function-Status).
read_stats() {
  local line
  line=$(curl -fsS -m 10 "$callbacks/stats") || fail "the callback server does not answer" "$work/callbacks.log"
  read -r st_now st_callbacks st_unique st_expected st_missing st_last st_statuses <<<"$line"
}
expect_ids() { curl -fsS -m 60 -X POST --data-binary "$1" "$callbacks/expect" >/dev/null; }

# NATS with JetStream.
nats_port=$(free_port)
start "$work/nats.log" "$nats_server" -a 127.0.0.1 -p "$nats_port" -js -sd "$work/nats"
nats_pid=$last_pid
wait_for 15 "nats-server" grep -qs "Server is ready" "$work/nats.log" || fail "nats-server did not start" "$work/nats.log"

# The gateway: local provider, no auth, the NATS above (so it starts no queue worker itself).
gateway_port=$(free_port)
gateway="http://127.0.0.1:$gateway_port"
start "$work/gateway.log" env provider=local port="$gateway_port" basic_auth=false \
  nats_url="nats://127.0.0.1:$nats_port" state_dir="$work/state" watchdog_path="$bin/fwatchdog" \
  "$bin/gateway"
gateway_pid=$last_pid
wait_http "$gateway/healthz" 15 || fail "the gateway did not start" "$work/gateway.log"

# The function: fwatchdog in http mode in front of nginx `return 200` (one worker process).
fn_port=$(free_port)
mkdir -p "$work/fn/logs"
cat >"$work/fn/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/fn/nginx.pid;
error_log $work/fn/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $work/fn/body;
  proxy_temp_path $work/fn/proxy;
  fastcgi_temp_path $work/fn/fastcgi;
  uwsgi_temp_path $work/fn/uwsgi;
  scgi_temp_path $work/fn/scgi;
  server { listen 127.0.0.1:$fn_port; location / { return 200 'ok'; } }
}
CONF
code=$(curl -s -o "$work/deploy.out" -w '%{http_code}' -m 30 -X POST "$gateway/system/functions" \
  -d "{\"service\":\"$function_name\",\"image\":\"bench/nginx\",\"envProcess\":\"nginx -e $work/fn/logs/error.log -p $work/fn -c $work/fn/nginx.conf\",\"envVars\":{\"mode\":\"http\",\"upstream_url\":\"http://127.0.0.1:$fn_port\"}}") || true
[[ $code == 202 || $code == 200 ]] || fail "deploying $function_name answered $code: $(head -c 200 "$work/deploy.out")" "$work/gateway.log"
function_ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' -m 5 -d hi "$gateway/function/$function_name") == 200 ]]; }
wait_for 30 "$function_name to answer 200" function_ready || fail "$function_name never answered 200" "$work/gateway.log"

alive() { # PID NAME: fails the run when a process died
  kill -0 "$1" 2>/dev/null || fail "$2 (pid $1) is no longer running" "$work/$2.log"
}
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# wrk_run OUT URL ARGS...: 64 connections, DURATION s; OUT gets the RESULT line's fields:
# rps p50_us p99_us non2xx errors ok.
wrk_run() {
  local out=$1 url=$2
  shift 2
  in_background "$work/wrk.out" wrk -t2 -c64 -d"${duration}s" --timeout 10s \
    -s "$bench/async_bench.lua" "$url" -- "$@" || fail "wrk failed" "$work/helpers.log"
  awk '/^RESULT/ { print $2, $3, $4, $5, $6, $7 }' "$work/wrk.out" >"$out"
  [[ -s $out ]] || fail "wrk printed no result: $(cat "$work/wrk.out")"
}
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
cpu_now() { # PID...: CPU seconds of each
  local pid
  for pid in "$@"; do cpu_seconds "$pid"; done | tr '\n' ' '
}
# cpu_per_call "BEFORE" "AFTER" CALLS: microseconds of CPU per call, one figure per process.
cpu_per_call() {
  awk -v before="$1" -v after="$2" -v calls="$3" 'BEGIN {
    n = split(before, b, " "); split(after, a, " ")
    for (i = 1; i <= n; i++) printf "%s%.0f", (i > 1 ? " " : ""), (calls > 0 ? (a[i] - b[i]) * 1e6 / calls : 0)
    print ""
  }'
}

# 1. sync, after a 1 s warm-up.
bench_log "warm-up, then sync: POST /function/$function_name, 64 connections, $duration s"
wrk -t2 -c64 -d1s "$gateway/function/$function_name" >/dev/null 2>&1 || true
cpu_before=$(cpu_now "$gateway_pid" "$nats_pid")
wrk_run "$work/sync" "$gateway/function/$function_name" sync
read -r sync_rps sync_p50 sync_p99 sync_non2xx sync_errors sync_ok <"$work/sync"
read -r sync_cpu_gateway _ < <(cpu_per_call "$cpu_before" "$(cpu_now "$gateway_pid" "$nats_pid")" "$sync_ok")

# 2. enqueue, no worker running, after one call that makes the gateway set up its queue.
bench_log "enqueue: POST /async-function/$function_name, 64 connections, $duration s, no worker"
curl -fsS -m 30 -o /dev/null -D "$work/warm.headers" -H "X-Callback-Url: $callbacks/cb" -d hi \
  "$gateway/async-function/$function_name" || fail "the first asynchronous call failed" "$work/gateway.log"
awk 'tolower($1) == "x-call-id:" { sub(/\r$/, "", $2); print $2 }' "$work/warm.headers" >"$work/warm.ids"
cpu_before=$(cpu_now "$gateway_pid" "$nats_pid")
wrk_run "$work/enqueue" "$gateway/async-function/$function_name" async "$callbacks/cb" "$work/backlog.ids"
read -r enq_rps enq_p50 enq_p99 enq_non2xx enq_errors enq_ok <"$work/enqueue"
read -r enq_cpu_gateway enq_cpu_nats < <(cpu_per_call "$cpu_before" "$(cpu_now "$gateway_pid" "$nats_pid")" "$enq_ok")
cat "$work/warm.ids" >>"$work/backlog.ids"
backlog=$(wc -l <"$work/backlog.ids")
expect_ids "$work/backlog.ids"
alive "$gateway_pid" gateway
alive "$nats_pid" nats

# 3. end to end through two workers: the backlog, plus new calls up to TOTAL.
new_calls=$((total > backlog ? total - backlog : 0))
bench_log "end-to-end: two queue workers drain $backlog stored calls and $new_calls new ones"
worker_pids=()
read_stats
t0=$st_now
cpu_before=$(cpu_now "$gateway_pid" "$nats_pid")
for i in 1 2; do
  start "$work/worker$i.log" env nats_url="nats://127.0.0.1:$nats_port" gateway_url="$gateway" \
    metrics_port=0 ${MAX_INFLIGHT:+max_inflight=$MAX_INFLIGHT} "$bin/queue-worker"
  worker_pids+=("$last_pid")
done
feeder=""
if ((new_calls > 0)); then
  python3 "$bench/async_bench_client.py" feed "$gateway/async-function/$function_name" \
    "$callbacks/cb" "$new_calls" "$feed_connections" "$work/feed.ids" \
    >"$work/feed.out" 2>>"$work/helpers.log" &
  feeder=$!
  pids+=("$feeder")
fi
warm_at=$(((backlog + new_calls) / 10))
((warm_at > 0)) || warm_at=1
warm_rss="" fed=""
progress=-1 progress_at=$SECONDS
while true; do
  read_stats
  unique=$st_unique missing=$st_missing
  if [[ -n $feeder && -z $fed ]] && ! kill -0 "$feeder" 2>/dev/null; then
    wait "$feeder" || fail "feeding new calls failed" "$work/helpers.log"
    expect_ids "$work/feed.ids"
    fed=1
    continue
  fi
  if [[ -z $warm_rss ]] && ((unique >= warm_at)); then
    warm_calls=$unique
    warm_rss="$(rss_mib "$gateway_pid") $(rss_mib "${worker_pids[0]}") $(rss_mib "${worker_pids[1]}") $(rss_mib "$nats_pid")"
  fi
  [[ -z $feeder || -n $fed ]] && ((missing == 0)) && [[ -n $warm_rss ]] && break
  if ((unique != progress)); then
    progress=$unique progress_at=$SECONDS
  elif ((SECONDS - progress_at >= stall_timeout)); then
    fail "the drain stalled: no callback for $stall_timeout s; $missing accepted calls not called back ($unique calls called back so far)" \
      "$work/worker1.log" "$work/worker2.log" "$work/gateway.log"
  fi
  alive "$gateway_pid" gateway
  alive "${worker_pids[0]}" worker1
  alive "${worker_pids[1]}" worker2
  alive "$nats_pid" nats
  sleep 0.2
done
cpu_after=$(cpu_now "$gateway_pid" "$nats_pid" "${worker_pids[@]}")
final_rss="$(rss_mib "$gateway_pid") $(rss_mib "${worker_pids[0]}") $(rss_mib "${worker_pids[1]}") $(rss_mib "$nats_pid")"
read_stats
e2e_calls=$st_expected e2e_last=$st_last final_calls=$st_unique
# The workers' CPU counts from their start.
read -r e2e_cpu_gateway e2e_cpu_nats e2e_cpu_worker1 e2e_cpu_worker2 < <(cpu_per_call "$cpu_before 0 0" "$cpu_after" "$e2e_calls")
read -r e2e_seconds e2e_rps < <(awk -v n="$e2e_calls" -v t0="$t0" -v t1="$e2e_last" \
  'BEGIN { printf "%.1f %.0f\n", t1 - t0, n / (t1 - t0) }')
fed_text="0 fed meanwhile" gateway_note=""
[[ -s $work/feed.out ]] && fed_text=$(python3 -c 'import json, sys; d = json.load(sys.stdin); print("%d fed meanwhile over %s connections (of %d sent; refused %s, %d without an answer)" % (d["accepted"], sys.argv[1], d["sent"], d["refused"] or "none", d["errors"]))' "$feed_connections" <"$work/feed.out") &&
  gateway_note=" (storing the fed calls included)"

# 4. latency: paced calls on an empty queue.
bench_log "latency: $rate calls a second for $latency_seconds s"
in_background "$work/paced.out" python3 "$bench/async_bench_client.py" paced \
  "$gateway/async-function/$function_name" "$callbacks/cb" "$rate" "$latency_seconds" "$work/paced.sent" ||
  fail "sending paced calls failed" "$work/helpers.log"
cut -d' ' -f1 "$work/paced.sent" >"$work/paced.ids"
expect_ids "$work/paced.ids"
progress=-1 progress_at=$SECONDS
while read_stats && ((st_missing > 0)); do
  unique=$st_unique missing=$st_missing
  if ((unique != progress)); then
    progress=$unique progress_at=$SECONDS
  elif ((SECONDS - progress_at >= stall_timeout)); then
    fail "the latency calls stalled: $missing accepted calls not called back after $stall_timeout s without a callback" \
      "$work/worker1.log" "$work/worker2.log" "$work/gateway.log"
  fi
  sleep 0.2
done
curl -fsS -m 60 -X POST --data-binary "$work/arrivals" "$callbacks/dump" >/dev/null
read -r lat_p50 lat_p99 lat_max lat_count _ < <(python3 "$bench/async_bench_client.py" latency "$work/paced.sent" "$work/arrivals")
paced_summary=$(python3 -c 'import json, sys; d = json.load(sys.stdin); print("%d of %d accepted in %.1f s, refused %s, %d without an answer" % (d["accepted"], d["sent"], d["seconds"], d["refused"] or "none", d["errors"]))' <"$work/paced.out")

# 5. lost calls, over every phase.
read_stats
lost=$st_missing accepted=$st_expected
duplicates=$((st_callbacks - st_unique))
extra=$((st_unique - accepted))
statuses=${st_statuses//,/, }

ratio=$(awk -v a="$enq_rps" -v s="$sync_rps" 'BEGIN { printf "%.2f", (s > 0 ? a / s : 0) }')
rss_row() { # NAME INDEX
  local w f
  w=$(echo "$warm_rss" | cut -d' ' -f"$2")
  f=$(echo "$final_rss" | cut -d' ' -f"$2")
  echo "| RSS $1 | $w MiB -> $f MiB | after $warm_calls calls called back (warm) -> after $final_calls |"
}
function_label="fwatchdog http mode -> nginx return 200"
echo
echo "| measure | result | how |"
echo "| --- | --- | --- |"
echo "| sync | $sync_rps calls/s | wrk 64 connections ${duration} s, POST /function/$function_name ($function_label); p50 $(ms "$sync_p50") ms, p99 $(ms "$sync_p99") ms; $sync_non2xx non-2xx, $sync_errors socket errors; CPU a call: gateway $sync_cpu_gateway us |"
echo "| enqueue | $enq_rps calls/s = $ratio of sync (target >= 0.5) | wrk 64 connections ${duration} s, POST /async-function/$function_name, no worker running; p50 $(ms "$enq_p50") ms, p99 $(ms "$enq_p99") ms; $backlog answered 202, $enq_non2xx other statuses, $enq_errors socket errors; CPU a call: gateway $enq_cpu_gateway us, nats-server $enq_cpu_nats us |"
echo "| end-to-end | $e2e_rps calls/s | 2 queue workers (max_inflight ${MAX_INFLIGHT:-8} each): $e2e_calls calls ($backlog stored before + $fed_text) called back within $e2e_seconds s of the workers' start; CPU a call: gateway $e2e_cpu_gateway us$gateway_note, workers $e2e_cpu_worker1 + $e2e_cpu_worker2 us, nats-server $e2e_cpu_nats us |"
echo "| latency | p50 $lat_p50 ms, p99 $lat_p99 ms (max $lat_max) | $rate calls/s for $latency_seconds s on an empty queue ($paced_summary), from reading the 202 to the callback's arrival, $lat_count calls |"
rss_row gateway 1
rss_row "worker 1" 2
rss_row "worker 2" 3
rss_row nats-server 4
echo "| lost | $lost | of $accepted calls answered 202, not called back; $duplicates duplicate callbacks, $extra callbacks of calls whose 202 wrk did not read (in flight at its end); X-Function-Status: $statuses |"
echo
command="tests/bench/async_bench.sh"
for setting in MAX_INFLIGHT FEED_CONNECTIONS STALL_TIMEOUT LATENCY_SECONDS RATE DURATION TOTAL BIN_DIR; do
  [[ -n ${!setting:-} ]] && command="$setting=${!setting} $command"
done
echo "Command: $command"
if ((lost > 0)); then
  bench_log "$lost calls answered 202 were never called back"
  exit 1
fi
