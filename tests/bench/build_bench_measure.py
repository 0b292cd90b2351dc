#!/usr/bin/env python3
"""One build measured through the gateway's build API (used by build_bench.sh).

    build_bench_measure.py GATEWAY USER:PASSWORD FUNCTION LANG MARK [DEPENDENCY_SALT]

PYTHON_REQUIREMENT (default requests) is what requirements.txt names for python3-http.

Posts a JSON build of FUNCTION whose handler answers MARK, and a dependency file salted with
DEPENDENCY_SALT (a comment or description: the same salt gives the same file, so the build can
reuse the dependency layer; a new salt forces an install). Prints one JSON line:
{"seconds": POST to the first 200 that carries MARK, "build": {stage: seconds}, "status": ...}.
Only the gateway given is called; every wait is bounded by TIMEOUT (default 600 s).
"""
import base64
import glob
import json
import os
import sys
import time
import urllib.error
import urllib.request

TIMEOUT = float(os.environ.get("TIMEOUT", "600"))


def request(url, auth, data=None, method=None, timeout=10):
    req = urllib.request.Request(url, data=data, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error).encode()


def build_request(function, lang, mark, salt):
    if lang == "python3-http":
        code = f"def handle(event, context):\n    return {mark!r}\n"
        requirement = os.environ.get("PYTHON_REQUIREMENT", "requests")
        files = {"requirements.txt": f"# {salt}\n{requirement}\n"}
    elif lang == "node":
        code = f"'use strict';\nmodule.exports = async () => {json.dumps(mark)};\n"
        package = {"name": function, "version": "1.0.0", "description": salt,
                   "dependencies": {"is-number": "^7.0.0"}}
        files = {"package.json": json.dumps(package, indent=2) + "\n"}
    else:
        raise SystemExit(f"no benchmark handler for {lang}")
    build = {"service": function, "lang": lang, "code": code, "files": files}
    # Where TLS to the npm registry is intercepted, the image's npm needs the host's extra CAs
    # (the templates take them as the EXTRA_CA_CERTS build argument).
    extra_cas = "".join(open(path).read()
                        for path in sorted(glob.glob("/usr/local/share/ca-certificates/*.crt")))
    if extra_cas:
        build["buildArgs"] = {"EXTRA_CA_CERTS": extra_cas}
    return build


def main():
    gateway, auth, function, lang, mark = sys.argv[1:6]
    salt = sys.argv[6] if len(sys.argv) > 6 else "bench"
    body = json.dumps(build_request(function, lang, mark, salt)).encode()
    started = time.monotonic()
    status, answer = request(f"{gateway}/system/builds", auth, body, "POST")
    if status != 202:
        print(json.dumps({"status": f"POST answered {status}: {answer[:200].decode(errors='replace')}"}))
        return 1
    build_id = json.loads(answer)["id"]
    deadline = started + TIMEOUT
    seconds = None
    while time.monotonic() < deadline:
        code, text = request(f"{gateway}/function/{function}", None, b"", "POST", timeout=5)
        if code == 200 and text.decode(errors="replace").strip() == mark:
            seconds = time.monotonic() - started
            break
        code, record = request(f"{gateway}/system/builds/{build_id}", auth)
        if code == 200 and json.loads(record).get("status") in ("failed", "cancelled"):
            break
        time.sleep(0.02)
    # The first 200 can come before the build says ready: take its stages once it has ended.
    record = {}
    while time.monotonic() < deadline:
        code, text = request(f"{gateway}/system/builds/{build_id}", auth)
        record = json.loads(text) if code == 200 else {}
        if record.get("status") in ("ready", "failed", "cancelled"):
            break
        time.sleep(0.05)
    stages = {s["stage"]: s.get("seconds") for s in record.get("stages", [])}
    out = {"seconds": seconds, "build": stages, "status": record.get("status", f"GET {code}")}
    if record.get("error"):
        out["error"] = record["error"]
    print(json.dumps(out))
    return 0 if seconds is not None else 1


if __name__ == "__main__":
    sys.exit(main())
