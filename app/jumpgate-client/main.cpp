// jumpgate-client: command line. `jumpgate-client [options]` runs a client session (see
// docs/client.md); `jumpgate-client status` prints a running client's status.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "client/client_config.hpp"
#include "client_loop.hpp"
#include "status_socket.hpp"

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) {
    g_stop.store(true);
}

void print_status_table(const nlohmann::json &j) {
    const nlohmann::json none = nlohmann::json::object();
    std::printf("state          %s (state_version %llu)\n", j.value("state", "?").c_str(),
                static_cast<unsigned long long>(j.value("state_version", 0ull)));
    std::printf("session_id     %s\n", j.value("session_id", "").c_str());
    std::printf("active path    %s\n", j.value("active_path", "").c_str());
    const nlohmann::json &gw = j.contains("gateway") ? j.at("gateway") : none;
    std::printf("gateway        %s, state %s (state_version %llu)\n",
                gw.value("endpoint", "").c_str(), gw.value("state", "-").c_str(),
                static_cast<unsigned long long>(gw.value("state_version", 0ull)));
    std::printf("switches       %llu\n",
                static_cast<unsigned long long>(j.value("switches", 0ull)));
    std::printf("%-10s %-22s %-6s %9s %9s %7s %10s\n", "path", "local", "active", "rtt_ms",
                "jitter_ms", "loss", "last_rx_ms");
    for (const auto &p : j.value("paths", nlohmann::json::array())) {
        std::printf("%-10s %-22s %-6s %9.2f %9.2f %6.1f%% %10lld\n", p.value("name", "").c_str(),
                    p.value("local", "").c_str(), p.value("active", false) ? "yes" : "",
                    p.value("rtt_ms", 0.0), p.value("jitter_ms", 0.0), p.value("loss", 0.0) * 100.0,
                    static_cast<long long>(p.value("last_rx_age_ms", -1ll)));
    }
}

int print_status(const std::string &path, bool as_json) {
    auto doc = jg::client::fetch_status(path, std::chrono::milliseconds(2000));
    if (!doc) {
        std::cerr << "jumpgate-client status: " << doc.error().message() << "\n";
        return 1;
    }
    if (as_json) {
        std::cout << *doc;
        return 0;
    }
    const auto j = nlohmann::json::parse(*doc, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        std::cerr << "jumpgate-client status: the client sent something that is not a JSON "
                     "status document\n";
        return 1;
    }
    // A field of another type than this version prints (another client version on the
    // socket) throws from nlohmann's accessors: a refusal, not an abort.
    try {
        print_status_table(j);
    } catch (const nlohmann::json::exception &e) {
        std::cerr << "jumpgate-client status: unexpected status document: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{
        "jumpgate-client: a WireGuard client with the Jumping extensions (several "
        "candidate paths, explicit reattach, audited switches)"};
    jg::client::ClientOptions o;
    app.add_option("--config", o.config_file, "YAML file with the options below (flags win)");
    app.add_option("--private-key", o.private_key_file, "file holding the client's private key");
    app.add_option("--gateway-public-key", o.gateway_public_key,
                   "the gateway's public key (base64) or a file holding it");
    app.add_option("--gateway", o.gateway_endpoint, "the gateway's ADDR:PORT");
    app.add_option("--psk", o.preshared_key_file, "file holding a pre-shared key");
    app.add_option("--tunnel-address", o.tunnel_addresses, "inner IPv4 address (repeatable)");
    app.add_option("--path", o.paths,
                   "candidate path NAME=ADDR[:PORT][@ENDPOINT] or NAME=IFACE[@ENDPOINT] "
                   "(repeatable; the first is tried first)");
    app.add_option("--policy", o.policy_file, "policy file (policies: {NAME: ...})");
    app.add_option("--policy-profile", o.policy_profile, "profile of --policy to use");
    app.add_option("--log-json", o.log_json, "append audit events as JSON lines to FILE");
    app.add_option("--status-socket", o.status_socket, "Unix socket serving the status");
    app.add_option("--node-id", o.node_id, "node_id of the JSON log lines");
    app.add_flag("--headless", o.headless, "no TUN: inner traffic through --app-socket");
    app.add_option("--app-socket", o.app_socket, "headless: local UDP ADDR:PORT for the app");
    app.add_option("--app-mode", o.app_mode, "headless: 'udp' (payloads, default) or 'ip'");
    app.add_option("--inner-destination", o.inner_destination,
                   "headless udp mode: inner ADDR:PORT the payloads go to");
    app.add_option("--inner-source-port", o.inner_source_port,
                   "headless udp mode: inner UDP source port (default 40000)");
    app.add_option("--tun", o.tun_name, "TUN interface to create and carry");
    app.add_option("--handshake-timeout-ms", o.handshake_timeout_ms,
                   "give up when the first handshake takes longer (default 30000)");
    app.add_flag("--probe-standby", o.probe_standby,
                 "heartbeats on standby paths too (see docs/client.md before using it)");

    auto *status = app.add_subcommand("status", "print a running client's status");
    std::string status_path(jg::client::kDefaultStatusSocket);
    bool as_json = false;
    status->add_option("--status-socket", status_path, "the client's status socket");
    status->add_flag("--json", as_json, "print the JSON document");
    app.require_subcommand(0, 1);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        // app.exit prints the help or the error; its codes (100 and up) are CLI11's own, and
        // anything the command line cannot parse is a configuration error here.
        return app.exit(e) == 0 ? 0 : static_cast<int>(jg::client::ExitCode::config_error);
    }
    if (status->parsed())
        return print_status(status_path, as_json);

    auto config = jg::client::build_client_config(o);
    if (!config) {
        std::cerr << "jumpgate-client: " << config.error().message() << "\n";
        return static_cast<int>(jg::client::ExitCode::config_error);
    }
    auto loop = jg::client::ClientLoop::create(std::move(*config));
    if (!loop) {
        std::cerr << "jumpgate-client: " << loop.error().message() << "\n";
        return static_cast<int>(jg::client::ExitCode::config_error);
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    return static_cast<int>((*loop)->run(g_stop));
}
