#include "session/simulation.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "session/state_machine.hpp"

namespace jg {
namespace {

// ---- YAML reading: yaml-cpp throws, so every access stays inside load_scenario_text ----

struct ScriptError {
    Error error;
};

[[noreturn]] void fail(const std::string &where, const std::string &what) {
    throw ScriptError{make_error(where, what)};
}

template <class T>
T as(const YAML::Node &n, const std::string &where) {
    try {
        return n.as<T>();
    } catch (const YAML::Exception &) {
        fail(where, "has the wrong type");
    }
}

int64_t as_ms(const YAML::Node &n, const std::string &where) {
    return as<int64_t>(n, where);
}

// A point or span of the scenario's virtual time: 0..kMaxScenarioMs, so no sum of two overflows
// and a script cannot ask for more timer ticks than a run can give.
int64_t as_time(const YAML::Node &n, const std::string &where, int64_t lo = 0) {
    const int64_t v = as_ms(n, where);
    if (v < lo || v > kMaxScenarioMs)
        fail(where, "must be between " + std::to_string(lo) + " and " +
                        std::to_string(kMaxScenarioMs) + " ms (30 days), got " + std::to_string(v));
    return v;
}

// Decimal, or hexadecimal after 0x; no sign, no spaces.
uint64_t as_u64(const YAML::Node &n, const std::string &where) {
    const std::string text = as<std::string>(n, where);
    const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    const char *first = text.data() + (hex ? 2 : 0);
    const char *last = text.data() + text.size();
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(first, last, v, hex ? 16 : 10);
    if (first == last || ec != std::errc() || end != last)
        fail(where,
             "must be an unsigned 64-bit integer (decimal, or hex after 0x), got '" + text + "'");
    return v;
}

TransportAddr as_transport(const YAML::Node &n, const std::string &where) {
    const std::string text = as<std::string>(n, where);
    const auto t = parse_transport(text);
    if (!t)
        fail(where, "is not a transport (a.b.c.d:port or [v6]:port): '" + text + "'");
    return *t;
}

SessionState as_state(const YAML::Node &n, const std::string &where) {
    const std::string text = as<std::string>(n, where);
    const auto s = parse_state(text);
    if (!s)
        fail(where, "unknown state '" + text + "'");
    return *s;
}

Reason as_reason(const YAML::Node &n, const std::string &where) {
    const std::string text = as<std::string>(n, where);
    const auto r = parse_reason(text);
    if (!r)
        fail(where, "unknown reason code '" + text + "'");
    return *r;
}

// ---- policy overrides, by the contract's key names ----

using PolicySetter = std::function<void(Policy &, const YAML::Node &, const std::string &)>;

const std::vector<std::pair<std::string_view, PolicySetter>> &policy_setters() {
    static const std::vector<std::pair<std::string_view, PolicySetter>>
        kSetters =
            {
                {"name", [](Policy &p, const YAML::Node &n,
                            const std::string &w) { p.name = as<std::string>(n, w); }},
                {"version", [](Policy &p, const YAML::Node &n,
                               const std::string &w) { p.version = as<std::string>(n, w); }},
                {"session.max_lifetime_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.session.max_lifetime_ms = as_ms(n, w);
                 }},
                {"session.transport_lost_ttl_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.session.transport_lost_ttl_ms = as_ms(n, w);
                 }},
                {"volatility.heartbeat_interval_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.volatility.heartbeat_interval_ms = as_ms(n, w);
                 }},
                {"volatility.heartbeat_volatile_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.volatility.heartbeat_volatile_ms = as_ms(n, w);
                 }},
                {"volatility.loss_window_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.volatility.loss_window_ms = as_ms(n, w);
                 }},
                {"volatility.loss_volatile_threshold",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.volatility.loss_volatile_threshold = as<double>(n, w);
                 }},
                {"volatility.max_consecutive_drops",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.volatility.max_consecutive_drops = as<uint32_t>(n, w);
                 }},
                {"volatility.volatile_to_degraded_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.volatility.volatile_to_degraded_ms = as_ms(n, w);
                 }},
                {"volatility.stability_window_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.volatility.stability_window_ms = as_ms(n, w);
                 }},
                {"volatility.latency_volatile_threshold_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     if (n.IsScalar() && n.Scalar() == "off")
                         p.volatility.latency_volatile_threshold_ms.reset();
                     else
                         p.volatility.latency_volatile_threshold_ms = as_ms(n, w);
                 }},
                {"volatility.jitter_volatile_threshold_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     if (n.IsScalar() && n.Scalar() == "off")
                         p.volatility.jitter_volatile_threshold_ms.reset();
                     else
                         p.volatility.jitter_volatile_threshold_ms = as_ms(n, w);
                 }},
                {"switching.max_switches_per_min",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.switching.max_switches_per_min = as<uint32_t>(n, w);
                 }},
                {"switching.switch_cooldown_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.switching.switch_cooldown_ms = as_ms(n, w);
                 }},
                {"switching.recovery_window_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.switching.recovery_window_ms = as_ms(n, w);
                 }},
                {"switching.switch_improvement_factor",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.switching.switch_improvement_factor = as<double>(n, w);
                 }},
                {"security.reattach_proof_max_age_ms",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.security.reattach_proof_max_age_ms = as_ms(n, w);
                 }},
                {"security.replay_window_size",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     p.security.replay_window_size = as<uint32_t>(n, w);
                 }},
                {"transport.legacy_roaming",
                 [](Policy &p, const YAML::Node &n, const std::string &w) {
                     const std::string v = as<std::string>(n, w);
                     if (v == "allow")
                         p.transport.legacy_roaming = LegacyRoaming::Allow;
                     else if (v == "deny")
                         p.transport.legacy_roaming = LegacyRoaming::Deny;
                     else
                         fail(w, "must be allow or deny, got '" + v + "'");
                 }},
            };
    return kSetters;
}

// Accepts both nested sections (switching: {recovery_window_ms: 8000}) and dotted keys.
void apply_policy(Policy &p, const YAML::Node &node, const std::string &prefix) {
    if (!node.IsMap())
        fail("policy" + (prefix.empty() ? "" : "." + prefix), "must be a map");
    for (const auto &kv : node) {
        const std::string key =
            prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
        if (kv.second.IsMap()) {
            apply_policy(p, kv.second, key);
            continue;
        }
        const auto &setters = policy_setters();
        const auto it = std::find_if(setters.begin(), setters.end(),
                                     [&](const auto &s) { return s.first == key; });
        if (it == setters.end())
            fail("policy." + key, "unknown policy key");
        it->second(p, kv.second, "policy." + key);
    }
}

// ---- steps ----

// The limits of simulation.hpp, for scripts built in code as well as loaded ones.
Status check_run_length(const ScenarioScript &sc) {
    if (sc.tick_ms <= 0 || sc.tick_ms > kMaxScenarioMs)
        return make_error("tick_ms", "must be between 1 and " + std::to_string(kMaxScenarioMs) +
                                         " ms, got " + std::to_string(sc.tick_ms));
    if (sc.end_ms < 0 || sc.end_ms > kMaxScenarioMs)
        return make_error("end_ms", "must be between 0 and " + std::to_string(kMaxScenarioMs) +
                                        " ms, got " + std::to_string(sc.end_ms));
    if (sc.steps.size() > static_cast<size_t>(kMaxScenarioSteps))
        return make_error("steps", std::to_string(sc.steps.size()) + " steps, at most " +
                                       std::to_string(kMaxScenarioSteps));
    for (const ScriptStep &st : sc.steps)
        if (st.at_ms < 0 || st.at_ms > sc.end_ms)
            return make_error("steps", "a step at " + std::to_string(st.at_ms) +
                                           " ms lies outside 0..end_ms (" +
                                           std::to_string(sc.end_ms) + " ms)");
    if (const int64_t ticks = sc.end_ms / sc.tick_ms + 1; ticks > kMaxScenarioTicks)
        return make_error("tick_ms", "gives " + std::to_string(ticks) +
                                         " timer ticks up to end_ms (" + std::to_string(sc.end_ms) +
                                         " ms), at most " + std::to_string(kMaxScenarioTicks));
    return Ok{};
}

ScriptStep parse_step(const YAML::Node &n, const std::string &w, const ScenarioScript &sc) {
    if (!n.IsMap())
        fail(w, "a step must be a map with at_ms and event");
    if (!n["at_ms"])
        fail(w + ".at_ms", "missing");
    if (!n["event"])
        fail(w + ".event", "missing");
    ScriptStep st;
    st.at_ms = as_time(n["at_ms"], w + ".at_ms");
    const std::string kind = as<std::string>(n["event"], w + ".event");
    // Client clock readings may lie anywhere around the script's time line.
    auto opt_ms = [&](const char *key, int64_t dflt) {
        return n[key] ? as_time(n[key], w + "." + key, -kMaxScenarioMs) : dflt;
    };
    auto opt_double = [&](const char *key, double dflt) {
        return n[key] ? as<double>(n[key], w + "." + key) : dflt;
    };
    auto opt_bool = [&](const char *key, bool dflt) {
        return n[key] ? as<bool>(n[key], w + "." + key) : dflt;
    };
    auto opt_u32 = [&](const char *key, uint32_t dflt) {
        return n[key] ? as<uint32_t>(n[key], w + "." + key) : dflt;
    };
    if (kind == "handshake") {
        HandshakeCompleted e;
        e.from = n["from"] ? as_transport(n["from"], w + ".from") : sc.transport;
        e.peer = n["peer"] ? as<std::string>(n["peer"], w + ".peer") : sc.peer;
        e.key_epoch = n["key_epoch"] ? as_u64(n["key_epoch"], w + ".key_epoch") : 0;
        st.event = e;
    } else if (kind == "hello") {
        st.event = HelloReceived{};
    } else if (kind == "heartbeat") {
        HeartbeatReceived e;
        if (n["seq"] && n["seq"].IsScalar() && n["seq"].Scalar() != "auto") {
            e.seq = as_u64(n["seq"], w + ".seq");
        } else {
            st.auto_seq = true;
            st.seq_skip = n["seq_skip"] ? as_u64(n["seq_skip"], w + ".seq_skip") : 0;
        }
        e.rtt_ms = opt_double("rtt_ms", -1.0);
        e.rx_packets = opt_u32("rx_packets", 0);
        e.counter_gaps = opt_u32("counter_gaps", 0);
        st.event = e;
    } else if (kind == "health_sample") {
        HealthSample e;
        e.loss_ratio = opt_double("loss_ratio", 0.0);
        e.rtt_ms = opt_double("rtt_ms", 0.0);
        e.jitter_ms = opt_double("jitter_ms", 0.0);
        e.consecutive_drops = opt_u32("consecutive_drops", 0);
        st.event = e;
    } else if (kind == "tick") {
        st.event = TimerTick{};
    } else if (kind == "address_change") {
        if (!n["from"])
            fail(w + ".from", "missing");
        AddressChangeObserved e;
        e.from = as_transport(n["from"], w + ".from");
        st.event = e;
    } else if (kind == "reattach_request") {
        if (!n["candidate"])
            fail(w + ".candidate", "missing");
        if (!n["nonce"])
            fail(w + ".nonce", "missing");
        ReattachRequest e;
        e.candidate = as_transport(n["candidate"], w + ".candidate");
        e.nonce = as_u64(n["nonce"], w + ".nonce");
        e.client_time_ms = opt_ms("client_time_ms", st.at_ms + opt_ms("client_time_offset_ms", 0));
        e.session_known = opt_bool("session_known", true);
        e.proof_ok = opt_bool("proof_ok", true);
        e.counter_in_window = opt_bool("counter_in_window", true);
        st.event = e;
    } else if (kind == "path_response") {
        PathResponse e;
        if (n["from"])
            e.from = as_transport(n["from"], w + ".from");
        else
            st.from_pending = true;
        st.echo_pending = opt_bool("echo", true);
        st.event = e;
    } else if (kind == "terminate") {
        TerminationRequested e;
        if (n["reason"])
            e.reason = as_reason(n["reason"], w + ".reason");
        st.event = e;
    } else if (kind == "candidate_report") {
        if (!n["candidate"])
            fail(w + ".candidate", "missing");
        CandidatePathReport e;
        e.candidate = as_transport(n["candidate"], w + ".candidate");
        e.health.loss_ratio = opt_double("loss_ratio", 0.0);
        e.health.rtt_ms = opt_double("rtt_ms", 0.0);
        e.health.jitter_ms = opt_double("jitter_ms", 0.0);
        e.health.consecutive_drops = opt_u32("consecutive_drops", 0);
        st.event = e;
    } else if (kind == "key_expired") {
        st.event = KeyExpired{};
    } else {
        fail(w + ".event", "unknown event '" + kind + "'");
    }
    return st;
}

// A step with every_ms repeats from at_ms while <= until_ms.
void add_steps(const YAML::Node &n, const std::string &w, ScenarioScript &sc) {
    const ScriptStep first = parse_step(n, w, sc);
    if (!n["every_ms"]) {
        sc.steps.push_back(first);
        return;
    }
    const int64_t every = as_time(n["every_ms"], w + ".every_ms", 1);
    if (!n["until_ms"])
        fail(w + ".until_ms", "missing (every_ms needs an end)");
    const int64_t until = as_time(n["until_ms"], w + ".until_ms");
    if (until >= first.at_ms &&
        (until - first.at_ms) / every + sc.steps.size() >= static_cast<uint64_t>(kMaxScenarioSteps))
        fail(w + ".every_ms",
             "repeats the step past " + std::to_string(kMaxScenarioSteps) + " steps in the script");
    for (int64_t t = first.at_ms; t <= until; t += every) {
        ScriptStep st = first;
        st.at_ms = t;
        if (auto *r = std::get_if<ReattachRequest>(&st.event))
            r->client_time_ms += t - first.at_ms;
        if (t != first.at_ms)
            st.seq_skip = 0;
        sc.steps.push_back(st);
    }
}

ExpectedEntry parse_expected(const YAML::Node &n, const std::string &w) {
    ExpectedEntry e;
    if (n.IsSequence()) {
        // [event_type, previous_state, new_state, reason_code]: the SessionStateChange form.
        if (n.size() != 4)
            fail(w, "the list form is [event_type, previous_state, new_state, reason_code]");
        e.event_type = as<std::string>(n[0], w + "[0]");
        e.previous_state = as_state(n[1], w + "[1]");
        e.new_state = as_state(n[2], w + "[2]");
        e.reason_code = as_reason(n[3], w + "[3]");
        return e;
    }
    if (!n.IsMap() || !n["event_type"])
        fail(w + ".event_type", "missing");
    e.event_type = as<std::string>(n["event_type"], w + ".event_type");
    if (n["previous_state"])
        e.previous_state = as_state(n["previous_state"], w + ".previous_state");
    if (n["new_state"])
        e.new_state = as_state(n["new_state"], w + ".new_state");
    if (n["reason_code"])
        e.reason_code = as_reason(n["reason_code"], w + ".reason_code");
    return e;
}

TimingBound parse_bound(const YAML::Node &n, const std::string &w) {
    if (!n.IsMap() || !n["new_state"])
        fail(w + ".new_state", "missing");
    TimingBound b;
    b.new_state = as_state(n["new_state"], w + ".new_state");
    if (n["reason_code"])
        b.reason_code = as_reason(n["reason_code"], w + ".reason_code");
    b.never = n["never"] ? as<bool>(n["never"], w + ".never") : false;
    if (!b.never) {
        if (!n["by_ms"])
            fail(w + ".by_ms", "missing");
        b.by_ms = as_time(n["by_ms"], w + ".by_ms");
        b.after_ms = n["after_ms"] ? as_time(n["after_ms"], w + ".after_ms") : 0;
    }
    return b;
}

void parse_script(const YAML::Node &root, ScenarioScript &sc) {
    if (!root.IsMap())
        fail("", "a scenario is a YAML map");
    if (!root["name"])
        fail("name", "missing");
    sc.name = as<std::string>(root["name"], "name");
    if (root["description"])
        sc.description = as<std::string>(root["description"], "description");
    if (root["session_id"])
        sc.session_id = as_u64(root["session_id"], "session_id");
    if (root["peer"])
        sc.peer = as<std::string>(root["peer"], "peer");
    sc.transport = root["transport"] ? as_transport(root["transport"], "transport")
                                     : *parse_transport("198.51.100.7:51820");
    if (root["seed"])
        sc.seed = as_u64(root["seed"], "seed");
    if (root["tick_ms"])
        sc.tick_ms = as_ms(root["tick_ms"], "tick_ms");  // its range: check_run_length
    if (root["policy"])
        apply_policy(sc.policy, root["policy"], "");
    if (const Status st = validate_policy(sc.policy); !st)
        fail("policy." + st.error().where, st.error().what);
    if (!root["steps"] || !root["steps"].IsSequence())
        fail("steps", "missing (a list of timed events)");
    for (size_t i = 0; i < root["steps"].size(); ++i)
        add_steps(root["steps"][i], "steps[" + std::to_string(i) + "]", sc);
    std::stable_sort(sc.steps.begin(), sc.steps.end(),
                     [](const ScriptStep &a, const ScriptStep &b) { return a.at_ms < b.at_ms; });
    int64_t last = sc.steps.empty() ? 0 : sc.steps.back().at_ms;
    sc.end_ms = root["end_ms"] ? as_ms(root["end_ms"], "end_ms")
                               : std::min<int64_t>(last + 1'000, kMaxScenarioMs);
    if (sc.end_ms < last)
        fail("end_ms", "is before the last step (" + std::to_string(last) + " ms)");
    if (const Status st = check_run_length(sc); !st)
        fail(st.error().where, st.error().what);
    if (root["expect"]) {
        for (size_t i = 0; i < root["expect"].size(); ++i)
            sc.expect.push_back(
                parse_expected(root["expect"][i], "expect[" + std::to_string(i) + "]"));
    }
    if (root["bounds"]) {
        for (size_t i = 0; i < root["bounds"].size(); ++i)
            sc.bounds.push_back(
                parse_bound(root["bounds"][i], "bounds[" + std::to_string(i) + "]"));
    }
    if (const YAML::Node f = root["final"]) {
        if (f["state"])
            sc.final_state = as_state(f["state"], "final.state");
        if (f["binding"])
            sc.final_binding = as_transport(f["binding"], "final.binding");
    }
}

// ---- running ----

std::optional<Reason> reason_of(const audit::Payload &p) {
    if (const auto *e = std::get_if<audit::SessionStateChange>(&p))
        return e->reason_code;
    if (const auto *e = std::get_if<audit::TransportSwitch>(&p))
        return e->reason_code;
    if (const auto *e = std::get_if<audit::TransportSwitchDenied>(&p))
        return e->reason_code;
    if (const auto *e = std::get_if<audit::ReattachResult>(&p))
        return e->reason_code;
    if (const auto *e = std::get_if<audit::SecurityEvent>(&p))
        return e->violation;
    if (const auto *e = std::get_if<audit::SessionTerminated>(&p))
        return e->reason_code;
    return std::nullopt;
}

std::string describe(const ExpectedEntry &e) {
    std::string s = e.event_type;
    if (e.previous_state || e.new_state) {
        s += ' ';
        s += e.previous_state ? state_name(*e.previous_state) : "*";
        s += " -> ";
        s += e.new_state ? state_name(*e.new_state) : "*";
    }
    if (e.reason_code) {
        s += ' ';
        s += reason_name(*e.reason_code);
    }
    return s;
}

bool matches(const ExpectedEntry &x, const audit::Event &e) {
    if (audit::event_type_name(e.payload) != x.event_type)
        return false;
    if (x.previous_state || x.new_state) {
        const auto *c = std::get_if<audit::SessionStateChange>(&e.payload);
        if (c == nullptr)
            return false;
        if (x.previous_state && c->previous_state != *x.previous_state)
            return false;
        if (x.new_state && c->new_state != *x.new_state)
            return false;
    }
    if (x.reason_code && reason_of(e.payload) != x.reason_code)
        return false;
    return true;
}

std::string fmt_double(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

}  // namespace

Result<ScenarioScript> load_scenario_text(std::string_view yaml, std::string_view origin) {
    ScenarioScript sc;
    sc.origin = std::string(origin);
    const std::string prefix = origin.empty() ? "" : std::string(origin) + ": ";
    try {
        const YAML::Node root = YAML::Load(std::string(yaml));
        parse_script(root, sc);
    } catch (const ScriptError &e) {
        return make_error(prefix + e.error.where, e.error.what);
    } catch (const YAML::Exception &e) {
        return make_error(std::string(origin), std::string("not valid YAML: ") + e.what());
    }
    return sc;
}

Result<ScenarioScript> load_scenario_file(const std::string &path) {
    std::ifstream in(path);
    if (!in)
        return make_error(path, "cannot be read");
    std::stringstream text;
    text << in.rdbuf();
    return load_scenario_text(text.str(), path);
}

Result<Timeline> run_scenario(const ScenarioScript &sc) {
    if (const Status st = validate_policy(sc.policy); !st)
        return make_error(sc.origin + ": policy." + st.error().where, st.error().what);
    if (const Status st = check_run_length(sc); !st)
        return make_error(sc.origin + ": " + st.error().where, st.error().what);

    Timeline tl;
    SessionRecord s = make_session(sc.session_id, sc.policy.name);
    std::mt19937_64 rng(sc.seed);
    uint64_t heartbeat_seq = 0;
    auto draw = [&] {
        PathChallenge c;
        const uint64_t r = rng();
        for (size_t i = 0; i < c.size(); ++i)
            c[i] = static_cast<uint8_t>(r >> (8 * i));
        return c;
    };
    auto apply = [&](const SessionEvent &ev, int64_t now) {
        StepResult r = step(s, ev, sc.policy, now);
        if (r.outcome == StepOutcome::Ignored)
            ++tl.ignored_events;
        if (r.outcome == StepOutcome::Rejected)
            ++tl.rejected_events;
        for (auto &e : r.audit)
            tl.events.push_back(std::move(e));
    };

    int64_t next_tick = 0;
    auto ticks_before = [&](int64_t t) {
        for (; next_tick < t; next_tick += sc.tick_ms)
            apply(TimerTick{}, next_tick);
    };
    for (const ScriptStep &st : sc.steps) {
        ticks_before(st.at_ms);
        SessionEvent ev = st.event;
        if (auto *h = std::get_if<HeartbeatReceived>(&ev); h && st.auto_seq) {
            heartbeat_seq += 1 + st.seq_skip;
            h->seq = heartbeat_seq;
        }
        if (auto *a = std::get_if<AddressChangeObserved>(&ev))
            a->challenge = draw();
        if (auto *c = std::get_if<CandidatePathReport>(&ev))
            c->challenge = draw();
        if (auto *r = std::get_if<ReattachRequest>(&ev); r && st.draw_challenge)
            r->challenge = draw();
        if (auto *p = std::get_if<PathResponse>(&ev)) {
            if (st.from_pending)
                p->from = s.pending.candidate;
            if (st.echo_pending) {
                p->echoed = s.pending.challenge;
            } else {
                p->echoed = s.pending.challenge;
                p->echoed[0] ^= 0xff;  // a wrong answer, whatever was asked
            }
        }
        apply(ev, st.at_ms);
    }
    ticks_before(sc.end_ms + 1);

    tl.final_state = s.state;
    tl.final_state_version = s.state_version;
    tl.final_binding = s.binding;
    tl.total_switches = s.counters.total_switches;
    return tl;
}

std::vector<StateChangeRow> state_changes(const Timeline &tl) {
    std::vector<StateChangeRow> rows;
    for (const audit::Event &e : tl.events)
        if (const auto *c = std::get_if<audit::SessionStateChange>(&e.payload))
            rows.push_back({e.ts_ms, c->previous_state, c->new_state, c->reason_code});
    return rows;
}

Status check_expectations(const ScenarioScript &sc, const Timeline &tl) {
    const std::string where = sc.origin.empty() ? sc.name : sc.origin;
    if (!sc.expect.empty()) {
        std::vector<std::string_view> types;
        for (const ExpectedEntry &x : sc.expect)
            types.push_back(x.event_type);
        std::vector<const audit::Event *> seen;
        for (const audit::Event &e : tl.events)
            if (std::find(types.begin(), types.end(), audit::event_type_name(e.payload)) !=
                types.end())
                seen.push_back(&e);
        for (size_t i = 0; i < std::max(seen.size(), sc.expect.size()); ++i) {
            const std::string at = where + ": expect[" + std::to_string(i) + "]";
            if (i >= seen.size())
                return make_error(
                    at, "expected " + describe(sc.expect[i]) + ", but the timeline ended");
            if (i >= sc.expect.size())
                return make_error(at, "unexpected extra entry: " + format_event(*seen[i]));
            if (!matches(sc.expect[i], *seen[i]))
                return make_error(
                    at, "expected " + describe(sc.expect[i]) + ", got " + format_event(*seen[i]));
        }
    }
    const auto rows = state_changes(tl);
    for (size_t i = 0; i < sc.bounds.size(); ++i) {
        const TimingBound &b = sc.bounds[i];
        const std::string at = where + ": bounds[" + std::to_string(i) + "]";
        const auto hit = std::find_if(rows.begin(), rows.end(), [&](const StateChangeRow &r) {
            return r.new_state == b.new_state &&
                   (!b.reason_code || r.reason_code == *b.reason_code) &&
                   (b.never || (r.at_ms >= b.after_ms && r.at_ms <= b.by_ms));
        });
        const std::string what =
            std::string(state_name(b.new_state)) +
            (b.reason_code ? " (" + std::string(reason_name(*b.reason_code)) + ")" : "");
        if (b.never && hit != rows.end())
            return make_error(at, "never expected " + what + ", but it happened at " +
                                      std::to_string(hit->at_ms) + " ms");
        if (!b.never && hit == rows.end())
            return make_error(at, "expected " + what + " between " + std::to_string(b.after_ms) +
                                      " and " + std::to_string(b.by_ms) + " ms, not seen");
    }
    if (sc.final_state && tl.final_state != *sc.final_state)
        return make_error(where + ": final.state",
                          "expected " + std::string(state_name(*sc.final_state)) + ", got " +
                              std::string(state_name(tl.final_state)));
    if (sc.final_binding && tl.final_binding != *sc.final_binding)
        return make_error(where + ": final.binding", "expected " + sc.final_binding->to_string() +
                                                         ", got " + tl.final_binding.to_string());
    return Ok{};
}

std::string format_event(const audit::Event &e) {
    char head[96];
    std::snprintf(head, sizeof head, "%7lld ms  v%-3llu %-22s ", static_cast<long long>(e.ts_ms),
                  static_cast<unsigned long long>(e.state_version),
                  std::string(audit::event_type_name(e.payload)).c_str());
    std::string line = head;
    std::visit(
        [&](const auto &p) {
            using T = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<T, audit::SessionCreated>) {
                line += "on " + p.transport.to_string();
            } else if constexpr (std::is_same_v<T, audit::SessionStateChange>) {
                line += std::string(state_name(p.previous_state)) + " -> " +
                        std::string(state_name(p.new_state)) + "  " +
                        std::string(reason_name(p.reason_code));
            } else if constexpr (std::is_same_v<T, audit::TransportSwitch>) {
                line += p.previous_transport.to_string() + " -> " + p.new_transport.to_string() +
                        "  " + std::string(reason_name(p.reason_code)) + "  after " +
                        std::to_string(p.switch_latency_ms) + " ms";
            } else if constexpr (std::is_same_v<T, audit::TransportSwitchDenied>) {
                line += p.candidate_transport.to_string() + "  " +
                        std::string(reason_name(p.reason_code));
            } else if constexpr (std::is_same_v<T, audit::ReattachAttempt>) {
                line += p.candidate_transport.to_string() + "  deadline " +
                        std::to_string(p.recovery_deadline_ms) + " ms";
            } else if constexpr (std::is_same_v<T, audit::ReattachResult>) {
                line += std::string(p.success ? "SUCCESS" : "DENIED") + "  " +
                        std::string(reason_name(p.reason_code));
            } else if constexpr (std::is_same_v<T, audit::KeyRotated>) {
                line += "epoch " + std::to_string(p.key_epoch);
            } else if constexpr (std::is_same_v<T, audit::SecurityEvent>) {
                line += std::string(reason_name(p.violation)) + "  from " + p.source;
            } else if constexpr (std::is_same_v<T, audit::PolicyEvent>) {
                line += p.policy_name + "  threshold " + fmt_double(p.threshold_value) +
                        "  observed " + fmt_double(p.observed_value);
            } else if constexpr (std::is_same_v<T, audit::SessionTerminated>) {
                line += std::string(reason_name(p.reason_code)) + "  age " +
                        std::to_string(p.session_age_ms) + " ms  transportless " +
                        std::to_string(p.transportless_age_ms) + " ms  switches " +
                        std::to_string(p.total_switches);
            }
        },
        e.payload);
    return line;
}

std::string format_timeline(const Timeline &tl) {
    std::string out;
    for (const audit::Event &e : tl.events) {
        out += format_event(e);
        out += '\n';
    }
    out += "final: " + std::string(state_name(tl.final_state)) + " v" +
           std::to_string(tl.final_state_version) + " on " + tl.final_binding.to_string() + ", " +
           std::to_string(tl.total_switches) + " switches\n";
    return out;
}

}  // namespace jg
