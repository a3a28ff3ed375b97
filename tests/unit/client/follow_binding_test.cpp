// The client's machine follows a binding the gateway already moved: whether it was waiting on
// another candidate, past its recovery window, or still ATTACHED, and never past its own
// switching policy.
#include "client/follow_binding.hpp"

#include <gtest/gtest.h>

#include <variant>

#include "client/path_ranking.hpp"
#include "session/state_machine.hpp"

namespace jg::client {
namespace {

TransportAddr transport(const char *text) {
    return parse_transport(text).value_or(TransportAddr{});
}

const TransportAddr kA = transport("192.0.2.2:40000");
const TransportAddr kB = transport("192.0.2.3:40001");
const TransportAddr kC = transport("192.0.2.4:40002");

class FollowBindingTest : public ::testing::Test {
  protected:
    FollowBindingTest() {
        feed(HandshakeCompleted{kA, "peer", 0});
        feed(HelloReceived{});
    }
    void feed(const SessionEvent &e) {
        const StepResult r = step(s_, e, policy_, now_);
        for (const audit::Event &ev : r.audit)
            if (const auto *sw = std::get_if<audit::TransportSwitch>(&ev.payload))
                switched_to_.push_back(sw->new_transport);
    }
    // Path A goes silent: VOLATILE after heartbeat_volatile_ms.
    void lose_a() {
        now_ += policy_.volatility.heartbeat_volatile_ms;
        feed(TimerTick{});
        ASSERT_EQ(s_.state, SessionState::Volatile);
    }
    void reattach(const TransportAddr &to, uint64_t nonce) {
        ReattachRequest r;
        r.client_time_ms = now_;
        r.nonce = nonce;
        r.candidate = to;
        r.challenge = {1, 2, 3, 4, 5, 6, 7, uint8_t(nonce)};
        feed(r);
        ASSERT_EQ(s_.state, SessionState::Recovering);
    }
    bool follow(const TransportAddr &to, uint64_t nonce) {
        FollowInputs in;
        in.challenge = {9, 9, 9, 9, 9, 9, 9, uint8_t(nonce)};
        in.nonce = nonce;
        in.now_ms = now_;
        return follow_binding(s_, to, in, [this](const SessionEvent &e) { feed(e); });
    }

    // The machine follows the gateway to B, then, inside switch_cooldown_ms of that
    // switch, refuses to record its move on to C.
    void follow_c_inside_cooldown() {
        lose_a();
        reattach(kB, 1);
        ASSERT_TRUE(follow(kB, 2));
        now_ += 10;
        EXPECT_FALSE(follow(kC, 3));
    }

    Policy policy_;
    int64_t now_ = 1'000'000;
    SessionRecord s_ = make_session(0x77);
    std::vector<TransportAddr> switched_to_;
};

// Three paths: the retry rotated to C while the gateway accepted B; B's result decides.
TEST_F(FollowBindingTest, AcceptedResultForAnEarlierCandidateWins) {
    lose_a();
    reattach(kB, 1);
    now_ += 1'000;
    reattach(kC, 2);
    ASSERT_EQ(s_.pending.candidate, kC);
    EXPECT_TRUE(follow(kB, 3));
    EXPECT_EQ(s_.binding, kB);
    EXPECT_EQ(s_.state, SessionState::Attached);
    ASSERT_EQ(switched_to_.size(), 1u);
    EXPECT_EQ(switched_to_[0], kB);
}

TEST_F(FollowBindingTest, AwaitedCandidateCompletesWithItsOwnChallenge) {
    lose_a();
    reattach(kB, 1);
    const uint64_t version = s_.state_version;
    EXPECT_TRUE(follow(kB, 2));
    EXPECT_EQ(s_.binding, kB);
    EXPECT_EQ(s_.state_version, version + 2);  // TransportSwitch, then RECOVERING -> ATTACHED
}

// The accepted result was lost; the recovery window ran out and the machine is DEGRADED on
// the dead path with nothing pending. Proof that the gateway moved arrives later.
TEST_F(FollowBindingTest, LostResultPastTheRecoveryWindowStillFollows) {
    lose_a();
    reattach(kB, 1);
    now_ += policy_.switching.recovery_window_ms;
    feed(TimerTick{});
    ASSERT_EQ(s_.state, SessionState::Degraded);
    ASSERT_FALSE(s_.pending.active);
    EXPECT_TRUE(follow(kB, 2));
    EXPECT_EQ(s_.binding, kB);
    EXPECT_EQ(s_.state, SessionState::Attached);
}

TEST_F(FollowBindingTest, AttachedMachineFollowsAsAnAddressChange) {
    ASSERT_EQ(s_.state, SessionState::Attached);
    EXPECT_TRUE(follow(kB, 1));
    EXPECT_EQ(s_.binding, kB);
    EXPECT_EQ(s_.state, SessionState::Attached);
    ASSERT_EQ(switched_to_.size(), 1u);
}

TEST_F(FollowBindingTest, AlreadyBoundThereChangesNothing) {
    const uint64_t version = s_.state_version;
    EXPECT_TRUE(follow(kA, 1));
    EXPECT_EQ(s_.state_version, version);
}

TEST_F(FollowBindingTest, OwnSwitchingPolicyStillDecidesWhatItRecords) {
    follow_c_inside_cooldown();
    EXPECT_EQ(s_.binding, kB);
    EXPECT_EQ(switched_to_.size(), 1u);
}

// The gateway moved to C inside our cooldown: not recorded then, and retrying while the gate
// is shut neither records nor audits anything; once it opens the machine catches up, so its
// binding and the path the client sends from do not stay apart.
TEST_F(FollowBindingTest, MoveRefusedByOwnPolicyIsRecordedOnceThePolicyAllows) {
    follow_c_inside_cooldown();
    const uint64_t version = s_.state_version;
    FollowInputs in;
    in.challenge = {4, 4, 4, 4, 4, 4, 4, 4};
    in.nonce = 4;
    in.now_ms = now_ + 100;
    int driven = 0;
    const auto count = [&](const SessionEvent &e) {
        ++driven;
        feed(e);
    };
    EXPECT_FALSE(reconcile_binding(s_, kC, policy_, in, count));
    EXPECT_EQ(driven, 0);
    EXPECT_EQ(s_.state_version, version);
    EXPECT_EQ(s_.binding, kB);

    in.now_ms = now_ + policy_.switching.switch_cooldown_ms;
    now_ = in.now_ms;
    EXPECT_TRUE(reconcile_binding(s_, kC, policy_, in, count));
    EXPECT_EQ(s_.binding, kC);
    EXPECT_EQ(s_.state, SessionState::Attached);
    ASSERT_EQ(switched_to_.size(), 2u);
    EXPECT_EQ(switched_to_[1], kC);
    // Bound there: nothing more to do.
    driven = 0;
    EXPECT_TRUE(reconcile_binding(s_, kC, policy_, in, count));
    EXPECT_EQ(driven, 0);
}

// Three paths, A active and silent since 1000. The gateway validated B at 1500 and moved
// there, but its accepted result was lost; a retry on C is refused as invalid_state_for_reattach
// (the gateway is ATTACHED on B): that refusal must not move the client to C.
TEST(RefusalShowsBinding, OnlyOnTheLatestPathTheGatewayValidatedSinceTheActiveWentSilent) {
    const auto state = uint16_t(Reason::invalid_state_for_reattach);
    const auto candidate = uint16_t(Reason::invalid_transport_candidate);
    const std::vector<int64_t> challenged = {kNeverHeard, 1'500, kNeverHeard};
    EXPECT_FALSE(refusal_shows_binding(state, 2, challenged, 1'000));
    EXPECT_FALSE(refusal_shows_binding(candidate, 2, challenged, 1'000));
    EXPECT_TRUE(refusal_shows_binding(state, 1, challenged, 1'000));
    EXPECT_TRUE(refusal_shows_binding(candidate, 1, challenged, 1'000));
    // Other refusals say nothing of the binding.
    EXPECT_FALSE(refusal_shows_binding(uint16_t(Reason::policy_denied), 1, challenged, 1'000));
    // A validation from before the active path last heard the gateway is old news.
    EXPECT_FALSE(refusal_shows_binding(state, 1, challenged, 2'000));
    // A later validation elsewhere: the gateway went on from B.
    const std::vector<int64_t> later = {kNeverHeard, 1'500, 1'700};
    EXPECT_FALSE(refusal_shows_binding(state, 1, later, 1'000));
    EXPECT_TRUE(refusal_shows_binding(state, 2, later, 1'000));
    // The active path never heard the gateway: any validation is since then.
    EXPECT_TRUE(refusal_shows_binding(state, 1, challenged, kNeverHeard));
    EXPECT_FALSE(refusal_shows_binding(state, 5, challenged, kNeverHeard));
}

TEST_F(FollowBindingTest, TerminatedMachineDoesNotMove) {
    feed(TerminationRequested{Reason::explicit_termination});
    ASSERT_EQ(s_.state, SessionState::Terminated);
    EXPECT_FALSE(follow(kB, 1));
    EXPECT_EQ(s_.binding, kA);
}

}  // namespace
}  // namespace jg::client
