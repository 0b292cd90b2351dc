#!/usr/bin/env python3
"""Cold starts of one deployed function through the gateway (used by cold_start.sh).

    cold_start_measure.py GATEWAY FUNCTION PROVIDER LABEL

Prints one Markdown table row: | PROVIDER | LABEL | trials | failed | cold p50 | p90 | max |
breakdown | burst | warm p50 | failures |, times in seconds from sending the call to its whole
200 (a new connection each call, as a first caller has).

  warm   once the function answers 200 (bounded by READY_TIMEOUT), the median of WARM calls
  cold   TRIALS times: scale to 0 replicas, wait until GET /system/function/FUNCTION says
         replicas 0 and availableReplicas 0 and it stays so for SETTLE seconds (with
         REPLICA_PARENT, a pid, also until no fwatchdog replica of the function descends
         from it; with REPLICA_CONTAINERS=1, until Docker runs no container of the Swarm
         service, whose tasks stop after the API stops counting them), then one call
  breakdown  medians over the trials, from the gateway's own log line for each wake ("Ready
         for held calls: F after N ms (scale request done at A ms, a replica reported at B ms,
         one answered at C ms)"), read from GATEWAY_LOG (a file) or, with GATEWAY_SERVICE, from
         `docker service logs`: scale accepted / replica reported / first healthy probe, in ms
         from the moment the first call was held
  burst  once more at zero, BURST (50) calls at once: seconds to the last 200

Environment: TRIALS (20), WARM (5), SETTLE (0.5 s), ZERO_TIMEOUT (60 s a trial), CALL_TIMEOUT
(60 s), READY_TIMEOUT (120 s), GATEWAY_AUTH (user:password for the admin API, optional),
REPLICA_PARENT, REPLICA_CONTAINERS, BURST (50), GATEWAY_LOG, GATEWAY_SERVICE. Exit status: 0 every trial answered 200, 1 some failed, 2 nothing measured.
Every wait is bounded; only the gateway given is called.
"""
import base64
import http.client
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

TRIALS = int(os.environ.get("TRIALS", "20"))
WARM = int(os.environ.get("WARM", "5"))
SETTLE = float(os.environ.get("SETTLE", "0.5"))
ZERO_TIMEOUT = float(os.environ.get("ZERO_TIMEOUT", "60"))
CALL_TIMEOUT = float(os.environ.get("CALL_TIMEOUT", "60"))
READY_TIMEOUT = float(os.environ.get("READY_TIMEOUT", "120"))
AUTH = os.environ.get("GATEWAY_AUTH", "")
REPLICA_PARENT = os.environ.get("REPLICA_PARENT", "")
REPLICA_CONTAINERS = os.environ.get("REPLICA_CONTAINERS", "") == "1"
BURST = int(os.environ.get("BURST", "50"))
GATEWAY_LOG = os.environ.get("GATEWAY_LOG", "")
GATEWAY_SERVICE = os.environ.get("GATEWAY_SERVICE", "")


def log(text):
    print(f"[bench] {text}", file=sys.stderr, flush=True)


class Gateway:
    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        if parts.hostname != "127.0.0.1":
            raise SystemExit(f"only 127.0.0.1 is benchmarked, not {url}")
        self.port = parts.port or 80

    def request(self, method, path, body=None, admin=False, timeout=10.0):
        """(status, body, seconds): status 0 with the error text when no answer came."""
        headers = {"Content-Type": "application/json" if admin else "text/plain"}
        if admin and AUTH:
            headers["Authorization"] = "Basic " + base64.b64encode(AUTH.encode()).decode()
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            answer = connection.getresponse()
            text = answer.read()
            return answer.status, text, time.monotonic() - started
        except (OSError, http.client.HTTPException) as error:
            return 0, str(error).encode(), time.monotonic() - started
        finally:
            connection.close()


def replica_of(pid, function):
    """Whether the process is a local replica of `function`: its TMPDIR is the replica's own,
    under the state directory's run/<function>/ (so replicas of other functions do not count)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            variables = environ.read().split(b"\0")
    except OSError:
        return False
    marker = f"/run/{function}/".encode()
    return any(v.startswith(b"TMPDIR=") and marker in v for v in variables)


def fwatchdog_descendants(parent, function):
    """How many fwatchdog replicas of `function` descend from the pid `parent` (from /proc)."""
    children = {}
    names = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue  # it ended while we looked
        # comm is in parentheses and may hold spaces; the fields after it are split by spaces.
        name = text[text.index("(") + 1:text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2:].split()[1])
        names[int(entry)] = name
        children.setdefault(ppid, []).append(int(entry))
    count, todo = 0, list(children.get(parent, []))
    while todo:
        pid = todo.pop()
        count += names.get(pid) == "fwatchdog" and replica_of(pid, function)
        todo.extend(children.get(pid, []))
    return count


def swarm_containers(service):
    """The ids of the running (not paused) containers of a Swarm service, or an error text."""
    try:
        done = subprocess.run(["docker", "ps", "-q", "--filter", "status=running", "--filter",
                               f"label=com.docker.swarm.service.name={service}"],
                              capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        return f"docker ps failed: {error}"
    return done.stdout.strip()


def at_zero(gateway, function):
    """None when no replica is left, else what is still there (for the log)."""
    status, text, _ = gateway.request("GET", f"/system/function/{function}", admin=True)
    if status != 200:
        return f"GET /system/function answered {status}"
    record = json.loads(text)
    replicas, available = record.get("replicas"), record.get("availableReplicas")
    if replicas != 0 or available != 0:
        return f"replicas {replicas}, availableReplicas {available}"
    if REPLICA_PARENT and fwatchdog_descendants(int(REPLICA_PARENT), function):
        return "a fwatchdog process is still running"
    if REPLICA_CONTAINERS:
        running = swarm_containers(function)
        if running:
            return f"containers still running: {' '.join(running.split())}"
    return None


def scale_to_zero(gateway, function):
    """None once the function is at zero and stayed there for SETTLE s, else why not."""
    body = json.dumps({"serviceName": function, "replicas": 0}).encode()
    status, text, _ = gateway.request("POST", f"/system/scale-function/{function}", body,
                                      admin=True, timeout=30)
    if status not in (200, 202):
        return f"scale to 0 answered {status}: {text[:200].decode(errors='replace')}"
    deadline = time.monotonic() + ZERO_TIMEOUT
    zero_since = None
    left = "not polled"
    while time.monotonic() < deadline:
        left = at_zero(gateway, function)
        now = time.monotonic()
        if left is not None:
            zero_since = None
        elif zero_since is None:
            zero_since = now
        elif now - zero_since >= SETTLE:
            return None
        time.sleep(0.05)
    return f"not at zero after {ZERO_TIMEOUT:g} s: {left}"


def call(gateway, function, body):
    return gateway.request("POST", f"/function/{function}", body, timeout=CALL_TIMEOUT)


def percentile(values, fraction):
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def seconds(value):
    return "-" if value is None else f"{value:.3f}"


def gateway_log(since):
    """The gateway's log text, from GATEWAY_LOG or `docker service logs` since `since` (epoch)."""
    if GATEWAY_LOG:
        try:
            with open(GATEWAY_LOG, errors="replace") as text:
                return text.read()
        except OSError:
            return ""
    if GATEWAY_SERVICE:
        try:
            done = subprocess.run(["docker", "service", "logs", "--raw", "--since",
                                   str(int(since)), GATEWAY_SERVICE],
                                  capture_output=True, text=True, timeout=30)
            return done.stdout + done.stderr
        except (OSError, subprocess.SubprocessError):
            return ""
    return ""


def breakdown(text, function):
    """'A / B / C' ms medians of the gateway's wake lines for `function`, or '-'."""
    pattern = re.compile(r"Ready for held calls: " + re.escape(function) +
                         r" after \d+ ms \((?:scale request done at (\d+) ms, )?"
                         r"(?:a replica reported at (\d+) ms, )?one answered at (\d+) ms\)")
    steps = [[], [], []]
    for match in pattern.finditer(text):
        for i in range(3):
            if match.group(i + 1) is not None:
                steps[i].append(int(match.group(i + 1)))
    if not steps[2]:
        return "-"
    return " / ".join(str(percentile(values, 0.5)) if values else "-" for values in steps)


def burst(gateway, function):
    """(seconds to the last of BURST calls at zero, failures) or (None, [why])."""
    not_zero = scale_to_zero(gateway, function)
    if not_zero is not None:
        return None, ["burst: not at zero"]
    results = [None] * BURST
    def one(i):
        results[i] = call(gateway, function, f"burst {i}".encode())
    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CALL_TIMEOUT + 5)
    took = time.monotonic() - started
    failures = [f"burst {r[0] if r and r[0] else 'no answer'}" for r in results
                if r is None or r[0] != 200]
    return took, failures


def row(provider, label, trials, failures, cold, warm, note=None, steps="-", burst_s=None):
    counted = {}
    for reason in failures:
        counted[reason] = counted.get(reason, 0) + 1
    summary = note or ", ".join(f"{reason} ×{n}" for reason, n in sorted(counted.items())) or "-"
    print(f"| {provider} | {label} | {trials} | {len(failures)} "
          f"| {seconds(percentile(cold, 0.5) if cold else None)} "
          f"| {seconds(percentile(cold, 0.9) if cold else None)} "
          f"| {seconds(max(cold) if cold else None)} | {steps} | {seconds(burst_s)} "
          f"| {seconds(percentile(warm, 0.5) if warm else None)} | {summary} |", flush=True)


def main():
    url, function, provider, label = sys.argv[1:5]
    gateway = Gateway(url)

    deadline = time.monotonic() + READY_TIMEOUT
    status = 0
    while time.monotonic() < deadline:
        status, text, _ = call(gateway, function, b"warm up")
        if status == 200:
            break
        time.sleep(0.05)
    if status != 200:
        log(f"{provider} {function}: no 200 within {READY_TIMEOUT:g} s (last {status})")
        row(provider, label, 0, [], [], [], f"not measured: no 200 to a warm call (last {status})")
        return 2
    warm = []
    for i in range(WARM):
        status, text, took = call(gateway, function, f"warm {i}".encode())
        if status == 200:
            warm.append(took)
    log(f"{provider} {function}: warm {len(warm)}/{WARM} answered 200")

    cold, failures = [], []
    began = time.time()
    for trial in range(1, TRIALS + 1):
        scaled = time.monotonic()
        not_zero = scale_to_zero(gateway, function)
        at_zero_after = time.monotonic() - scaled - SETTLE
        if not_zero is not None:
            # The next scale would most likely fail the same way: stop rather than wait again.
            log(f"{provider} {function} trial {trial}/{TRIALS}: {not_zero}; stopping")
            failures += ["not at zero"] * (TRIALS - trial + 1)
            break
        status, text, took = call(gateway, function, f"cold start {trial}".encode())
        answer = text[:120].decode(errors="replace").strip()
        log(f"{provider} {function} trial {trial}/{TRIALS}: at zero in {at_zero_after:.2f} s, "
            f"then {status or 'no answer'} after {took:.3f} s"
            + ("" if status == 200 else f": {answer}"))
        if status == 200:
            cold.append(took)
        else:
            failures.append(str(status) if status else "no answer")
    steps = breakdown(gateway_log(began), function)
    burst_s = None
    if BURST > 0 and not failures:
        burst_s, burst_failures = burst(gateway, function)
        log(f"{provider} {function}: burst of {BURST} at zero: "
            f"{len(burst_failures)} failed, last answer after {seconds(burst_s)} s")
        failures += burst_failures
    row(provider, label, TRIALS, failures, cold, warm, steps=steps, burst_s=burst_s)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
