// AuditMetrics: the session-FSM metrics of the contract (transitions, switches, reattaches,
// recovery time, time per state, terminations, security events), counted from the audit events.
// observe/advance: the control core thread only (the AuditWriter's producer); Collect: any thread.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "session/audit_event.hpp"
#include "session/reason.hpp"
#include "session/state.hpp"
#include "telemetry/audit_writer.hpp"

namespace jg {

// Upper bounds (seconds) of jumpgate_recovery_duration_seconds: VOLATILE entry -> ATTACHED.
inline constexpr std::array<double, 11> kRecoveryBucketsSeconds = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0};

class AuditMetrics final : public AuditObserver, public prometheus::Collectable {
  public:
    // Control core: counts the event and follows its session's state. Allocates only when a
    // session is created (one map entry per live session, erased when it terminates).
    void observe(const audit::Event &event) noexcept override;

    // Control core: credits every live session's current state with the time since the last
    // call (or its last transition), so jumpgate_state_seconds_total grows while a session
    // stays put. Call it periodically with the audit clock (wall-clock ms).
    void advance(int64_t now_ms);

    // Scrape thread(s): reads the atomics only.
    std::vector<prometheus::MetricFamily> Collect() const override;

    size_t tracked_sessions() const { return sessions_.size(); }  // control core only

  private:
    using Count = std::atomic<uint64_t>;  // one writer (the control core), any reader
    static_assert(Count::is_always_lock_free);
    static constexpr size_t kStates = kSessionStateCount;
    static constexpr size_t kReasons = kReasonCount;
    static constexpr size_t kBuckets = kRecoveryBucketsSeconds.size();

    struct TrackedSession {
        SessionState state = SessionState::Birth;
        int64_t credited_until_ms = 0;   // state_seconds already counted up to here
        int64_t volatile_since_ms = -1;  // -1: not recovering from a VOLATILE entry
    };

    void on_state_change(const audit::Event &event, const audit::SessionStateChange &change);
    void credit_state(TrackedSession &session, int64_t now_ms);
    void observe_recovery(int64_t duration_ms);

    // control core only
    std::unordered_map<uint64_t, TrackedSession> sessions_;

    // written: control core (observe, advance); read: Collect
    std::array<Count, kStates * kStates * kReasons> transitions_{};  // [from][to][reason]
    std::array<Count, kReasons> transport_switches_{};
    std::array<Count, 2 * kReasons> reattach_{};  // [success][reason]
    std::array<Count, kReasons> terminations_{};
    std::array<Count, kReasons> security_events_{};
    std::array<Count, kStates> state_ms_{};
    std::array<Count, kBuckets> recovery_buckets_{};  // not cumulative: one per observation
    Count recovery_count_{0};
    Count recovery_sum_ms_{0};
};

}  // namespace jg
