#!/bin/sh
# As the official image's entrypoint: a config file argument means `registry serve FILE`;
# a registry subcommand gets `registry` in front; anything else runs as given.
set -e

case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac

exec "$@"
