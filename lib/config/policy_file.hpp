// PolicySet: the named policy profiles peers refer to, loaded from YAML and validated
// against the contract's bounds. Value type; built on the control path, any thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "session/policy.hpp"

namespace jg {

inline constexpr std::string_view kDefaultPolicyName = "default";

struct PolicySet {
    // Always holds kDefaultPolicyName: the contract defaults unless a profile replaces it.
    std::map<std::string, Policy, std::less<>> profiles;

    const Policy *find(std::string_view name) const;
    // Compares every field of every profile (jg::Policy's defaulted == is unusable while its
    // nested sections have none of their own).
    bool operator==(const PolicySet &other) const;
};

// A standalone policy file (for `policy reload` and audit-check): one top-level key,
// `policies`, mapping profile names to profiles exactly as in the gateway configuration.
// Errors name the file and the YAML path ("p.yaml: policies.roaming.session.max_lifetime_ms").
Result<PolicySet> load_policy_file(const std::string &path);
// As load_policy_file, from text; `source` names it in errors.
Result<PolicySet> parse_policy_set(std::string_view yaml_text, const std::string &source);

// The set as a policy file, every key written out (defaults included).
std::string render_policy_set(const PolicySet &set);

}  // namespace jg
