// Admin requests against a real SessionDirectory: operator termination is audited like any
// transition, session detail carries the recent transitions, a policy reload swaps the set
// (and is refused if it drops a profile a peer uses), and the request queue never reports a
// timeout for a request it applied.
#include <atomic>
#include <chrono>
#include <thread>

#include "control/admin_requests.hpp"
#include "control_fixture.hpp"

namespace jg::control::test {
namespace {

using AdminRequests = ControlTest;

TEST_F(AdminRequests, TerminateDrivesExplicitTerminationThroughTheAuditedFsm) {
    start();
    ASSERT_TRUE(handshake(client));
    const uint64_t id = dir->sessions_snapshot().at(0).session_id;
    advance(1'000);

    auto r = serve_admin_request(*dir, TerminateRequest{id}, now);
    ASSERT_TRUE(r.ok()) << r.error().message();
    const auto s = dir->find_session(id);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->state, SessionState::Terminated);
    EXPECT_EQ(dir->live_sessions(), 0u);
    advance(100);
    dir->tick(now);
    EXPECT_FALSE(dp.retired.empty()) << "the data plane slot must be retired";

    // A second termination is refused and changes nothing.
    auto again = serve_admin_request(*dir, TerminateRequest{id}, now);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().message().find("already terminated"), std::string::npos);

    const auto events = audit_events();
    ASSERT_GE(events.size(), 2u);
    const auto *change = std::get_if<audit::SessionStateChange>(&events[events.size() - 2].payload);
    ASSERT_NE(change, nullptr);
    EXPECT_EQ(change->new_state, SessionState::Terminated);
    EXPECT_EQ(change->reason_code, Reason::explicit_termination);
    const auto *end = std::get_if<audit::SessionTerminated>(&events.back().payload);
    ASSERT_NE(end, nullptr);
    EXPECT_EQ(end->reason_code, Reason::explicit_termination);
    EXPECT_EQ(end->session_age_ms, 1'000);
    EXPECT_EQ(check_audit().violations.size(), 0u);
}

TEST_F(AdminRequests, UnknownSessionIsANamedErrorForDetailAndTerminate) {
    start();
    ASSERT_TRUE(handshake(client));
    for (const AdminRequest &req :
         {AdminRequest{SessionDetailRequest{0xabc}}, AdminRequest{TerminateRequest{0xabc}}}) {
        auto r = serve_admin_request(*dir, req, now);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().message(), "session 0000000000000abc: no such session");
    }
    EXPECT_EQ(dir->live_sessions(), 1u);
}

TEST_F(AdminRequests, DetailListsTheLastTransitionsOldestFirstAndStaysBounded) {
    start();
    ASSERT_TRUE(handshake(client));
    const uint64_t id = dir->sessions_snapshot().at(0).session_id;
    advance(2'000);
    source_changed(kRoamAddr, kOtherMac);  // legacy roaming: one TransportSwitch

    auto r = serve_admin_request(*dir, SessionDetailRequest{id}, now);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->detail);
    const auto &t = r->detail->transitions;
    ASSERT_EQ(t.size(), 2u);
    EXPECT_FALSE(t[0].binding_switch);
    EXPECT_EQ(t[0].from_state, SessionState::Birth);
    EXPECT_EQ(t[0].to_state, SessionState::Attached);
    EXPECT_EQ(t[0].reason, Reason::handshake_ok);
    EXPECT_EQ(t[0].state_version, 1u);
    EXPECT_TRUE(t[1].binding_switch);
    EXPECT_EQ(t[1].from_transport, kClientAddr);
    EXPECT_EQ(t[1].to_transport, kRoamAddr);
    EXPECT_EQ(t[1].reason, Reason::legacy_roaming);
    EXPECT_EQ(t[1].state_version, 2u);
    EXPECT_EQ(r->detail->summary.binding, kRoamAddr);

    // Many roams later, only the newest kRecentTransitions remain, still in order.
    const TransportAddr roams[] = {kClientAddr, kRoamAddr2, kRoamAddr3, kRoamAddr};
    for (int i = 0; i < 12; ++i) {
        advance(10'000);
        source_changed(roams[i % 4], i % 2 ? kOtherMac : kRouterMac);
    }
    const auto recent = dir->recent_transitions(id);
    ASSERT_EQ(recent.size(), kRecentTransitions);
    for (size_t i = 1; i < recent.size(); ++i)
        EXPECT_EQ(recent[i].state_version, recent[i - 1].state_version + 1);
    EXPECT_EQ(recent.back().state_version, dir->find_session(id)->state_version);
}

TEST_F(AdminRequests, PolicyReloadSwapsTheWholeSetAndBumpsTheGeneration) {
    start();
    Policy strict;
    strict.name = "default";
    strict.version = "strict-7";
    strict.switching.max_switches_per_min = 2;
    auto set = PolicySet::make({strict}, "default");
    ASSERT_TRUE(set.ok());
    auto r = serve_admin_request(
        *dir, PolicyReloadRequest{std::make_shared<const PolicySet>(std::move(*set))}, now);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->policy_generation, 2u);
    EXPECT_EQ(dir->policies().current()->default_policy().version, "strict-7");

    const auto snap = take_admin_snapshot(*dir, 0, now);
    EXPECT_EQ(snap->policy_generation, 2u);
    EXPECT_EQ(snap->policies->default_policy().switching.max_switches_per_min, 2u);
}

TEST(PolicyReloadCheck, RefusesASetThatDropsAProfileAPeerUses) {
    PeerConfig bob;
    PeerConfig alice;
    alice.name = "alice";
    alice.policy = "strict";
    const std::vector<PeerProfile> peers = peer_profiles({bob, alice});
    ASSERT_EQ(peers.size(), 2u);
    EXPECT_EQ(peers[0].peer, "peers[0]");
    EXPECT_EQ(peers[1].peer, "peers[1] (alice)");

    Policy only_default;
    only_default.name = "default";
    auto without = PolicySet::make({only_default}, "default");
    ASSERT_TRUE(without.ok());
    const Status refused = check_peer_profiles_kept(*without, peers);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(
        refused.error().message(),
        "peers[1] (alice) uses policy profile \"strict\", which the new file does not define");

    Policy strict = only_default;
    strict.name = "strict";
    auto with = PolicySet::make({only_default, strict}, "default");
    ASSERT_TRUE(with.ok());
    EXPECT_TRUE(check_peer_profiles_kept(*with, peers).ok());
    EXPECT_TRUE(check_peer_profiles_kept(*without, {}).ok()) << "no peers, nothing to keep";
}

TEST(AdminRequestQueue, AnsweredRequestsReturnTheHandlersResult) {
    AdminRequestQueue q;
    std::atomic<bool> stop{false};
    std::thread control([&] {
        while (!stop) {
            q.serve([](const AdminRequest &r) -> Result<AdminReply> {
                if (std::get<TerminateRequest>(r).session_id == 7)
                    return make_error("session", "refused");
                AdminReply a;
                a.policy_generation = std::get<TerminateRequest>(r).session_id;
                return a;
            });
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    auto ok = q.submit(TerminateRequest{5}, 2000);
    auto bad = q.submit(TerminateRequest{7}, 2000);
    stop = true;
    control.join();
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(ok->policy_generation, 5u);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message(), "session: refused");
}

TEST(AdminRequestQueue, AnUntakenRequestTimesOutAndIsWithdrawn) {
    AdminRequestQueue q;
    const auto t0 = std::chrono::steady_clock::now();
    auto r = q.submit(TerminateRequest{1}, 50);
    const auto waited = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("nothing was changed"), std::string::npos);
    EXPECT_GE(waited, std::chrono::milliseconds(50));
    int handled = 0;
    EXPECT_EQ(q.serve([&](const AdminRequest &) -> Result<AdminReply> {
        ++handled;
        return AdminReply{};
    }),
              0u);
    EXPECT_EQ(handled, 0) << "a withdrawn request must never be applied";
}

TEST(AdminRequestQueue, ATakenRequestIsAwaitedPastTheTimeout) {
    AdminRequestQueue q;
    // The serving loop also ends when the submitter gives up, so a control thread that was not
    // scheduled within the deadline fails the test below instead of spinning for good.
    std::atomic<bool> submitted{false};
    std::thread control([&] {
        while (!submitted.load() && q.serve([](const AdminRequest &) -> Result<AdminReply> {
            std::this_thread::sleep_for(std::chrono::milliseconds(400));
            AdminReply a;
            a.policy_generation = 9;
            return a;
        }) == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    auto r = q.submit(TerminateRequest{1}, 100);
    submitted.store(true);
    control.join();
    ASSERT_TRUE(r.ok()) << "taken before the deadline: the outcome, not a timeout";
    EXPECT_EQ(r->policy_generation, 9u);
}

TEST(AdminRequestQueue, FullAndClosedQueuesRefuseAtOnce) {
    AdminRequestQueue q(1);
    // The waiter holds the only place (it retries if the probe below took it first).
    std::thread waiter([&] {
        for (;;) {
            auto r = q.submit(TerminateRequest{1}, 5000);
            if (r.ok() || r.error().message().find("too many") == std::string::npos)
                return;
        }
    });
    while (true) {
        auto r = q.submit(TerminateRequest{2}, 10);
        if (!r.ok() && r.error().message().find("too many") != std::string::npos)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    q.close();
    waiter.join();
    auto r = q.submit(TerminateRequest{3}, 1000);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("stopping"), std::string::npos);
}

std::vector<SessionSummary> sessions_with_ids(std::initializer_list<uint64_t> ids) {
    std::vector<SessionSummary> out;
    for (uint64_t id : ids) {
        SessionSummary s;
        s.session_id = id;
        out.push_back(s);
    }
    return out;
}

TEST(Utf8Prefix, CutsBeforeACharacterThatWouldNotFitWhole) {
    const std::string name = std::string(126, 'a') + "\xc3\xa9";  // 126 x 'a', then e-acute
    EXPECT_EQ(utf8_prefix(name, 127), std::string(126, 'a'));
    EXPECT_EQ(utf8_prefix(name, 128), name);
    EXPECT_EQ(utf8_prefix("\xe2\x82\xac\xe2\x82\xac", 4), "\xe2\x82\xac");  // two euro signs
    EXPECT_EQ(utf8_prefix("short", 127), "short");
}

TEST(SessionsPage, PagesByIdSoChurnBetweenPagesNeitherRepeatsNorSkips) {
    const auto before = sessions_with_ids({10, 20, 30, 40, 50});
    const auto p1 = sessions_page(before, std::nullopt, 2);
    ASSERT_EQ(p1.size(), 2u);
    EXPECT_EQ(p1.back().session_id, 20u);
    // Between pages 10 ends and two sessions start, one before the cursor and one after.
    const auto after = sessions_with_ids({5, 20, 30, 35, 40, 50});
    const auto p2 = sessions_page(after, p1.back().session_id, 2);
    ASSERT_EQ(p2.size(), 2u);
    EXPECT_EQ(p2[0].session_id, 30u) << "by position this page would repeat 20";
    EXPECT_EQ(p2[1].session_id, 35u);
    const auto p3 = sessions_page(after, p2.back().session_id, 2);
    ASSERT_EQ(p3.size(), 2u);
    EXPECT_EQ(p3[0].session_id, 40u);
    EXPECT_EQ(p3[1].session_id, 50u);
    EXPECT_TRUE(sessions_page(after, 50, 2).empty());
    EXPECT_TRUE(sessions_page(after, 99, 2).empty());
    EXPECT_TRUE(sessions_page({}, std::nullopt, 2).empty());
}

TEST_F(AdminRequests, SnapshotCountsStatesButCopiesTheSessionListOnlyWhenAsked) {
    start();
    ASSERT_TRUE(handshake(client));
    const auto lean = take_admin_snapshot(*dir, 0, now, false);
    EXPECT_EQ(lean->sessions, nullptr);
    EXPECT_EQ(lean->sessions_by_state[static_cast<size_t>(SessionState::Attached)], 1u);
    const auto full = take_admin_snapshot(*dir, 0, now, true);
    ASSERT_NE(full->sessions, nullptr);
    EXPECT_EQ(full->sessions->size(), 1u);
}

}  // namespace
}  // namespace jg::control::test
