def handle(event, context):
    """Answers a request to the function.

    event.body is bytes; event.headers, event.method, event.query and event.path describe the
    request; context.hostname names the container. Return a str, bytes, a dict or list (sent as
    JSON), or {"statusCode": 201, "body": ..., "headers": {...}} for full control.
    """
    said = event.body.decode("utf-8", errors="replace")
    return f"Hello from python3-http! You said: {said}"
