// The gateway's typed failures and the one map from a failure to an HTTP status. Handlers and
// providers throw; every boundary (the admin worker, the call driver) answers with
// status_of() and the exception's message, so the same fault gets the same answer everywhere.
#pragma once

#include <exception>
#include <stdexcept>

namespace faas::gateway {

/// The request cannot be carried out as sent (bad JSON, a bad field, a replica count out of
/// range, a label that does not parse): 400.
class BadRequest : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// The function, secret or namespace named does not exist: 404.
class NotFound : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// It exists already: 409.
class AlreadyExists : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// The request is larger than a limit allows (a build context, its unpacked size): 413.
class PayloadTooLarge : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A feature this gateway was started without (builds=false): 501.
class NotEnabled : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// 409: the request contradicts the state of what it names (a call no longer cancellable).
class Conflict : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// 503: a service the gateway needs for this request is down or missing (NATS for
/// asynchronous calls); nothing was done.
class Unavailable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// The backing system (Docker, the file system) failed, not the request: 502.
class ProviderUnavailable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// The status for a failure: the types above, and 500 for anything else (a fault of the
/// gateway itself).
inline int status_of(const std::exception& e) {
    if (dynamic_cast<const BadRequest*>(&e)) return 400;
    if (dynamic_cast<const NotFound*>(&e)) return 404;
    if (dynamic_cast<const AlreadyExists*>(&e)) return 409;
    if (dynamic_cast<const Conflict*>(&e)) return 409;
    if (dynamic_cast<const PayloadTooLarge*>(&e)) return 413;
    if (dynamic_cast<const NotEnabled*>(&e)) return 501;
    if (dynamic_cast<const ProviderUnavailable*>(&e)) return 502;
    if (dynamic_cast<const Unavailable*>(&e)) return 503;
    return 500;
}

}  // namespace faas::gateway
