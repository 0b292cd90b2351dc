// A provider in memory for the autoscaler's unit tests: functions with labels and replica
// counts, what resolve() answers, and every scale request recorded. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "provider/function_provider.h"

namespace faas::gateway::test {

class FakeProvider final : public FunctionProvider {
  public:
    void add(const std::string& name, int replicas,
             std::map<std::string, std::string> labels = {}) {
        std::lock_guard lock(mutex_);
        FunctionRecord record;
        record.deployment.service = name;
        record.deployment.labels = std::move(labels);
        record.replicas = replicas;
        functions_[name] = record;
    }
    /// What resolve(name) answers from now on.
    void set_resolution(const std::string& name, std::vector<Endpoint> ready,
                        std::vector<Endpoint> starting = {}) {
        std::lock_guard lock(mutex_);
        resolutions_[name] = Resolution{true, std::move(ready), std::move(starting)};
    }
    /// Every scale request so far, in order.
    std::vector<std::pair<std::string, int>> scales() const {
        std::lock_guard lock(mutex_);
        return scales_;
    }
    int replicas(const std::string& name) const {
        std::lock_guard lock(mutex_);
        auto it = functions_.find(name);
        return it == functions_.end() ? -1 : it->second.replicas;
    }
    /// Makes list() and get() throw, as a provider whose backend is away.
    void set_unavailable(bool unavailable) {
        std::lock_guard lock(mutex_);
        unavailable_ = unavailable;
    }

    ProviderInfo info() const override { return {"fake", "fake"}; }
    std::vector<FunctionRecord> list() override {
        std::lock_guard lock(mutex_);
        if (unavailable_) throw ProviderUnavailable("backend away");
        std::vector<FunctionRecord> out;
        for (const auto& [name, record] : functions_) out.push_back(record);
        return out;
    }
    std::optional<FunctionRecord> get(const std::string& name) override {
        std::lock_guard lock(mutex_);
        if (unavailable_) throw ProviderUnavailable("backend away");
        auto it = functions_.find(name);
        if (it == functions_.end()) return std::nullopt;
        return it->second;
    }
    void deploy(const FunctionDeployment&) override {}
    void update(const FunctionDeployment&) override {}
    void scale(const std::string& name, int replicas) override {
        std::lock_guard lock(mutex_);
        auto it = functions_.find(name);
        if (it == functions_.end()) throw NotFound("function " + name + " not found");
        it->second.replicas = replicas;
        scales_.emplace_back(name, replicas);
    }
    void remove(const std::string& name) override {
        std::lock_guard lock(mutex_);
        functions_.erase(name);
        resolutions_.erase(name);
    }
    Resolution resolve(const std::string& name) override {
        std::lock_guard lock(mutex_);
        auto it = resolutions_.find(name);
        if (it != resolutions_.end()) return it->second;
        return Resolution{functions_.count(name) != 0, {}, {}};
    }
    std::unique_ptr<LogStream> logs(const LogQuery&) override { return nullptr; }
    std::vector<std::string> list_secrets() override { return {}; }
    void create_secret(const std::string&, const std::string&) override {}
    void update_secret(const std::string&, const std::string&) override {}
    void remove_secret(const std::string&) override {}
    void shutdown() override {}

  private:
    mutable std::mutex mutex_;
    std::map<std::string, FunctionRecord> functions_;
    std::map<std::string, Resolution> resolutions_;
    std::vector<std::pair<std::string, int>> scales_;
    bool unavailable_ = false;
};

}  // namespace faas::gateway::test
