// Functions as Swarm services, through the Docker Engine API.
#include "provider/swarm_provider.h"

#include <algorithm>
#include <deque>

#include "log.h"
#include "provider/swarm_spec.h"

namespace faas::gateway {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::string base64_encode(std::string_view data, bool url_safe) {
    const char* alphabet = url_safe
                               ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                               : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= data.size(); i += 3) {
        std::uint32_t n = (std::uint32_t(static_cast<unsigned char>(data[i])) << 16) |
                          (std::uint32_t(static_cast<unsigned char>(data[i + 1])) << 8) |
                          std::uint32_t(static_cast<unsigned char>(data[i + 2]));
        for (int shift : {18, 12, 6, 0}) out.push_back(alphabet[(n >> shift) & 63]);
    }
    std::size_t rest = data.size() - i;
    if (rest > 0) {
        std::uint32_t n = std::uint32_t(static_cast<unsigned char>(data[i])) << 16;
        if (rest == 2) n |= std::uint32_t(static_cast<unsigned char>(data[i + 1])) << 8;
        out.push_back(alphabet[(n >> 18) & 63]);
        out.push_back(alphabet[(n >> 12) & 63]);
        out.push_back(rest == 2 ? alphabet[(n >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

// OpenFaaS's registryAuth is base64 "user:password"; the engine wants X-Registry-Auth, base64url
// JSON with the registry the image names.
std::vector<std::string> registry_auth_headers(const FunctionDeployment& deployment) {
    auto it = deployment.raw.find("registryAuth");
    if (it == deployment.raw.end() || !it->is_string() || it->get<std::string>().empty()) return {};
    auto decoded = base64_decode(it->get<std::string>());
    if (!decoded || decoded->find(':') == std::string::npos)
        throw BadRequest("'registryAuth' must be base64 of user:password");
    auto colon = decoded->find(':');
    std::string server;
    if (auto slash = deployment.image.find('/'); slash != std::string::npos) {
        auto first = deployment.image.substr(0, slash);
        if (first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
            first == "localhost")
            server = first;
    }
    json auth = {{"username", decoded->substr(0, colon)},
                 {"password", decoded->substr(colon + 1)},
                 {"serveraddress", server}};
    return {"X-Registry-Auth: " + base64_encode(auth.dump(), true)};
}

// Checks what can be checked without Docker (limits, env names) before asking it anything.
void validate(const FunctionDeployment& deployment) {
    swarm::SpecContext context;
    for (const auto& name : deployment.secrets) context.secret_ids[name] = "unchecked";
    swarm::service_spec(deployment, context);
}

// A non-2xx answer from the engine as the provider's typed error.
[[noreturn]] void fail(const std::string& what, const DockerResponse& response) {
    std::string message = what + ": " + response.message();
    if (response.status == 404) throw NotFound(message);
    if (response.status == 409) throw AlreadyExists(message);
    if (response.status == 400) throw Unsupported(message);
    if (response.status == 503)
        throw DockerUnavailable(message + " (is this node a Swarm manager?)");
    throw ProviderUnavailable(message);
}

std::string since_param(std::chrono::system_clock::time_point since) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since.time_since_epoch()).count();
    char text[48];
    std::snprintf(text, sizeof text, "%lld.%09lld", static_cast<long long>(ns / 1'000'000'000),
                  static_cast<long long>(ns % 1'000'000'000));
    return text;
}

bool wanted(const LogEntry& entry, const LogQuery& query) {
    if (!query.instance || query.instance->empty()) return true;
    // The full task ID, or any prefix of it as `docker` prints them.
    return entry.instance.rfind(*query.instance, 0) == 0;
}

// All lines of a finished request, handed out in one batch.
class FixedLogStream final : public LogStream {
public:
    explicit FixedLogStream(std::vector<LogEntry> entries) : entries_(std::move(entries)) {}
    std::optional<std::vector<LogEntry>> next(std::chrono::milliseconds) override {
        if (done_) return std::nullopt;
        done_ = true;
        return std::move(entries_);
    }

private:
    std::vector<LogEntry> entries_;
    bool done_ = false;
};

// Follows a service's logs on a thread of its own; lines queue (bounded) until taken.
class FollowLogStream final : public LogStream {
public:
    FollowLogStream(const DockerClient& docker, std::string path, LogQuery query)
        : query_(std::move(query)) {
        worker_ = std::thread([this, &docker, path = std::move(path)] { run(docker, path); });
    }
    ~FollowLogStream() override {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        if (worker_.joinable()) worker_.join();
    }

    std::optional<std::vector<LogEntry>> next(std::chrono::milliseconds wait) override {
        std::unique_lock lock(mutex_);
        ready_.wait_for(lock, wait, [&] { return !queue_.empty() || ended_; });
        if (queue_.empty() && ended_) return std::nullopt;
        std::vector<LogEntry> out(std::make_move_iterator(queue_.begin()),
                                  std::make_move_iterator(queue_.end()));
        queue_.clear();
        return out;
    }

private:
    void run(const DockerClient& docker, const std::string& path) {
        swarm::LogDemuxer demuxer;
        auto push = [&](const std::vector<std::string>& lines) {
            std::lock_guard lock(mutex_);
            for (const auto& line : lines) {
                auto entry = swarm::parse_log_line(line, query_.name);
                if (!wanted(entry, query_)) continue;
                if (queue_.size() >= 10'000) queue_.pop_front();  // a slow reader loses the oldest
                queue_.push_back(std::move(entry));
            }
            ready_.notify_all();
        };
        try {
            docker.stream(
                path, [&](std::string_view bytes) {
                    push(demuxer.feed(bytes));
                    std::lock_guard lock(mutex_);
                    return !stop_;
                },
                [&] {
                    std::lock_guard lock(mutex_);
                    return !stop_;
                },
                std::chrono::hours(1));
        } catch (const std::exception& e) {
            log_line(std::string("Following logs of ") + query_.name + " ended: " + e.what());
        }
        if (auto last = demuxer.finish()) push({*last});
        std::lock_guard lock(mutex_);
        ended_ = true;
        ready_.notify_all();
    }

    const LogQuery query_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<LogEntry> queue_;
    bool stop_ = false;
    bool ended_ = false;
    std::thread worker_;
};

}  // namespace

SwarmProvider::SwarmProvider(SwarmProviderOptions options)
    : options_(std::move(options)), docker_(options_.docker) {
    // One attempt before serving, so the first calls after a restart find their functions
    // instead of a 404; with dockerd away the gateway starts anyway and the refresher retries.
    try {
        network_id();
    } catch (const std::exception&) {
        // No network yet, or no engine: the refresher tries again.
    }
    try {
        refresh_now();
    } catch (const std::exception& e) {
        log_line(std::string("Docker engine not reachable at start-up, will keep trying: ") + e.what());
    }
    refresher_ = std::thread([this] { refresher(); });
}

SwarmProvider::~SwarmProvider() { shutdown(); }

void SwarmProvider::shutdown() {
    {
        std::lock_guard lock(wake_mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (refresher_.joinable()) refresher_.join();
}

ProviderInfo SwarmProvider::info() const { return {"faas-swarm", "swarm"}; }

std::vector<json> SwarmProvider::function_services() const {
    auto services = docker_.get_json(
        "/services?" + DockerClient::filters({{"label", json::array({std::string(swarm::kFunctionLabel) + "=true"})}}));
    std::vector<json> out;
    if (services.is_array())
        for (auto& service : services)
            if (swarm::function_name_of(service)) out.push_back(std::move(service));
    return out;
}

std::optional<json> SwarmProvider::find_service(const std::string& name) const {
    for (auto& service : function_services())
        if (swarm::function_name_of(service) == name) return std::move(service);
    return std::nullopt;
}

std::vector<json> SwarmProvider::running_tasks(const std::string& service_id) const {
    json filters = {{"desired-state", json::array({"running"})}};
    if (!service_id.empty()) filters["service"] = json::array({service_id});
    auto tasks = docker_.get_json("/tasks?" + DockerClient::filters(filters));
    std::vector<json> out;
    if (tasks.is_array())
        for (auto& task : tasks) out.push_back(std::move(task));
    return out;
}

FunctionRecord SwarmProvider::record_of(const json& service, const std::string& name,
                                        const std::vector<json>& tasks) const {
    FunctionRecord record;
    record.deployment = swarm::deployment_of(service, name, options_.function_namespace);
    record.replicas = swarm::desired_replicas(service);
    std::string id = service.value("ID", "");
    for (const auto& task : tasks)
        if (task.value("ServiceID", "") == id && swarm::task_ready(task)) ++record.available_replicas;
    record.created_at = service.value("CreatedAt", "");
    return record;
}

std::vector<FunctionRecord> SwarmProvider::list() {
    auto services = function_services();
    auto tasks = running_tasks("");
    std::vector<FunctionRecord> out;
    for (const auto& service : services)
        out.push_back(record_of(service, *swarm::function_name_of(service), tasks));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.deployment.service < b.deployment.service;
    });
    return out;
}

std::optional<FunctionRecord> SwarmProvider::get(const std::string& name) {
    auto service = find_service(name);
    if (!service) return std::nullopt;
    return record_of(*service, name, running_tasks(service->value("ID", "")));
}

std::string SwarmProvider::network_id() {
    std::lock_guard lock(network_mutex_);
    if (!network_id_.empty()) return network_id_;
    if (!options_.network.empty()) {
        auto response = docker_.request("GET", "/networks/" + DockerClient::url_encode(options_.network));
        if (!response.ok())
            throw ProviderUnavailable("functions network '" + options_.network +
                                      "': " + response.message());
        auto network = json::parse(response.body, nullptr, false);
        network_id_ = network.is_object() ? network.value("Id", "") : "";
    } else {
        auto networks =
            docker_.get_json("/networks?" + DockerClient::filters({{"label", json::array({"openfaas=true"})}}));
        std::vector<std::pair<std::string, std::string>> candidates;  // name, id
        if (networks.is_array())
            for (const auto& network : networks)
                if (network.value("Driver", "") == "overlay")
                    candidates.emplace_back(network.value("Name", ""), network.value("Id", ""));
        std::sort(candidates.begin(), candidates.end());
        if (!candidates.empty()) network_id_ = candidates.front().second;
    }
    if (network_id_.empty())
        throw ProviderUnavailable(
            "no functions network: set functions_network or label an overlay network openfaas=true");
    return network_id_;
}

std::map<std::string, std::string> SwarmProvider::secret_ids(
    const std::vector<std::string>& names) const {
    std::map<std::string, std::string> ids;
    if (names.empty()) return ids;
    // Only secrets made for functions: the gateway's own (basic auth) are not theirs to mount.
    auto secrets = docker_.get_json(
        "/secrets?" + DockerClient::filters({{"label", json::array({std::string(swarm::kSecretLabel) + "=true"})}}));
    for (const auto& secret : secrets) {
        const auto spec = secret.find("Spec");
        if (spec == secret.end() || !spec->is_object()) continue;
        ids[spec->value("Name", "")] = secret.value("ID", "");
    }
    std::map<std::string, std::string> out;
    for (const auto& name : names) {
        auto it = ids.find(name);
        if (it == ids.end()) throw NotFound("secret " + name + " not found");
        out[name] = it->second;
    }
    return out;
}

json SwarmProvider::build_spec(const FunctionDeployment& deployment, int replicas) {
    swarm::SpecContext context;
    context.replicas = replicas;
    context.secret_ids = secret_ids(deployment.secrets);
    context.network_id = network_id();
    return swarm::service_spec(deployment, context);
}

void SwarmProvider::deploy(const FunctionDeployment& deployment) {
    int replicas = swarm::initial_replicas(deployment, options_.max_replicas);
    auto headers = registry_auth_headers(deployment);
    validate(deployment);
    if (find_service(deployment.service))
        throw AlreadyExists("function " + deployment.service + " already exists");
    check_name_free(deployment.service);
    auto body = build_spec(deployment, replicas).dump();
    auto response = docker_.request("POST", "/services/create", &body, headers);
    if (!response.ok()) fail("creating service " + deployment.service, response);
    auto created = json::parse(response.body, nullptr, false);
    {
        std::unique_lock lock(cache_mutex_);
        cache_[deployment.service] =
            Cached{created.is_object() ? created.value("ID", "") : "", {}};
    }
    request_refresh();
}

void SwarmProvider::check_name_free(const std::string& name) const {
    // A function named like another service on the network (a stack's "gateway", reachable
    // as "gateway" through its alias) would share its DNS name and take some of its traffic.
    auto services = docker_.get_json("/services");
    if (!services.is_array()) return;
    for (const auto& service : services) {
        auto spec = service.value("Spec", json::object());
        std::string service_name = spec.value("Name", "");
        std::string stack;
        if (auto labels = spec.find("Labels"); labels != spec.end() && labels->is_object())
            stack = labels->value("com.docker.stack.namespace", "");
        bool alias = !stack.empty() && service_name == stack + "_" + name;
        if (service_name == name || alias)
            throw AlreadyExists("the name " + name + " is taken by service " + service_name);
    }
}

void SwarmProvider::update_service(const json& service, json spec,
                                   const std::vector<std::string>& headers) {
    std::string id = service.value("ID", "");
    json current = service;
    // Swarm versions every service; a concurrent change between read and write is retried.
    for (int attempt = 0; attempt < 3; ++attempt) {
        long long version = 0;
        if (auto v = current.find("Version"); v != current.end() && v->is_object())
            version = v->value("Index", 0LL);
        auto body = spec.dump();
        auto response = docker_.request(
            "POST", "/services/" + id + "/update?version=" + std::to_string(version), &body, headers);
        if (response.ok()) return;
        if (response.message().find("out of sequence") == std::string::npos || attempt == 2)
            fail("updating service " + service.value("ID", ""), response);
        auto refreshed = docker_.request("GET", "/services/" + id);
        if (!refreshed.ok()) fail("reading service " + id, refreshed);
        current = json::parse(refreshed.body, nullptr, false);
    }
}

void SwarmProvider::update(const FunctionDeployment& deployment) {
    auto headers = registry_auth_headers(deployment);
    validate(deployment);
    auto service = find_service(deployment.service);
    if (!service) throw NotFound("function " + deployment.service + " not found");
    // An update keeps the current scale; only a new deployment starts at scale.min.
    auto spec = build_spec(deployment, swarm::desired_replicas(*service));
    if (auto old_spec = service->find("Spec"); old_spec != service->end()) {
        // The service keeps its name (a stack's "func_catservice") and its stack's labels, so
        // `docker stack rm` still finds it.
        spec["Name"] = old_spec->value("Name", deployment.service);
        if (auto labels = old_spec->find("Labels"); labels != old_spec->end() && labels->is_object())
            for (const auto& [key, value] : labels->items())
                if (key.rfind("com.docker.", 0) == 0) spec["Labels"][key] = value;
    }
    // Every PUT rolls the replicas, also when only a local image behind the same tag changed
    // (nothing in the spec would, and Swarm would do nothing).
    std::int64_t force = 0;
    if (auto old_spec = service->find("Spec"); old_spec != service->end() && old_spec->is_object())
        if (auto task = old_spec->find("TaskTemplate"); task != old_spec->end() && task->is_object())
            force = task->value("ForceUpdate", std::int64_t{0});
    spec["TaskTemplate"]["ForceUpdate"] = force + 1;
    update_service(*service, std::move(spec), headers);
    request_refresh();
}

void SwarmProvider::scale(const std::string& name, int replicas) {
    if (replicas < 0 || replicas > options_.max_replicas)
        throw Unsupported("replicas must be from 0 to " + std::to_string(options_.max_replicas));
    auto service = find_service(name);
    if (!service) throw NotFound("function " + name + " not found");
    json spec = service->value("Spec", json::object());
    auto mode = spec.find("Mode");
    if (mode == spec.end() || !mode->contains("Replicated"))
        throw Unsupported("function " + name + " is a global service and cannot be scaled");
    spec["Mode"]["Replicated"]["Replicas"] = replicas;
    update_service(*service, std::move(spec));
    request_refresh();
}

void SwarmProvider::remove(const std::string& name) {
    auto service = find_service(name);
    if (!service) throw NotFound("function " + name + " not found");
    auto response = docker_.request("DELETE", "/services/" + service->value("ID", ""));
    if (!response.ok()) fail("removing service " + name, response);
    {
        std::unique_lock lock(cache_mutex_);
        cache_.erase(name);
    }
    request_refresh();
}

Resolution SwarmProvider::resolve(const std::string& name) {
    {
        std::shared_lock lock(cache_mutex_);
        auto it = cache_.find(name);
        if (it != cache_.end() && !it->second.ready.empty()) return Resolution{true, it->second.ready};
        if (it != cache_.end()) {
            lock.unlock();
            request_refresh();  // deployed or scaled up moments ago: look again soon
            return Resolution{true, {}};
        }
    }
    request_refresh();
    return Resolution{};
}

std::unique_ptr<LogStream> SwarmProvider::logs(const LogQuery& query) {
    auto service = find_service(query.name);
    if (!service) throw NotFound("function " + query.name + " not found");
    std::string path = "/services/" + service->value("ID", "") +
                       "/logs?stdout=1&stderr=1&timestamps=1&details=1";
    path += "&tail=" + (query.tail >= 0 ? std::to_string(query.tail) : std::string("all"));
    if (query.since) path += "&since=" + since_param(*query.since);
    if (query.follow) {
        path += "&follow=1";
        return std::make_unique<FollowLogStream>(docker_, path, query);
    }
    auto response = docker_.request("GET", path, nullptr, {}, std::chrono::seconds(15));
    if (!response.ok()) fail("logs of " + query.name, response);
    swarm::LogDemuxer demuxer;
    auto lines = demuxer.feed(response.body);
    if (auto last = demuxer.finish()) lines.push_back(*last);
    std::vector<LogEntry> entries;
    for (const auto& line : lines) {
        auto entry = swarm::parse_log_line(line, query.name);
        if (wanted(entry, query)) entries.push_back(std::move(entry));
    }
    // Tasks' lines arrive interleaved by task; a reader expects time order.
    std::stable_sort(entries.begin(), entries.end(),
                     [](const auto& a, const auto& b) { return a.timestamp < b.timestamp; });
    return std::make_unique<FixedLogStream>(std::move(entries));
}

std::vector<std::string> SwarmProvider::list_secrets() {
    auto secrets = docker_.get_json(
        "/secrets?" + DockerClient::filters({{"label", json::array({std::string(swarm::kSecretLabel) + "=true"})}}));
    std::vector<std::string> names;
    for (const auto& secret : secrets)
        if (auto spec = secret.find("Spec"); spec != secret.end() && spec->is_object())
            names.push_back(spec->value("Name", ""));
    std::sort(names.begin(), names.end());
    return names;
}

void SwarmProvider::create_secret(const std::string& name, const std::string& value) {
    json secret = {{"Name", name},
                   {"Data", base64_encode(value, false)},
                   {"Labels", {{swarm::kSecretLabel, "true"}}}};
    auto body = secret.dump();
    auto response = docker_.request("POST", "/secrets/create", &body);
    if (response.status == 409) throw AlreadyExists("secret " + name + " already exists");
    if (!response.ok()) fail("creating secret " + name, response);
}

void SwarmProvider::update_secret(const std::string& name, const std::string& value) {
    // Swarm secrets are immutable: a secret no service mounts is replaced (removed and
    // created again); one in use cannot change under its running tasks.
    try {
        remove_secret(name);
    } catch (const Unsupported&) {
        throw Unsupported("Swarm secrets are immutable and " + name +
                          " is mounted by a function: remove the functions using it, then "
                          "update it");
    }
    create_secret(name, value);
}

void SwarmProvider::remove_secret(const std::string& name) {
    auto names = list_secrets();
    if (std::find(names.begin(), names.end(), name) == names.end())
        throw NotFound("secret " + name + " not found");
    auto response = docker_.request("DELETE", "/secrets/" + DockerClient::url_encode(name));
    if (response.status == 400 || response.status == 409 || response.status == 500) {
        if (response.message().find("in use") != std::string::npos)
            throw Unsupported("secret " + name + " is in use: " + response.message());
    }
    if (!response.ok()) fail("removing secret " + name, response);
}

void SwarmProvider::refresh_now() {
    auto services = function_services();
    auto tasks = running_tasks("");
    std::string network;
    {
        std::lock_guard lock(network_mutex_);
        network = network_id_;
    }
    std::map<std::string, Cached> fresh;
    std::map<std::string, std::string> function_of_service;
    for (const auto& service : services) {
        auto name = *swarm::function_name_of(service);
        auto id = service.value("ID", "");
        fresh[name].service_id = id;
        function_of_service[id] = name;
    }
    for (const auto& task : tasks) {
        if (!swarm::task_ready(task)) continue;
        auto owner = function_of_service.find(task.value("ServiceID", ""));
        if (owner == function_of_service.end()) continue;
        if (auto address = swarm::task_address(task, network))
            fresh[owner->second].ready.push_back(Endpoint{*address, swarm::kWatchdogPort});
    }
    for (auto& [name, cached] : fresh)
        std::sort(cached.ready.begin(), cached.ready.end(),
                  [](const Endpoint& a, const Endpoint& b) { return a.host < b.host; });
    std::unique_lock lock(cache_mutex_);
    cache_ = std::move(fresh);
}

void SwarmProvider::request_refresh() {
    {
        std::lock_guard lock(wake_mutex_);
        refresh_requested_ = true;
    }
    wake_.notify_one();
}

void SwarmProvider::refresher() {
    bool docker_was_down = false;
    auto last = std::chrono::steady_clock::now() - options_.refresh_interval;
    auto interval = options_.refresh_interval;
    for (;;) {
        {
            std::unique_lock lock(wake_mutex_);
            auto next_due = last + interval;
            wake_.wait_until(lock, next_due, [&] { return stopping_ || refresh_requested_; });
            // A request before the gap has passed is served when the gap ends.
            if (!stopping_ && refresh_requested_ &&
                std::chrono::steady_clock::now() < last + options_.min_refresh_gap)
                wake_.wait_until(lock, last + options_.min_refresh_gap, [&] { return stopping_; });
            if (stopping_) return;
            refresh_requested_ = false;
        }
        last = std::chrono::steady_clock::now();
        try {
            // Resolved here so task addresses come from the functions network from the start.
            try {
                network_id();
            } catch (const DockerUnavailable&) {
                throw;
            } catch (const ProviderUnavailable&) {
                // No network yet: addresses fall back to each task's first network.
            }
            refresh_now();
            if (docker_was_down) log_line("Docker engine is back: function endpoints refreshed");
            docker_was_down = false;
            interval = options_.refresh_interval;
        } catch (const std::exception& e) {
            if (!docker_was_down) {
                std::shared_lock lock(cache_mutex_);
                log_line(std::string("Cannot refresh function endpoints, serving the ") +
                         std::to_string(cache_.size()) + " known functions as they were: " +
                         e.what());
            }
            docker_was_down = true;
            // Back off while the engine is away, up to 5 s between attempts.
            interval = std::min<std::chrono::milliseconds>(interval * 2, 5s);
        }
    }
}

}  // namespace faas::gateway
