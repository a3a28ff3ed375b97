#include "telemetry/audit_timeline.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace jg {
namespace {

using ::testing::HasSubstr;

audit::Event timeline_event(int64_t ts, uint64_t sid, uint64_t v, audit::Payload p) {
    return audit::Event{ts, sid, v, "builtin-1", std::move(p)};
}

std::string two_session_log() {
    const TransportAddr a = *parse_transport("198.51.100.7:51820");
    const TransportAddr b = *parse_transport("203.0.113.20:51820");
    const std::vector<audit::Event> events = {
        timeline_event(1000, 0xa1, 0, audit::SessionCreated{"cGVlcg==", a}),
        timeline_event(1000, 0xa1, 1,
                       audit::SessionStateChange{SessionState::Birth, SessionState::Attached,
                                                 Reason::handshake_ok}),
        timeline_event(1100, 0xb2, 0, audit::SessionCreated{"cGVlcg==", b}),
        timeline_event(4000, 0xa1, 2,
                       audit::SessionStateChange{SessionState::Attached, SessionState::Volatile,
                                                 Reason::loss_threshold_exceeded}),
        timeline_event(4500, 0xa1, 2,
                       audit::PolicyEvent{"switching.switch_cooldown_ms", 1500, 250}),
    };
    std::string log;
    for (const auto &l : audit::render_lines(events, "gw-1"))
        log += l + "\n";
    return log;
}

TEST(AuditTimeline, ExtractsOnlyTheNamedSessionWithItsLineNumbers) {
    std::istringstream in(two_session_log());
    const auto x = extract_session(in, 0xa1);
    ASSERT_EQ(x.entries.size(), 4u);
    EXPECT_EQ(x.entries[0].line, 1u);
    EXPECT_EQ(x.entries[1].line, 2u);
    EXPECT_EQ(x.entries[2].line, 4u);
    EXPECT_EQ(x.entries[3].line, 5u);
    for (const auto &e : x.entries) {
        EXPECT_EQ(e.record.event.session_id, 0xa1u);
        EXPECT_EQ(e.record.node_id, "gw-1");
        EXPECT_TRUE(audit::parse_line(e.text).ok());
    }
    EXPECT_TRUE(x.unparseable_lines.empty());
}

TEST(AuditTimeline, ReportsUnparseableLinesInsteadOfGuessingTheirSession) {
    std::istringstream in("not json\n" + two_session_log() + "{\"ts_ms\":1}\n");
    const auto x = extract_session(in, 0xb2);
    ASSERT_EQ(x.entries.size(), 1u);
    EXPECT_EQ(x.entries[0].line, 4u);
    EXPECT_EQ(x.unparseable_lines, (std::vector<size_t>{1, 7}));
}

TEST(AuditTimeline, TableHasOneRowPerEventWithTimeSinceTheFirst) {
    std::istringstream in(two_session_log());
    const auto x = extract_session(in, 0xa1);
    const std::string table = format_audit_timeline(x.entries);
    std::vector<std::string> rows;
    std::istringstream t(table);
    for (std::string r; std::getline(t, r);)
        rows.push_back(r);
    ASSERT_EQ(rows.size(), 5u) << table;
    EXPECT_THAT(rows[0], HasSubstr("LINE"));
    EXPECT_THAT(rows[0], HasSubstr("EVENT"));
    EXPECT_THAT(rows[3], HasSubstr("3000"));  // 4000 - 1000
    EXPECT_THAT(rows[3], HasSubstr("ATTACHED -> VOLATILE  loss_threshold_exceeded"));
    EXPECT_THAT(rows[4], HasSubstr("switching.switch_cooldown_ms  threshold 1500, observed 250"));
}

TEST(AuditTimeline, EmptySelectionPrintsOnlyTheHeader) {
    const std::string table = format_audit_timeline({});
    EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 1);
}

TEST(AuditTimeline, DescribesSwitchesWithBothTransportsAndHealth) {
    const auto d = describe_payload(audit::TransportSwitch{
        *parse_transport("198.51.100.7:51820"), *parse_transport("[2001:db8::7]:40001"),
        Reason::reattach_success, 300, 0.35, 42.5});
    EXPECT_EQ(d,
              "198.51.100.7:51820 -> [2001:db8::7]:40001  reattach_success  latency 300 ms, "
              "loss 0.35, rtt 42.5 ms");
}

}  // namespace
}  // namespace jg
