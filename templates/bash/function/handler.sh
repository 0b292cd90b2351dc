#!/usr/bin/env bash
# The function: runs once per request with the request body on stdin; what it prints is the
# answer. Request headers, method, path and query are in the environment (Http_Method,
# Http_Path, Http_Query, Http_Content_Type, ...) while the watchdog's cgi_headers is on.
# A non-zero exit status is a 500 carrying the output.
set -euo pipefail

IFS= read -r -d '' body || true   # all of stdin (read stops at end of input)
echo "Hello from bash! You said: ${body}"
