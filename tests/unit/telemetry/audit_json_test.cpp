#include "telemetry/audit_json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace jg::audit {
namespace {

using ::testing::HasSubstr;

TransportAddr addr(std::string_view s) {
    return *parse_transport(s);
}

Event base(Payload p) {
    Event e;
    e.ts_ms = 1'700'000'000'123;
    e.session_id = 0x00c0ffee12345678;
    e.state_version = 7;
    e.policy_version = "edge-2024-05";
    e.payload = std::move(p);
    return e;
}

std::vector<Event> one_of_each_type() {
    return {
        base(SessionCreated{"aGVsbG8gd29ybGQgdGhpcyBpcyBhIGtleSEhISEhISE=",
                            addr("198.51.100.7:51820")}),
        base(SessionStateChange{SessionState::Volatile, SessionState::Recovering,
                                Reason::reattach_requested}),
        base(TransportSwitch{addr("198.51.100.7:51820"), addr("[2001:db8::1]:4500"),
                             Reason::reattach_success, 412, 0.25, 87.5}),
        base(TransportSwitchDenied{addr("203.0.113.9:1024"), Reason::policy_denied}),
        base(ReattachAttempt{addr("203.0.113.9:1024"), 1'700'000'008'123}),
        base(ReattachResult{false, Reason::bad_proof}),
        base(KeyRotated{42}),
        base(SecurityEvent{Reason::replay_detected, "203.0.113.9:1024"}),
        base(PolicyEvent{"switching.switch_cooldown_ms", 1500, 312}),
        base(SessionTerminated{Reason::session_lifetime_exceeded, 28'800'000, 1'250, 17}),
    };
}

TEST(AuditJson, RoundTripsEveryEventType) {
    const auto events = one_of_each_type();
    ASSERT_EQ(events.size(), std::variant_size_v<Payload>);
    for (const Event &e : events) {
        const std::string line = render_line(e, "gw-fra-1");
        auto rec = parse_line(line);
        ASSERT_TRUE(rec.ok()) << line << " -> " << rec.error().message();
        EXPECT_EQ(rec->node_id, "gw-fra-1");
        EXPECT_EQ(rec->event.ts_ms, e.ts_ms);
        EXPECT_EQ(rec->event.session_id, e.session_id);
        EXPECT_EQ(rec->event.state_version, e.state_version);
        EXPECT_EQ(rec->event.policy_version, e.policy_version);
        EXPECT_EQ(rec->event.payload.index(), e.payload.index());
        EXPECT_EQ(render_line(rec->event, rec->node_id), line);
    }
}

TEST(AuditJson, RoundTripKeepsPayloadFields) {
    const auto events = one_of_each_type();
    auto sw = parse_line(render_line(events[2], "n"));
    ASSERT_TRUE(sw.ok());
    const auto &t = std::get<TransportSwitch>(sw->event.payload);
    EXPECT_EQ(t.previous_transport, addr("198.51.100.7:51820"));
    EXPECT_EQ(t.new_transport, addr("[2001:db8::1]:4500"));
    EXPECT_EQ(t.reason_code, Reason::reattach_success);
    EXPECT_EQ(t.switch_latency_ms, 412);
    EXPECT_DOUBLE_EQ(t.loss_ratio, 0.25);
    EXPECT_DOUBLE_EQ(t.rtt_ms, 87.5);

    auto term = parse_line(render_line(events[9], "n"));
    ASSERT_TRUE(term.ok());
    const auto &st = std::get<SessionTerminated>(term->event.payload);
    EXPECT_EQ(st.reason_code, Reason::session_lifetime_exceeded);
    EXPECT_EQ(st.session_age_ms, 28'800'000);
    EXPECT_EQ(st.transportless_age_ms, 1'250);
    EXPECT_EQ(st.total_switches, 17u);

    auto denied = parse_line(render_line(events[5], "n"));
    ASSERT_TRUE(denied.ok());
    EXPECT_FALSE(std::get<ReattachResult>(denied->event.payload).success);
}

TEST(AuditJson, RendersContractFieldNamesAndSpellings) {
    const auto j = nlohmann::json::parse(render_line(
        base(SessionStateChange{SessionState::Birth, SessionState::Attached, Reason::handshake_ok}),
        "gw-1"));
    EXPECT_EQ(j.at("ts_ms"), 1'700'000'000'123);
    EXPECT_EQ(j.at("event_type"), "SessionStateChange");
    EXPECT_EQ(j.at("node_id"), "gw-1");
    EXPECT_EQ(j.at("policy_version"), "edge-2024-05");
    EXPECT_EQ(j.at("session_id"), "00c0ffee12345678");
    EXPECT_EQ(j.at("state_version"), 7);
    EXPECT_EQ(j.at("previous_state"), "BIRTH");
    EXPECT_EQ(j.at("new_state"), "ATTACHED");
    EXPECT_EQ(j.at("reason_code"), "handshake_ok");
    EXPECT_EQ(j.size(), 9u);
}

TEST(AuditJson, RendersReattachResultStatusAsSuccessOrDenied) {
    const auto ok = nlohmann::json::parse(
        render_line(base(ReattachResult{true, Reason::reattach_success}), "n"));
    const auto no =
        nlohmann::json::parse(render_line(base(ReattachResult{false, Reason::bad_proof}), "n"));
    EXPECT_EQ(ok.at("status"), "SUCCESS");
    EXPECT_EQ(no.at("status"), "DENIED");
}

TEST(AuditJson, RendersEachLineWithoutNewline) {
    const auto lines = render_lines(one_of_each_type(), "n");
    ASSERT_EQ(lines.size(), 10u);
    for (const auto &l : lines)
        EXPECT_EQ(l.find('\n'), std::string::npos);
}

TEST(AuditJson, SessionIdIsSixteenLowercaseHexDigits) {
    EXPECT_EQ(format_session_id(0), "0000000000000000");
    EXPECT_EQ(format_session_id(0xABCDEF), "0000000000abcdef");
    EXPECT_EQ(format_session_id(UINT64_MAX), "ffffffffffffffff");
}

TEST(AuditJson, OperatorSessionIdAcceptsShortAndPrefixedHex) {
    EXPECT_EQ(parse_session_id("a1"), 0xa1u);
    EXPECT_EQ(parse_session_id("0xA1"), 0xa1u);
    EXPECT_EQ(parse_session_id("ffffffffffffffff"), UINT64_MAX);
    EXPECT_FALSE(parse_session_id("1ffffffffffffffff"));
    EXPECT_FALSE(parse_session_id("xyz"));
    EXPECT_FALSE(parse_session_id(""));
}

std::string with_field(const Event &e, std::string_view field, nlohmann::json value) {
    auto j = nlohmann::json::parse(render_line(e, "n"));
    j[std::string(field)] = std::move(value);
    return j.dump();
}

std::string without_field(const Event &e, std::string_view field) {
    auto j = nlohmann::json::parse(render_line(e, "n"));
    j.erase(std::string(field));
    return j.dump();
}

TEST(AuditJson, MissingFieldIsNamedInTheError) {
    const auto events = one_of_each_type();
    auto r = parse_line(without_field(events[2], "rtt_ms"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().where, "rtt_ms");
    EXPECT_THAT(r.error().what, HasSubstr("missing"));

    auto b = parse_line(without_field(events[0], "state_version"));
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.error().where, "state_version");
}

TEST(AuditJson, WrongTypeIsNamedInTheError) {
    auto r = parse_line(with_field(one_of_each_type()[6], "key_epoch", "42"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().where, "key_epoch");
    auto v = parse_line(with_field(one_of_each_type()[6], "state_version", -1));
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.error().where, "state_version");
}

TEST(AuditJson, RejectsSessionIdNotInContractSpelling) {
    const Event e = one_of_each_type()[6];
    for (const char *bad : {"00C0FFEE12345678", "c0ffee12345678", "0x00c0ffee123456", ""}) {
        auto r = parse_line(with_field(e, "session_id", bad));
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().where, "session_id");
    }
    auto num = parse_line(with_field(e, "session_id", 12));
    ASSERT_FALSE(num.ok());
    EXPECT_EQ(num.error().where, "session_id");
}

TEST(AuditJson, RejectsUnknownNamesWithTheFieldNamed) {
    const auto events = one_of_each_type();
    auto t = parse_line(with_field(events[6], "event_type", "KeyRotation"));
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().where, "event_type");

    auto s = parse_line(with_field(events[1], "new_state", "recovering"));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().where, "new_state");

    auto r = parse_line(with_field(events[1], "reason_code", "because"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().where, "reason_code");

    auto a = parse_line(with_field(events[3], "candidate_transport", "300.1.1.1:5"));
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.error().where, "candidate_transport");

    auto st = parse_line(with_field(events[5], "status", "OK"));
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().where, "status");
}

TEST(AuditJson, RejectsTextThatIsNotAJsonObject) {
    for (const char *bad : {"", "{\"ts_ms\":1", "[1,2]", "42", "ts_ms=1"}) {
        auto r = parse_line(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().where, "line") << bad;
    }
}

TEST(AuditJson, IgnoresUnknownExtraFields) {
    auto r = parse_line(with_field(one_of_each_type()[6], "added_in_v2", true));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(std::get<KeyRotated>(r->event.payload).key_epoch, 42u);
}

TEST(AuditJson, UnknownMeasurementsRoundTripAsNull) {
    Event e = base(TransportSwitch{
        addr("198.51.100.7:51820"), addr("198.51.100.8:51820"), Reason::legacy_roaming, 0,
        std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()});
    const std::string line = render_line(e, "n");
    EXPECT_THAT(line, HasSubstr("\"loss_ratio\":null"));
    auto r = parse_line(line);
    ASSERT_TRUE(r.ok()) << r.error().message();
    const auto &t = std::get<TransportSwitch>(r->event.payload);
    EXPECT_TRUE(std::isnan(t.loss_ratio));
    EXPECT_TRUE(std::isnan(t.rtt_ms));
}

TEST(AuditJson, InvalidUtf8InPeerStringsDoesNotBreakTheLine) {
    Event e = base(SecurityEvent{Reason::bad_proof, std::string("\xff\xfe", 2)});
    const std::string line = render_line(e, "n");
    auto r = parse_line(line);
    ASSERT_TRUE(r.ok()) << line;
    EXPECT_EQ(std::get<SecurityEvent>(r->event.payload).violation, Reason::bad_proof);
}

}  // namespace
}  // namespace jg::audit
