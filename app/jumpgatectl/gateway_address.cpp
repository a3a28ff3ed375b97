#include "gateway_address.hpp"

#include <algorithm>
#include <filesystem>

#include "config/gateway_config.hpp"
#include "control/admin_socket.hpp"

namespace jg::ctl {

void add_gateway_options(CLI::App *cmd, GatewayAddress &address) {
    auto *group = cmd->add_option_group("gateway", "which running gateway to ask");
    auto *s = group->add_option("--socket", address.socket,
                                "the gateway's DPDK telemetry socket (dpdk_telemetry.v2)");
    auto *n = group->add_option("--node-id", address.node_id,
                                "the gateway's node_id (socket under /var/run/dpdk/jumpgate-ID/)");
    auto *c = group->add_option("--config", address.config,
                                "the gateway's configuration file (its node_id is used)");
    s->excludes(n)->excludes(c);
    n->excludes(c);
}

Result<std::string> choose_socket(const GatewayAddress &address,
                                  const std::vector<std::string> &running) {
    if (!address.socket.empty())
        return address.socket;
    if (!address.node_id.empty())
        return control::telemetry_socket_path(control::gateway_file_prefix(address.node_id));
    if (!address.config.empty()) {
        auto cfg = load_gateway_config(address.config);
        if (!cfg)
            return cfg.error();
        return control::telemetry_socket_path(control::gateway_file_prefix(*cfg));
    }
    if (running.size() == 1)
        return running.front();
    if (running.empty())
        return make_error("no gateway is running",
                          "no " + std::string(control::kDpdkRuntimeDir) +
                              "/jumpgate-*/dpdk_telemetry.v2 exists (give --socket, --node-id "
                              "or --config to name one)");
    std::string list;
    for (const auto &r : running)
        list += (list.empty() ? "" : ", ") + r;
    return make_error("gateway", std::to_string(running.size()) +
                                     " gateways are running; choose one with --socket, "
                                     "--node-id or --config: " +
                                     list);
}

std::vector<std::string> running_gateway_sockets() {
    namespace fs = std::filesystem;
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto &dir : fs::directory_iterator(fs::path(control::kDpdkRuntimeDir), ec)) {
        const std::string name = dir.path().filename().string();
        if (name.rfind("jumpgate-", 0) != 0)
            continue;
        const fs::path sock = dir.path() / "dpdk_telemetry.v2";
        if (fs::exists(sock, ec))
            out.push_back(sock.string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace jg::ctl
