// `jumpgatectl session ID`: one live session from the running gateway, with its last
// transitions; with --timeline --audit FILE, its whole life as recorded in an audit log, as a
// table or as the raw JSON lines.
#include <fstream>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "gateway_address.hpp"
#include "telemetry/audit_json.hpp"
#include "telemetry/audit_timeline.hpp"

namespace jg::ctl {
namespace {

struct SessionOptions {
    std::string id;
    bool timeline = false;
    std::string audit_file;
    bool json = false;
    GatewayAddress gateway;
};

int run(const SessionOptions &o) {
    const auto id = audit::parse_session_id(o.id);
    if (!id) {
        std::cerr << "jumpgatectl: session id \"" << o.id << "\" is not 1..16 hex digits\n";
        return kExitInput;
    }
    if (!o.timeline)
        return run_live_session(o.gateway, *id, o.json);
    if (o.audit_file.empty()) {
        std::cerr << "jumpgatectl: session --timeline needs --audit FILE\n";
        return kExitInput;
    }
    std::ifstream in(o.audit_file);
    if (!in) {
        std::cerr << "jumpgatectl: " << o.audit_file << ": cannot read audit log\n";
        return kExitInput;
    }
    const SessionAuditExtract extract = extract_session(in, *id);
    if (!extract.unparseable_lines.empty())
        std::cerr << "jumpgatectl: " << o.audit_file << ": skipped "
                  << extract.unparseable_lines.size() << " unparseable lines (first: line "
                  << extract.unparseable_lines.front() << "; run audit-check)\n";
    if (extract.entries.empty()) {
        std::cerr << "jumpgatectl: session " << audit::format_session_id(*id) << " not found in "
                  << o.audit_file << "\n";
        return kExitFindings;
    }
    if (o.json) {
        for (const AuditLogEntry &e : extract.entries)
            std::cout << e.text << "\n";
        return kExitOk;
    }
    const audit::Record &first = extract.entries.front().record;
    std::cout << "session " << audit::format_session_id(*id) << "  node " << first.node_id
              << "  policy " << first.event.policy_version << "  " << extract.entries.size()
              << " events\n"
              << format_audit_timeline(extract.entries);
    return kExitOk;
}

}  // namespace

void add_session_command(CLI::App &app, int &exit_code) {
    auto options = std::make_shared<SessionOptions>();
    CLI::App *cmd = app.add_subcommand(
        "session", "Show one live session, or (--timeline) its history in an audit log");
    cmd->add_option("ID", options->id, "session id, hex (as in the audit log's session_id)")
        ->required();
    CLI::Option *timeline =
        cmd->add_flag("--timeline", options->timeline, "the session's audit events, oldest first");
    // Without --timeline the live gateway is asked: a log named then would be ignored.
    cmd->add_option("--audit", options->audit_file, "audit log to read the timeline from")
        ->needs(timeline);
    cmd->add_flag("--json", options->json,
                  "print JSON (with --timeline: the raw audit lines) instead of a table");
    add_gateway_options(cmd, options->gateway);
    cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace jg::ctl
