// The build queue, its workers and the life of one build.
#include "build/build_manager.h"

#include <algorithm>
#include <fstream>
#include <random>

#include "log.h"
#include "provider/deployment_rules.h"
#include "settings.h"
#include "time_format.h"

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string new_build_id() {
    static thread_local std::mt19937_64 random{std::random_device{}()};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id(16, '0');
    auto bits = random();
    for (auto& c : id) {
        c = kHex[bits & 0xf];
        bits >>= 4;
    }
    return id;
}

std::string now_nano() {
    return rfc3339_nano(std::chrono::system_clock::now());
}

double seconds_since(const std::string& started_at) {
    auto started = parse_rfc3339(started_at);
    if (!started) return 0;
    return std::chrono::duration<double>(std::chrono::system_clock::now() - *started).count();
}

std::string log_json(BuildStage stage, std::string_view text) {
    return json{{"timestamp", now_nano()}, {"stage", stage_name(stage)}, {"text", text}}.dump(
               -1, ' ', false, json::error_handler_t::replace) +
           "\n";
}

// A finished build's log, read back from its file in one go (it is bounded when written).
class FileLogCursor final : public BuildLogCursor {
  public:
    explicit FileLogCursor(const fs::path& path) {
        std::ifstream in(path);
        std::string line;
        while (std::getline(in, line)) lines_.push_back(line + "\n");
    }
    std::optional<BuildLogLines> next(std::chrono::milliseconds) override {
        if (done_) return std::nullopt;
        done_ = true;
        return std::move(lines_);
    }

  private:
    BuildLogLines lines_;
    bool done_ = false;
};

}  // namespace

struct BuildManager::LiveLog {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::string> lines;
    std::size_t bytes = 0;
    bool truncated = false;
    bool finished = false;
    std::ofstream file;

    void append(std::string line, std::size_t max_bytes) {
        {
            std::lock_guard lock(mutex);
            if (finished || truncated) return;
            if (bytes + line.size() > max_bytes) {
                truncated = true;
                line = log_json(BuildStage::kBuilding,
                                "(the rest of the output is left out: the log is over " +
                                    std::to_string(max_bytes >> 20) + " MiB)");
            }
            bytes += line.size();
            file << line << std::flush;
            lines.push_back(std::move(line));
        }
        changed.notify_all();
    }
    void finish() {
        {
            std::lock_guard lock(mutex);
            finished = true;
            file.close();
        }
        changed.notify_all();
    }
};

namespace {

class LiveLogCursor final : public BuildLogCursor {
  public:
    explicit LiveLogCursor(std::shared_ptr<BuildManager::LiveLog> log) : log_(std::move(log)) {}
    std::optional<BuildLogLines> next(std::chrono::milliseconds wait) override {
        std::unique_lock lock(log_->mutex);
        log_->changed.wait_for(lock, wait,
                               [this] { return log_->finished || next_ < log_->lines.size(); });
        if (next_ == log_->lines.size() && log_->finished) return std::nullopt;
        BuildLogLines out(log_->lines.begin() + static_cast<std::ptrdiff_t>(next_),
                          log_->lines.end());
        next_ = log_->lines.size();
        return out;
    }

  private:
    std::shared_ptr<BuildManager::LiveLog> log_;
    std::size_t next_ = 0;
};

}  // namespace

struct BuildManager::Running {
    std::atomic<bool> cancelled{false};
    Clock::time_point deadline;
};

class BuildManager::Progress final : public BuildProgress {
  public:
    Progress(BuildManager& manager, std::string id, std::shared_ptr<LiveLog> log,
             std::shared_ptr<Running> running)
        : manager_(manager),
          id_(std::move(id)),
          log_(std::move(log)),
          running_(std::move(running)) {}

    void line(std::string_view text) override {
        log_->append(log_json(stage_, text), manager_.options_.max_log_bytes);
    }
    void enter(BuildStage stage) override {
        stage_ = stage;
        std::lock_guard lock(manager_.mutex_);
        manager_.enter_locked(manager_.records_.at(id_), stage);
    }
    bool stop_requested() const override {
        return running_->cancelled.load() || Clock::now() > running_->deadline ||
               manager_.stopping();
    }
    bool cancelled() const { return running_->cancelled.load(); }

  private:
    BuildManager& manager_;
    const std::string id_;
    std::shared_ptr<LiveLog> log_;
    std::shared_ptr<Running> running_;
    std::atomic<BuildStage> stage_{BuildStage::kBuilding};
};

BuildManager::BuildManager(BuildManagerOptions options, BuildStore& store, Builder& builder,
                           FunctionProvider& provider)
    : options_(std::move(options)), store_(store), builder_(builder), provider_(provider) {
    for (auto& record : store_.load_all()) {
        if (record.status == BuildStage::kQueued && fs::exists(store_.context_dir(record.id))) {
            queue_.push_back(record.id);
            log_line("Build " + record.id + " of " + record.function + " is queued again");
        } else if (!is_finished(record.status)) {
            record.status = BuildStage::kFailed;
            record.error =
                "the gateway stopped during the build (it was " +
                std::string(stage_name(record.stages.empty() ? BuildStage::kQueued
                                                             : record.stages.back().stage)) +
                ")";
            record.finished_at = rfc3339_now();
            if (!record.stages.empty() && record.stages.back().seconds < 0)
                record.stages.back().seconds = 0;
            record.stages.push_back({BuildStage::kFailed, now_nano(), 0});
            store_.save(record);
            store_.remove_context(record.id);
            log_line("Build " + record.id + " of " + record.function + ": " + record.error);
        }
        records_[record.id] = std::move(record);
    }
    {
        std::lock_guard lock(mutex_);
        trim_records_locked();
    }
    for (int i = 0; i < std::max(1, options_.max_builds); ++i)
        workers_.emplace_back([this] { work(); });
}

BuildManager::~BuildManager() {
    stop();
}

bool BuildManager::stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
}

void BuildManager::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && workers_.empty()) return;
        stopping_ = true;
    }
    work_ready_.notify_all();
    for (auto& worker : workers_)
        if (worker.joinable()) worker.join();
    workers_.clear();
}

BuildRecord BuildManager::submit(BuildRequest request) {
    const auto& name = request.deployment.service;
    check_deployment(request.deployment, provider_, options_.max_replicas);
    BuildRecord record;
    record.id = new_build_id();
    record.function = name;
    record.source = request.archive.empty() ? "json" : "archive";
    record.created_at = now_nano();
    record.deployment = request.deployment.raw;
    record.build_args = request.build_args;
    const auto context = store_.context_dir(record.id);
    try {
        if (!request.lang.empty()) builder_.check(request.lang);
        make_build_context(request, options_.templates_dir, context, options_.limits);
        builder_.check(request.lang);  // an archive names its template only in its context
    } catch (...) {
        store_.remove_context(record.id);
        throw;
    }
    record.lang = request.lang;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) {
            store_.remove_context(record.id);
            throw ProviderUnavailable("the gateway is shutting down");
        }
        auto history = store_.versions(name);
        record.version = "v" + std::to_string(history.next++);
        store_.save_versions(name, history);
        record.stages.push_back({BuildStage::kQueued, record.created_at, -1});
        store_.save(record);
        records_[record.id] = record;
        queue_.push_back(record.id);
        trim_records_locked();
    }
    work_ready_.notify_all();
    log_line("Build " + record.id + " of " + name + " " + record.version + " (" + record.lang +
             ") queued");
    return record;
}

std::optional<BuildRecord> BuildManager::get(const std::string& id) const {
    std::lock_guard lock(mutex_);
    auto it = records_.find(id);
    if (it == records_.end()) return std::nullopt;
    return it->second;
}

std::vector<BuildRecord> BuildManager::list(const std::string& function, std::size_t limit) const {
    std::vector<BuildRecord> out;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, record] : records_)
            if (function.empty() || record.function == function) out.push_back(record);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.created_at, a.id) > std::tie(b.created_at, b.id);
    });
    if (out.size() > limit) out.resize(limit);
    return out;
}

BuildRecord BuildManager::cancel(const std::string& id) {
    std::unique_lock lock(mutex_);
    auto it = records_.find(id);
    if (it == records_.end()) throw NotFound("build " + id + " not found");
    auto& record = it->second;
    if (is_finished(record.status))
        throw AlreadyExists("build " + id + " is already " + stage_name(record.status));
    if (record.status == BuildStage::kDeploying)
        throw AlreadyExists("build " + id + " is deploying: it can no longer be cancelled");
    if (record.status == BuildStage::kQueued) {
        queue_.erase(std::remove(queue_.begin(), queue_.end(), id), queue_.end());
        record.error = "cancelled while queued";
        record.finished_at = rfc3339_now();
        enter_locked(record, BuildStage::kCancelled);
        store_.remove_context(id);
        if (auto live = live_logs_.find(id); live != live_logs_.end()) {
            live->second->finish();  // a follower waiting for it to start
            live_logs_.erase(live);
        }
        log_line("Build " + id + " cancelled while queued");
        return record;
    }
    if (auto running = running_.find(id); running != running_.end())
        running->second->cancelled = true;
    log_line("Build " + id + " is being cancelled");
    return record;
}

std::unique_ptr<BuildLogCursor> BuildManager::logs(const std::string& id) {
    std::lock_guard lock(mutex_);
    auto record = records_.find(id);
    if (record == records_.end()) throw NotFound("build " + id + " not found");
    if (auto live = live_logs_.find(id); live != live_logs_.end())
        return std::make_unique<LiveLogCursor>(live->second);
    if (!is_finished(record->second.status)) {
        // Queued: its log starts when it runs; a cursor on a log made now sees it from there.
        auto log = std::make_shared<LiveLog>();
        live_logs_[id] = log;
        return std::make_unique<LiveLogCursor>(log);
    }
    return std::make_unique<FileLogCursor>(store_.log_path(id));
}

void BuildManager::work() {
    while (true) {
        std::string id;
        {
            std::unique_lock lock(mutex_);
            auto runnable = queue_.end();
            work_ready_.wait(lock, [&] {
                if (stopping_) return true;
                runnable = std::find_if(queue_.begin(), queue_.end(), [this](const auto& queued) {
                    return !busy_functions_.count(records_.at(queued).function);
                });
                return runnable != queue_.end();
            });
            if (stopping_) return;
            id = *runnable;
            queue_.erase(runnable);
            busy_functions_.insert(records_.at(id).function);
        }
        run(id);
        {
            std::lock_guard lock(mutex_);
            busy_functions_.erase(records_.at(id).function);
        }
        work_ready_.notify_all();
    }
}

void BuildManager::enter_locked(BuildRecord& record, BuildStage stage) {
    if (!record.stages.empty() && record.stages.back().seconds < 0)
        record.stages.back().seconds = seconds_since(record.stages.back().started_at);
    record.stages.push_back({stage, now_nano(), is_finished(stage) ? 0.0 : -1.0});
    record.status = stage;
    try {
        store_.save(record);
    } catch (const std::exception& e) {
        log_line(std::string("Build ") + record.id + ": " + e.what());
    }
}

void BuildManager::finish(const std::string& id, BuildStage stage, const std::string& error) {
    std::shared_ptr<LiveLog> log;
    {
        std::lock_guard lock(mutex_);
        auto& record = records_.at(id);
        record.error = error;
        record.finished_at = rfc3339_now();
        enter_locked(record, stage);
        running_.erase(id);
        if (auto it = live_logs_.find(id); it != live_logs_.end()) {
            log = it->second;
            live_logs_.erase(it);
        }
        log_line("Build " + id + " of " + record.function + " " + record.version + ": " +
                 stage_name(stage) + (error.empty() ? "" : " (" + error + ")"));
    }
    if (log) {
        if (!error.empty()) log->append(log_json(stage, error), options_.max_log_bytes * 2);
        log->finish();
    }
}

void BuildManager::run(const std::string& id) {
    BuildRecord record;
    auto running = std::make_shared<Running>();
    running->deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(options_.build_timeout);
    std::shared_ptr<LiveLog> log;
    {
        std::lock_guard lock(mutex_);
        auto& stored = records_.at(id);
        auto& slot = live_logs_[id];
        if (!slot) slot = std::make_shared<LiveLog>();
        log = slot;
        log->file.open(store_.log_path(id), std::ios::trunc);
        running_[id] = running;
        enter_locked(stored, BuildStage::kBuilding);
        record = stored;
    }
    Progress progress(*this, id, log, running);
    progress.line("Building " + record.function + " " + record.version + " from the " +
                  record.lang + " template");
    std::string image;
    BuildStage outcome = BuildStage::kReady;
    std::string error;
    try {
        BuildJob job{id,          record.function,  record.version, store_.context_dir(id),
                     record.lang, record.build_args};
        image = builder_.build(job, progress);
        {
            std::lock_guard lock(mutex_);
            if (running->cancelled) throw BuildStopped("cancelled");
            records_.at(id).image = image;
            record = records_.at(id);
        }
        progress.enter(BuildStage::kDeploying);
        progress.line("Deploying " + image);
        deploy(record);
        wait_until_ready(record, progress);
        remember_version(record);
        progress.line(record.function + " runs " + record.version);
    } catch (const BuildStopped&) {
        outcome = BuildStage::kFailed;
        if (progress.cancelled()) {
            outcome = BuildStage::kCancelled;
            error = "cancelled";
        } else if (stopping()) {
            error = "the gateway stopped during the build";
        } else {
            error = "the build took longer than build_timeout (" +
                    format_duration(options_.build_timeout) + ")";
        }
        if (!image.empty()) builder_.forget(image);
    } catch (const std::exception& e) {
        outcome = BuildStage::kFailed;
        error = e.what();
        if (!image.empty()) builder_.forget(image);
    }
    // Cleaned up before the record says the build is over: whoever waits for that finds
    // nothing of it left behind.
    store_.remove_context(id);
    finish(id, outcome, error);
}

void BuildManager::deploy(const BuildRecord& record) {
    json raw = record.deployment;
    raw["image"] = record.image;
    auto deployment = deployment_from_json(raw, options_.served_namespace);
    std::lock_guard lock(deploy_mutex_);
    check_deployment(deployment, provider_, options_.max_replicas);
    if (provider_.get(record.function))
        provider_.update(deployment);
    else
        provider_.deploy(deployment);
}

void BuildManager::wait_until_ready(const BuildRecord& record, Progress& progress) {
    const auto deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(options_.ready_timeout);
    int last_available = -1;
    while (Clock::now() < deadline && !stopping()) {
        auto status = provider_.get(record.function);
        if (!status) throw BuildFailed("the function was removed while it was deployed");
        if (status->deployment.image != record.image)
            throw BuildFailed("the function was deployed again by someone else meanwhile");
        if (status->available_replicas != last_available) {
            last_available = status->available_replicas;
            progress.line(std::to_string(status->available_replicas) + " of " +
                          std::to_string(status->replicas) + " replicas available" +
                          (status->rolling ? " (rolling update)" : ""));
        }
        if (!status->rolling && (status->replicas == 0 || status->available_replicas > 0)) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // The provider keeps the previous version serving while the new one is not ready: go
    // back to it so the function does not stay half-updated.
    const auto history = store_.versions(record.function);
    std::string message = "version " + record.version + " did not become ready within " +
                          format_duration(options_.ready_timeout) + " (see faas logs " +
                          record.function + ")";
    if (!history.versions.empty()) {
        const auto& previous = history.versions.back();
        json raw = previous.deployment;
        raw["image"] = previous.image;
        std::lock_guard lock(deploy_mutex_);
        provider_.update(deployment_from_json(raw, options_.served_namespace));
        message += "; back to " + previous.version;
    }
    throw BuildFailed(message);
}

void BuildManager::remember_version(const BuildRecord& record) {
    std::vector<std::string> dropped;
    {
        std::lock_guard lock(deploy_mutex_);
        auto history = store_.versions(record.function);
        json deployment = record.deployment;
        deployment["image"] = record.image;
        history.versions.push_back(
            {record.version, record.image, record.id, rfc3339_now(), std::move(deployment)});
        while (history.versions.size() >
               static_cast<std::size_t>(std::max(1, options_.kept_versions))) {
            dropped.push_back(history.versions.front().image);
            history.versions.erase(history.versions.begin());
        }
        store_.save_versions(record.function, history);
    }
    for (const auto& image : dropped) builder_.forget(image);
}

FunctionVersion BuildManager::rollback(const std::string& function) {
    std::lock_guard lock(deploy_mutex_);
    auto history = store_.versions(function);
    if (history.versions.empty()) throw NotFound("no builds of function " + function);
    if (!provider_.get(function)) throw NotFound("function " + function + " not found");
    if (history.versions.size() < 2)
        throw BadRequest("function " + function + " has no version before " +
                         history.versions.back().version + " to roll back to");
    const FunctionVersion current = history.versions.back();
    const FunctionVersion previous = history.versions[history.versions.size() - 2];
    json raw = previous.deployment;
    raw["image"] = previous.image;
    provider_.update(deployment_from_json(raw, options_.served_namespace));
    history.versions.pop_back();
    store_.save_versions(function, history);
    log_line("Rolling " + function + " back from " + current.version + " to " + previous.version);
    // The current version serves until the previous one is ready again: only then can what
    // it runs from go.
    const auto deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(options_.ready_timeout);
    while (Clock::now() < deadline) {
        auto status = provider_.get(function);
        if (!status || status->deployment.image != previous.image) return previous;
        if (!status->rolling && (status->replicas == 0 || status->available_replicas > 0)) {
            builder_.forget(current.image);
            return previous;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    log_line("Rollback of " + function + " to " + previous.version + " is still rolling out; " +
             current.image + " is kept");
    return previous;
}

void BuildManager::trim_records_locked() {
    std::vector<const BuildRecord*> finished;
    for (const auto& [id, record] : records_)
        if (is_finished(record.status)) finished.push_back(&record);
    if (finished.size() <= options_.kept_builds) return;
    std::sort(finished.begin(), finished.end(), [](const auto* a, const auto* b) {
        return std::tie(a->created_at, a->id) < std::tie(b->created_at, b->id);
    });
    std::vector<std::string> doomed;
    for (std::size_t i = 0; i < finished.size() - options_.kept_builds; ++i)
        doomed.push_back(finished[i]->id);
    for (const auto& id : doomed) {
        store_.remove(id);
        records_.erase(id);
    }
}

}  // namespace faas::gateway
