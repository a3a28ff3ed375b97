#include "telemetry/audit_json.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <limits>
#include <nlohmann/json.hpp>

namespace jg::audit {
namespace {

using OrderedJson = nlohmann::ordered_json;
using Json = nlohmann::json;

void add_fields(OrderedJson &j, const SessionCreated &e) {
    j["peer"] = e.peer;
    j["transport"] = e.transport.to_string();
}
void add_fields(OrderedJson &j, const SessionStateChange &e) {
    j["previous_state"] = state_name(e.previous_state);
    j["new_state"] = state_name(e.new_state);
    j["reason_code"] = reason_name(e.reason_code);
}
void add_fields(OrderedJson &j, const TransportSwitch &e) {
    j["previous_transport"] = e.previous_transport.to_string();
    j["new_transport"] = e.new_transport.to_string();
    j["reason_code"] = reason_name(e.reason_code);
    j["switch_latency_ms"] = e.switch_latency_ms;
    j["loss_ratio"] = e.loss_ratio;
    j["rtt_ms"] = e.rtt_ms;
}
void add_fields(OrderedJson &j, const TransportSwitchDenied &e) {
    j["candidate_transport"] = e.candidate_transport.to_string();
    j["reason_code"] = reason_name(e.reason_code);
}
void add_fields(OrderedJson &j, const ReattachAttempt &e) {
    j["candidate_transport"] = e.candidate_transport.to_string();
    j["recovery_deadline_ms"] = e.recovery_deadline_ms;
}
void add_fields(OrderedJson &j, const ReattachResult &e) {
    j["status"] = e.success ? "SUCCESS" : "DENIED";
    j["reason_code"] = reason_name(e.reason_code);
}
void add_fields(OrderedJson &j, const KeyRotated &e) {
    j["key_epoch"] = e.key_epoch;
}
void add_fields(OrderedJson &j, const SecurityEvent &e) {
    j["violation"] = reason_name(e.violation);
    j["source"] = e.source;
}
void add_fields(OrderedJson &j, const PolicyEvent &e) {
    j["policy_name"] = e.policy_name;
    j["threshold_value"] = e.threshold_value;
    j["observed_value"] = e.observed_value;
}
void add_fields(OrderedJson &j, const SessionTerminated &e) {
    j["reason_code"] = reason_name(e.reason_code);
    j["session_age_ms"] = e.session_age_ms;
    j["transportless_age_ms"] = e.transportless_age_ms;
    j["total_switches"] = e.total_switches;
}

// Field readers: each names the field in its error so an operator can find it in the line.
Error field_error(std::string_view field, std::string what) {
    return make_error(std::string(field), std::move(what));
}

Result<const Json *> member(const Json &j, std::string_view field) {
    const auto it = j.find(field);
    if (it == j.end())
        return field_error(field, "missing");
    return &*it;
}

Result<std::string> get_string(const Json &j, std::string_view field) {
    auto m = member(j, field);
    if (!m)
        return m.error();
    if (!(*m)->is_string())
        return field_error(field, "must be a string");
    return (*m)->get<std::string>();
}

Result<int64_t> get_int(const Json &j, std::string_view field) {
    auto m = member(j, field);
    if (!m)
        return m.error();
    const Json &v = **m;
    if (v.is_number_unsigned()) {
        if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
            return field_error(field, "out of range");
        return static_cast<int64_t>(v.get<uint64_t>());
    }
    if (!v.is_number_integer())
        return field_error(field, "must be an integer");
    return v.get<int64_t>();
}

Result<uint64_t> get_uint(const Json &j, std::string_view field) {
    auto m = member(j, field);
    if (!m)
        return m.error();
    if (!(*m)->is_number_unsigned())
        return field_error(field, "must be a non-negative integer");
    return (*m)->get<uint64_t>();
}

Result<double> get_double(const Json &j, std::string_view field) {
    auto m = member(j, field);
    if (!m)
        return m.error();
    // JSON has no NaN or infinity; the renderer writes them as null (an unknown measurement).
    if ((*m)->is_null())
        return std::numeric_limits<double>::quiet_NaN();
    if (!(*m)->is_number())
        return field_error(field, "must be a number");
    return (*m)->get<double>();
}

Result<Reason> get_reason(const Json &j, std::string_view field) {
    auto s = get_string(j, field);
    if (!s)
        return s.error();
    const auto r = parse_reason(*s);
    if (!r)
        return field_error(field, "unknown reason code \"" + *s + "\"");
    return *r;
}

Result<SessionState> get_state(const Json &j, std::string_view field) {
    auto s = get_string(j, field);
    if (!s)
        return s.error();
    const auto st = parse_state(*s);
    // The log spells states upper-case; the lower-case metric label is not accepted here.
    if (!st || state_name(*st) != *s)
        return field_error(field, "unknown state \"" + *s + "\"");
    return *st;
}

Result<TransportAddr> get_transport(const Json &j, std::string_view field) {
    auto s = get_string(j, field);
    if (!s)
        return s.error();
    if (*s == TransportAddr{}.to_string())
        return TransportAddr{};
    const auto t = parse_transport(*s);
    if (!t)
        return field_error(field, "malformed transport \"" + *s + "\"");
    return *t;
}

// Unwraps a Result into `out` or returns its error from the enclosing function.
#define JG_READ(out, expr)             \
    do {                               \
        auto jg_read_r = (expr);       \
        if (!jg_read_r)                \
            return jg_read_r.error();  \
        (out) = *std::move(jg_read_r); \
    } while (0)

Result<Payload> parse_payload(const Json &j, std::string_view type) {
    if (type == "SessionCreated") {
        SessionCreated e;
        JG_READ(e.peer, get_string(j, "peer"));
        JG_READ(e.transport, get_transport(j, "transport"));
        return Payload{std::move(e)};
    }
    if (type == "SessionStateChange") {
        SessionStateChange e{};
        JG_READ(e.previous_state, get_state(j, "previous_state"));
        JG_READ(e.new_state, get_state(j, "new_state"));
        JG_READ(e.reason_code, get_reason(j, "reason_code"));
        return Payload{e};
    }
    if (type == "TransportSwitch") {
        TransportSwitch e{};
        JG_READ(e.previous_transport, get_transport(j, "previous_transport"));
        JG_READ(e.new_transport, get_transport(j, "new_transport"));
        JG_READ(e.reason_code, get_reason(j, "reason_code"));
        JG_READ(e.switch_latency_ms, get_int(j, "switch_latency_ms"));
        JG_READ(e.loss_ratio, get_double(j, "loss_ratio"));
        JG_READ(e.rtt_ms, get_double(j, "rtt_ms"));
        return Payload{e};
    }
    if (type == "TransportSwitchDenied") {
        TransportSwitchDenied e{};
        JG_READ(e.candidate_transport, get_transport(j, "candidate_transport"));
        JG_READ(e.reason_code, get_reason(j, "reason_code"));
        return Payload{e};
    }
    if (type == "ReattachAttempt") {
        ReattachAttempt e{};
        JG_READ(e.candidate_transport, get_transport(j, "candidate_transport"));
        JG_READ(e.recovery_deadline_ms, get_int(j, "recovery_deadline_ms"));
        return Payload{e};
    }
    if (type == "ReattachResult") {
        ReattachResult e{};
        std::string status;
        JG_READ(status, get_string(j, "status"));
        if (status != "SUCCESS" && status != "DENIED")
            return field_error("status", "must be SUCCESS or DENIED, got \"" + status + "\"");
        e.success = status == "SUCCESS";
        JG_READ(e.reason_code, get_reason(j, "reason_code"));
        return Payload{e};
    }
    if (type == "KeyRotated") {
        KeyRotated e{};
        JG_READ(e.key_epoch, get_uint(j, "key_epoch"));
        return Payload{e};
    }
    if (type == "SecurityEvent") {
        SecurityEvent e{};
        JG_READ(e.violation, get_reason(j, "violation"));
        JG_READ(e.source, get_string(j, "source"));
        return Payload{std::move(e)};
    }
    if (type == "PolicyEvent") {
        PolicyEvent e{};
        JG_READ(e.policy_name, get_string(j, "policy_name"));
        JG_READ(e.threshold_value, get_double(j, "threshold_value"));
        JG_READ(e.observed_value, get_double(j, "observed_value"));
        return Payload{std::move(e)};
    }
    if (type == "SessionTerminated") {
        SessionTerminated e{};
        JG_READ(e.reason_code, get_reason(j, "reason_code"));
        JG_READ(e.session_age_ms, get_int(j, "session_age_ms"));
        JG_READ(e.transportless_age_ms, get_int(j, "transportless_age_ms"));
        uint64_t switches = 0;
        JG_READ(switches, get_uint(j, "total_switches"));
        if (switches > UINT32_MAX)
            return field_error("total_switches", "out of range");
        e.total_switches = static_cast<uint32_t>(switches);
        return Payload{e};
    }
    return field_error("event_type", "unknown event type \"" + std::string(type) + "\"");
}

bool is_lower_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

}  // namespace

std::string format_session_id(uint64_t id) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 15; i >= 0; --i, id >>= 4)
        s[static_cast<size_t>(i)] = kDigits[id & 0xf];
    return s;
}

std::optional<uint64_t> parse_session_id(std::string_view text) {
    if (text.starts_with("0x") || text.starts_with("0X"))
        text.remove_prefix(2);
    if (text.empty() || text.size() > 16)
        return std::nullopt;
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id, 16);
    if (ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    return id;
}

std::string render_line(const Event &event, std::string_view node_id) {
    OrderedJson j;
    j["ts_ms"] = event.ts_ms;
    j["event_type"] = event_type_name(event.payload);
    j["node_id"] = node_id;
    j["policy_version"] = event.policy_version;
    j["session_id"] = format_session_id(event.session_id);
    j["state_version"] = event.state_version;
    std::visit([&j](const auto &p) { add_fields(j, p); }, event.payload);
    // Replace, not throw, on invalid UTF-8: a peer-supplied string must not kill the writer.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> render_lines(std::span<const Event> events, std::string_view node_id) {
    std::vector<std::string> lines;
    lines.reserve(events.size());
    for (const Event &e : events)
        lines.push_back(render_line(e, node_id));
    return lines;
}

Result<Record> parse_line(std::string_view line) {
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded())
        return make_error("line", "not valid JSON");
    if (!j.is_object())
        return make_error("line", "not a JSON object");

    Record rec;
    std::string type;
    JG_READ(type, get_string(j, "event_type"));
    JG_READ(rec.event.ts_ms, get_int(j, "ts_ms"));
    JG_READ(rec.node_id, get_string(j, "node_id"));
    JG_READ(rec.event.policy_version, get_string(j, "policy_version"));
    std::string sid;
    JG_READ(sid, get_string(j, "session_id"));
    if (sid.size() != 16 || !std::all_of(sid.begin(), sid.end(), is_lower_hex))
        return field_error("session_id", "must be 16 lowercase hex digits, got \"" + sid + "\"");
    rec.event.session_id = *parse_session_id(sid);
    JG_READ(rec.event.state_version, get_uint(j, "state_version"));
    JG_READ(rec.event.payload, parse_payload(j, type));
    return rec;
}

}  // namespace jg::audit

#undef JG_READ
