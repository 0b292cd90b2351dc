#!/usr/bin/env python3
"""The callback server of async_bench.sh: counts the queue workers' callbacks.

    async_bench_callbacks.py PORT_FILE

Listens on 127.0.0.1 on a port of the kernel's choice and writes it to PORT_FILE once ready.
HTTP/1.1 with keep-alive (the workers reuse their connections); every request is answered 200.

  POST /cb       a callback: the time it arrived (time.monotonic(), the system-wide
                 CLOCK_MONOTONIC, so comparable with the sender's) is kept for its X-Call-Id,
                 the first time it is seen; X-Function-Status is counted
  POST /expect   body: a file of call ids, one a line (the X-Call-Id of every 202): each of them
                 must be called back; answers how many were added
  GET /stats     one line: now, callbacks (all, duplicates included), unique, expected, missing
                 (of the expected, not called back yet), last (the latest first arrival of an
                 expected call, "-" before any), statuses ("200:N,500:M" of X-Function-Status)
  POST /dump     body: a file name: writes "id arrival" of every call id seen there
Only the standard library; stops on SIGTERM or SIGINT.
"""
import asyncio
import os
import signal
import sys
import time


class Callbacks:
    def __init__(self):
        self.first_seen = {}  # call id -> arrival (monotonic seconds)
        self.callbacks = 0
        self.statuses = {}
        self.expected = set()
        self.missing = set()
        self.last = None  # latest first arrival of an expected call

    def called_back(self, call_id, status):
        now = time.monotonic()
        self.callbacks += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if call_id in self.first_seen:
            return
        self.first_seen[call_id] = now
        if call_id in self.missing:
            self.missing.discard(call_id)
            self.last = now if self.last is None else max(self.last, now)

    def expect(self, path):
        added = 0
        with open(path) as ids:
            for line in ids:
                call_id = line.strip()
                if not call_id or call_id in self.expected:
                    continue
                added += 1
                self.expected.add(call_id)
                seen = self.first_seen.get(call_id)
                if seen is None:
                    self.missing.add(call_id)
                else:
                    self.last = seen if self.last is None else max(self.last, seen)
        return added

    def stats(self):
        last = "-" if self.last is None else f"{self.last:.6f}"
        statuses = ",".join(f"{status}:{count}" for status, count in sorted(self.statuses.items()))
        return (f"{time.monotonic():.6f} {self.callbacks} {len(self.first_seen)} "
                f"{len(self.expected)} {len(self.missing)} {last} {statuses or '-'}\n")

    def dump(self, path):
        with open(path, "w") as out:
            for call_id, seen in self.first_seen.items():
                out.write(f"{call_id} {seen:.6f}\n")
        return len(self.first_seen)


async def read_body(reader, headers):
    """The request's body: Content-Length or chunked."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()).strip():  # trailers
                    pass
                return body
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0") or "0")
    return await reader.readexactly(length) if length else b""


def answer(writer, status, body=b""):
    writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


async def serve(state, reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name:
                    headers[name.strip().lower()] = value.strip()
            if method == "POST" and target.startswith("/cb"):
                # The arrival is taken before the body is read: the head is the callback.
                state.called_back(headers.get("x-call-id", ""), headers.get("x-function-status", "?"))
                if headers.get("expect", "").lower() == "100-continue":
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await read_body(reader, headers)
                answer(writer, "200 OK")
            elif target.startswith("/stats"):
                await read_body(reader, headers)
                answer(writer, "200 OK", state.stats().encode())
            elif method == "POST" and target.startswith("/expect"):
                path = (await read_body(reader, headers)).decode().strip()
                answer(writer, "200 OK", f"{state.expect(path)}\n".encode())
            elif method == "POST" and target.startswith("/dump"):
                path = (await read_body(reader, headers)).decode().strip()
                answer(writer, "200 OK", f"{state.dump(path)}\n".encode())
            else:
                await read_body(reader, headers)
                answer(writer, "404 Not Found", b"unknown path\n")
            if headers.get("connection", "").lower() == "close":
                break
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, OSError) as error:
        if not isinstance(error, (asyncio.IncompleteReadError, ConnectionError)):
            print(f"[bench] callback server: {error!r}", file=sys.stderr, flush=True)
    finally:
        writer.close()


async def main():
    port_file = sys.argv[1]
    state = Callbacks()
    server = await asyncio.start_server(lambda r, w: serve(state, r, w), "127.0.0.1", 0,
                                        backlog=1024)
    port = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as out:
        out.write(f"{port}\n")
    os.rename(port_file + ".tmp", port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
