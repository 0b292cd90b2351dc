#!/usr/bin/env python3
"""Entry of the python3 template (classic watchdog, serializing mode).

fwatchdog starts `python3 index.py` for every request with the request body on stdin; this
reads all of it, calls handler.handle(req) with it as a str, and prints what the handler
returns (bytes are written as they are; None prints nothing). An exception ends the process
with status 1 and the traceback on stderr, which the watchdog answers with a 500.
"""
import sys

from function import handler


def get_stdin():
    return sys.stdin.buffer.read().decode("utf-8", errors="surrogateescape")


if __name__ == "__main__":
    result = handler.handle(get_stdin())
    if isinstance(result, (bytes, bytearray)):
        sys.stdout.buffer.write(result)
    elif result is not None:
        print(result)
