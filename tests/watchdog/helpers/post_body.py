"""Posts a body the way Python's http.client does: the whole body is sent before the answer
is read, and there is no Expect: 100-continue. Prints "<status> <body>" for the answer, or
"error <exception>" when the connection broke first (then exits 1).

usage: post_body.py <port> <body bytes>
"""
import http.client
import sys

port, size = int(sys.argv[1]), int(sys.argv[2])
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
try:
    connection.request("POST", "/", body=b"x" * size,
                       headers={"Content-Type": "application/octet-stream"})
    response = connection.getresponse()
    print(response.status, response.read().decode(), end="")
except OSError as error:
    print("error", type(error).__name__, error)
    sys.exit(1)
