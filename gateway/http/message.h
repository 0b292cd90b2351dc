// A request as the gateway's handlers see it, and the response they give back. The request
// views the connection's buffers and stays valid until its response is given.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request_head.h"
#include "memory_budget.h"

namespace faas::gateway {

using HeaderList = std::vector<std::pair<std::string, std::string>>;
/// Headers viewing strings that outlive their use (the client's request, mostly).
using HeaderViews = std::vector<std::pair<std::string_view, std::string_view>>;

struct Request {
    const RequestHead* head = nullptr;
    std::string_view body;  ///< Decoded (a chunked body arrives whole).
    std::string_view remote_addr;
    std::size_t loop_index = 0;  ///< The loop the connection lives on.

    std::string_view method() const { return head->method; }
    std::string_view target() const { return head->target; }
    std::string_view path() const { return head->path(); }
    std::string_view header(std::string_view name) const { return head->header(name); }
    /// The query parameter `name`, percent-decoded ('+' is a space); nullopt when absent.
    std::optional<std::string> query(std::string_view name) const;
};

/// The worker's side of a streamed response body.
class BodyWriter {
  public:
    /// Sends `data` as the next part of the body; blocks while the client is behind. False once
    /// the client has gone or stopped reading for write_timeout: stop writing then.
    virtual bool write(std::string_view data) = 0;

  protected:
    ~BodyWriter() = default;
};

struct Response {
    int status = 200;
    /// Sent as given; the server adds Content-Length (or Transfer-Encoding for a stream, except
    /// to HEAD requests, whose headers may carry their own) and Connection: close when closing.
    HeaderList headers;
    std::string body;
    bool close = false;
    /// Set by handlers that run on a worker: the body is produced by this function, on the
    /// worker, after the head has gone out (chunked to HTTP/1.1 clients).
    std::function<void(BodyWriter&)> stream;
    /// The budget the body's bytes are counted against, given back once it is written.
    Reservation reservation;

    /// A plain-text answer; a newline is added.
    static Response text(int status, std::string_view message);
    /// A JSON answer of an already serialised document.
    static Response json(int status, std::string body);
};

/// One request being served on a connection.
class Exchange {
  public:
    virtual const Request& request() const = 0;
    /// Loop thread, exactly once.
    virtual void respond(Response&& response) = 0;
    /// Runs `job` on a worker thread and answers with what it returns (the connection waits on
    /// its loop meanwhile). `job` must not throw.
    virtual void respond_from_worker(std::function<Response()> job) = 0;
    /// Loop thread: the client closed or reset its connection while its request was served
    /// (a half-close counts: as with Go's server, it is taken for a client that left).
    virtual bool client_gone() const = 0;

  protected:
    ~Exchange() = default;
};

/// What the server calls for every request it has read in full.
class RequestHandler {
  public:
    /// Loop thread. Answers through `exchange`, now or later.
    virtual void serve(Exchange& exchange) = 0;

  protected:
    ~RequestHandler() = default;
};

/// Percent-decodes `text` ('+' as a space when `plus_is_space`); nullopt for a bad escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace faas::gateway
