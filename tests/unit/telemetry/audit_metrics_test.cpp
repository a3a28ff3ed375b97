#include "telemetry/audit_metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "metrics_test_util.hpp"
#include "telemetry/audit_writer.hpp"

namespace jg {
namespace {

using testing::sample;

constexpr uint64_t kSession = 0x5eed;

audit::Event event(int64_t ts_ms, audit::Payload payload, uint64_t session = kSession) {
    audit::Event e;
    e.ts_ms = ts_ms;
    e.session_id = session;
    e.policy_version = "p1";
    e.payload = std::move(payload);
    return e;
}

audit::Event change(int64_t ts_ms, SessionState from, SessionState to, Reason reason,
                    uint64_t session = kSession) {
    return event(ts_ms, audit::SessionStateChange{from, to, reason}, session);
}

void create_attached(AuditMetrics &m, int64_t ts_ms, uint64_t session = kSession) {
    m.observe(
        event(ts_ms, audit::SessionCreated{"peer", TransportAddr::v4(0xc0000202, 41000)}, session));
    m.observe(
        change(ts_ms, SessionState::Birth, SessionState::Attached, Reason::handshake_ok, session));
}

TEST(AuditMetrics, CountsTransitionsByFromToAndReason) {
    AuditMetrics m;
    create_attached(m, 1000);
    create_attached(m, 1000, kSession + 1);
    m.observe(
        change(2000, SessionState::Attached, SessionState::Volatile, Reason::heartbeat_timeout));
    const auto f = m.Collect();
    EXPECT_EQ(sample(f, "jumpgate_session_transitions_total",
                     {{"from", "birth"}, {"to", "attached"}, {"reason", "handshake_ok"}}),
              2.0);
    EXPECT_EQ(sample(f, "jumpgate_session_transitions_total",
                     {{"from", "attached"}, {"to", "volatile"}, {"reason", "heartbeat_timeout"}}),
              1.0);
    // Combinations never seen are not exported (bounded, but mostly empty).
    EXPECT_FALSE(sample(f, "jumpgate_session_transitions_total",
                        {{"from", "attached"}, {"to", "degraded"}, {"reason", "reattach_denied"}}));
}

TEST(AuditMetrics, RecoveryDurationRunsFromVolatileEntryToAttached) {
    AuditMetrics m;
    create_attached(m, 1000);
    m.observe(change(2000, SessionState::Attached, SessionState::Volatile,
                     Reason::loss_threshold_exceeded));
    m.observe(change(2100, SessionState::Volatile, SessionState::Recovering,
                     Reason::path_validation_started));
    m.observe(event(2300, audit::TransportSwitch{TransportAddr::v4(0xc0000202, 41000),
                                                 TransportAddr::v4(0xc0000203, 41000),
                                                 Reason::address_change_observed}));
    m.observe(
        change(2300, SessionState::Recovering, SessionState::Attached, Reason::reattach_success));

    const auto f = m.Collect();
    const auto *h = testing::find_metric(f, "jumpgate_recovery_duration_seconds", {});
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->histogram.sample_count, 1u);
    EXPECT_DOUBLE_EQ(h->histogram.sample_sum, 0.3);
    ASSERT_EQ(h->histogram.bucket.size(), kRecoveryBucketsSeconds.size() + 1);
    for (size_t b = 0; b < kRecoveryBucketsSeconds.size(); ++b)
        EXPECT_EQ(h->histogram.bucket[b].cumulative_count,
                  kRecoveryBucketsSeconds[b] >= 0.3 ? 1u : 0u)
            << "le=" << kRecoveryBucketsSeconds[b];
    EXPECT_EQ(h->histogram.bucket.back().cumulative_count, 1u);
    EXPECT_EQ(
        sample(f, "jumpgate_transport_switches_total", {{"reason", "address_change_observed"}}),
        1.0);
}

TEST(AuditMetrics, RecoveryLongerThanTheLastBucketCountsOnlyInInf) {
    AuditMetrics m;
    create_attached(m, 0);
    m.observe(
        change(1000, SessionState::Attached, SessionState::Volatile, Reason::heartbeat_timeout));
    m.observe(
        change(61000, SessionState::Volatile, SessionState::Attached, Reason::health_recovered));
    // The families must outlive the pointer find_metric returns into them.
    const auto f = m.Collect();
    const auto *h = testing::find_metric(f, "jumpgate_recovery_duration_seconds", {});
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->histogram.bucket[kRecoveryBucketsSeconds.size() - 1].cumulative_count, 0u);
    EXPECT_EQ(h->histogram.bucket.back().cumulative_count, 1u);
    EXPECT_DOUBLE_EQ(h->histogram.sample_sum, 60.0);
}

TEST(AuditMetrics, StateSecondsGrowWhileASessionStaysAndOnTransitions) {
    AuditMetrics m;
    create_attached(m, 10'000);
    m.advance(12'500);
    auto f = m.Collect();
    EXPECT_DOUBLE_EQ(*sample(f, "jumpgate_state_seconds_total", {{"state", "attached"}}), 2.5);
    m.observe(
        change(13'000, SessionState::Attached, SessionState::Degraded, Reason::volatile_persisted));
    m.advance(15'000);
    f = m.Collect();
    EXPECT_DOUBLE_EQ(*sample(f, "jumpgate_state_seconds_total", {{"state", "attached"}}), 3.0);
    EXPECT_DOUBLE_EQ(*sample(f, "jumpgate_state_seconds_total", {{"state", "degraded"}}), 2.0);
    // A clock that steps back credits nothing rather than a huge interval.
    m.advance(14'000);
    f = m.Collect();
    EXPECT_DOUBLE_EQ(*sample(f, "jumpgate_state_seconds_total", {{"state", "degraded"}}), 2.0);
}

TEST(AuditMetrics, TerminationForgetsTheSessionAndCountsTheReason) {
    AuditMetrics m;
    create_attached(m, 0);
    EXPECT_EQ(m.tracked_sessions(), 1u);
    m.observe(change(5000, SessionState::Attached, SessionState::Terminated,
                     Reason::session_lifetime_exceeded));
    m.observe(event(5000, audit::SessionTerminated{Reason::session_lifetime_exceeded, 5000, 0, 0}));
    EXPECT_EQ(m.tracked_sessions(), 0u);
    m.advance(9000);  // no longer credited
    const auto f = m.Collect();
    EXPECT_EQ(
        sample(f, "jumpgate_session_terminations_total", {{"reason", "session_lifetime_exceeded"}}),
        1.0);
    EXPECT_DOUBLE_EQ(*sample(f, "jumpgate_state_seconds_total", {{"state", "attached"}}), 5.0);
}

TEST(AuditMetrics, CountsReattachResultsAndSecurityEvents) {
    AuditMetrics m;
    create_attached(m, 0);
    m.observe(event(100, audit::ReattachResult{true, Reason::reattach_success}));
    m.observe(event(200, audit::ReattachResult{false, Reason::bad_proof}));
    m.observe(event(200, audit::ReattachResult{false, Reason::bad_proof}));
    m.observe(event(300, audit::SecurityEvent{Reason::replay_detected, "192.0.2.9:1"}));
    const auto f = m.Collect();
    EXPECT_EQ(sample(f, "jumpgate_reattach_total",
                     {{"result", "success"}, {"reason", "reattach_success"}}),
              1.0);
    EXPECT_EQ(sample(f, "jumpgate_reattach_total", {{"result", "denied"}, {"reason", "bad_proof"}}),
              2.0);
    EXPECT_EQ(sample(f, "jumpgate_security_events_total", {{"violation", "replay_detected"}}), 1.0);
}

TEST(AuditMetrics, FollowsSessionsCreatedBeforeItWasInstalled) {
    AuditMetrics m;
    m.observe(
        change(1000, SessionState::Attached, SessionState::Volatile, Reason::heartbeat_timeout));
    m.observe(
        change(1400, SessionState::Volatile, SessionState::Attached, Reason::health_recovered));
    const auto f = m.Collect();
    EXPECT_DOUBLE_EQ(*sample(f, "jumpgate_state_seconds_total", {{"state", "volatile"}}), 0.4);
    EXPECT_EQ(
        testing::find_metric(f, "jumpgate_recovery_duration_seconds", {})->histogram.sample_count,
        1u);
}

// Holds every batch until the test ends, so the queue fills.
class BlockingSink final : public AuditSink {
  public:
    AuditSinkReport write(std::span<const std::string> lines) override {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return released_; });
        return {.written = lines.size()};
    }
    void release() {
        std::lock_guard lock(mu_);
        released_ = true;
        cv_.notify_all();
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool released_ = false;
};

TEST(AuditMetrics, SeesEveryEventOfferedToTheWriterEvenWhenTheQueueDropsIt) {
    auto sink = std::make_shared<BlockingSink>();
    AuditMetrics metrics;
    {
        AuditWriterOptions o;
        o.capacity = 2;
        o.flush_interval = std::chrono::milliseconds(1);
        AuditWriter writer(sink, o);
        writer.set_observer(&metrics);
        for (int i = 0; i < 20; ++i)
            writer.try_push(event(i, audit::SecurityEvent{Reason::handshake_flood, "x"}));
        EXPECT_GT(writer.stats().dropped, 0u);
        writer.set_observer(nullptr);
        writer.try_push(event(99, audit::SecurityEvent{Reason::handshake_flood, "x"}));
        sink->release();
        writer.close();
    }
    EXPECT_EQ(sample(metrics.Collect(), "jumpgate_security_events_total",
                     {{"violation", "handshake_flood"}}),
              20.0);
}

}  // namespace
}  // namespace jg
