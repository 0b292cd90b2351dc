// Alertmanager webhook parsing.
#include "alert.h"

#include <nlohmann/json.hpp>

#include "errors.h"

namespace faas::gateway {

std::vector<Alert> parse_alerts(const std::string& body) {
    const BadRequest bad("Unable to parse alert, bad format.");
    auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) throw bad;
    auto alerts = json.find("alerts");
    if (alerts == json.end() || !alerts->is_array()) throw bad;
    std::vector<Alert> out;
    for (const auto& item : *alerts) {
        if (!item.is_object()) throw bad;
        Alert alert;
        auto status = item.find("status");
        if (status == item.end() || !status->is_string()) throw bad;
        alert.firing = status->get<std::string>() == "firing";
        auto labels = item.find("labels");
        if (labels == item.end() || !labels->is_object()) throw bad;
        auto name = labels->find("function_name");
        if (name == labels->end() || !name->is_string()) throw bad;
        alert.function_name = name->get<std::string>();
        out.push_back(std::move(alert));
    }
    return out;
}

}  // namespace faas::gateway
