// jumpgatectl's subcommands: each file adds one to the CLI and, when it runs, stores the
// process exit code. Called from main() only, on the one thread jumpgatectl has.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>

namespace jg::ctl {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;   // the command ran and found problems
inline constexpr int kExitInput = 2;      // an input could not be read or is invalid
inline constexpr int kExitNoGateway = 2;  // no gateway answers on the telemetry socket

struct GatewayAddress;

void add_admin_commands(CLI::App &app, int &exit_code);
void add_audit_check_command(CLI::App &app, int &exit_code);
void add_session_command(CLI::App &app, int &exit_code);
void add_simulate_command(CLI::App &app, int &exit_code);

// `session ID` without --timeline: the live session from the gateway. Returns the exit code.
int run_live_session(const GatewayAddress &gateway, uint64_t session_id, bool json);

}  // namespace jg::ctl
