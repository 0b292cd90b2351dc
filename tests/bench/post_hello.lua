-- wrk: POST a short text body, as `echo World | faas invoke NAME` does.
wrk.method = "POST"
wrk.body = "World"
wrk.headers["Content-Type"] = "text/plain"
