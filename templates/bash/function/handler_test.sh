#!/usr/bin/env bash
# Runs in the image build from the function folder (every *_test.sh): a failing test fails
# the build (--build-arg TEST_ENABLED=false skips it).
set -euo pipefail

passed=0 failed=0
expect() {  # expect NAME INPUT WANT
    local got
    got="$(printf '%s' "$2" | bash handler.sh)"
    if [ "$got" = "$3" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        printf 'FAIL %s: got %q, want %q\n' "$1" "$got" "$3"
    fi
}

expect "echoes the body" "hi" "Hello from bash! You said: hi"
expect "empty body" "" "Hello from bash! You said: "
expect "keeps inner lines" $'a\nb' $'Hello from bash! You said: a\nb'

echo "handler_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
