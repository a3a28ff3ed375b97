// GatewayConfig: everything the gateway reads at start-up from one YAML file (EAL, ports,
// the core/queue map, peers, policies, telemetry, limits). Value type; loaded and validated
// on the main thread before EAL init, then read-only (workers get their slice as plain data).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "config/ip_prefix.hpp"
#include "config/keys.hpp"
#include "config/policy_file.hpp"

namespace jg {

inline constexpr uint16_t kDefaultListenPort = 51820;
inline constexpr uint32_t kMaxLcores = 128;     // DPDK 22.11 RTE_MAX_LCORE
inline constexpr uint16_t kMaxPortQueues = 64;  // per direction, per port
inline constexpr uint32_t kMinMtu = 576;        // bytes
inline constexpr uint32_t kMaxMtu = 9000;       // bytes
// Rx queues one worker may poll: the data plane's fixed per-worker array (dp::Worker), which
// the gateway static_asserts this equals. Config cannot include DPDK headers, hence the copy.
inline constexpr uint32_t kMaxWorkerQueues = 16;
// Worker lcores and session slots the data plane's tables are built for (dp::kMaxWorkers, the
// table limit on max_sessions); the gateway static_asserts both, so --check-config refuses
// what start-up would.
inline constexpr uint32_t kMaxWorkers = 16;
inline constexpr uint32_t kMaxSessions = uint32_t(1) << 21;

struct EalConfig {
    std::vector<uint32_t> lcores;       // sorted, unique; YAML "0-1,4" or [0, 1, 4]
    std::optional<uint32_t> memory_mb;  // MB; unset = DPDK's own default
    bool no_huge = false;
    bool no_pci = false;
    std::vector<std::string> vdevs;       // "net_tap0,iface=jg-outer"
    std::vector<std::string> pci;         // "0000:3b:00.0"
    std::vector<std::string> extra_args;  // appended verbatim to the EAL arguments

    bool operator==(const EalConfig &) const = default;
};

enum class PortRole : uint8_t { Outer, Inner };

struct PortConfig {
    std::string name;
    PortRole role = PortRole::Inner;
    std::string device;            // a vdev name from eal.vdevs or an eal.pci address
    std::optional<IpPrefix> ipv4;  // interface address with its subnet length
    std::optional<IpPrefix> ipv6;
    std::optional<std::array<uint8_t, 6>> mac;  // unset = "auto" (the device's own)
    uint16_t rx_queues = 1;
    uint16_t tx_queues = 1;
    uint32_t mtu = 1500;               // bytes
    bool rss = false;                  // defaults to true when rx_queues > 1
    std::optional<IpPrefix> next_hop;  // inner ports only: L2 next hop (IPv4, /32)

    bool operator==(const PortConfig &) const = default;
};

// One (port, rx queue) a worker polls. port_index is resolved by validation.
struct QueueRef {
    std::string port;
    uint16_t queue = 0;
    std::size_t port_index = 0;  // into GatewayConfig::ports

    bool operator==(const QueueRef &) const = default;
};

// A worker lcore and the rx queues it alone polls. Worker i transmits on tx queue i of every
// port, which is why every port needs at least as many tx queues as there are workers.
struct WorkerConfig {
    uint32_t lcore = 0;
    std::vector<QueueRef> queues;

    bool operator==(const WorkerConfig &) const = default;
};

// Where the gateway's static private key comes from.
struct PrivateKeySource {
    // Ephemeral: generated at start, public key logged, gone at exit (demos and tests).
    enum class Kind : uint8_t { File, Ephemeral } kind = Kind::Ephemeral;
    std::string path;  // Kind::File only

    bool operator==(const PrivateKeySource &) const = default;
};

struct PeerConfig {
    std::string name;  // optional label for logs; may be empty
    PublicKey public_key{};
    std::optional<std::string> preshared_key_file;
    std::vector<IpPrefix> allowed_ips;  // networks (no host bits), v4 and v6
    std::string policy = std::string(kDefaultPolicyName);

    bool operator==(const PeerConfig &) const = default;
};

struct MetricsConfig {
    std::string listen = "127.0.0.1:9105";  // "addr:port" or "[v6]:port"
    std::string path = "/metrics";

    bool operator==(const MetricsConfig &) const = default;
};

struct AuditConfig {
    std::string path = "/var/log/jumpgate/audit.jsonl";
    uint32_t queue_capacity = 65536;  // events buffered before the writer drops (and counts)

    bool operator==(const AuditConfig &) const = default;
};

struct LimitsConfig {
    uint32_t max_sessions = 65536;
    // Handshake initiations per second above which cookie replies are demanded (0: always).
    uint32_t handshake_rate_per_sec = 1000;
    // Fragmented outer datagrams each worker reassembles at once (0: outer fragments are
    // dropped), and how long a datagram may wait for its missing fragments (ms).
    uint32_t reassembly_datagrams = 256;
    uint32_t reassembly_timeout_ms = 2000;

    bool operator==(const LimitsConfig &) const = default;
};

struct GatewayConfig {
    std::string node_id;
    EalConfig eal;
    std::vector<PortConfig> ports;
    uint32_t control_lcore = 0;  // defaults to the lowest of eal.lcores
    std::vector<WorkerConfig> workers;
    uint16_t listen_port = kDefaultListenPort;  // UDP, on the outer port
    PrivateKeySource private_key;
    std::vector<PeerConfig> peers;
    PolicySet policies = PolicySet::builtin();  // always holds kDefaultPolicyName
    MetricsConfig metrics;
    AuditConfig audit;
    LimitsConfig limits;

    // Only on a validated configuration (which has exactly one outer port).
    const PortConfig &outer_port() const;
    const PortConfig *find_port(std::string_view name) const;

    // Field by field (a new field must be added there); policies compare by value (see
    // same_policies).
    bool operator==(const GatewayConfig &other) const;
};

// Loads and validates; nothing is returned unless every rule holds. Errors read
// "<file>: <yaml path>: <what>", e.g. "demo.yaml: workers[1].queues[0]: queue 3 of port
// outer does not exist (port has 2 queues)".
// `available_cpus` (sorted CPU ids, see host_cpus.hpp) adds the rule "every lcore exists on
// this machine", checked after all the others: lcore N is pinned to CPU N (DPDK's -l), so
// each of eal.lcores must be in it. Unset skips that rule, for a file meant for another
// machine (and for tests, which pass their own list).
Result<GatewayConfig> load_gateway_config(
    const std::string &path, const std::optional<std::vector<uint32_t>> &available_cpus = {});
// As load_gateway_config, from text; `source` stands for the file name in errors.
Result<GatewayConfig> parse_gateway_config(
    std::string_view yaml_text, const std::string &source,
    const std::optional<std::vector<uint32_t>> &available_cpus = {});

// The effective configuration (every default written out) as YAML that loads back to an
// equal GatewayConfig; what `jumpgate --check-config FILE` prints.
std::string render_gateway_config(const GatewayConfig &config);

// EAL arguments for rte_eal_init, argv[0] included: lcores, main lcore = control lcore,
// memory, vdevs, PCI allow-list, then extra_args.
std::vector<std::string> eal_arguments(const GatewayConfig &config, std::string_view program);

// The gateway's private key: read from its file or generated when ephemeral. A loose file
// mode is not an error (see key_file_permission_warning).
Result<SecretKey> load_private_key(const PrivateKeySource &source);

// Reads and decodes every key file the configuration names (private key, preshared keys) and
// wipes them again: the YAML loads without touching the files, and a missing or garbled key
// must stop --check-config and start-up before EAL init, not a port already up. The error
// names the YAML path ("peers[1].preshared_key_file"). Warnings (loose file modes) are
// appended to `warnings`.
Status check_key_files(const GatewayConfig &config, std::vector<std::string> &warnings);

// "0-3,8" for {0,1,2,3,8}: the form DPDK's -l takes.
std::string format_lcore_list(const std::vector<uint32_t> &lcores);

}  // namespace jg
