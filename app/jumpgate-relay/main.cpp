// jumpgate-relay: a UDP relay between a client and the gateway that drops, delays, duplicates,
// reorders, blackholes, rebinds and replays packets on command (tests and chaos drills).
#include <signal.h>
#include <sys/signalfd.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "relay.hpp"

namespace {

constexpr int kExitBadInput = 2;

int fail(const jg::Error &e) {
    std::cerr << "jumpgate-relay: " << e.message() << "\n";
    return kExitBadInput;
}

// Flags that set one impairment in both directions, as text commands ("drop 15%").
struct ShorthandFlags {
    std::string drop, delay, jitter, duplicate, reorder, limit;
};

jg::Result<jg::relay::ImpairmentSettings> initial_settings(const ShorthandFlags &f,
                                                           const std::vector<std::string> &impair) {
    jg::relay::ImpairmentSettings settings;
    std::vector<std::pair<std::string, std::string>> lines;  // flag, command text
    if (!f.drop.empty()) {
        lines.emplace_back("--drop", "drop " + f.drop);
    }
    if (!f.delay.empty() || !f.jitter.empty()) {
        lines.emplace_back("--delay/--jitter", "delay " + (f.delay.empty() ? "0" : f.delay) +
                                                   (f.jitter.empty() ? "" : " jitter " + f.jitter));
    }
    if (!f.duplicate.empty()) {
        lines.emplace_back("--duplicate", "duplicate " + f.duplicate);
    }
    if (!f.reorder.empty()) {
        lines.emplace_back("--reorder", "reorder " + f.reorder);
    }
    if (!f.limit.empty()) {
        lines.emplace_back("--limit", "limit " + f.limit);
    }
    for (const auto &i : impair) {
        lines.emplace_back("--impair", i);
    }
    for (const auto &[flag, text] : lines) {
        auto command = jg::relay::parse_command(text);
        if (!command) {
            return jg::make_error(flag, command.error().message());
        }
        if (!jg::relay::apply_impairment(*command, settings)) {
            return jg::make_error(flag, "'" + text + "' is not an impairment (use the control " +
                                            "socket or a script for it)");
        }
    }
    return settings;
}

jg::Result<std::vector<jg::relay::ScriptStep>> load_script(const std::string &path) {
    std::ifstream in(path);
    if (!in) {
        return jg::make_error("--script", "cannot read " + path);
    }
    std::stringstream text;
    text << in.rdbuf();
    return jg::relay::parse_script(text.str(), path);
}

int control_client(const std::string &socket_path, const std::vector<std::string> &words) {
    std::string line;
    for (const auto &w : words) {
        line += (line.empty() ? "" : " ") + w;
    }
    auto reply = jg::relay::send_control_line(socket_path, line);
    if (!reply) {
        return fail(reply.error());
    }
    std::cout << *reply << "\n";
    bool error = reply->starts_with("error") || reply->starts_with("{\"error\"") ||
                 reply->find("\"ok\":false") != std::string::npos;
    return error ? 1 : 0;
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{
        "jumpgate-relay: one impaired UDP path between a client (--listen) and the gateway "
        "(--upstream)"};
    app.set_version_flag("--version", JUMPGATE_VERSION);
    std::string listen, upstream, bind_src, control, script, log_json;
    uint64_t seed = 1;
    ShorthandFlags shorthand;
    std::vector<std::string> impair;
    app.add_option("--listen", listen, "ADDR:PORT the client sends to (port 0: any)");
    app.add_option("--upstream", upstream, "ADDR:PORT of the gateway");
    app.add_option("--bind-src", bind_src,
                   "source address of the upstream socket (port ephemeral)");
    app.add_option("--control", control, "Unix socket path for live commands");
    app.add_option("--script", script, "file of 'at <T>ms <command>' lines");
    app.add_option("--seed", seed, "seed of the loss/duplicate/reorder/jitter decisions")
        ->capture_default_str();
    app.add_option("--log-json", log_json, "append events (commands, rebinds, replays) as JSON");
    app.add_option("--drop", shorthand.drop, "loss percentage, both directions");
    app.add_option("--delay", shorthand.delay, "delay in ms, both directions");
    app.add_option("--jitter", shorthand.jitter, "jitter in ms (uniform), both directions");
    app.add_option("--duplicate", shorthand.duplicate, "duplicate percentage, both directions");
    app.add_option("--reorder", shorthand.reorder, "reorder percentage, both directions");
    app.add_option("--limit", shorthand.limit,
                   "packets each direction's delay queue holds (default 1000)");
    app.add_option("--impair", impair, "an impairment command, e.g. 'up drop 15%' (repeatable)");

    auto *ctl = app.add_subcommand("control", "send one command to a running relay's socket");
    std::string ctl_socket;
    std::vector<std::string> ctl_words;
    ctl->add_option("socket", ctl_socket, "the relay's --control path")->required();
    ctl->add_option("command", ctl_words, "the command, e.g. up drop 15%")->required();
    ctl->positionals_at_end();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    }
    if (ctl->parsed()) {
        return control_client(ctl_socket, ctl_words);
    }

    if (listen.empty() || upstream.empty()) {
        return fail(jg::make_error("arguments", "--listen and --upstream are required"));
    }
    jg::relay::RelayOptions options;
    auto l = jg::relay::parse_endpoint(listen, "--listen");
    if (!l) {
        return fail(l.error());
    }
    options.listen = *l;
    auto u = jg::relay::parse_endpoint(upstream, "--upstream");
    if (!u) {
        return fail(u.error());
    }
    if (u->port() == 0) {
        return fail(jg::make_error("--upstream", "port 0 is not a destination"));
    }
    options.upstream = *u;
    if (!bind_src.empty()) {
        auto b = jg::relay::parse_address(bind_src, "--bind-src");
        if (!b) {
            return fail(b.error());
        }
        options.bind_src = *b;
    }
    auto settings = initial_settings(shorthand, impair);
    if (!settings) {
        return fail(settings.error());
    }
    options.initial = *settings;
    if (!script.empty()) {
        auto steps = load_script(script);
        if (!steps) {
            return fail(steps.error());
        }
        options.script = std::move(*steps);
    }
    options.control_path = control;
    options.seed = seed;
    options.log_json_path = log_json;

    // Signals arrive through a descriptor the relay's loop watches, so shutdown happens
    // between packets and the final statistics are complete.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    jg::relay::UniqueFd signal_fd(signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC));

    auto relay = jg::relay::Relay::open(std::move(options));
    if (!relay) {
        return fail(relay.error());
    }
    return (*relay)->run(signal_fd.get());
}
