// The build manager's files.
#include "build/build_store.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "errors.h"
#include "log.h"
#include "provider/local/state_store.h"

namespace faas::gateway {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr BuildStage kStages[] = {
    BuildStage::kQueued, BuildStage::kBuilding, BuildStage::kPushing,  BuildStage::kDeploying,
    BuildStage::kReady,  BuildStage::kFailed,   BuildStage::kCancelled};

std::optional<std::string> read_small_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace

const char* stage_name(BuildStage stage) {
    switch (stage) {
        case BuildStage::kQueued:
            return "queued";
        case BuildStage::kBuilding:
            return "building";
        case BuildStage::kPushing:
            return "pushing";
        case BuildStage::kDeploying:
            return "deploying";
        case BuildStage::kReady:
            return "ready";
        case BuildStage::kFailed:
            return "failed";
        case BuildStage::kCancelled:
            return "cancelled";
    }
    return "failed";
}

std::optional<BuildStage> stage_from_name(std::string_view name) {
    for (BuildStage stage : kStages)
        if (name == stage_name(stage)) return stage;
    return std::nullopt;
}

bool is_finished(BuildStage stage) {
    return stage == BuildStage::kReady || stage == BuildStage::kFailed ||
           stage == BuildStage::kCancelled;
}

json to_json(const BuildRecord& record, const std::string& served_namespace) {
    json stages = json::array();
    for (const auto& timing : record.stages) {
        json item{{"stage", stage_name(timing.stage)}, {"startedAt", timing.started_at}};
        if (timing.seconds >= 0) item["seconds"] = timing.seconds;
        stages.push_back(std::move(item));
    }
    json out{{"id", record.id},
             {"function", record.function},
             {"namespace", served_namespace},
             {"lang", record.lang},
             {"status", stage_name(record.status)},
             {"version", record.version},
             {"image", record.image},
             {"source", record.source},
             {"createdAt", record.created_at},
             {"stages", std::move(stages)}};
    if (!record.finished_at.empty()) out["finishedAt"] = record.finished_at;
    if (!record.error.empty()) out["error"] = record.error;
    return out;
}

BuildRecord record_from_json(const json& in) {
    BuildRecord record;
    record.id = in.at("id").get<std::string>();
    record.function = in.at("function").get<std::string>();
    record.lang = in.value("lang", "");
    record.version = in.value("version", "");
    record.image = in.value("image", "");
    record.source = in.value("source", "");
    record.created_at = in.value("createdAt", "");
    record.finished_at = in.value("finishedAt", "");
    record.error = in.value("error", "");
    auto status = stage_from_name(in.at("status").get<std::string>());
    if (!status) throw std::runtime_error("unknown status");
    record.status = *status;
    for (const auto& item : in.value("stages", json::array())) {
        auto stage = stage_from_name(item.at("stage").get<std::string>());
        if (!stage) throw std::runtime_error("unknown stage");
        record.stages.push_back({*stage, item.value("startedAt", ""), item.value("seconds", -1.0)});
    }
    record.deployment = in.value("deployment", json::object());
    record.build_args = in.value("buildArgs", std::map<std::string, std::string>());
    return record;
}

BuildStore::BuildStore(fs::path root) : root_(std::move(root)) {
    std::error_code ec;
    for (const char* dir : {"records", "logs", "contexts", "versions"}) {
        fs::create_directories(root_ / dir, ec);
        if (ec)
            throw ProviderUnavailable("cannot use " + (root_ / dir).string() + ": " + ec.message());
    }
}

fs::path BuildStore::context_dir(const std::string& id) const {
    return root_ / "contexts" / id;
}

fs::path BuildStore::log_path(const std::string& id) const {
    return root_ / "logs" / (id + ".ndjson");
}

void BuildStore::save(const BuildRecord& record) const {
    json out = to_json(record, "");
    out.erase("namespace");
    out["deployment"] = record.deployment;
    out["buildArgs"] = record.build_args;
    write_file_atomically((root_ / "records" / (record.id + ".json")).string(), out.dump(), 0600);
}

std::vector<BuildRecord> BuildStore::load_all() const {
    std::vector<BuildRecord> records;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root_ / "records", ec)) {
        if (entry.path().extension() != ".json") continue;
        try {
            auto text = read_small_file(entry.path());
            if (!text) throw std::runtime_error("unreadable");
            records.push_back(record_from_json(json::parse(*text)));
        } catch (const std::exception& e) {
            log_line("Skipping build record " + entry.path().string() + ": " + e.what());
        }
    }
    std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) {
        return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
    });
    return records;
}

void BuildStore::remove(const std::string& id) const noexcept {
    std::error_code ec;
    fs::remove(root_ / "records" / (id + ".json"), ec);
    fs::remove(log_path(id), ec);
    remove_context(id);
}

void BuildStore::remove_context(const std::string& id) const noexcept {
    std::error_code ec;
    fs::remove_all(context_dir(id), ec);
}

VersionHistory BuildStore::versions(const std::string& function) const {
    VersionHistory history;
    auto text = read_small_file(root_ / "versions" / (function + ".json"));
    if (!text) return history;
    try {
        auto in = json::parse(*text);
        history.next = in.value("next", 1);
        for (const auto& item : in.value("versions", json::array()))
            history.versions.push_back({item.value("version", ""), item.value("image", ""),
                                        item.value("buildId", ""), item.value("deployedAt", ""),
                                        item.value("deployment", json::object())});
    } catch (const std::exception& e) {
        log_line("Versions of " + function + " do not read back: " + e.what());
    }
    return history;
}

void BuildStore::save_versions(const std::string& function, const VersionHistory& history) const {
    json versions = json::array();
    for (const auto& v : history.versions)
        versions.push_back({{"version", v.version},
                            {"image", v.image},
                            {"buildId", v.build_id},
                            {"deployedAt", v.deployed_at},
                            {"deployment", v.deployment}});
    json out{{"next", history.next}, {"versions", std::move(versions)}};
    write_file_atomically((root_ / "versions" / (function + ".json")).string(), out.dump(), 0600);
}

}  // namespace faas::gateway
