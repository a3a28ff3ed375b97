// `jumpgatectl audit-check FILE`: the contract's invariants over an audit log, one line per
// violation in the compiler-style FILE:LINE: form editors can jump to.
#include <fstream>
#include <iostream>
#include <limits>
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
    bool profile_given = false;
    std::optional<uint32_t> max_switches_per_min;
    std::optional<int64_t> switch_cooldown_ms;
};

// Policy file first, then explicit flags on top: the flags answer "what if the limit were N"
// for every session. Without --profile, each event is held to the profile whose version it
// carries (a gateway runs peers under different profiles); --profile holds all to one.
Result<AuditCheckLimits> limits_from(const AuditCheckOptions &o) {
    AuditCheckLimits limits;
    if (!o.policy_file.empty()) {
        auto set = load_policy_file(o.policy_file);
        if (!set)
            return set.error();
        const std::string &fallback = o.profile_given ? o.profile : set->default_name();
        const Policy *p = set->find(fallback);
        if (!p)
            return make_error(o.policy_file, "no policy profile named \"" + fallback + "\"");
        limits = AuditCheckLimits::from_policy(*p);
        if (!o.profile_given)
            for (const std::string &name : set->names()) {
                const Policy &q = *set->find(name);
                const SwitchBounds b = SwitchBounds::from_policy(q);
                const auto [it, fresh] = limits.by_policy_version.emplace(q.version, b);
                if (!fresh && it->second != b) {
                    std::cerr << "jumpgatectl: warning: " << o.policy_file << ": profiles share"
                              << " version \"" << q.version << "\" with different switch"
                              << " limits; its events are held to profile \"" << fallback
                              << "\" (name one with --profile)\n";
                    it->second = SwitchBounds::from_policy(*p);
                }
            }
    }
    if (o.max_switches_per_min || o.switch_cooldown_ms)
        limits.by_policy_version.clear();
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
              << ", switch_cooldown_ms " << limits->switch_cooldown_ms;
    if (!limits->by_policy_version.empty())
        std::cout << "; per profile for " << limits->by_policy_version.size() << " policy versions";
    std::cout << ")\n";
    return report.ok() ? kExitOk : kExitFindings;
}

}  // namespace

void add_audit_check_command(CLI::App &app, int &exit_code) {
    auto options = std::make_shared<AuditCheckOptions>();
    CLI::App *cmd = app.add_subcommand(
        "audit-check", "Verify an audit log against the session contract (exit 1 on violations)");
    cmd->add_option("FILE", options->file, "audit log, one JSON object per line")->required();
    CLI::Option *policy =
        cmd->add_option("--policy", options->policy_file,
                        "policy file whose switch limits the log was written under");
    // Without --policy a profile name has nothing to be looked up in: refused, not ignored.
    cmd->add_option("--profile", options->profile,
                    "hold every session to this profile of --policy (default: each event to the "
                    "profile whose version it carries, else the default profile)")
        ->needs(policy)
        ->each([options](const std::string &) { options->profile_given = true; });
    // Not negative: a negative cooldown would let every switch pass.
    cmd->add_option("--max-switches-per-min", options->max_switches_per_min,
                    "switching.max_switches_per_min (default: the policy's, else 8)")
        ->check(CLI::Range(0u, UINT32_MAX));
    cmd->add_option("--switch-cooldown-ms", options->switch_cooldown_ms,
                    "switching.switch_cooldown_ms (default: the policy's, else 1500)")
        ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
    cmd->callback([options, &exit_code] { exit_code = run(*options); });
}

}  // namespace jg::ctl
