// Stand-ins for the build tests: a provider that keeps deployments in memory, a builder whose
// every step the test scripts, and a BuildProgress that records what a builder reports.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "build/builder.h"
#include "errors.h"
#include "provider/function_provider.h"

namespace faas::test {

using namespace faas::gateway;

/// Records a build's log lines and stages; stop() makes stop_requested() true from any thread.
class RecordingProgress final : public BuildProgress {
  public:
    void line(std::string_view text) override {
        std::lock_guard lock(mutex_);
        lines_.emplace_back(text);
    }
    void enter(BuildStage stage) override {
        std::lock_guard lock(mutex_);
        stages_.push_back(stage);
    }
    bool stop_requested() const override { return stop_.load(); }

    void stop() { stop_ = true; }
    std::vector<std::string> lines() const {
        std::lock_guard lock(mutex_);
        return lines_;
    }
    std::vector<BuildStage> stages() const {
        std::lock_guard lock(mutex_);
        return stages_;
    }
    bool has_line(const std::string& text) const {
        const auto all = lines();
        return std::find(all.begin(), all.end(), text) != all.end();
    }

  private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
    std::vector<BuildStage> stages_;
    std::atomic<bool> stop_{false};
};

class MemoryProvider final : public FunctionProvider {
  public:
    ProviderInfo info() const override { return {"fake", "fake"}; }
    std::vector<FunctionRecord> list() override {
        std::lock_guard lock(mutex_);
        std::vector<FunctionRecord> out;
        for (const auto& [name, record] : functions_) out.push_back(record);
        return out;
    }
    std::optional<FunctionRecord> get(const std::string& name) override {
        std::lock_guard lock(mutex_);
        auto it = functions_.find(name);
        if (it == functions_.end()) return std::nullopt;
        return it->second;
    }
    void deploy(const FunctionDeployment& deployment) override {
        std::lock_guard lock(mutex_);
        if (functions_.count(deployment.service)) throw AlreadyExists("exists");
        FunctionRecord record;
        record.deployment = deployment;
        record.replicas = 1;
        record.available_replicas = available;
        functions_[deployment.service] = record;
        ++deploys;
    }
    void update(const FunctionDeployment& deployment) override {
        std::lock_guard lock(mutex_);
        auto it = functions_.find(deployment.service);
        if (it == functions_.end()) throw NotFound("function " + deployment.service + " not found");
        it->second.deployment = deployment;
        it->second.available_replicas = available;
        ++updates;
    }
    void scale(const std::string&, int) override {}
    void remove(const std::string& name) override {
        std::lock_guard lock(mutex_);
        functions_.erase(name);
    }
    Resolution resolve(const std::string&) override { return {}; }
    std::unique_ptr<LogStream> logs(const LogQuery&) override { return nullptr; }
    std::vector<std::string> list_secrets() override { return {}; }
    void create_secret(const std::string&, const std::string&) override {}
    void update_secret(const std::string&, const std::string&) override {}
    void remove_secret(const std::string&) override {}
    void shutdown() override {}

    std::string image_of(const std::string& name) {
        auto record = get(name);
        return record ? record->deployment.image : std::string();
    }

    std::atomic<int> available{1};  ///< What a deployed function reports as available.
    std::atomic<int> deploys{0};
    std::atomic<int> updates{0};

  private:
    std::mutex mutex_;
    std::map<std::string, FunctionRecord> functions_;
};

/// Builds "<function>:<version>" after running `script` (if set) on the build's thread.
class ScriptedBuilder final : public Builder {
  public:
    using Script = std::function<void(const BuildJob&, BuildProgress&)>;

    void check(const std::string& lang) const override {
        if (lang == "unknown") throw BadRequest("unknown lang 'unknown'");
    }
    std::string build(const BuildJob& job, BuildProgress& progress) override {
        {
            std::lock_guard lock(mutex_);
            built.push_back(job.function + ":" + job.version);
        }
        progress.line("step 1 of " + job.function);
        if (script) script(job, progress);
        return job.function + ":" + job.version;
    }
    void forget(const std::string& image) noexcept override {
        std::lock_guard lock(mutex_);
        forgotten.push_back(image);
    }
    std::vector<std::string> forgotten_images() {
        std::lock_guard lock(mutex_);
        return forgotten;
    }

    Script script;
    std::vector<std::string> built;

  private:
    std::mutex mutex_;
    std::vector<std::string> forgotten;
};

/// A script that waits until the build is told to stop, then stops (bounded: 10 s).
inline void wait_for_stop(const BuildJob&, BuildProgress& progress) {
    for (int i = 0; i < 1000 && !progress.stop_requested(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    throw BuildStopped("stopped");
}

}  // namespace faas::test
