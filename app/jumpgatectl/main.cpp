// jumpgatectl: the operator's tool. Offline commands work on files (audit logs, policies,
// scenario scripts); the gateway's live commands will talk to its telemetry socket.
#include <CLI/CLI.hpp>

#include "commands.hpp"

int main(int argc, char **argv) {
    CLI::App app{"jumpgatectl: inspect and verify a jumpgate gateway's audit trail"};
    app.set_version_flag("--version", JUMPGATE_VERSION);
    app.require_subcommand(1);
    int exit_code = jg::ctl::kExitOk;
    jg::ctl::add_audit_check_command(app, exit_code);
    jg::ctl::add_session_command(app, exit_code);
    jg::ctl::add_simulate_command(app, exit_code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    }
    return exit_code;
}
