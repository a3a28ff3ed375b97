// Where a gateway's admin commands listen: its DPDK file prefix (from node_id, or the
// --file-prefix in eal.extra_args) and the telemetry socket under DPDK's runtime directory.
// Pure functions; any thread (the gateway at start-up, jumpgatectl).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

#include "config/gateway_config.hpp"

namespace jg::control {

// DPDK's runtime directory for a process running as root (where gateways run).
inline constexpr std::string_view kDpdkRuntimeDir = "/var/run/dpdk";

// "jumpgate-<node_id>", with anything but [A-Za-z0-9_-] replaced by '_': one DPDK runtime
// directory per node, so several gateways (or a gateway and its tests) can share a host.
inline std::string gateway_file_prefix(std::string_view node_id) {
    std::string p = "jumpgate-";
    for (char c : node_id)
        p += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    return p;
}

// The prefix the gateway started with: an explicit --file-prefix in eal.extra_args wins.
inline std::string gateway_file_prefix(const GatewayConfig &config) {
    const std::string_view flag = "--file-prefix";
    const auto &args = config.eal.extra_args;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string_view a = args[i];
        if (a.rfind(flag, 0) != 0)
            continue;
        if (a.size() > flag.size() && a[flag.size()] == '=')
            return std::string(a.substr(flag.size() + 1));
        if (a.size() == flag.size() && i + 1 < args.size())
            return args[i + 1];
    }
    return gateway_file_prefix(config.node_id);
}

// DPDK 22.11's telemetry socket (protocol v2) for a file prefix.
inline std::string telemetry_socket_path(std::string_view file_prefix) {
    return std::string(kDpdkRuntimeDir) + "/" + std::string(file_prefix) + "/dpdk_telemetry.v2";
}

}  // namespace jg::control
