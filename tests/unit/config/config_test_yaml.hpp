// A small valid gateway configuration, split by section so a test replaces exactly the
// section whose rule it exercises. Used by the lib/config unit tests only.
#pragma once

#include <string>

#include "config/gateway_config.hpp"

namespace jg::test {

// Three lcores: 0 control, 1 and 2 workers; outer has two rx queues, inner one.
struct ConfigYaml {
    std::string node_id = "node_id: gw-1\n";
    std::string eal = R"(eal:
  lcores: "0-2"
  no_huge: true
  no_pci: true
  vdevs: [net_tap0, net_tap1]
)";
    std::string ports = R"(ports:
  - {name: outer, role: outer, device: net_tap0, rx_queues: 2, tx_queues: 2}
  - {name: inner, role: inner, device: net_tap1, tx_queues: 2}
)";
    std::string control = "control_lcore: 0\n";
    std::string workers = R"(workers:
  - lcore: 1
    queues: [{port: outer, queue: 0}, {port: inner, queue: 0}]
  - lcore: 2
    queues: [{port: outer, queue: 1}]
)";
    std::string key = "private_key: ephemeral\n";
    std::string rest;  // peers, policies, metrics, audit, limits, ...

    std::string text() const { return node_id + eal + ports + control + workers + key + rest; }
};

inline Result<GatewayConfig> parse(const ConfigYaml &y) {
    return parse_gateway_config(y.text(), "t.yaml");
}

// The full error message, or "OK" when the configuration loaded.
inline std::string error_of(const ConfigYaml &y) {
    auto r = parse(y);
    return r ? "OK" : r.error().message();
}

// Two valid, distinct WireGuard public keys.
inline constexpr const char *kKeyA = "vR03/Samc0xVaFMeP4jcQ3DCc/ZW9SMSHkKTMmMXdGs=";
inline constexpr const char *kKeyB = "5+Ob96rQEhvYHxlFbLB3zPFUCbAI0j0Pm1LlRgQrciY=";

}  // namespace jg::test
