// `jumpgatectl audit-check FILE`: the contract's invariants over an audit log, one line per
// violation in the compiler-style FILE:LINE: form editors can jump to.
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "commands.hpp"
#include "config/policy_file.hpp"
#include "telemetry/audit_check.hpp"

namespace jg::ctl {
namespace {

struct AuditCheckOptions {
    std::string file;
    std::string policy_file;
    std::string profile{kDefaultPolicyName};
    std::optional<uint32_t> max_switches_per_min;
    std::optional<int64_t> switch_cooldown_ms;
};

// Policy file first, then explicit flags on top: the flags answer "what if the limit were N".
Result<AuditCheckLimits> limits_from(const AuditCheckOptions &o) {
    AuditCheckLimits limits;
    if (!o.policy_file.empty()) {
        auto set = load_policy_file(o.policy_file);
        if (!set)
            return set.error();
        const Policy *p = set->find(o.profile);
        if (!p)
            return make_error(o.policy_file, "no policy profile named \"" + o.profile + "\"");
        limits = AuditCheckLimits::from_policy(*p);
    }
    if (o.max_switches_per_min)
        limits.max_switches_per_min = *o.max_switches_per_min;
    if (o.switch_cooldown_ms)
        limits.switch_cooldown_ms = *o.switch_cooldown_ms;
    return limits;
}

int run(const AuditCheckOptions &o) {
    auto limits = limits_from(o);
    if (!limits) {
        std::cerr << "jumpgatectl: " << limits.error().message() << "\n";
        return kExitInput;
    }
    std::ifstream in(o.file);
    if (!in) {
        std::cerr << "jumpgatectl: " << o.file << ": cannot read audit log\n";
        return kExitInput;
    }
    const AuditCheckReport report = audit_check(in, *limits);
    if (in.bad()) {
        std::cerr << "jumpgatectl: " << o.file << ": read error\n";
        return kExitInput;
    }
    for (const AuditViolation &v : report.violations)
        std::cout << o.file << ":" << v.line << ": " << v.message << "\n";
    std::cout << o.file << ": " << report.lines << " lines, " << report.events << " events, "
              << report.sessions << " sessions, " << report.violations.size() << " violations"
              << " (max_switches_per_min " << limits->max_switches_per_min
              << ", switch_cooldown_ms " << limits->switch_cooldown_ms << ")\n";
    return report.ok() ? kExitOk : kExitFindings;
}

}  // namespace

void add_audit_check_command(CLI::App &app, int &exit_code) {
    auto options = std::make_shared<AuditCheckOptions>();
    CLI::App *cmd = app.add_subcommand(
        "audit-check", "Verify an audit log against the session contract (exit 1 on violations)");
    cmd->add_option("FILE", options->file, "audit log, one JSON object per line")->required();
    cmd->add_option("--policy", options->policy_file,
                    "policy file whose switch limits the log was written under");
    cmd->add_option("--profile", options->profile, "profile of --policy to use")
        ->capture_default_str();
    cmd->add_option("--max-switches-per-min", options->max_switches_per_min,
                    "switching.max_switches_per_min (default: the policy's, else 8)");
    cmd->add_option("--switch-cooldown-ms", options->switch_cooldown_ms,
                    "switching.switch_cooldown_ms (default: the policy's, else 1500)");
    cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace jg::ctl
