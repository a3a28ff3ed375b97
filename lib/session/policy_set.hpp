// PolicySet: the named per-peer policy profiles in force; LivePolicies: the current set and
// its whole-set swap on reload. Built and swapped on the control core; snapshots may be read
// by any thread that holds one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "session/policy.hpp"

namespace jg {

class PolicySet {
  public:
    // Every profile is validated (the error names "<profile>.<key>"); names are unique;
    // default_profile must be one of them.
    static Result<PolicySet> make(std::vector<Policy> profiles, std::string_view default_profile);
    // A set holding only the contract's defaults, under the name "default".
    static PolicySet builtin();

    // The profile named `name`, or nullptr.
    const Policy *find(std::string_view name) const;
    // The profile named `name`, falling back to the default profile for unknown names (no
    // configured peer names one: start-up and policy reload both refuse a set lacking a
    // peer's profile).
    const Policy &lookup(std::string_view name) const;
    const Policy &default_policy() const { return *find(default_name_); }
    const std::string &default_name() const { return default_name_; }
    std::vector<std::string> names() const;
    size_t size() const { return profiles_.size(); }

  private:
    PolicySet() = default;
    std::map<std::string, Policy, std::less<>> profiles_;
    std::string default_name_;
};

// Sessions never copy a Policy: each step() looks the profile up in current(), so a reload
// applies at every session's next event and leaves the records (state, version, switch and
// nonce history) untouched.
class LivePolicies {
  public:
    explicit LivePolicies(PolicySet initial)
        : current_(std::make_shared<const PolicySet>(std::move(initial))) {}

    std::shared_ptr<const PolicySet> current() const { return current_; }
    const Policy &lookup(std::string_view profile) const { return current_->lookup(profile); }
    // Bumped by every reload (1 for the initial set).
    uint64_t generation() const { return generation_; }
    void reload(PolicySet next);

  private:
    std::shared_ptr<const PolicySet> current_;
    uint64_t generation_ = 1;
};

}  // namespace jg
