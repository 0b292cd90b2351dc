// The function: handle() gets the request body and returns the answer (see handler.h).
// Request headers, method, path and query are in the environment (Http_Method, Http_Path,
// Http_Query, Http_Content_Type, ...; std::getenv) while the watchdog's cgi_headers is on.
#include "handler.h"

std::string handle(const std::string& request) {
    return "Hello from cpp! You said: " + request;
}
