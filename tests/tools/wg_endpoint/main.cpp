// wg_endpoint: a minimal WireGuard peer over kernel UDP, built from lib/proto, that proves
// byte compatibility with a stock implementation (tests/e2e/interop/run_interop.sh).
// Exit status: 0 when the role's job was done, 1 when a protocol step failed or timed out,
// 2 for a bad command line or configuration. A JSON line with counters is always printed.
#include <arpa/inet.h>
#include <sodium.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "endpoint_config.hpp"
#include "endpoint_counters.hpp"
#include "endpoint_flows.hpp"
#include "key_file.hpp"

namespace {

using jg::interop::EndpointConfig;
using jg::interop::Role;

struct CommandLine {
    std::string role;
    std::string listen;
    std::string peer_endpoint;
    std::string private_key_file;
    std::string peer_public_key;
    std::string psk_file;
    std::string tunnel_address;
    std::string ping;
    std::uint32_t echo_count = 1;
    bool under_load = false;
    std::uint32_t flood_initiations = 0;
    std::uint32_t timeout_ms = 10000;
};

jg::Result<in_addr_t> parse_ipv4(const std::string &text, const std::string &option) {
    in_addr address{};
    if (inet_pton(AF_INET, text.c_str(), &address) != 1) {
        return jg::make_error(option, "not an IPv4 address: " + text);
    }
    return address.s_addr;
}

jg::Result<EndpointConfig> load_config(const CommandLine &line) {
    auto private_key = jg::interop::read_key_file(line.private_key_file);
    if (!private_key.ok()) {
        return private_key.error();
    }
    auto identity = jg::proto::StaticIdentity::from_private_key(*private_key);
    sodium_memzero(private_key->data(), private_key->size());
    if (!identity.ok()) {
        return jg::make_error("--private-key-file", identity.error().message());
    }
    EndpointConfig config(*identity);
    config.role = line.role == "initiator" ? Role::initiator : Role::responder;

    auto peer_public = jg::interop::decode_key(line.peer_public_key, "--peer-public-key");
    if (!peer_public.ok()) {
        return peer_public.error();
    }
    config.peer_public = *peer_public;
    if (!line.psk_file.empty()) {
        auto psk = jg::interop::read_key_file(line.psk_file);
        if (!psk.ok()) {
            return psk.error();
        }
        config.psk = *psk;
        sodium_memzero(psk->data(), psk->size());
    }
    auto listen = jg::interop::UdpAddress::parse(line.listen);
    if (!listen.ok()) {
        return listen.error();
    }
    config.listen = *listen;
    if (!line.peer_endpoint.empty()) {
        auto peer = jg::interop::UdpAddress::parse(line.peer_endpoint);
        if (!peer.ok()) {
            return peer.error();
        }
        config.peer_endpoint = *peer;
    }
    auto tunnel = parse_ipv4(line.tunnel_address, "--tunnel-address");
    if (!tunnel.ok()) {
        return tunnel.error();
    }
    config.tunnel_address = *tunnel;
    if (!line.ping.empty()) {
        auto target = parse_ipv4(line.ping, "--ping");
        if (!target.ok()) {
            return target.error();
        }
        config.ping_target = *target;
    }
    if (config.role == Role::initiator && (!config.peer_endpoint || !config.ping_target)) {
        return jg::make_error("--role initiator", "needs --peer-endpoint and --ping");
    }
    config.echo_count = line.echo_count;
    config.under_load = line.under_load;
    config.flood_initiations = line.flood_initiations;
    config.timeout = std::chrono::milliseconds(line.timeout_ms);
    return config;
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"WireGuard test peer over kernel UDP, built from jumpgate's lib/proto"};
    CommandLine line;
    app.add_option("--role", line.role, "initiator or responder")
        ->required()
        ->check(CLI::IsMember({"initiator", "responder"}));
    app.add_option("--listen", line.listen, "local IPv4:port to bind")->required();
    app.add_option("--peer-endpoint", line.peer_endpoint, "peer's IPv4:port (initiator)");
    app.add_option("--private-key-file", line.private_key_file, "file from `wg genkey`")
        ->required();
    app.add_option("--peer-public-key", line.peer_public_key, "peer's key from `wg pubkey`")
        ->required();
    app.add_option("--psk-file", line.psk_file, "file from `wg genpsk` (none: no PSK)");
    app.add_option("--tunnel-address", line.tunnel_address, "our IPv4 address in the tunnel")
        ->required();
    app.add_option("--ping", line.ping, "initiator: tunnel IPv4 address to send an echo to");
    app.add_option("--echo-count", line.echo_count,
                   "responder: exit 0 after answering this many echo requests")
        ->check(CLI::PositiveNumber);
    app.add_flag("--under-load", line.under_load,
                 "responder: require mac2, answering initiations without it by a cookie reply");
    app.add_option("--flood-initiations", line.flood_initiations,
                   "initiator: first send this many bogus initiations (valid mac1) so the "
                   "responder goes under load and must answer with a cookie reply");
    app.add_option("--timeout-ms", line.timeout_ms, "give up after this many milliseconds")
        ->check(CLI::PositiveNumber);
    CLI11_PARSE(app, argc, argv);

    if (sodium_init() < 0) {
        std::cerr << "wg_endpoint: libsodium failed to initialise\n";
        return 2;
    }
    auto config = load_config(line);
    if (!config.ok()) {
        std::cerr << "wg_endpoint: " << config.error().message() << "\n";
        return 2;
    }
    auto socket = jg::interop::UdpSocket::bind(config->listen);
    if (!socket.ok()) {
        std::cerr << "wg_endpoint: " << socket.error().message() << "\n";
        return 2;
    }
    jg::interop::EndpointCounters counters;
    const auto result = config->role == Role::initiator
                            ? jg::interop::run_initiator(*config, *socket, counters)
                            : jg::interop::run_responder(*config, *socket, counters);
    const std::string error = result.ok() ? std::string{} : result.error().message();
    if (!error.empty()) {
        std::cerr << "wg_endpoint " << line.role << ": FAILED: " << error << "\n";
    }
    std::cout << counters.to_json(line.role, error) << std::endl;
    return result.ok() ? 0 : 1;
}
