def handle(req):
    """Answers one request: req is the request body as a str; what is returned is printed.

    The request's headers, method, path and query are in the environment (Http_Method,
    Http_Path, Http_Query, Http_Content_Type, ...) when the watchdog's cgi_headers is on.
    """
    return "Hello from python3! You said: " + req
