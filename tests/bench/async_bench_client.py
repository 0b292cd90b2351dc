#!/usr/bin/env python3
"""Asynchronous calls sent by async_bench.sh (besides wrk's), and the latency computed from them.

    async_bench_client.py feed URL CALLBACK_URL COUNT CONNECTIONS IDS_FILE
    async_bench_client.py paced URL CALLBACK_URL RATE SECONDS SENT_FILE
    async_bench_client.py latency SENT_FILE ARRIVALS_FILE

feed     POSTs "hi" to URL (http://127.0.0.1:PORT/async-function/NAME) COUNT times, as fast as
         CONNECTIONS keep-alive connections go, with X-Callback-Url: CALLBACK_URL; writes the
         X-Call-Id of every 202 to IDS_FILE, one a line
paced    the same at a fixed RATE a second for SECONDS (a call is sent at its planned time on
         the first free connection; the pool grows when all are busy); writes "id t" to
         SENT_FILE, t the time.monotonic() at which the 202 was read
feed and paced print one JSON line: sent, accepted, refused ({status: count}), errors, seconds.
latency  matches SENT_FILE with the callback server's dump ("id arrival"): prints
         "p50_ms p99_ms max_ms matched missing" of arrival minus t (the 202 to its callback)
Every request is bounded by REQUEST_TIMEOUT (30 s); only 127.0.0.1 is called.
"""
import asyncio
import json
import math
import os
import sys
import time
import urllib.parse

REQUEST_TIMEOUT = float(os.environ.get("REQUEST_TIMEOUT", "30"))
IDLE_REUSE = 1.0  # seconds a connection may have been idle and still be reused


class Connection:
    """One keep-alive HTTP/1.1 connection that POSTs the same request again and again."""

    def __init__(self, host, port, request):
        self.host, self.port, self.request = host, port, request
        self.reader = self.writer = None
        self.answered = 0.0  # time.monotonic() of the last answer

    async def post(self):
        """(status, X-Call-Id or None); raises on no answer (the connection is dropped)."""
        try:
            return await asyncio.wait_for(self._post(), REQUEST_TIMEOUT)
        except BaseException:
            self.close()
            raise

    async def _post(self):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or "0")
        if length:
            await self.reader.readexactly(length)
        if headers.get("connection", "").lower() == "close":
            self.close()
        self.answered = time.monotonic()
        return status, headers.get("x-call-id")

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def request_bytes(url, callback_url):
    parts = urllib.parse.urlsplit(url)
    if parts.hostname != "127.0.0.1":
        raise SystemExit(f"only 127.0.0.1 is benchmarked, not {url}")
    body = b"hi"
    head = (f"POST {parts.path} HTTP/1.1\r\nHost: 127.0.0.1:{parts.port}\r\n"
            f"Content-Type: text/plain\r\nX-Callback-Url: {callback_url}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return parts.port, head.encode() + body


class Tally:
    def __init__(self):
        self.sent = self.accepted = self.errors = 0
        self.refused = {}
        self.started = time.monotonic()

    def failed(self, error):
        """A request without an answer; the first few are logged (stderr)."""
        self.sent += 1
        self.errors += 1
        if self.errors <= 5:
            print(f"[bench] no answer: {error!r}", file=sys.stderr, flush=True)

    def count(self, status, call_id):
        self.sent += 1
        if status == 202 and call_id:
            self.accepted += 1
            return True
        self.refused[status] = self.refused.get(status, 0) + 1
        return False

    def json(self):
        return json.dumps({"sent": self.sent, "accepted": self.accepted, "refused": self.refused,
                           "errors": self.errors, "seconds": time.monotonic() - self.started})


async def feed(url, callback_url, count, connections, ids_path):
    port, request = request_bytes(url, callback_url)
    tally = Tally()
    left = count
    with open(ids_path, "w") as ids:
        async def one_connection():
            nonlocal left
            connection = Connection("127.0.0.1", port, request)
            while left > 0:
                left -= 1
                try:
                    status, call_id = await connection.post()
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                        ValueError) as error:
                    tally.failed(error)
                    continue
                if tally.count(status, call_id):
                    ids.write(call_id + "\n")
            connection.close()

        await asyncio.gather(*(one_connection() for _ in range(connections)))
    print(tally.json())


async def paced(url, callback_url, rate, seconds, sent_path):
    port, request = request_bytes(url, callback_url)
    tally = Tally()
    idle = []
    total = int(rate * seconds)
    with open(sent_path, "w") as sent:
        async def one_call(planned):
            await asyncio.sleep(max(0.0, planned - time.monotonic()))
            # The gateway closes a connection idle for 5 s: one idle for a while is not reused,
            # lest the call fail on a connection closed under it.
            while idle and time.monotonic() - idle[-1].answered > IDLE_REUSE:
                idle.pop().close()
            connection = idle.pop() if idle else Connection("127.0.0.1", port, request)
            try:
                status, call_id = await connection.post()
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    ValueError) as error:
                tally.failed(error)
                return
            answered = time.monotonic()
            idle.append(connection)
            if tally.count(status, call_id):
                sent.write(f"{call_id} {answered:.6f}\n")

        start = time.monotonic() + 0.1
        await asyncio.gather(*(one_call(start + i / rate) for i in range(total)))
        for connection in idle:
            connection.close()
    print(tally.json())


def percentile(ordered, fraction):
    """Nearest rank."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def latency(sent_path, arrivals_path):
    arrivals = {}
    with open(arrivals_path) as lines:
        for line in lines:
            call_id, _, seen = line.partition(" ")
            arrivals[call_id] = float(seen)
    waits, missing = [], 0
    with open(sent_path) as lines:
        for line in lines:
            call_id, _, answered = line.partition(" ")
            if call_id in arrivals:
                waits.append((arrivals[call_id] - float(answered)) * 1000)
            else:
                missing += 1
    waits.sort()
    if not waits:
        print(f"- - - 0 {missing}")
        return
    print(f"{percentile(waits, 0.5):.1f} {percentile(waits, 0.99):.1f} {waits[-1]:.1f} "
          f"{len(waits)} {missing}")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "feed":
        asyncio.run(feed(args[0], args[1], int(args[2]), int(args[3]), args[4]))
    elif command == "paced":
        asyncio.run(paced(args[0], args[1], float(args[2]), float(args[3]), args[4]))
    elif command == "latency":
        latency(args[0], args[1])
    else:
        raise SystemExit(f"unknown command {command} (feed, paced, latency)")


if __name__ == "__main__":
    main()
