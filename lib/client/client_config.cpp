#include "client/client_config.hpp"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "config/keys.hpp"
#include "config/policy_file.hpp"

namespace jg::client {
namespace {

std::optional<uint32_t> parse_ipv4(std::string_view text) {
    const std::string s(text);
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) != 1)
        return std::nullopt;
    return ntohl(a.s_addr);
}

// ADDR or ADDR:PORT (IPv4); port 0 when absent.
std::optional<TransportAddr> parse_source(std::string_view text) {
    if (auto a = parse_ipv4(text))
        return TransportAddr::v4(*a, 0);
    return parse_transport(text);
}

bool valid_interface_name(std::string_view s) {
    // IFNAMSIZ - 1 characters, none of which may be '/', ':' or whitespace.
    return !s.empty() && s.size() <= 15 && std::none_of(s.begin(), s.end(), [](char c) {
        return c == '/' || c == ':' || c == ' ' || c == '\t';
    });
}

bool looks_like_address(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || c == '.' || c == ':';
    });
}

Result<std::string> read_file(const std::string &path) {
    std::ifstream in(path);
    if (!in)
        return make_error(path, "cannot be read");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Result<proto::Key> gateway_key(const std::string &text) {
    std::string_view trimmed = text;
    if (trimmed.size() == kKeyBase64Chars) {
        if (auto k = decode_public_key(trimmed); k.ok())
            return proto::Key(*k);
    }
    auto k = read_public_key_file(text);
    if (!k)
        return make_error("--gateway-public-key", "neither a base64 key nor a readable key file (" +
                                                      k.error().message() + ")");
    return proto::Key(*k);
}

Result<TransportAddr> endpoint(const std::string &text, std::string_view where, bool need_port) {
    auto t = parse_transport(text);
    if (!t || t->family != 4 || (need_port && t->port == 0))
        return make_error(std::string(where),
                          "'" + text + "' is not an IPv4 ADDR:PORT with a non-zero port");
    return *t;
}

}  // namespace

Result<PathSpec> parse_path_spec(std::string_view text) {
    const std::string where = "--path " + std::string(text);
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || eq == 0)
        return make_error(where, "expected NAME=ADDR[:PORT][@ENDPOINT] or NAME=IFACE[@ENDPOINT]");
    PathSpec spec;
    spec.name = std::string(text.substr(0, eq));
    if (spec.name.size() > 32 || std::any_of(spec.name.begin(), spec.name.end(), [](char c) {
            return !(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
        }))
        return make_error(where, "path name must be 1-32 letters, digits, '-' or '_'");
    std::string_view rest = text.substr(eq + 1);
    if (const auto at = rest.find('@'); at != std::string_view::npos) {
        auto ep = parse_transport(rest.substr(at + 1));
        if (!ep || ep->family != 4 || ep->port == 0)
            return make_error(where, "endpoint '" + std::string(rest.substr(at + 1)) +
                                         "' is not an IPv4 ADDR:PORT with a non-zero port");
        spec.endpoint = *ep;
        rest = rest.substr(0, at);
    }
    if (rest.empty())
        return make_error(where, "no source address or interface after '='");
    if (looks_like_address(rest)) {
        auto src = parse_source(rest);
        if (!src || src->family != 4)
            return make_error(where, "'" + std::string(rest) + "' is not an IPv4 address[:port]");
        spec.source = *src;
    } else if (valid_interface_name(rest)) {
        spec.device = std::string(rest);
    } else {
        return make_error(where, "'" + std::string(rest) +
                                     "' is neither an IPv4 address nor an "
                                     "interface name");
    }
    return spec;
}

Status merge_yaml_options(std::string_view yaml_text, const std::string &source, ClientOptions &o) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml_text));
    } catch (const YAML::Exception &e) {
        return make_error(
            source, "YAML syntax error at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    if (root.IsNull())
        return Ok{};
    if (!root.IsMap())
        return make_error(source, "expected a mapping of option names to values");
    const auto where = [&](const std::string &key) { return source + ": " + key; };
    try {
        for (const auto &kv : root) {
            const std::string key = kv.first.as<std::string>();
            const YAML::Node &v = kv.second;
            auto str = [&](std::string &field) {
                if (!v.IsScalar())
                    throw YAML::Exception(v.Mark(), "expected a string");
                if (field.empty())
                    field = v.as<std::string>();
            };
            auto list = [&](std::vector<std::string> &field) {
                if (!v.IsSequence())
                    throw YAML::Exception(v.Mark(), "expected a list");
                if (field.empty())
                    for (const auto &item : v)
                        field.push_back(item.as<std::string>());
            };
            if (key == "private_key_file")
                str(o.private_key_file);
            else if (key == "gateway_public_key")
                str(o.gateway_public_key);
            else if (key == "gateway_endpoint")
                str(o.gateway_endpoint);
            else if (key == "preshared_key_file")
                str(o.preshared_key_file);
            else if (key == "tunnel_addresses")
                list(o.tunnel_addresses);
            else if (key == "paths")
                list(o.paths);
            else if (key == "policy_file")
                str(o.policy_file);
            else if (key == "policy_profile")
                str(o.policy_profile);
            else if (key == "log_json")
                str(o.log_json);
            else if (key == "status_socket")
                str(o.status_socket);
            else if (key == "node_id")
                str(o.node_id);
            else if (key == "headless")
                o.headless = o.headless || v.as<bool>();
            else if (key == "app_socket")
                str(o.app_socket);
            else if (key == "app_mode")
                str(o.app_mode);
            else if (key == "inner_destination")
                str(o.inner_destination);
            else if (key == "inner_source_port") {
                if (!o.inner_source_port)
                    o.inner_source_port = v.as<int64_t>();
            } else if (key == "tun")
                str(o.tun_name);
            else if (key == "handshake_timeout_ms") {
                if (!o.handshake_timeout_ms)
                    o.handshake_timeout_ms = v.as<int64_t>();
            } else if (key == "probe_standby")
                o.probe_standby = o.probe_standby || v.as<bool>();
            else
                return make_error(where(key), "unknown option");
        }
    } catch (const YAML::Exception &e) {
        return make_error(source, "line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    return Ok{};
}

Result<ClientConfig> build_client_config(const ClientOptions &given) {
    ClientOptions o = given;
    if (!o.config_file.empty()) {
        auto text = read_file(o.config_file);
        if (!text)
            return make_error("--config", text.error().message());
        if (auto st = merge_yaml_options(*text, o.config_file, o); !st)
            return st.error();
    }
    ClientConfig c;

    if (o.private_key_file.empty())
        return make_error("--private-key", "required (a file holding the client's private key)");
    auto priv = read_secret_key_file(o.private_key_file);
    if (!priv)
        return make_error("--private-key", priv.error().message());
    auto identity = proto::StaticIdentity::from_private_key(priv->bytes());
    if (!identity)
        return make_error("--private-key", identity.error().message());
    c.identity.emplace(*identity);

    if (o.gateway_public_key.empty())
        return make_error("--gateway-public-key", "required (base64 or a file)");
    auto gw = gateway_key(o.gateway_public_key);
    if (!gw)
        return gw.error();
    c.gateway_public = *gw;

    if (o.gateway_endpoint.empty())
        return make_error("--gateway", "required (the gateway's ADDR:PORT)");
    auto ep = endpoint(o.gateway_endpoint, "--gateway", true);
    if (!ep)
        return ep.error();
    c.gateway_endpoint = *ep;

    if (!o.preshared_key_file.empty()) {
        auto psk = read_secret_key_file(o.preshared_key_file);
        if (!psk)
            return make_error("--psk", psk.error().message());
        c.psk = std::move(*psk);
    }

    if (o.tunnel_addresses.empty())
        return make_error("--tunnel-address", "required (the client's inner IPv4 address)");
    for (const std::string &t : o.tunnel_addresses) {
        std::string_view text = t;
        if (text.ends_with("/32"))
            text.remove_suffix(3);
        auto a = parse_ipv4(text);
        if (!a)
            return make_error("--tunnel-address",
                              "'" + t + "' is not an IPv4 address (A.B.C.D[/32])");
        c.tunnel_addresses.push_back(*a);
    }

    if (o.paths.empty())
        return make_error("--path", "at least one path is required (NAME=ADDR or NAME=IFACE)");
    if (o.paths.size() > kMaxPaths)
        return make_error("--path", std::to_string(o.paths.size()) + " paths given, at most " +
                                        std::to_string(kMaxPaths) + " are supported");
    std::set<std::string> names;
    std::set<TransportAddr> sources;
    for (const std::string &text : o.paths) {
        auto spec = parse_path_spec(text);
        if (!spec)
            return spec.error();
        if (!names.insert(spec->name).second)
            return make_error("--path " + text, "path name '" + spec->name + "' is used twice");
        if (spec->source && spec->source->port != 0 && !sources.insert(*spec->source).second)
            return make_error("--path " + text,
                              "source " + spec->source->to_string() + " is used by another path");
        spec->id = static_cast<uint8_t>(c.paths.size() + 1);
        c.paths.push_back(std::move(*spec));
    }

    const std::string profile = o.policy_profile.empty() ? "default" : o.policy_profile;
    if (!o.policy_file.empty()) {
        auto set = load_policy_file(o.policy_file);
        if (!set)
            return make_error("--policy", set.error().message());
        const Policy *p = set->find(profile);
        if (p == nullptr)
            return make_error("--policy-profile",
                              "profile '" + profile + "' is not in " + o.policy_file);
        c.policy = *p;
    } else if (profile != "default") {
        return make_error("--policy-profile",
                          "needs --policy (the file defining '" + profile + "')");
    }
    if (auto st = validate_policy(c.policy); !st)
        return make_error("policy." + st.error().where, st.error().what);

    c.log_json = o.log_json;
    c.status_socket = o.status_socket.empty() ? std::string(kDefaultStatusSocket) : o.status_socket;
    c.node_id = o.node_id.empty() ? "jumpgate-client" : o.node_id;
    c.probe_standby = o.probe_standby;
    if (o.handshake_timeout_ms) {
        if (*o.handshake_timeout_ms <= 0)
            return make_error("--handshake-timeout-ms",
                              "must be > 0, not " + std::to_string(*o.handshake_timeout_ms));
        c.handshake_timeout_ms = *o.handshake_timeout_ms;
    }

    c.headless = o.headless;
    c.tun_name = o.tun_name;
    if (c.headless == !c.tun_name.empty())
        return make_error("--headless/--tun",
                          "exactly one of --headless or --tun NAME is required");
    if (c.headless) {
        if (o.app_socket.empty())
            return make_error("--app-socket", "required with --headless (local ADDR:PORT)");
        auto app = endpoint(o.app_socket, "--app-socket", true);
        if (!app)
            return app.error();
        c.app_socket = *app;
        if (o.app_mode.empty() || o.app_mode == "udp") {
            c.app_mode = AppMode::udp;
            if (o.inner_destination.empty())
                return make_error("--inner-destination",
                                  "required with --app-mode udp (the inner host's ADDR:PORT)");
            auto dst = endpoint(o.inner_destination, "--inner-destination", true);
            if (!dst)
                return dst.error();
            c.inner_destination = *dst;
        } else if (o.app_mode == "ip") {
            c.app_mode = AppMode::ip;
        } else {
            return make_error("--app-mode", "'" + o.app_mode + "' is not 'udp' or 'ip'");
        }
        if (o.inner_source_port) {
            if (*o.inner_source_port < 1 || *o.inner_source_port > 65535)
                return make_error("--inner-source-port",
                                  "must be 1..65535, not " + std::to_string(*o.inner_source_port));
            c.inner_source_port = static_cast<uint16_t>(*o.inner_source_port);
        }
    } else {
        if (!valid_interface_name(c.tun_name))
            return make_error("--tun", "'" + c.tun_name + "' is not a valid interface name");
        // Headless-only settings would be ignored in TUN mode: refused, so a mistyped mode is
        // not a silently different client.
        const std::pair<bool, const char *> headless_only[] = {
            {!o.app_socket.empty(), "--app-socket"},
            {!o.app_mode.empty(), "--app-mode"},
            {!o.inner_destination.empty(), "--inner-destination"},
            {o.inner_source_port.has_value(), "--inner-source-port"},
        };
        for (const auto &[given, flag] : headless_only)
            if (given)
                return make_error(flag, "applies only with --headless, not with --tun");
    }
    return c;
}

}  // namespace jg::client
