// Secrets where OpenFaaS functions read them, /var/openfaas/secrets/<name>, for replicas that
// are host processes: each replica gets a mount namespace of its own in which its secrets
// folder is bound read-only at that path. This needs root (CAP_SYS_ADMIN); without it replicas
// read their secrets from their own folder, named by the secret_mount_path variable.
#pragma once

#include <string>

namespace faas::gateway {

/// Where OpenFaaS functions look for their secrets (without the trailing slash).
inline constexpr const char* kFunctionSecretsPath = "/var/openfaas/secrets";

/// In a new mount namespace of the calling process (not shared with its parent), binds
/// `source` read-only (and nosuid, nodev, noexec) at `target`. Only system calls: safe between
/// fork and exec. False when any step fails (errno says which).
bool bind_read_only(const char* source, const char* target) noexcept;

/// Whether replicas can be given their secrets at kFunctionSecretsPath: the gateway runs as
/// root, the folder exists or can be made, and a child process could mount there. Asked once;
/// the answer is kept. When false, `why` (if given) says what was missing.
bool secret_mounts_available(std::string* why = nullptr);

}  // namespace faas::gateway
