// Provider policy, above the providers: what a deployment and a scale request must satisfy
// whichever provider runs them, so that the same fault gets the same answer (exception type
// and message) from each. The admin handlers check before they ask a provider; the providers
// check again with the same functions, so a caller that skips the handlers gets the same
// answers too.
#pragma once

#include "function_types.h"

namespace faas::gateway {

class FunctionProvider;

/// Checks a deployment (deploy or update) before a provider acts on it: the scale labels are
/// whole numbers in range (min and max 0..max_replicas, factor 0..100, min not above max), and
/// every secret it names exists in `secrets`. Throws BadRequest ("label X must be a number
/// from 0 to N"), NotFound ("secret X not found"), and whatever `secrets.list_secrets()`
/// throws (ProviderUnavailable).
void check_deployment(const FunctionDeployment& deployment, FunctionProvider& secrets,
                      int max_replicas);

/// Throws BadRequest ("replicas must be from 0 to N") unless 0 <= replicas <= max_replicas.
void check_replicas(int replicas, int max_replicas);

/// Replicas of a new deployment: its com.openfaas.scale.min label, else 1. Throws BadRequest,
/// as check_deployment, for a label out of range.
int initial_replicas(const FunctionDeployment& deployment, int max_replicas);

/// The label every OpenFaaS provider reports among a function's labels.
inline constexpr const char* kFunctionNameLabel = "faas_function";

/// The deployment as a status reports it: exactly what was deployed plus the label
/// `faas_function: <name>`, which OpenFaaS clients look for. What is stored stays as sent.
FunctionDeployment reported_deployment(FunctionDeployment deployment);

}  // namespace faas::gateway
