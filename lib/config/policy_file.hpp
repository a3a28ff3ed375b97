// Policy files: named policy profiles (jg::PolicySet, owned by lib/session) read from YAML and
// validated against the contract's bounds, and written back. Control path only; any thread.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "session/policy_set.hpp"

namespace jg {

// The profile peers get when they name none; the built-in contract defaults unless a file
// defines a profile with this name.
inline constexpr std::string_view kDefaultPolicyName = "default";

// A standalone policy file (for `policy reload` and audit-check): one top-level key,
// `policies`, mapping profile names to profiles exactly as in the gateway configuration.
// The set always holds kDefaultPolicyName, which is its default profile. Errors name the file
// and the YAML path ("p.yaml: policies.roaming.session.max_lifetime_ms: ...").
Result<PolicySet> load_policy_file(const std::string &path);
// As load_policy_file, from text; `source` names it in errors.
Result<PolicySet> parse_policy_file(std::string_view yaml_text, const std::string &source);

// The set as a policy file with every key written out (defaults included).
std::string render_policy_file(const PolicySet &set);

// Same profile names, same default and the same value in every field of every profile.
bool same_policies(const PolicySet &a, const PolicySet &b);

}  // namespace jg
