#!/usr/bin/env python3
"""Entry of the python3-http template: a warm process serving HTTP on loopback.

fwatchdog (mode=http) starts this once and proxies every request to it at `upstream_url`.
Each request becomes `handler.handle(event, context)`; what the handler returns is the answer:

  str                      200, text/plain; charset=utf-8
  bytes                    200, application/octet-stream
  dict or list             200, JSON (application/json)
  None                     200, empty body
  {"statusCode": n, "body": ..., "headers": {...}}
                           status n, the body as above, the headers as given

An exception is a 500 whose body is the error text; the traceback goes to the log and the
process keeps serving.
"""
import json
import logging
import os
import sys
import traceback
from urllib.parse import urlsplit

from flask import Flask, Response, request
from waitress import serve

from function import handler

app = Flask(__name__)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Event:
    """The request: body (bytes), headers, method, query (a MultiDict), path."""

    def __init__(self):
        self.body = request.get_data()
        self.headers = request.headers
        self.method = request.method
        self.query = request.args
        self.path = request.path


class Context:
    """About the function instance: hostname (the container's)."""

    def __init__(self):
        self.hostname = os.getenv("HOSTNAME", "localhost")


def _encode(value, headers):
    """The body for a handler's value; sets a Content-Type unless the handler did."""
    has_type = any(name.lower() == "content-type" for name in headers)

    def default_type(content_type):
        if not has_type:
            headers["Content-Type"] = content_type

    if value is None:
        return b""
    if isinstance(value, (bytes, bytearray, memoryview)):
        default_type("application/octet-stream")
        return bytes(value)
    if isinstance(value, (dict, list)):
        default_type("application/json")
        return json.dumps(value)
    default_type("text/plain; charset=utf-8")
    return str(value)


def make_response(result):
    if isinstance(result, dict) and "statusCode" in result:
        status = int(result["statusCode"])
        headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
        body = _encode(result.get("body"), headers)
    else:
        status, headers = 200, {}
        body = _encode(result, headers)
    return Response(body, status=status, headers=headers)


@app.route("/", defaults={"path": ""}, methods=METHODS)
@app.route("/<path:path>", methods=METHODS)
def call_handler(path):
    try:
        return make_response(handler.handle(Event(), Context()))
    except Exception as error:  # the handler's failure is the caller's 500, not ours
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        text = str(error)
        message = f"{type(error).__name__}: {text}" if text else type(error).__name__
        return Response(message + "\n", status=500, mimetype="text/plain")


def listen_address():
    """Where upstream_url points (127.0.0.1:5000 by default); http_port, when set, is the port.

    The gateway's local provider runs several replicas on one host and gives each its own port
    in http_port; the Docker image leaves it unset.
    """
    upstream = urlsplit(os.getenv("upstream_url") or "http://127.0.0.1:5000")
    port = upstream.port or 5000
    if os.getenv("http_port"):
        value = os.environ["http_port"]
        if not (value.isascii() and value.isdigit() and 0 < int(value) < 65536):
            sys.exit(f"python3-http: http_port={value!r} is not a port number")
        port = int(value)
    return upstream.hostname or "127.0.0.1", port


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(name)s: %(message)s")
    host, port = listen_address()
    serve(app, host=host, port=port, threads=int(os.getenv("threads", "4")),
          ident="python3-http")
