// `jumpgatectl simulate SCRIPT`: runs a scenario script through the session state machine on
// a virtual clock, prints the audit timeline, and holds it to the script's expectations and
// to the audit contract (the same check audit-check runs on a gateway's log).
#include <iostream>
#include <sstream>
#include <string>

#include "commands.hpp"
#include "session/simulation.hpp"
#include "telemetry/audit_check.hpp"
#include "telemetry/audit_json.hpp"

namespace jg::ctl {
namespace {

struct SimulateOptions {
    std::string script;
    bool json = false;
};

constexpr std::string_view kSimulationNode = "simulation";

int run(const SimulateOptions &o) {
    auto script = load_scenario_file(o.script);
    if (!script) {
        std::cerr << "jumpgatectl: " << script.error().message() << "\n";
        return kExitInput;
    }
    auto timeline = run_scenario(*script);
    if (!timeline) {
        std::cerr << "jumpgatectl: " << timeline.error().message() << "\n";
        return kExitInput;
    }
    const auto lines = audit::render_lines(timeline->events, kSimulationNode);
    if (o.json) {
        for (const std::string &l : lines)
            std::cout << l << "\n";
    } else {
        std::cout << "scenario " << script->name << " (" << o.script << ")\n"
                  << format_timeline(*timeline);
    }

    // Diagnostics go to stderr so that --json output stays a clean audit log.
    std::ostream &notes = o.json ? std::cerr : std::cout;
    int exit_code = kExitOk;
    if (Status st = check_expectations(*script, *timeline); !st) {
        notes << o.script << ": expectation failed: " << st.error().message() << "\n";
        exit_code = kExitFindings;
    }
    std::string log;
    for (const std::string &l : lines)
        log += l + "\n";
    std::istringstream in(log);
    const AuditCheckReport report = audit_check(in, AuditCheckLimits::from_policy(script->policy));
    for (const AuditViolation &v : report.violations)
        notes << o.script << ": audit event " << v.line << ": " << v.message << "\n";
    if (!report.ok())
        exit_code = kExitFindings;
    notes << o.script << ": " << timeline->events.size() << " audit events, "
          << report.violations.size() << " contract violations, expectations "
          << (exit_code == kExitOk ? "met" : "NOT met or contract broken") << "\n";
    return exit_code;
}

}  // namespace

void add_simulate_command(CLI::App &app, int &exit_code) {
    auto options = std::make_shared<SimulateOptions>();
    CLI::App *cmd = app.add_subcommand(
        "simulate",
        "Run a session scenario script and check its audit timeline (exit 1 if not met)");
    cmd->add_option("SCRIPT", options->script, "scenario script (YAML)")->required();
    cmd->add_flag("--json", options->json,
                  "print the audit log the scenario produces (JSON lines) instead of a table");
    cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace jg::ctl
