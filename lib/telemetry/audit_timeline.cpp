#include "telemetry/audit_timeline.hpp"

#include <cstdio>

namespace jg {
namespace {

std::string text(std::string_view s) {
    return std::string(s);
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string describe(const audit::SessionCreated &e) {
    return "peer " + e.peer + "  from " + e.transport.to_string();
}
std::string describe(const audit::SessionStateChange &e) {
    return text(state_name(e.previous_state)) + " -> " + text(state_name(e.new_state)) + "  " +
           text(reason_name(e.reason_code));
}
std::string describe(const audit::TransportSwitch &e) {
    return e.previous_transport.to_string() + " -> " + e.new_transport.to_string() + "  " +
           text(reason_name(e.reason_code)) + "  latency " + std::to_string(e.switch_latency_ms) +
           " ms, loss " + number(e.loss_ratio) + ", rtt " + number(e.rtt_ms) + " ms";
}
std::string describe(const audit::TransportSwitchDenied &e) {
    return e.candidate_transport.to_string() + "  " + text(reason_name(e.reason_code));
}
std::string describe(const audit::ReattachAttempt &e) {
    return "from " + e.candidate_transport.to_string() + "  deadline " +
           std::to_string(e.recovery_deadline_ms);
}
std::string describe(const audit::ReattachResult &e) {
    return text(e.success ? "SUCCESS" : "DENIED") + "  " + text(reason_name(e.reason_code));
}
std::string describe(const audit::KeyRotated &e) {
    return "epoch " + std::to_string(e.key_epoch);
}
std::string describe(const audit::SecurityEvent &e) {
    return text(reason_name(e.violation)) + "  from " + e.source;
}
std::string describe(const audit::PolicyEvent &e) {
    return e.policy_name + "  threshold " + number(e.threshold_value) + ", observed " +
           number(e.observed_value);
}
std::string describe(const audit::SessionTerminated &e) {
    return text(reason_name(e.reason_code)) + "  age " + std::to_string(e.session_age_ms) +
           " ms, transportless " + std::to_string(e.transportless_age_ms) + " ms, " +
           std::to_string(e.total_switches) + " switches";
}

std::string pad(std::string s, size_t width, bool right) {
    if (s.size() >= width)
        return s;
    const std::string fill(width - s.size(), ' ');
    return right ? fill + s : s + fill;
}

}  // namespace

SessionAuditExtract extract_session(std::istream &log, uint64_t session_id) {
    SessionAuditExtract out;
    std::string text;
    for (size_t n = 1; std::getline(log, text); ++n) {
        if (!text.empty() && text.back() == '\r')
            text.pop_back();
        auto rec = audit::parse_line(text);
        if (!rec) {
            out.unparseable_lines.push_back(n);
            continue;
        }
        if (rec->event.session_id == session_id)
            out.entries.push_back({n, std::move(text), *std::move(rec)});
    }
    return out;
}

std::string describe_payload(const audit::Payload &p) {
    return std::visit([](const auto &e) { return describe(e); }, p);
}

std::string format_audit_timeline(std::span<const AuditLogEntry> entries) {
    std::string out = pad("LINE", 6, true) + "  " + pad("TS_MS", 14, true) + "  " +
                      pad("+MS", 9, true) + "  " + pad("VER", 4, true) + "  " +
                      pad("EVENT", 22, false) + "  DETAILS\n";
    if (entries.empty())
        return out;
    const int64_t t0 = entries.front().record.event.ts_ms;
    for (const AuditLogEntry &e : entries) {
        const audit::Event &ev = e.record.event;
        out += pad(std::to_string(e.line), 6, true) + "  " +
               pad(std::to_string(ev.ts_ms), 14, true) + "  " +
               pad(std::to_string(ev.ts_ms - t0), 9, true) + "  " +
               pad(std::to_string(ev.state_version), 4, true) + "  " +
               pad(text(audit::event_type_name(ev.payload)), 22, false) + "  " +
               describe_payload(ev.payload) + "\n";
    }
    return out;
}

}  // namespace jg
