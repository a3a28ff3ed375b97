#include "config/gateway_config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <limits>
#include <map>
#include <set>

#include "config/host_cpus.hpp"
#include "config/policy_yaml.hpp"
#include "config/yaml_reader.hpp"
#include "session/transport.hpp"

namespace jg {
namespace {

using namespace config_detail;

constexpr int64_t kMaxU32 = std::numeric_limits<uint32_t>::max();
// The data plane's bounds for a worker's reassembly table (dataplane/fragments.hpp).
constexpr int64_t kMaxReassemblyDatagrams = 65536;
constexpr int64_t kMaxReassemblyTimeoutMs = 60000;

using CpuList = std::optional<std::vector<uint32_t>>;

// ---- small parsers ------------------------------------------------------------------------

// "0000:3b:00.0" (domain optional on input) in lower case; nullopt when malformed.
std::optional<std::string> canonical_pci(std::string_view s) {
    auto hex = [](std::string_view part, std::size_t width) {
        return part.size() == width && std::all_of(part.begin(), part.end(), [](char c) {
                   return std::isxdigit(static_cast<unsigned char>(c)) != 0;
               });
    };
    std::string text(s);
    if (std::count(text.begin(), text.end(), ':') == 1)
        text = "0000:" + text;
    if (text.size() != 12 || text[4] != ':' || text[7] != ':' || text[10] != '.')
        return std::nullopt;
    const std::string_view t(text);
    if (!hex(t.substr(0, 4), 4) || !hex(t.substr(5, 2), 2) || !hex(t.substr(8, 2), 2) ||
        t[11] < '0' || t[11] > '7')
        return std::nullopt;
    if (std::stoul(text.substr(8, 2), nullptr, 16) > 0x1f)
        return std::nullopt;
    std::transform(text.begin(), text.end(), text.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

std::string vdev_name(std::string_view vdev) {
    return std::string(vdev.substr(0, vdev.find(',')));
}

std::optional<std::array<uint8_t, 6>> parse_mac(std::string_view s) {
    std::array<uint8_t, 6> mac{};
    if (s.size() != 17)
        return std::nullopt;
    for (std::size_t i = 0; i < 6; ++i) {
        if (i > 0 && s[i * 3 - 1] != ':')
            return std::nullopt;
        const auto part = s.substr(i * 3, 2);
        const auto [end, ec] = std::from_chars(part.data(), part.data() + 2, mac[i], 16);
        if (ec != std::errc{} || end != part.data() + 2)
            return std::nullopt;
    }
    return mac;
}

std::string format_mac(const std::array<uint8_t, 6> &mac) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                  mac[4], mac[5]);
    return buf;
}

std::string address_text(const IpPrefix &p) {
    const std::string s = p.to_string();
    return s.substr(0, s.find('/'));
}

std::string role_name(PortRole r) {
    return r == PortRole::Outer ? "outer" : "inner";
}

std::string join(const std::vector<std::string> &items) {
    std::string out;
    for (const auto &s : items)
        out += (out.empty() ? "" : ", ") + s;
    return out;
}

// ---- reading -------------------------------------------------------------------------------

std::vector<uint32_t> read_lcores(const YAML::Node &node, const std::string &path,
                                  Diagnostics &diag) {
    std::vector<uint32_t> out;
    std::vector<std::pair<std::string, std::string>> items;  // (text, path)
    if (node.IsScalar()) {
        std::string_view spec(node.Scalar());
        while (!spec.empty()) {
            const auto comma = spec.find(',');
            items.emplace_back(std::string(spec.substr(0, comma)), path);
            spec = comma == std::string_view::npos ? "" : spec.substr(comma + 1);
        }
    } else {
        const auto list = read_list(node, path, diag);
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (auto s = read_string(list[i], index_path(path, i), diag))
                items.emplace_back(*s, index_path(path, i));
        }
    }
    for (const auto &[text, where] : items) {
        if (auto problem = add_cpu_list_item(text, kMaxLcores, out)) {
            diag.fail(where, *problem);
            return {};
        }
    }
    if (out.empty() && !diag.failed())
        diag.fail(path, "must name at least one lcore");
    std::sort(out.begin(), out.end());
    return out;
}

EalConfig read_eal(MapReader &top) {
    auto &diag = top.diag();
    EalConfig eal;
    MapReader r(top.require("eal").value_or(YAML::Node()), "eal", diag);
    if (auto lcores = r.require("lcores"))
        eal.lcores = read_lcores(*lcores, r.path_of("lcores"), diag);
    if (auto mb = r.optional_integer("memory_mb", 1, kMaxU32))
        eal.memory_mb = static_cast<uint32_t>(*mb);
    eal.no_huge = r.boolean("no_huge", false);
    eal.no_pci = r.boolean("no_pci", false);
    eal.vdevs = r.string_list("vdevs");
    eal.pci = r.string_list("pci");
    eal.extra_args = r.string_list("extra_args");
    r.finish();
    if (diag.failed())
        return eal;

    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < eal.vdevs.size(); ++i) {
        const auto name = vdev_name(eal.vdevs[i]);
        const auto path = index_path("eal.vdevs", i);
        if (name.empty())
            diag.fail(path, "a vdev starts with its driver instance name (\"net_tap0,...\")");
        else if (auto [it, fresh] = seen.emplace(name, i); !fresh)
            diag.fail(path, "vdev " + name + " is already declared by eal.vdevs[" +
                                std::to_string(it->second) + "]");
    }
    for (std::size_t i = 0; i < eal.pci.size(); ++i) {
        const auto path = index_path("eal.pci", i);
        const auto canon = canonical_pci(eal.pci[i]);
        if (!canon)
            diag.fail(path, "bad PCI address \"" + eal.pci[i] + "\" (expected DDDD:BB:DD.F)");
        else if (auto [it, fresh] = seen.emplace(*canon, i); !fresh)
            diag.fail(path, "PCI device " + *canon + " is listed twice");
    }
    if (eal.no_pci && !eal.pci.empty())
        diag.fail("eal.pci", "PCI devices are listed but eal.no_pci is true");
    return eal;
}

PortConfig read_port(const YAML::Node &node, const std::string &path, Diagnostics &diag) {
    PortConfig port;
    MapReader r(node, path, diag);
    port.name = r.required_string("name");
    const auto role = r.required_string("role");
    if (role == "outer")
        port.role = PortRole::Outer;
    else if (role == "inner")
        port.role = PortRole::Inner;
    else if (!role.empty())
        diag.fail(r.path_of("role"), "expected outer or inner, got \"" + role + "\"");
    port.device = r.required_string("device");

    auto read_address = [&](std::string_view key, uint8_t family) -> std::optional<IpPrefix> {
        auto text = r.optional_string(key);
        if (!text)
            return std::nullopt;
        auto p = parse_ip_prefix(*text, PrefixForm::Interface);
        if (!p) {
            diag.fail(r.path_of(key), p.error().what);
            return std::nullopt;
        }
        if (p->family != family) {
            diag.fail(r.path_of(key),
                      *text + " is not an IPv" + std::to_string(family) + " address");
            return std::nullopt;
        }
        return *p;
    };
    port.ipv4 = read_address("ipv4", 4);
    port.ipv6 = read_address("ipv6", 6);

    const auto mac = r.string("mac", "auto");
    if (mac != "auto") {
        port.mac = parse_mac(mac);
        if (!port.mac)
            diag.fail(r.path_of("mac"),
                      "expected \"auto\" or aa:bb:cc:dd:ee:ff, got \"" + mac + "\"");
        else if ((*port.mac)[0] & 1)
            diag.fail(r.path_of("mac"), mac + " is a multicast address");
    }
    port.rx_queues = static_cast<uint16_t>(r.integer("rx_queues", 1, 1, kMaxPortQueues));
    port.tx_queues = static_cast<uint16_t>(r.integer("tx_queues", 1, 1, kMaxPortQueues));
    port.mtu = static_cast<uint32_t>(r.integer("mtu", 1500, kMinMtu, kMaxMtu));
    const auto rss = r.get("rss");
    port.rss = r.boolean("rss", port.rx_queues > 1);
    if (rss && !port.rss && port.rx_queues > 1)
        diag.fail(r.path_of("rss"), "false with " + std::to_string(port.rx_queues) +
                                        " rx queues: only queue 0 would receive traffic");

    if (auto hop = r.optional_string("next_hop")) {
        auto p = parse_ip_address(*hop);
        if (!p || p->family != 4)
            diag.fail(r.path_of("next_hop"), "\"" + *hop + "\" is not an IPv4 address");
        else if (port.role == PortRole::Outer)
            diag.fail(r.path_of("next_hop"), "only inner ports have a next hop");
        else
            port.next_hop = *p;
    }
    r.finish();
    return port;
}

std::vector<PortConfig> read_ports(MapReader &top, const EalConfig &eal) {
    auto &diag = top.diag();
    std::vector<PortConfig> ports;
    const auto list = read_list(top.require("ports").value_or(YAML::Node()), "ports", diag);
    for (std::size_t i = 0; i < list.size() && !diag.failed(); ++i)
        ports.push_back(read_port(list[i], index_path("ports", i), diag));
    if (diag.failed())
        return ports;

    std::set<std::string> devices;
    for (const auto &v : eal.vdevs)
        devices.insert(vdev_name(v));
    for (const auto &p : eal.pci)
        devices.insert(*canonical_pci(p));

    std::map<std::string, std::size_t> names;
    std::map<std::string, std::size_t> used_devices;
    std::vector<std::string> outer, inner;
    for (std::size_t i = 0; i < ports.size(); ++i) {
        const auto path = index_path("ports", i);
        const auto &p = ports[i];
        if (auto [it, fresh] = names.emplace(p.name, i); !fresh)
            diag.fail(path + ".name", "duplicate port name " + p.name + " (also ports[" +
                                          std::to_string(it->second) + "])");
        const auto canon = canonical_pci(p.device);
        const std::string device = canon && devices.count(*canon) ? *canon : p.device;
        if (!devices.count(device))
            diag.fail(path + ".device",
                      p.device + " is neither a vdev in eal.vdevs nor a PCI address in eal.pci");
        else if (auto [it, fresh] = used_devices.emplace(device, i); !fresh)
            diag.fail(path + ".device", "device " + p.device + " is already used by ports[" +
                                            std::to_string(it->second) + "]");
        (p.role == PortRole::Outer ? outer : inner).push_back(path);
    }
    // The data plane forwards decrypted traffic to one inner port (ARCHITECTURE.md): a second
    // one would pass here and be refused by the gateway after DPDK had started.
    if (ports.empty())
        diag.fail("ports", "two ports are needed (one outer, one inner)");
    else if (outer.size() != 1)
        diag.fail("ports", "exactly one port must have role outer, found " +
                               std::to_string(outer.size()) +
                               (outer.empty() ? "" : " (" + join(outer) + ")"));
    else if (inner.size() != 1)
        diag.fail("ports", "exactly one port must have role inner, found " +
                               std::to_string(inner.size()) +
                               (inner.empty() ? "" : " (" + join(inner) + ")"));
    return ports;
}

WorkerConfig read_worker(const YAML::Node &node, const std::string &path,
                         const std::vector<PortConfig> &ports, Diagnostics &diag) {
    WorkerConfig w;
    MapReader r(node, path, diag);
    w.lcore = static_cast<uint32_t>(r.required_integer("lcore", 0, kMaxLcores - 1));
    const auto queues_path = r.path_of("queues");
    const auto list = read_list(r.require("queues").value_or(YAML::Node()), queues_path, diag);
    for (std::size_t i = 0; i < list.size() && !diag.failed(); ++i) {
        MapReader q(list[i], index_path(queues_path, i), diag);
        QueueRef ref;
        ref.port = q.required_string("port");
        ref.queue = static_cast<uint16_t>(q.required_integer("queue", 0, kMaxPortQueues - 1));
        q.finish();
        if (diag.failed())
            break;
        const auto it = std::find_if(ports.begin(), ports.end(),
                                     [&](const PortConfig &p) { return p.name == ref.port; });
        if (it == ports.end()) {
            std::vector<std::string> names;
            for (const auto &p : ports)
                names.push_back(p.name);
            diag.fail(q.path_of("port"),
                      "no port named " + ref.port + " (ports: " + join(names) + ")");
            break;
        }
        ref.port_index = static_cast<std::size_t>(it - ports.begin());
        w.queues.push_back(std::move(ref));
    }
    if (!diag.failed() && w.queues.empty())
        diag.fail(queues_path, "a worker must poll at least one queue");
    else if (!diag.failed() && w.queues.size() > kMaxWorkerQueues)
        diag.fail(queues_path,
                  "polls " + std::to_string(w.queues.size()) + " queues; a worker polls at most " +
                      std::to_string(kMaxWorkerQueues) + " (spread them over more workers)");
    r.finish();
    return w;
}

bool has_lcore(const EalConfig &eal, uint32_t lcore) {
    return std::binary_search(eal.lcores.begin(), eal.lcores.end(), lcore);
}

std::vector<WorkerConfig> read_workers(MapReader &top, const EalConfig &eal,
                                       const std::vector<PortConfig> &ports,
                                       uint32_t control_lcore) {
    auto &diag = top.diag();
    std::vector<WorkerConfig> workers;
    const auto list = read_list(top.require("workers").value_or(YAML::Node()), "workers", diag);
    for (std::size_t i = 0; i < list.size() && !diag.failed(); ++i)
        workers.push_back(read_worker(list[i], index_path("workers", i), ports, diag));
    if (diag.failed())
        return workers;
    if (workers.empty()) {
        diag.fail("workers", "at least one worker is needed");
        return workers;
    }
    if (workers.size() > kMaxWorkers) {
        diag.fail("workers", std::to_string(workers.size()) + " workers; at most " +
                                 std::to_string(kMaxWorkers));
        return workers;
    }

    const std::string all_lcores = format_lcore_list(eal.lcores);
    std::map<uint32_t, std::size_t> lcore_owner;
    std::map<std::pair<std::size_t, uint16_t>, std::size_t> queue_owner;
    for (std::size_t w = 0; w < workers.size(); ++w) {
        const auto path = index_path("workers", w);
        const auto lcore = workers[w].lcore;
        if (!has_lcore(eal, lcore))
            diag.fail(path + ".lcore", "lcore " + std::to_string(lcore) +
                                           " is not in eal.lcores (" + all_lcores + ")");
        else if (lcore == control_lcore)
            diag.fail(path + ".lcore", "lcore " + std::to_string(lcore) +
                                           " is the control lcore; workers need their own");
        else if (auto [it, fresh] = lcore_owner.emplace(lcore, w); !fresh)
            diag.fail(path + ".lcore", "lcore " + std::to_string(lcore) +
                                           " is already used by workers[" +
                                           std::to_string(it->second) + "]");
        for (std::size_t i = 0; i < workers[w].queues.size(); ++i) {
            const auto &q = workers[w].queues[i];
            const auto &port = ports[q.port_index];
            const auto qpath = index_path(path + ".queues", i);
            if (q.queue >= port.rx_queues) {
                diag.fail(qpath, "queue " + std::to_string(q.queue) + " of port " + port.name +
                                     " does not exist (port has " + std::to_string(port.rx_queues) +
                                     " queues)");
            } else if (auto [it, fresh] = queue_owner.emplace(std::pair(q.port_index, q.queue), w);
                       !fresh) {
                diag.fail(qpath, "queue " + std::to_string(q.queue) + " of port " + port.name +
                                     " is already polled by worker lcore " +
                                     std::to_string(workers[it->second].lcore) + " (workers[" +
                                     std::to_string(it->second) + "])");
            }
        }
    }
    for (std::size_t p = 0; p < ports.size() && !diag.failed(); ++p) {
        for (uint16_t q = 0; q < ports[p].rx_queues; ++q) {
            if (!queue_owner.count({p, q})) {
                diag.fail("workers", "queue " + std::to_string(q) + " of port " + ports[p].name +
                                         " is polled by no worker");
                break;
            }
        }
        if (!diag.failed() && ports[p].tx_queues < workers.size())
            diag.fail(index_path("ports", p) + ".tx_queues",
                      std::to_string(ports[p].tx_queues) + " tx queues for " +
                          std::to_string(workers.size()) +
                          " workers: every worker transmits on its own tx queue of every port");
    }
    return workers;
}

PrivateKeySource read_private_key(MapReader &top) {
    auto &diag = top.diag();
    PrivateKeySource source;
    const auto file = top.optional_string("private_key_file");
    const auto mode = top.optional_string("private_key");
    if (file && mode) {
        diag.fail("private_key",
                  "give either private_key_file or private_key: ephemeral, not "
                  "both");
    } else if (mode && *mode != "ephemeral") {
        diag.fail("private_key",
                  "only \"ephemeral\" is accepted here; keep a real key in a file named by "
                  "private_key_file");
    } else if (file) {
        if (file->empty())
            diag.fail("private_key_file", "must not be empty");
        source.kind = PrivateKeySource::Kind::File;
        source.path = *file;
    } else if (!mode) {
        diag.fail("private_key_file",
                  "required key is missing (or set private_key: ephemeral to generate a key at "
                  "start)");
    }
    return source;
}

PeerConfig read_peer(const YAML::Node &node, const std::string &path, Diagnostics &diag) {
    PeerConfig peer;
    MapReader r(node, path, diag);
    peer.name = r.string("name", "");
    const auto key = r.required_string("public_key");
    if (!diag.failed()) {
        if (auto decoded = decode_public_key(key))
            peer.public_key = *decoded;
        else
            diag.fail(r.path_of("public_key"), decoded.error().what);
    }
    peer.preshared_key_file = r.optional_string("preshared_key_file");
    if (peer.preshared_key_file && peer.preshared_key_file->empty())
        diag.fail(r.path_of("preshared_key_file"), "must not be empty");
    const auto ips = r.string_list("allowed_ips");
    for (std::size_t i = 0; i < ips.size() && !diag.failed(); ++i) {
        auto p = parse_ip_prefix(ips[i], PrefixForm::Network);
        if (!p)
            diag.fail(index_path(r.path_of("allowed_ips"), i), p.error().what);
        else if (p->length == 0)
            // rte_lpm and rte_lpm6 take depths from 1: the route would fail at every handshake.
            diag.fail(index_path(r.path_of("allowed_ips"), i),
                      ips[i] + ": a /0 route to a peer is not supported; use its two halves (" +
                          (p->family == 4 ? "0.0.0.0/1 and 128.0.0.0/1" : "::/1 and 8000::/1") +
                          ")");
        else
            peer.allowed_ips.push_back(*p);
    }
    peer.policy = r.string("policy", std::string(kDefaultPolicyName));
    r.finish();
    return peer;
}

std::string peer_label(const std::vector<PeerConfig> &peers, std::size_t i) {
    std::string s = index_path("peers", i);
    if (!peers[i].name.empty())
        s += " (" + peers[i].name + ")";
    return s;
}

// Two peers may not claim the same inner address: the route for it would be ambiguous.
void check_allowed_ips_disjoint(const std::vector<PeerConfig> &peers, Diagnostics &diag) {
    struct Entry {
        IpPrefix prefix;
        std::size_t peer, index;
    };
    std::vector<Entry> all;
    for (std::size_t p = 0; p < peers.size(); ++p)
        for (std::size_t i = 0; i < peers[p].allowed_ips.size(); ++i)
            all.push_back({peers[p].allowed_ips[i], p, i});
    // Sorted by address then length, a prefix comes after every prefix containing it, so a
    // stack of the enclosing prefixes finds every overlap in one pass.
    std::sort(all.begin(), all.end(),
              [](const Entry &a, const Entry &b) { return a.prefix < b.prefix; });
    std::vector<const Entry *> enclosing;
    for (const auto &e : all) {
        while (!enclosing.empty() && !enclosing.back()->prefix.contains(e.prefix))
            enclosing.pop_back();
        for (const Entry *outer : enclosing) {
            if (outer->peer == e.peer)
                continue;
            const bool e_later = std::pair(e.peer, e.index) > std::pair(outer->peer, outer->index);
            const Entry &later = e_later ? e : *outer;
            const Entry &earlier = e_later ? *outer : e;
            diag.fail(index_path(index_path("peers", later.peer) + ".allowed_ips", later.index),
                      later.prefix.to_string() + " overlaps " + earlier.prefix.to_string() +
                          " of " + peer_label(peers, earlier.peer));
            return;
        }
        enclosing.push_back(&e);
    }
}

std::vector<PeerConfig> read_peers(MapReader &top, const PolicySet &policies) {
    auto &diag = top.diag();
    std::vector<PeerConfig> peers;
    const auto list = read_list(top.get("peers").value_or(YAML::Node()), "peers", diag);
    for (std::size_t i = 0; i < list.size() && !diag.failed(); ++i)
        peers.push_back(read_peer(list[i], index_path("peers", i), diag));
    if (diag.failed())
        return peers;

    const std::vector<std::string> profile_names = policies.names();
    std::map<PublicKey, std::size_t> keys;
    std::map<std::string, std::size_t> names;
    for (std::size_t i = 0; i < peers.size(); ++i) {
        const auto path = index_path("peers", i);
        if (auto [it, fresh] = keys.emplace(peers[i].public_key, i); !fresh)
            diag.fail(path + ".public_key", "same public key as " + peer_label(peers, it->second));
        if (!peers[i].name.empty()) {
            if (auto [it, fresh] = names.emplace(peers[i].name, i); !fresh)
                diag.fail(path + ".name", "duplicate peer name " + peers[i].name + " (also peers[" +
                                              std::to_string(it->second) + "])");
        }
        if (!policies.find(peers[i].policy))
            diag.fail(path + ".policy", "no policy profile named " + peers[i].policy +
                                            " (profiles: " + join(profile_names) + ")");
    }
    check_allowed_ips_disjoint(peers, diag);
    return peers;
}

MetricsConfig read_metrics(MapReader &top) {
    auto &diag = top.diag();
    MetricsConfig m;
    MapReader r(top.get("metrics").value_or(YAML::Node()), "metrics", diag);
    m.listen = r.string("listen", m.listen);
    m.path = r.string("path", m.path);
    r.finish();
    if (diag.failed())
        return m;
    const auto addr = parse_transport(m.listen);
    if (!addr || addr->port == 0)
        diag.fail("metrics.listen",
                  "expected address:port such as 127.0.0.1:9105 or "
                  "[::1]:9105, got \"" +
                      m.listen + "\"");
    else if (m.path.empty() || m.path.front() != '/')
        diag.fail("metrics.path", "must start with '/', got \"" + m.path + "\"");
    return m;
}

AuditConfig read_audit(MapReader &top) {
    AuditConfig a;
    MapReader r(top.get("audit").value_or(YAML::Node()), "audit", top.diag());
    a.path = r.string("path", a.path);
    if (a.path.empty())
        top.diag().fail("audit.path", "must not be empty");
    a.queue_capacity =
        static_cast<uint32_t>(r.integer("queue_capacity", a.queue_capacity, 1, 1 << 24));
    r.finish();
    return a;
}

LimitsConfig read_limits(MapReader &top) {
    LimitsConfig l;
    MapReader r(top.get("limits").value_or(YAML::Node()), "limits", top.diag());
    l.max_sessions =
        static_cast<uint32_t>(r.integer("max_sessions", l.max_sessions, 1, kMaxSessions));
    l.handshake_rate_per_sec = static_cast<uint32_t>(
        r.integer("handshake_rate_per_sec", l.handshake_rate_per_sec, 0, kMaxU32));
    l.reassembly_datagrams = static_cast<uint32_t>(
        r.integer("reassembly_datagrams", l.reassembly_datagrams, 0, kMaxReassemblyDatagrams));
    l.reassembly_timeout_ms = static_cast<uint32_t>(
        r.integer("reassembly_timeout_ms", l.reassembly_timeout_ms, 1, kMaxReassemblyTimeoutMs));
    r.finish();
    return l;
}

std::string read_node_id(MapReader &top) {
    const auto id = top.required_string("node_id");
    // It is a label in every audit event and metric: keep it plain.
    const bool plain = std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
    if (!plain || id.size() > 64)
        top.diag().fail("node_id",
                        "use up to 64 letters, digits, '-', '_' or '.', got \"" + id + "\"");
    return id;
}

// Runs last, on an otherwise valid file, so a file written for another machine still gets
// every rule about the file itself checked first. The most specific path wins: the control
// lcore, then a worker's, then an EAL lcore nothing uses (DPDK would still refuse it).
void check_lcores_available(const GatewayConfig &c, const std::vector<uint32_t> &available,
                            Diagnostics &diag) {
    auto missing = [&](uint32_t lcore) {
        return !std::binary_search(available.begin(), available.end(), lcore);
    };
    auto fail = [&](const std::string &path, uint32_t lcore) {
        diag.fail(path, "lcore " + std::to_string(lcore) +
                            " is not available on this machine (available: " +
                            (available.empty() ? "none" : format_lcore_list(available)) + ")");
    };
    if (missing(c.control_lcore))
        return fail("control_lcore", c.control_lcore);
    for (std::size_t w = 0; w < c.workers.size(); ++w)
        if (missing(c.workers[w].lcore))
            return fail(index_path("workers", w) + ".lcore", c.workers[w].lcore);
    for (const uint32_t lcore : c.eal.lcores)
        if (missing(lcore))
            return fail("eal.lcores", lcore);
}

GatewayConfig read_gateway(const YAML::Node &doc, const CpuList &available, Diagnostics &diag) {
    GatewayConfig c;
    if (!doc.IsMap()) {
        diag.fail("", "expected a mapping of settings at the top level");
        return c;
    }
    MapReader top(doc, "", diag);
    c.node_id = read_node_id(top);
    c.eal = read_eal(top);
    if (!diag.failed())
        c.ports = read_ports(top, c.eal);
    if (!diag.failed()) {
        const auto control = top.optional_integer("control_lcore", 0, kMaxLcores - 1);
        c.control_lcore = control ? static_cast<uint32_t>(*control) : c.eal.lcores.front();
        if (!diag.failed() && !has_lcore(c.eal, c.control_lcore))
            diag.fail("control_lcore", "lcore " + std::to_string(c.control_lcore) +
                                           " is not in eal.lcores (" +
                                           format_lcore_list(c.eal.lcores) + ")");
    }
    if (!diag.failed())
        c.workers = read_workers(top, c.eal, c.ports, c.control_lcore);
    c.listen_port = static_cast<uint16_t>(top.integer("listen_port", kDefaultListenPort, 1, 65535));
    c.private_key = read_private_key(top);
    if (!diag.failed())
        c.policies = read_policy_set(top.get("policies").value_or(YAML::Node()), "policies", diag);
    if (!diag.failed())
        c.peers = read_peers(top, c.policies);
    c.metrics = read_metrics(top);
    c.audit = read_audit(top);
    c.limits = read_limits(top);
    top.finish();
    if (!diag.failed() && available)
        check_lcores_available(c, *available, diag);
    return c;
}

// ---- rendering -----------------------------------------------------------------------------

void emit_strings(YAML::Emitter &out, const char *key, const std::vector<std::string> &items) {
    out << YAML::Key << key << YAML::Value;
    if (items.empty()) {
        out << YAML::Flow;
    }
    out << YAML::BeginSeq;
    for (const auto &s : items)
        out << s;
    out << YAML::EndSeq;
}

void emit_port(YAML::Emitter &out, const PortConfig &p) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << p.name;
    out << YAML::Key << "role" << YAML::Value << role_name(p.role);
    out << YAML::Key << "device" << YAML::Value << p.device;
    if (p.ipv4)
        out << YAML::Key << "ipv4" << YAML::Value << p.ipv4->to_string();
    if (p.ipv6)
        out << YAML::Key << "ipv6" << YAML::Value << p.ipv6->to_string();
    out << YAML::Key << "mac" << YAML::Value << (p.mac ? format_mac(*p.mac) : "auto");
    out << YAML::Key << "rx_queues" << YAML::Value << p.rx_queues;
    out << YAML::Key << "tx_queues" << YAML::Value << p.tx_queues;
    out << YAML::Key << "mtu" << YAML::Value << p.mtu;
    out << YAML::Key << "rss" << YAML::Value << p.rss;
    if (p.next_hop)
        out << YAML::Key << "next_hop" << YAML::Value << address_text(*p.next_hop);
    out << YAML::EndMap;
}

void emit_worker(YAML::Emitter &out, const WorkerConfig &w) {
    out << YAML::BeginMap;
    out << YAML::Key << "lcore" << YAML::Value << w.lcore;
    out << YAML::Key << "queues" << YAML::Value << YAML::BeginSeq;
    for (const auto &q : w.queues)
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "port" << YAML::Value << q.port
            << YAML::Key << "queue" << YAML::Value << q.queue << YAML::EndMap;
    out << YAML::EndSeq << YAML::EndMap;
}

void emit_peer(YAML::Emitter &out, const PeerConfig &p) {
    out << YAML::BeginMap;
    if (!p.name.empty())
        out << YAML::Key << "name" << YAML::Value << p.name;
    out << YAML::Key << "public_key" << YAML::Value << encode_key(p.public_key);
    if (p.preshared_key_file)
        out << YAML::Key << "preshared_key_file" << YAML::Value << *p.preshared_key_file;
    std::vector<std::string> ips;
    for (const auto &ip : p.allowed_ips)
        ips.push_back(ip.to_string());
    emit_strings(out, "allowed_ips", ips);
    out << YAML::Key << "policy" << YAML::Value << p.policy;
    out << YAML::EndMap;
}

}  // namespace

bool GatewayConfig::operator==(const GatewayConfig &o) const {
    return node_id == o.node_id && eal == o.eal && ports == o.ports &&
           control_lcore == o.control_lcore && workers == o.workers &&
           listen_port == o.listen_port && private_key == o.private_key && peers == o.peers &&
           same_policies(policies, o.policies) && metrics == o.metrics && audit == o.audit &&
           limits == o.limits;
}

const PortConfig &GatewayConfig::outer_port() const {
    return *std::find_if(ports.begin(), ports.end(),
                         [](const PortConfig &p) { return p.role == PortRole::Outer; });
}

const PortConfig *GatewayConfig::find_port(std::string_view name) const {
    const auto it = std::find_if(ports.begin(), ports.end(),
                                 [&](const PortConfig &p) { return p.name == name; });
    return it == ports.end() ? nullptr : &*it;
}

std::string format_lcore_list(const std::vector<uint32_t> &lcores) {
    std::string out;
    for (std::size_t i = 0; i < lcores.size();) {
        std::size_t j = i;
        while (j + 1 < lcores.size() && lcores[j + 1] == lcores[j] + 1)
            ++j;
        out += (out.empty() ? "" : ",") + std::to_string(lcores[i]);
        if (j > i)
            out += "-" + std::to_string(lcores[j]);
        i = j + 1;
    }
    return out;
}

Result<GatewayConfig> parse_gateway_config(std::string_view yaml_text, const std::string &source,
                                           const CpuList &available_cpus) {
    Diagnostics diag(source);
    try {
        auto doc = parse_document(yaml_text, diag);
        if (!doc)
            return diag.error();
        GatewayConfig config = read_gateway(*doc, available_cpus, diag);
        if (diag.failed())
            return diag.error();
        return config;
    } catch (const YAML::Exception &e) {
        return make_error(source, std::string("unreadable YAML: ") + e.what());
    }
}

Result<GatewayConfig> load_gateway_config(const std::string &path, const CpuList &available_cpus) {
    auto text = read_text_file(path);
    if (!text)
        return text.error();
    return parse_gateway_config(*text, path, available_cpus);
}

std::string render_gateway_config(const GatewayConfig &c) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "node_id" << YAML::Value << c.node_id;

    out << YAML::Key << "eal" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "lcores" << YAML::Value << YAML::DoubleQuoted
        << format_lcore_list(c.eal.lcores);
    if (c.eal.memory_mb)
        out << YAML::Key << "memory_mb" << YAML::Value << *c.eal.memory_mb;
    out << YAML::Key << "no_huge" << YAML::Value << c.eal.no_huge;
    out << YAML::Key << "no_pci" << YAML::Value << c.eal.no_pci;
    emit_strings(out, "vdevs", c.eal.vdevs);
    emit_strings(out, "pci", c.eal.pci);
    emit_strings(out, "extra_args", c.eal.extra_args);
    out << YAML::EndMap;

    out << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
    for (const auto &p : c.ports)
        emit_port(out, p);
    out << YAML::EndSeq;

    out << YAML::Key << "control_lcore" << YAML::Value << c.control_lcore;
    out << YAML::Key << "workers" << YAML::Value << YAML::BeginSeq;
    for (const auto &w : c.workers)
        emit_worker(out, w);
    out << YAML::EndSeq;

    out << YAML::Key << "listen_port" << YAML::Value << c.listen_port;
    if (c.private_key.kind == PrivateKeySource::Kind::File)
        out << YAML::Key << "private_key_file" << YAML::Value << c.private_key.path;
    else
        out << YAML::Key << "private_key" << YAML::Value << "ephemeral";

    out << YAML::Key << "peers" << YAML::Value;
    if (c.peers.empty())
        out << YAML::Flow;
    out << YAML::BeginSeq;
    for (const auto &p : c.peers)
        emit_peer(out, p);
    out << YAML::EndSeq;

    out << YAML::Key << "policies" << YAML::Value;
    config_detail::emit_policy_set(out, c.policies);

    out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "listen" << YAML::Value << c.metrics.listen;
    out << YAML::Key << "path" << YAML::Value << c.metrics.path;
    out << YAML::EndMap;

    out << YAML::Key << "audit" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "path" << YAML::Value << c.audit.path;
    out << YAML::Key << "queue_capacity" << YAML::Value << c.audit.queue_capacity;
    out << YAML::EndMap;

    out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "max_sessions" << YAML::Value << c.limits.max_sessions;
    out << YAML::Key << "handshake_rate_per_sec" << YAML::Value << c.limits.handshake_rate_per_sec;
    out << YAML::Key << "reassembly_datagrams" << YAML::Value << c.limits.reassembly_datagrams;
    out << YAML::Key << "reassembly_timeout_ms" << YAML::Value << c.limits.reassembly_timeout_ms;
    out << YAML::EndMap;

    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

std::vector<std::string> eal_arguments(const GatewayConfig &c, std::string_view program) {
    std::vector<std::string> args{std::string(program), "-l", format_lcore_list(c.eal.lcores),
                                  "--main-lcore", std::to_string(c.control_lcore)};
    if (c.eal.memory_mb) {
        args.push_back("-m");
        args.push_back(std::to_string(*c.eal.memory_mb));
    }
    if (c.eal.no_huge)
        args.push_back("--no-huge");
    if (c.eal.no_pci)
        args.push_back("--no-pci");
    for (const auto &v : c.eal.vdevs) {
        args.push_back("--vdev");
        args.push_back(v);
    }
    for (const auto &p : c.eal.pci) {
        args.push_back("-a");
        args.push_back(p);
    }
    args.insert(args.end(), c.eal.extra_args.begin(), c.eal.extra_args.end());
    return args;
}

Result<SecretKey> load_private_key(const PrivateKeySource &source) {
    if (source.kind == PrivateKeySource::Kind::Ephemeral)
        return generate_private_key();
    return read_secret_key_file(source.path);
}

Status check_key_files(const GatewayConfig &config, std::vector<std::string> &warnings) {
    const auto check = [&](const std::string &where, const std::string &path) -> Status {
        if (auto key = read_secret_key_file(path); !key)  // SecretKey wipes itself
            return make_error(where, key.error().message());
        if (auto warn = key_file_permission_warning(path))
            warnings.push_back(where + ": " + *warn);
        return Ok{};
    };
    if (config.private_key.kind == PrivateKeySource::Kind::File)
        if (auto st = check("private_key_file", config.private_key.path); !st)
            return st;
    for (std::size_t i = 0; i < config.peers.size(); ++i)
        if (const auto &psk = config.peers[i].preshared_key_file)
            if (auto st = check(index_path("peers", i) + ".preshared_key_file", *psk); !st)
                return st;
    return Ok{};
}

}  // namespace jg
