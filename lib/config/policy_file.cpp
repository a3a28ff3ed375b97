#include "config/policy_file.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <vector>

#include "config/policy_yaml.hpp"

namespace jg {
namespace config_detail {
namespace {

constexpr int64_t kMinI64 = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxU32 = std::numeric_limits<uint32_t>::max();

bool is_required(std::string_view key) {
    return std::find(std::begin(kRequiredPolicyKeys), std::end(kRequiredPolicyKeys), key) !=
           std::end(kRequiredPolicyKeys);
}

// Reads the fields of one policy section. Bounds are the contract's and live in
// validate_policy; here only types are checked (and the required keys of the contract).
class SectionReader {
  public:
    SectionReader(MapReader &profile, std::string_view section)
        : section_(section),
          reader_(profile.get(section).value_or(YAML::Node()), profile.path_of(section),
                  profile.diag()) {}

    void ms(std::string_view key, int64_t &field) {
        if (auto node = lookup(key))
            field = read_integer(*node, reader_.path_of(key), reader_.diag(), kMinI64, kNoMax)
                        .value_or(field);
    }
    void count(std::string_view key, uint32_t &field) {
        if (auto node = lookup(key))
            field = static_cast<uint32_t>(
                read_integer(*node, reader_.path_of(key), reader_.diag(), 0, kMaxU32)
                    .value_or(field));
    }
    void number(std::string_view key, double &field) {
        if (auto node = lookup(key))
            field = read_number(*node, reader_.path_of(key), reader_.diag()).value_or(field);
    }
    // A threshold that may be "off".
    void optional_ms(std::string_view key, std::optional<int64_t> &field) {
        auto node = lookup(key);
        if (!node)
            return;
        if (node->IsScalar() && node->Scalar() == "off") {
            field.reset();
            return;
        }
        if (auto v = read_integer(*node, reader_.path_of(key), reader_.diag(), kMinI64, kNoMax))
            field = *v;
    }
    void roaming(std::string_view key, LegacyRoaming &field) {
        auto node = lookup(key);
        if (!node)
            return;
        auto s = read_string(*node, reader_.path_of(key), reader_.diag());
        if (s == "allow")
            field = LegacyRoaming::Allow;
        else if (s == "deny")
            field = LegacyRoaming::Deny;
        else if (s)
            reader_.diag().fail(reader_.path_of(key), "expected allow or deny, got \"" + *s + "\"");
    }
    void finish() { reader_.finish(); }

  private:
    std::optional<YAML::Node> lookup(std::string_view key) {
        const std::string full = std::string(section_) + "." + std::string(key);
        return is_required(full) ? reader_.require(key) : reader_.get(key);
    }

    std::string_view section_;
    MapReader reader_;
};

void emit_policy(YAML::Emitter &out, const Policy &p);

// Without an explicit version, a profile is named by its values, so the policy_version in
// audit events still changes whenever an operator changes a value.
std::string content_version(const Policy &p) {
    Policy unnamed = p;
    unnamed.name.clear();
    unnamed.version.clear();
    YAML::Emitter out;
    emit_policy(out, unnamed);
    unsigned char hash[8];
    crypto_generichash(hash, sizeof hash, reinterpret_cast<const unsigned char *>(out.c_str()),
                       out.size(), nullptr, 0);
    char hex[2 * sizeof hash + 1];
    sodium_bin2hex(hex, sizeof hex, hash, sizeof hash);
    return std::string("auto-") + hex;
}

bool valid_profile_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
}

Policy read_policy(const YAML::Node &node, const std::string &path, const std::string &name,
                   Diagnostics &diag) {
    Policy p;
    p.name = name;
    MapReader profile(node, path, diag);
    const auto version = profile.optional_string("version");

    SectionReader session(profile, "session");
    session.ms("max_lifetime_ms", p.session.max_lifetime_ms);
    session.ms("transport_lost_ttl_ms", p.session.transport_lost_ttl_ms);
    session.finish();

    SectionReader vol(profile, "volatility");
    vol.ms("heartbeat_interval_ms", p.volatility.heartbeat_interval_ms);
    vol.ms("heartbeat_volatile_ms", p.volatility.heartbeat_volatile_ms);
    vol.ms("loss_window_ms", p.volatility.loss_window_ms);
    vol.number("loss_volatile_threshold", p.volatility.loss_volatile_threshold);
    vol.count("max_consecutive_drops", p.volatility.max_consecutive_drops);
    vol.ms("volatile_to_degraded_ms", p.volatility.volatile_to_degraded_ms);
    vol.ms("stability_window_ms", p.volatility.stability_window_ms);
    vol.optional_ms("latency_volatile_threshold_ms", p.volatility.latency_volatile_threshold_ms);
    vol.optional_ms("jitter_volatile_threshold_ms", p.volatility.jitter_volatile_threshold_ms);
    vol.finish();

    SectionReader sw(profile, "switching");
    sw.count("max_switches_per_min", p.switching.max_switches_per_min);
    sw.ms("switch_cooldown_ms", p.switching.switch_cooldown_ms);
    sw.ms("recovery_window_ms", p.switching.recovery_window_ms);
    sw.number("switch_improvement_factor", p.switching.switch_improvement_factor);
    sw.finish();

    SectionReader sec(profile, "security");
    sec.ms("reattach_proof_max_age_ms", p.security.reattach_proof_max_age_ms);
    sec.count("replay_window_size", p.security.replay_window_size);
    sec.finish();

    SectionReader transport(profile, "transport");
    transport.roaming("legacy_roaming", p.transport.legacy_roaming);
    transport.finish();

    profile.finish();
    if (diag.failed())
        return p;
    p.version = version ? *version : content_version(p);
    if (auto valid = validate_policy(p); !valid)
        diag.fail(child_path(path, valid.error().where), valid.error().what);
    return p;
}

void emit_ms(YAML::Emitter &out, std::string_view key, const std::optional<int64_t> &v) {
    out << YAML::Key << std::string(key) << YAML::Value;
    if (v)
        out << *v;
    else
        out << "off";
}

void emit_policy(YAML::Emitter &out, const Policy &p) {
    out << YAML::BeginMap;
    if (!p.version.empty())
        out << YAML::Key << "version" << YAML::Value << YAML::DoubleQuoted << p.version;

    out << YAML::Key << "session" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "max_lifetime_ms" << YAML::Value << p.session.max_lifetime_ms;
    out << YAML::Key << "transport_lost_ttl_ms" << YAML::Value << p.session.transport_lost_ttl_ms;
    out << YAML::EndMap;

    const auto &v = p.volatility;
    out << YAML::Key << "volatility" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "heartbeat_interval_ms" << YAML::Value << v.heartbeat_interval_ms;
    out << YAML::Key << "heartbeat_volatile_ms" << YAML::Value << v.heartbeat_volatile_ms;
    out << YAML::Key << "loss_window_ms" << YAML::Value << v.loss_window_ms;
    out << YAML::Key << "loss_volatile_threshold" << YAML::Value
        << format_number(v.loss_volatile_threshold);
    out << YAML::Key << "max_consecutive_drops" << YAML::Value << v.max_consecutive_drops;
    out << YAML::Key << "volatile_to_degraded_ms" << YAML::Value << v.volatile_to_degraded_ms;
    out << YAML::Key << "stability_window_ms" << YAML::Value << v.stability_window_ms;
    emit_ms(out, "latency_volatile_threshold_ms", v.latency_volatile_threshold_ms);
    emit_ms(out, "jitter_volatile_threshold_ms", v.jitter_volatile_threshold_ms);
    out << YAML::EndMap;

    const auto &w = p.switching;
    out << YAML::Key << "switching" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "max_switches_per_min" << YAML::Value << w.max_switches_per_min;
    out << YAML::Key << "switch_cooldown_ms" << YAML::Value << w.switch_cooldown_ms;
    out << YAML::Key << "recovery_window_ms" << YAML::Value << w.recovery_window_ms;
    out << YAML::Key << "switch_improvement_factor" << YAML::Value
        << format_number(w.switch_improvement_factor);
    out << YAML::EndMap;

    out << YAML::Key << "security" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "reattach_proof_max_age_ms" << YAML::Value
        << p.security.reattach_proof_max_age_ms;
    out << YAML::Key << "replay_window_size" << YAML::Value << p.security.replay_window_size;
    out << YAML::EndMap;

    out << YAML::Key << "transport" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "legacy_roaming" << YAML::Value
        << std::string(legacy_roaming_name(p.transport.legacy_roaming));
    out << YAML::EndMap;

    out << YAML::EndMap;
}

}  // namespace

PolicySet read_policy_set(const YAML::Node &node, std::string_view path, Diagnostics &diag) {
    std::vector<Policy> profiles;
    MapReader reader(node, std::string(path), diag);
    for (const auto &name : reader.keys()) {
        const std::string profile_path = reader.path_of(name);
        if (!valid_profile_name(name)) {
            diag.fail(profile_path, "profile names use letters, digits, '-', '_' and '.'");
            break;
        }
        const auto profile = reader.get(name);
        profiles.push_back(read_policy(profile.value_or(YAML::Node()), profile_path, name, diag));
        if (diag.failed())
            break;
    }
    reader.finish();
    if (diag.failed())
        return PolicySet::builtin();
    const bool has_default = std::any_of(profiles.begin(), profiles.end(), [](const Policy &p) {
        return p.name == kDefaultPolicyName;
    });
    if (!has_default)
        profiles.push_back(Policy{});
    auto set = PolicySet::make(std::move(profiles), kDefaultPolicyName);
    if (!set) {
        // Every profile was validated above with its full path; this is a broken invariant.
        diag.fail(child_path(path, set.error().where), set.error().what);
        return PolicySet::builtin();
    }
    return std::move(set).value();
}

void emit_policy_set(YAML::Emitter &out, const PolicySet &set) {
    out << YAML::BeginMap;
    for (const auto &name : set.names()) {
        out << YAML::Key << name << YAML::Value;
        emit_policy(out, *set.find(name));
    }
    out << YAML::EndMap;
}

}  // namespace config_detail

Result<PolicySet> parse_policy_file(std::string_view yaml_text, const std::string &source) {
    using namespace config_detail;
    Diagnostics diag(source);
    try {
        auto doc = parse_document(yaml_text, diag);
        if (!doc)
            return diag.error();
        MapReader top(*doc, "", diag);
        auto policies = top.require("policies");
        PolicySet set = read_policy_set(policies.value_or(YAML::Node()), "policies", diag);
        top.finish();
        if (diag.failed())
            return diag.error();
        return set;
    } catch (const YAML::Exception &e) {
        return make_error(source, std::string("unreadable YAML: ") + e.what());
    }
}

Result<PolicySet> load_policy_file(const std::string &path) {
    auto text = config_detail::read_text_file(path);
    if (!text)
        return text.error();
    return parse_policy_file(*text, path);
}

std::string render_policy_file(const PolicySet &set) {
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << "policies" << YAML::Value;
    config_detail::emit_policy_set(out, set);
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace jg

namespace jg {

bool same_policies(const PolicySet &a, const PolicySet &b) {
    // The rendered form writes out every field, so equal text means equal values (jg::Policy's
    // defaulted == is unusable while its nested sections have none of their own).
    auto text = [](const PolicySet &set) {
        YAML::Emitter out;
        config_detail::emit_policy_set(out, set);
        std::string names;
        for (const auto &n : set.names())
            names += n + "=" + set.find(n)->name + ";";
        return names + set.default_name() + "\n" + out.c_str();
    };
    return text(a) == text(b);
}

}  // namespace jg
