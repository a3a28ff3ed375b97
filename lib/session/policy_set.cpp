#include "session/policy_set.hpp"

namespace jg {

Result<PolicySet> PolicySet::make(std::vector<Policy> profiles, std::string_view default_profile) {
    PolicySet set;
    for (Policy &p : profiles) {
        if (p.name.empty())
            return make_error("name", "a policy profile needs a name");
        if (const Status st = validate_policy(p); !st)
            return make_error(p.name + "." + st.error().where, st.error().what);
        std::string name = p.name;
        if (!set.profiles_.emplace(name, std::move(p)).second)
            return make_error(name, "duplicate policy profile");
    }
    if (set.find(default_profile) == nullptr)
        return make_error(std::string(default_profile), "default profile is not defined");
    set.default_name_ = std::string(default_profile);
    return set;
}

PolicySet PolicySet::builtin() {
    PolicySet set;
    Policy p;
    set.default_name_ = p.name;
    set.profiles_.emplace(p.name, std::move(p));
    return set;
}

const Policy *PolicySet::find(std::string_view name) const {
    const auto it = profiles_.find(name);
    return it == profiles_.end() ? nullptr : &it->second;
}

const Policy &PolicySet::lookup(std::string_view name) const {
    const Policy *p = find(name);
    return p != nullptr ? *p : default_policy();
}

std::vector<std::string> PolicySet::names() const {
    std::vector<std::string> out;
    out.reserve(profiles_.size());
    for (const auto &[name, policy] : profiles_)
        out.push_back(name);
    return out;
}

void LivePolicies::reload(PolicySet next) {
    current_ = std::make_shared<const PolicySet>(std::move(next));
    ++generation_;
}

}  // namespace jg
