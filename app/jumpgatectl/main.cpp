// jumpgatectl: the operator's tool. Offline commands work on files (audit logs, policies,
// scenario scripts); live commands talk to a running gateway over its DPDK telemetry socket
// (app/jumpgatectl/README.md lists them all).
#include <CLI/CLI.hpp>

#include "commands.hpp"

int main(int argc, char **argv) {
    CLI::App app{
        "jumpgatectl: operate a running jumpgate gateway and verify its audit trail.\n"
        "Live (gateway chosen by --socket, --node-id or --config; exit 2 when none "
        "answers):\n"
        "  sessions | session ID | terminate ID | policy show | policy reload FILE | "
        "stats\n"
        "Offline: audit-check FILE | session ID --timeline --audit FILE | simulate "
        "SCRIPT\n"
        "Tables by default, JSON with --json."};
    app.set_version_flag("--version", JUMPGATE_VERSION);
    app.require_subcommand(1);
    int exit_code = jg::ctl::kExitOk;
    jg::ctl::add_admin_commands(app, exit_code);
    jg::ctl::add_audit_check_command(app, exit_code);
    jg::ctl::add_session_command(app, exit_code);
    jg::ctl::add_simulate_command(app, exit_code);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        // --help and --version end here with 0; a command line in error is invalid input (2),
        // not CLI11's own code, so scripts see one code for "what you gave was wrong".
        const int cli_code = app.exit(e);
        return cli_code == 0 ? jg::ctl::kExitOk : jg::ctl::kExitInput;
    }
    return exit_code;
}
