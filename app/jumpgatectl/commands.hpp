// jumpgatectl's subcommands: each file adds one to the CLI and, when it runs, stores the
// process exit code. Called from main() only, on the one thread jumpgatectl has.
#pragma once

#include <CLI/CLI.hpp>

namespace jg::ctl {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFindings = 1;  // the command ran and found problems
inline constexpr int kExitInput = 2;     // an input could not be read or is invalid

void add_audit_check_command(CLI::App &app, int &exit_code);
void add_session_command(CLI::App &app, int &exit_code);
void add_simulate_command(CLI::App &app, int &exit_code);

}  // namespace jg::ctl
