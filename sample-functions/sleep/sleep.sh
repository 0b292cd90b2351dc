#!/bin/sh
# Sleeps for the seconds given in the request body ("2", "0.5"), else $sleep_duration, then
# says how long it slept. The watchdog's exec_timeout is what bounds a long sleep.
read -r duration || true # the body may lack a trailing newline: read still fills $duration
duration=${duration:-${sleep_duration:-5}}
case $duration in
  '' | *[!0-9.]* | *.*.* | .)
    echo "sleep: not a number of seconds: $duration" >&2
    exit 2
    ;;
esac
sleep "$duration"
echo "slept ${duration}s"
