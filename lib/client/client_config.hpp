// ClientConfig: what jumpgate-client runs with (keys, gateway, candidate paths, policy, app
// or TUN side, logs), built from command-line flags and/or a YAML file and validated as a
// whole before anything starts. Control path; the client's main thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "config/keys.hpp"
#include "proto/control_messages.hpp"
#include "proto/messages.hpp"
#include "proto/noise.hpp"
#include "session/policy.hpp"
#include "session/transport.hpp"

namespace jg::client {

inline constexpr size_t kMaxPaths = proto::kMaxHelloPaths;

// One candidate path: a UDP socket bound to a source address (optionally a fixed port) or to
// an interface (SO_BINDTODEVICE), sending to the gateway or to a per-path endpoint (a relay).
struct PathSpec {
    std::string name;
    uint8_t id = 0;                         // 1.. in configuration order (HELLO path ids)
    std::optional<TransportAddr> source;    // port 0: chosen by the kernel
    std::string device;                     // set when bound to an interface instead
    std::optional<TransportAddr> endpoint;  // empty: the gateway endpoint
};

// NAME=ADDR[:PORT][@ENDPOINT] or NAME=IFACE[@ENDPOINT] (IPv4). The error names the text.
Result<PathSpec> parse_path_spec(std::string_view text);

// What headless mode's application socket carries.
enum class AppMode : uint8_t {
    udp,  // payloads, wrapped as IPv4/UDP from the tunnel address to inner_destination
    ip,   // whole IP packets, sent into the tunnel as they are
};

// Everything as written on the command line or in the YAML file, before validation.
// Empty strings / vectors and unset optionals mean "not given".
struct ClientOptions {
    std::string config_file;  // YAML; flags given on the command line win over its keys
    std::string private_key_file;
    std::string gateway_public_key;  // base64, or a file holding it
    std::string gateway_endpoint;    // ADDR:PORT
    std::string preshared_key_file;
    std::vector<std::string> tunnel_addresses;  // A.B.C.D or A.B.C.D/32
    std::vector<std::string> paths;             // parse_path_spec syntax
    std::string policy_file;                    // lib/config policy file
    std::string policy_profile;                 // default: "default"
    std::string log_json;
    std::string status_socket;
    std::string node_id;
    bool headless = false;
    std::string app_socket;         // ADDR:PORT
    std::string app_mode;           // "udp" (default) or "ip"
    std::string inner_destination;  // ADDR:PORT (udp mode)
    std::optional<int64_t> inner_source_port;
    std::string tun_name;
    std::optional<int64_t> handshake_timeout_ms;  // give up if the first handshake takes longer
    bool probe_standby = false;
};

struct ClientConfig {
    std::optional<proto::StaticIdentity> identity;  // always set by build_client_config
    proto::Key gateway_public{};
    SecretKey psk;  // all zero: none
    TransportAddr gateway_endpoint;
    std::vector<uint32_t>
        tunnel_addresses;  // host order; the first is the source of wrapped packets
    std::vector<PathSpec> paths;
    Policy policy;
    std::string log_json;
    std::string status_socket;
    std::string node_id;
    bool headless = false;
    TransportAddr app_socket;
    AppMode app_mode = AppMode::udp;
    TransportAddr inner_destination;
    uint16_t inner_source_port = 40000;
    std::string tun_name;
    int64_t handshake_timeout_ms = 30'000;
    // Heartbeats on standby paths too. Off by default: a gateway sees an authenticated packet
    // from an address other than the binding as a NAT rebinding and validates it.
    bool probe_standby = false;
};

inline constexpr std::string_view kDefaultStatusSocket = "/run/jumpgate-client.sock";

// Fills the options a YAML file gives (keys named as the long flags with '_' for '-',
// `paths` and `tunnel_addresses` as lists) where `opts` has none. Unknown keys are errors.
Status merge_yaml_options(std::string_view yaml_text, const std::string &source,
                          ClientOptions &opts);

// Reads the files the options name (keys, policy) and checks every value; the error's
// `where` is the flag / key at fault ("--path", "gateway_endpoint", ...).
Result<ClientConfig> build_client_config(const ClientOptions &opts);

}  // namespace jg::client
