// `jumpgatectl sessions | session ID | terminate ID | policy show | policy reload FILE | stats`:
// the running gateway's /jumpgate/... commands over its DPDK telemetry socket, printed as
// tables or (--json) as JSON.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "admin_format.hpp"
#include "commands.hpp"
#include "config/policy_file.hpp"
#include "gateway_address.hpp"
#include "telemetry/audit_json.hpp"
#include "telemetry_client.hpp"

namespace jg::ctl {
namespace {

// The telemetry server reads at most this many bytes of a command line.
constexpr size_t kMaxCommandBytes = 1024;

struct AdminOptions {
    GatewayAddress gateway;
    bool json = false;
    std::string id;
    std::string file;
};

int print_error(const Error &e, int code) {
    std::cerr << "jumpgatectl: " << e.what << "\n";
    return code;
}

// Connects and runs `body`; when no gateway answers, says which socket it tried.
template <class F>
int with_gateway(const GatewayAddress &address, F &&body) {
    auto path = choose_socket(address, running_gateway_sockets());
    if (!path) {
        std::cerr << "jumpgatectl: " << path.error().message() << "\n";
        return kExitNoGateway;
    }
    auto client = TelemetryClient::connect(*path);
    if (!client) {
        std::cerr << "jumpgatectl: no gateway is running: cannot connect to " << *path << " ("
                  << client.error().what << ")\n";
        return kExitNoGateway;
    }
    return body(*client);
}

// One command's reply object, or the gateway's (or the connection's) error.
Result<nlohmann::json> ask(TelemetryClient &client, const std::string &command,
                           const std::string &params = {}) {
    auto value = client.command(params.empty() ? command : command + "," + params);
    if (!value)
        return value.error();
    return admin_reply(*value, command);
}

void print_json(const nlohmann::json &j) {
    std::cout << j.dump(2) << "\n";
}

int run_sessions(const AdminOptions &o) {
    return with_gateway(o.gateway, [&](TelemetryClient &c) {
        std::vector<nlohmann::json> pages;
        // Each page starts after the last id of the one before, so the walk ends: ids only
        // grow, whatever is created or dropped meanwhile.
        std::string after;
        for (;;) {
            auto page = ask(c, "/jumpgate/sessions", after);
            if (!page)
                return print_error(page.error(), kExitFindings);
            pages.push_back(*page);
            const std::string next = page->value("next_after", std::string());
            if (next.empty() || next <= after)
                break;
            after = next;
        }
        const nlohmann::json joined = join_session_pages(pages);
        if (o.json)
            print_json(joined);
        else
            std::cout << sessions_text(joined);
        return kExitOk;
    });
}

// The policy comes 16 profiles a reply; the pages belong together only under one generation,
// so a reload between them starts the walk over (a few times, then it is an error).
int run_policy_show(const AdminOptions &o) {
    return with_gateway(o.gateway, [&](TelemetryClient &c) {
        for (int attempt = 0; attempt < 3; ++attempt) {
            auto first = ask(c, "/jumpgate/policy", "");
            if (!first)
                return print_error(first.error(), kExitFindings);
            nlohmann::json joined = *first;
            const auto generation = joined.value("generation", uint64_t{0});
            bool torn = false;
            uint64_t next = joined.value("next_first", uint64_t{0});
            while (next != 0) {
                auto page = ask(c, "/jumpgate/policy", std::to_string(next));
                if (!page)
                    return print_error(page.error(), kExitFindings);
                if (page->value("generation", uint64_t{0}) != generation) {
                    torn = true;
                    break;
                }
                for (const auto &[k, v] : page->items())
                    if (k.rfind("profile_", 0) == 0)
                        joined[k] = v;
                const uint64_t after = page->value("next_first", uint64_t{0});
                if (after != 0 && after <= next) {
                    std::cerr << "jumpgatectl: the gateway's policy pages do not advance (at "
                              << next << "); not showing a partial policy\n";
                    return kExitFindings;
                }
                next = after;
            }
            if (torn)
                continue;
            joined.erase("next_first");
            const nlohmann::json listing = policy_listing(std::move(joined));
            if (o.json)
                print_json(listing);
            else
                std::cout << policy_text(listing);
            return kExitOk;
        }
        std::cerr << "jumpgatectl: the policy was reloaded while it was being read, three times; "
                     "retry\n";
        return kExitFindings;
    });
}

// One command whose reply is reshaped by `reshape` and shown by `text` (or as JSON).
int run_listing(const GatewayAddress &gateway, bool json, const std::string &command,
                const std::string &params, nlohmann::json (*reshape)(nlohmann::json),
                std::string (*text)(const nlohmann::json &)) {
    return with_gateway(gateway, [&](TelemetryClient &c) {
        auto r = ask(c, command, params);
        if (!r)
            return print_error(r.error(), kExitFindings);
        const nlohmann::json listing = reshape(std::move(*r));
        if (json)
            print_json(listing);
        else
            std::cout << text(listing);
        return kExitOk;
    });
}

int run_policy_reload(const AdminOptions &o) {
    // Checked here first so a typo is named before anything reaches the gateway; the
    // gateway loads and checks the file again (it may differ by the time it reads it).
    auto local = load_policy_file(o.file);
    if (!local) {
        std::cerr << "jumpgatectl: refused, running policy unchanged: " << local.error().message()
                  << "\n";
        return kExitFindings;
    }
    std::error_code ec;
    const std::string path = std::filesystem::absolute(o.file, ec).lexically_normal().string();
    if (ec || path.size() + 32 > kMaxCommandBytes) {
        std::cerr << "jumpgatectl: " << o.file << ": path too long to send to the gateway\n";
        return kExitInput;
    }
    return with_gateway(o.gateway, [&](TelemetryClient &c) {
        auto r = ask(c, "/jumpgate/policy_reload", path);
        if (!r)
            return print_error(r.error(), kExitFindings);
        if (o.json)
            print_json(*r);
        else
            std::cout << "policy reloaded from " << path << ": generation "
                      << r->value("generation", uint64_t{0}) << ", default profile "
                      << r->value("default_profile", std::string("?")) << " version "
                      << r->value("version", std::string("?")) << ", "
                      << r->value("profiles", uint64_t{0}) << " profiles\n";
        return kExitOk;
    });
}

int run_terminate(const AdminOptions &o) {
    const auto id = audit::parse_session_id(o.id);
    if (!id) {
        std::cerr << "jumpgatectl: session id \"" << o.id << "\" is not 1..16 hex digits\n";
        return kExitInput;
    }
    return with_gateway(o.gateway, [&](TelemetryClient &c) {
        auto r = ask(c, "/jumpgate/terminate", audit::format_session_id(*id));
        if (!r)
            return print_error(r.error(), kExitFindings);
        if (o.json)
            print_json(*r);
        else
            std::cout << "session " << r->value("session_id", std::string("?")) << " terminated ("
                      << r->value("reason", std::string("?")) << ")\n";
        return kExitOk;
    });
}

AdminOptions &with_common(CLI::App *cmd, AdminOptions &o) {
    add_gateway_options(cmd, o.gateway);
    cmd->add_flag("--json", o.json, "print JSON instead of a table");
    return o;
}

}  // namespace

int run_live_session(const GatewayAddress &gateway, uint64_t session_id, bool json) {
    return run_listing(gateway, json, "/jumpgate/session", audit::format_session_id(session_id),
                       session_detail, session_detail_text);
}

void add_admin_commands(CLI::App &app, int &exit_code) {
    auto o = std::make_shared<AdminOptions>();

    CLI::App *sessions = app.add_subcommand("sessions", "List the running gateway's sessions");
    with_common(sessions, *o);
    sessions->callback([o, &exit_code] { exit_code = run_sessions(*o); });

    CLI::App *terminate =
        app.add_subcommand("terminate", "Terminate a session (audited as explicit_termination)");
    with_common(terminate, *o);
    terminate->add_option("ID", o->id, "session id, hex")->required();
    terminate->callback([o, &exit_code] { exit_code = run_terminate(*o); });

    CLI::App *stats = app.add_subcommand("stats", "Session, handshake and worker counters");
    with_common(stats, *o);
    stats->callback([o, &exit_code] {
        exit_code =
            run_listing(o->gateway, o->json, "/jumpgate/stats", {}, stats_listing, stats_text);
    });

    CLI::App *policy = app.add_subcommand("policy", "Show or reload the running policy");
    policy->require_subcommand(1);
    CLI::App *show = policy->add_subcommand("show", "The policy profiles in force");
    with_common(show, *o);
    show->callback([o, &exit_code] { exit_code = run_policy_show(*o); });
    CLI::App *reload = policy->add_subcommand(
        "reload", "Validate a policy file, then make the gateway load it (all or nothing)");
    with_common(reload, *o);
    reload->add_option("FILE", o->file, "policy file (YAML, top-level key `policies`)")->required();
    reload->callback([o, &exit_code] { exit_code = run_policy_reload(*o); });
}

}  // namespace jg::ctl
