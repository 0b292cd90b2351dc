// The Alertmanager webhook body (POST /system/alert): which functions' alerts fire or resolve.
// How that changes a replica count is scaling.h's.
#pragma once

#include <string>
#include <vector>

namespace faas::gateway {

/// One alert of the webhook body.
struct Alert {
    bool firing = false;
    std::string function_name;  ///< labels.function_name, as sent.
};

/// Parses the webhook body; throws BadRequest ("Unable to parse alert, bad format.").
std::vector<Alert> parse_alerts(const std::string& body);

}  // namespace faas::gateway
