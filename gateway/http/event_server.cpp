// Accepting connections on the loops, binding, running and stopping.
#include "http/event_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "http/connection.h"
#include "log.h"

namespace faas::gateway {
namespace {

using Clock = EventLoop::Clock;
constexpr std::uint32_t kConnectionEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
constexpr auto kSweepInterval = std::chrono::milliseconds(250);

// The text form of an IPv4 or IPv6 socket address, and its port.
void describe(const sockaddr_storage& address, std::string& ip, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    port = 0;
    if (address.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
        ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
        port = ntohs(v4->sin_port);
    } else if (address.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
        ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
        port = ntohs(v6->sin6_port);
    }
    ip = text;
}

}  // namespace

struct EventServer::Loop final : EventLoop::Watcher, ConnectionOwner {
    EventServer* server = nullptr;
    std::size_t index = 0;
    EventLoop loop;
    int listen_fd = -1;
    std::unordered_map<Connection*, std::unique_ptr<Connection>> connections;
    EventLoop::Timer sweep;
    /// Out of descriptors: the listening socket leaves the loop until then, or a level-
    /// triggered accept would spin.
    Clock::time_point accept_paused_until = Clock::time_point::min();
    std::thread thread;

    void on_events(std::uint32_t events) override;  // the listening socket
    EventLoop& event_loop() override { return loop; }
    std::size_t loop_index() const override { return index; }
    void close_connection(Connection* connection) override;
    ~Loop();
};

void EventServer::Loop::on_events(std::uint32_t) {
    // Level-triggered: take what is waiting now, a bounded batch so one burst of connections
    // cannot hold up the calls already on this loop.
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                log_line(
                    "Cannot accept connections for a while: out of file descriptors or memory");
                loop.remove(listen_fd);
                accept_paused_until = Clock::now() + std::chrono::milliseconds(500);
            }
            return;  // EAGAIN, or paused
        }
        int yes = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        std::string ip;
        int port = 0;
        describe(address, ip, port);
        auto connection =
            std::make_unique<Connection>(*this, fd, std::move(ip), server->options_,
                                         server->handler_, server->workers_, server->budget_);
        Connection* raw = connection.get();
        if (!loop.add(fd, kConnectionEvents, raw)) {
            log_line("Cannot watch a new connection: " + std::string(std::strerror(errno)));
            continue;  // the connection's destructor closes it
        }
        connections.emplace(raw, std::move(connection));
    }
}

void EventServer::Loop::close_connection(Connection* connection) {
    loop.remove(connection->fd());
    auto it = connections.find(connection);
    if (it == connections.end()) return;
    auto owned = std::move(it->second);
    connections.erase(it);
    // Later events of this batch may still name it: free it after the batch.
    loop.defer([doomed = std::shared_ptr<Connection>(std::move(owned))] {});
}

EventServer::Loop::~Loop() {
    connections.clear();
    if (listen_fd >= 0) ::close(listen_fd);
}

EventServer::EventServer(ServerOptions options, RequestHandler& handler, MemoryBudget* budget)
    : options_(options),
      handler_(handler),
      budget_(budget),
      workers_(2, std::max<std::size_t>(2, options.worker_threads)) {
    std::size_t count = options_.loops;
    if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
    for (std::size_t i = 0; i < count; ++i) {
        auto loop = std::make_unique<Loop>();
        loop->server = this;
        loop->index = i;
        Loop* raw = loop.get();
        loop->sweep.fire = [raw] {
            const auto now = Clock::now();
            std::vector<Connection*> all;
            all.reserve(raw->connections.size());
            for (auto& [connection, owned] : raw->connections) all.push_back(connection);
            for (Connection* connection : all) connection->expire(now);
            if (raw->accept_paused_until != Clock::time_point::min() &&
                now >= raw->accept_paused_until) {
                raw->accept_paused_until = Clock::time_point::min();
                if (!raw->loop.add(raw->listen_fd, EPOLLIN, raw))
                    raw->accept_paused_until = now + std::chrono::milliseconds(500);
            }
            raw->sweep.deadline = now + kSweepInterval;
        };
        loop->sweep.deadline = Clock::now() + kSweepInterval;
        loop->loop.add_timer(&loop->sweep);
        loops_.push_back(std::move(loop));
    }
}

EventServer::~EventServer() {
    stop();
    for (auto& loop : loops_)
        if (loop->thread.joinable()) loop->thread.join();
    // Workers still running finish (bounded by the timeouts; streams were cut off by run())
    // before the loops their answers are posted to go.
    workers_.shutdown();
}

int EventServer::bind(const std::string& host, int port, int backlog) {
    sockaddr_storage address{};
    socklen_t length = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        length = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        length = sizeof(sockaddr_in6);
    } else {
        return -1;
    }
    auto set_port = [&](int value) {
        if (address.ss_family == AF_INET)
            v4->sin_port = htons(static_cast<std::uint16_t>(value));
        else
            v6->sin6_port = htons(static_cast<std::uint16_t>(value));
    };
    // SO_REUSEPORT would let a second gateway (the same user's) bind beside a running one and
    // take half its connections. A plain bind first fails as it always did when the port is
    // taken, and picks the port when asked for 0.
    int bound_port = port;
    {
        int probe = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0) return -1;
        int yes = 1;
        ::setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        set_port(port);
        if (::bind(probe, reinterpret_cast<sockaddr*>(&address), length) != 0) {
            ::close(probe);
            return -1;
        }
        sockaddr_storage actual{};
        socklen_t actual_length = sizeof actual;
        ::getsockname(probe, reinterpret_cast<sockaddr*>(&actual), &actual_length);
        std::string ip;
        describe(actual, ip, bound_port);
        ::close(probe);
    }
    for (auto& loop : loops_) {
        int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        int yes = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        // One listening socket per loop: the kernel spreads new connections over the loops.
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
        set_port(bound_port);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
            ::listen(fd, backlog) != 0) {
            ::close(fd);
            return -1;
        }
        loop->listen_fd = fd;
        if (!loop->loop.add(fd, EPOLLIN, loop.get())) return -1;
    }
    return bound_port;
}

EventLoop& EventServer::loop(std::size_t index) {
    return loops_[index]->loop;
}

void EventServer::run() {
    for (std::size_t i = 1; i < loops_.size(); ++i)
        loops_[i]->thread = std::thread([loop = loops_[i].get()] { loop->loop.run(); });
    loops_[0]->loop.run();
    for (std::size_t i = 1; i < loops_.size(); ++i)
        if (loops_[i]->thread.joinable()) loops_[i]->thread.join();
    // Every loop has stopped: nothing else touches their connections now.
    for (auto& loop : loops_) {
        if (loop->listen_fd >= 0) {
            ::close(loop->listen_fd);
            loop->listen_fd = -1;
        }
        for (auto& [connection, owned] : loop->connections) connection->end_after_stop();
    }
}

void EventServer::stop() {
    for (auto& loop : loops_) loop->loop.stop();
}

}  // namespace faas::gateway
