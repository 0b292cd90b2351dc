#!/bin/sh
# Run by the Dockerfile in the build: a failing test fails it.
set -eu
got="$(printf 'hi' | sh handler.sh)"
want='Hello from a Dockerfile function! You said: hi'
if [ "$got" = "$want" ]; then
    echo "handler_test: 1 passed, 0 failed"
else
    echo "handler_test: got '$got', want '$want'"
    echo "handler_test: 0 passed, 1 failed"
    exit 1
fi
