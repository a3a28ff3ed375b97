// Audit timeline: one session's events pulled out of an audit log and laid out as a table for
// people (`jumpgatectl session ID --timeline`). Pure functions; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <span>
#include <string>
#include <vector>

#include "session/audit_event.hpp"
#include "telemetry/audit_json.hpp"

namespace jg {

struct AuditLogEntry {
    size_t line = 0;   // 1-based, in the log
    std::string text;  // the line as written
    audit::Record record;
};

struct SessionAuditExtract {
    std::vector<AuditLogEntry> entries;     // the session's events, in log order
    std::vector<size_t> unparseable_lines;  // could not tell whose they are
};

SessionAuditExtract extract_session(std::istream &log, uint64_t session_id);

// The payload in a few words: "VOLATILE -> RECOVERING  reattach_requested".
std::string describe_payload(const audit::Payload &p);

// Columns: log line, ts_ms, ms since the session's first entry, state_version, event type,
// description.
std::string format_audit_timeline(std::span<const AuditLogEntry> entries);

}  // namespace jg
