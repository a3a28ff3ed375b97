// Scenario scripts: a session driven through timed events on a virtual clock, and the audit
// timeline it produces, checked against the script's expectations. Control-path code for
// tests and `jumpgatectl simulate`; any thread (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "session/audit_event.hpp"
#include "session/policy.hpp"
#include "session/session_event.hpp"
#include "session/state.hpp"
#include "session/transport.hpp"

namespace jg {

// One scripted event at a virtual time (ms since the scenario's start).
struct ScriptStep {
    int64_t at_ms = 0;
    SessionEvent event;
    // heartbeat: number the heartbeat from the runner's counter (after skipping seq_skip).
    bool auto_seq = false;
    uint64_t seq_skip = 0;
    // path_response: answer the pending challenge (false: echo `event`'s bytes as written).
    bool echo_pending = true;
    // path_response without `from`: answer from the pending candidate.
    bool from_pending = false;
    // reattach_request: draw the challenge from the runner's seeded generator.
    bool draw_challenge = true;
};

// One expected audit entry; absent fields match anything.
struct ExpectedEntry {
    std::string event_type;  // "SessionStateChange", "TransportSwitch", ...
    std::optional<SessionState> previous_state;
    std::optional<SessionState> new_state;
    std::optional<Reason> reason_code;  // reason_code, or SecurityEvent's violation
};

// A SessionStateChange into new_state (with reason_code if given) at a time in
// [after_ms, by_ms]; or, with `never`, no such change at all.
struct TimingBound {
    SessionState new_state = SessionState::Attached;
    std::optional<Reason> reason_code;
    int64_t after_ms = 0;
    int64_t by_ms = 0;
    bool never = false;
};

// How far a script may reach: its times (ms) lie in 0..kMaxScenarioMs (client clock readings
// within +-kMaxScenarioMs of zero), and a run takes at most kMaxScenarioSteps scripted steps and
// kMaxScenarioTicks timer ticks, so a script cannot hang the loader or the run.
inline constexpr int64_t kMaxScenarioMs = 30LL * 24 * 3'600'000;
inline constexpr int64_t kMaxScenarioSteps = 1'000'000;
inline constexpr int64_t kMaxScenarioTicks = 10'000'000;

struct ScenarioScript {
    std::string name;
    std::string description;
    std::string origin;  // file name, for messages
    Policy policy;       // defaults + the script's overrides, validated
    uint64_t session_id = 1;
    std::string peer = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    TransportAddr transport;  // where the handshake comes from
    uint64_t seed = 1;        // path challenges are drawn from std::mt19937_64(seed)
    int64_t tick_ms = 100;    // the virtual timer fires every tick_ms, after events due then
    int64_t end_ms = 0;
    std::vector<ScriptStep> steps;  // in time order (stable for equal times)
    // The timeline entries of the event types named here, in order, must be exactly these.
    std::vector<ExpectedEntry> expect;
    std::vector<TimingBound> bounds;
    std::optional<SessionState> final_state;
    std::optional<TransportAddr> final_binding;
};

struct Timeline {
    std::vector<audit::Event> events;
    SessionState final_state = SessionState::Birth;
    uint64_t final_state_version = 0;
    TransportAddr final_binding;
    uint32_t total_switches = 0;
    uint32_t ignored_events = 0;
    uint32_t rejected_events = 0;
};

// Parses a script (YAML). Errors name the file and the YAML path ("steps[3].nonce").
Result<ScenarioScript> load_scenario_file(const std::string &path);
Result<ScenarioScript> load_scenario_text(std::string_view yaml, std::string_view origin);

// Runs the script from a fresh session in BIRTH on a virtual clock starting at 0.
Result<Timeline> run_scenario(const ScenarioScript &script);

// Checks the timeline against the script's expect, bounds and final sections; the error says
// which entry differs and what was seen instead.
Status check_expectations(const ScenarioScript &script, const Timeline &timeline);

// The SessionStateChange entries as (previous, new, reason) triples: what scenarios assert.
struct StateChangeRow {
    int64_t at_ms;
    SessionState previous_state;
    SessionState new_state;
    Reason reason_code;
    bool operator==(const StateChangeRow &) const = default;
};
std::vector<StateChangeRow> state_changes(const Timeline &timeline);

// One line per audit event, for people:
//   "  5000 ms  v4  SessionStateChange     VOLATILE -> RECOVERING  reattach_requested"
std::string format_timeline(const Timeline &timeline);
std::string format_event(const audit::Event &e);

}  // namespace jg
