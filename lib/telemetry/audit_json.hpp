// Audit JSON lines: renders jg::audit::Event to the contract's one-object-per-line form and
// parses such a line back. Pure functions; any thread (the audit writer thread, jumpgatectl).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "session/audit_event.hpp"

namespace jg::audit {

// One parsed line: the event and the node that wrote it.
struct Record {
    Event event;
    std::string node_id;
};

// One JSON object, no trailing newline. Field names and value spellings are the contract's
// (session/audit_event.hpp); the base fields come first so a person can read a log with grep.
std::string render_line(const Event &event, std::string_view node_id);

std::vector<std::string> render_lines(std::span<const Event> events, std::string_view node_id);

// The inverse of render_line. On failure, Error::where names the offending field
// ("session_id", "new_state") or "line" when the text is not a JSON object at all.
// Unknown extra fields are ignored so older tools can read newer logs.
Result<Record> parse_line(std::string_view line);

// "00000000000000a1" for 0xa1: the contract's session_id spelling.
std::string format_session_id(uint64_t id);

// Accepts 1..16 hex digits (either case, optional "0x"), as an operator would type an id.
std::optional<uint64_t> parse_session_id(std::string_view text);

}  // namespace jg::audit
