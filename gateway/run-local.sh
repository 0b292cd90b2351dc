#!/bin/sh
# Starts the gateway with the local provider (functions as local fwatchdog processes) and the
# sample functions deployed, then prints the curl that calls one. Ctrl-C drains and stops it.
#
#   gateway/run-local.sh [BIN_DIR]     (default: build/release/bin)
#   env: port (8080), state_dir (build/faas-state), and any other gateway setting.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/release/bin}
port=${port:-8080}
export port
export state_dir=${state_dir:-$root/build/faas-state}
[ -x "$bin/gateway" ] || { echo "no $bin/gateway: cmake --preset release && cmake --build --preset release" >&2; exit 1; }

"$bin/gateway" &
gateway=$!
trap 'kill -TERM $gateway 2>/dev/null; wait $gateway; exit 0' INT TERM

i=0
until curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; do
  i=$((i + 1))
  [ $i -lt 100 ] || { echo "the gateway did not start" >&2; kill -TERM $gateway; exit 1; }
  kill -0 $gateway 2>/dev/null || exit 1
  sleep 0.1
done

# The sample functions of sample-functions/, with the command each image runs as envProcess.
deploy() { # name envProcess
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/system/functions" \
    -d "{\"service\":\"$1\",\"image\":\"faas/$1:latest\",\"envProcess\":\"$2\"}")
  case $code in
    202) echo "deployed $1" ;;
    409) echo "$1 already deployed (restored from $state_dir)" ;;
    *) echo "deploying $1 failed: HTTP $code" >&2 ;;
  esac
}
deploy catservice cat
deploy echoit cat
deploy wordcount wc
deploy base64 base64
deploy env env
deploy sleep "sh $root/sample-functions/sleep/sleep.sh"

echo
echo "Gateway on http://127.0.0.1:$port (state in $state_dir). Try:"
echo "  curl -d 'hi' http://127.0.0.1:$port/function/catservice"
echo "  curl http://127.0.0.1:$port/system/functions"
echo "  curl -i -d 'later' http://127.0.0.1:$port/async-function/catservice    # 202, X-Call-Id"
echo "  curl http://127.0.0.1:$port/system/calls                                # its record"
if [ -x "$bin/faas" ]; then
  echo "  $bin/faas list -g http://127.0.0.1:$port"
  echo "  echo hi | $bin/faas invoke wordcount -g http://127.0.0.1:$port"
fi
wait $gateway
