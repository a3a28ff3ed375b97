// Which running gateway jumpgatectl talks to: --socket PATH, --node-id NAME or --config FILE,
// resolved to the gateway's DPDK telemetry socket. jumpgatectl's thread only.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "base/result.hpp"

namespace jg::ctl {

struct GatewayAddress {
    std::string socket;
    std::string node_id;
    std::string config;
};

// Adds --socket, --node-id and --config to `cmd`.
void add_gateway_options(CLI::App *cmd, GatewayAddress &address);

// The socket to use. With none of the options: the only gateway socket in `running`
// (telemetry sockets of jumpgate-* prefixes found on the host); several or none is an error
// that lists them or says none is running.
Result<std::string> choose_socket(const GatewayAddress &address,
                                  const std::vector<std::string> &running);

// Telemetry sockets under /var/run/dpdk/jumpgate-*/.
std::vector<std::string> running_gateway_sockets();

}  // namespace jg::ctl
