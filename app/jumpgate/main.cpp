// jumpgate: the gateway executable. Runs the gateway from a config file (or the embedded
// demo), validates configs, and makes WireGuard keys.
#include <sodium.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/gateway_config.hpp"
#include "config/host_cpus.hpp"
#include "config/keys.hpp"
#include "gateway.hpp"

namespace jg::app {
extern const std::string_view kDemoConfig;  // deploy/configs/demo.yaml, embedded at build time
}

namespace {

// The CPUs lcores may be pinned to, so that a config naming a CPU this machine lacks is
// refused before EAL init rather than by it.
std::optional<std::vector<uint32_t>> cpus_of_this_machine() {
    auto cpus = jg::available_cpus();
    if (!cpus) {
        std::cerr << "jumpgate: warning: " << cpus.error().message()
                  << "; lcores are not checked against this machine's CPUs\n";
        return std::nullopt;
    }
    return *cpus;
}

int check_config(const std::string &path) {
    auto cfg = jg::load_gateway_config(path, cpus_of_this_machine());
    if (!cfg) {
        std::cerr << "jumpgate: invalid configuration: " << cfg.error().message() << "\n";
        return 1;
    }
    std::vector<std::string> warnings;
    if (auto st = jg::check_key_files(*cfg, warnings); !st) {
        std::cerr << "jumpgate: invalid configuration: " << path << ": " << st.error().message()
                  << "\n";
        return 1;
    }
    for (const auto &warn : warnings)
        std::cerr << "jumpgate: warning: " << warn << "\n";
    std::cout << "# " << path << ": valid. Effective configuration:\n"
              << jg::render_gateway_config(*cfg);
    return 0;
}

int genkey(const std::string &path) {
    const jg::SecretKey key = jg::generate_private_key();
    const jg::Status st =
        path.empty() ? jg::write_key_fd(STDOUT_FILENO, key) : jg::write_secret_key_file(path, key);
    if (!st) {
        std::cerr << "jumpgate genkey: " << st.error().message() << "\n";
        return 1;
    }
    if (!path.empty())
        std::cerr << "private key written to " << path << " (mode 0600)\n";
    return 0;
}

jg::Result<jg::SecretKey> read_private_key_from_stdin() {
    std::string line;
    std::getline(std::cin, line);
    auto key = jg::decode_secret_key(line.substr(0, line.find_last_not_of(" \t\r\n") + 1));
    sodium_memzero(line.data(), line.size());
    if (!key)
        return jg::make_error("standard input", key.error().what);
    return key;
}

// `path` empty: the key comes on stdin, as `wg pubkey` takes it.
int pubkey(const std::string &path) {
    auto key = path.empty() ? read_private_key_from_stdin() : jg::read_secret_key_file(path);
    if (!key) {
        std::cerr << "jumpgate pubkey: " << key.error().message() << "\n";
        return 1;
    }
    std::cout << jg::encode_key(jg::derive_public_key(*key)) << "\n";
    return 0;
}

// --duration-s and --stats-interval-s: 0 (never) or 1 ms to 10^7 s. NaN or an infinity would
// make the conversion to milliseconds undefined, and a positive value under 1 ms would round
// to 0, which means "never".
CLI::Validator seconds_or_zero() {
    return CLI::Validator(
        [](std::string &text) -> std::string {
            double v = 0;
            const char *last = text.data() + text.size();
            const auto [end, ec] = std::from_chars(text.data(), last, v);
            const bool number = !text.empty() && ec == std::errc() && end == last;
            if (number && std::isfinite(v) && (v == 0 || (v >= 0.001 && v <= 1e7)))
                return {};
            return "'" + text + "' is not 0 or a number of seconds in 0.001..10000000";
        },
        "SECONDS");
}

}  // namespace

int main(int argc, char **argv) {
    if (sodium_init() < 0) {
        std::cerr << "jumpgate: libsodium failed to initialise\n";
        return 1;
    }
    CLI::App app{
        "jumpgate: session-centric WireGuard VPN edge gateway on DPDK.\n"
        "With no --config it runs the embedded demo configuration (virtual devices)."};
    app.set_version_flag("--version", std::string(JUMPGATE_VERSION));

    std::string config_path, check_path;
    double duration_s = 0, stats_s = 0;
    bool print_demo = false;
    app.add_option("-c,--config", config_path, "gateway configuration (YAML)")
        ->check(CLI::ExistingFile);
    app.add_option("--check-config", check_path,
                   "validate FILE, print the effective configuration, exit")
        ->check(CLI::ExistingFile);
    app.add_flag("--print-demo-config", print_demo, "print the embedded demo configuration");
    app.add_option("--duration-s", duration_s,
                   "stop after this many seconds (0 = run until "
                   "SIGINT/SIGTERM)")
        ->check(seconds_or_zero());
    app.add_option("--stats-interval-s", stats_s, "print worker totals this often (0 = never)")
        ->check(seconds_or_zero());

    std::string genkey_path;
    auto *gen = app.add_subcommand("genkey", "write a new private key (WireGuard base64)");
    gen->add_option("FILE", genkey_path, "file to create with mode 0600 (default: stdout)");
    std::string pubkey_path;
    auto *pub = app.add_subcommand("pubkey", "print the public key of a private key");
    pub->add_option("FILE", pubkey_path, "private key file (default: stdin)");
    app.require_subcommand(0, 1);

    CLI11_PARSE(app, argc, argv);

    if (gen->parsed())
        return genkey(genkey_path);
    if (pub->parsed())
        return pubkey(pubkey_path);
    if (print_demo) {
        std::cout << jg::app::kDemoConfig;
        return 0;
    }
    if (!check_path.empty())
        return check_config(check_path);

    auto cfg = config_path.empty()
                   ? jg::parse_gateway_config(jg::app::kDemoConfig, "embedded demo.yaml",
                                              cpus_of_this_machine())
                   : jg::load_gateway_config(config_path, cpus_of_this_machine());
    if (!cfg) {
        std::cerr << "jumpgate: invalid configuration: " << cfg.error().message() << "\n";
        return 1;
    }
    if (config_path.empty())
        std::cout << "no --config given: running the embedded demo configuration\n";
    jg::app::RunOptions opts;
    opts.run_for_ms = std::llround(duration_s * 1000);
    opts.stats_interval_ms = std::llround(stats_s * 1000);
    return jg::app::run_gateway(*cfg, opts, std::cout);
}
