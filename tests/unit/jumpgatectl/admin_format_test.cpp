// jumpgatectl's pure admin code: gateway replies reshaped (numbered keys to lists, pages
// joined, errors recognised), tables aligned, and the socket chosen from the options.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "admin_format.hpp"
#include "gateway_address.hpp"

namespace jg::ctl {
namespace {

using nlohmann::json;

json session_row(const std::string &id, const std::string &state) {
    return {{"session_id", id}, {"peer", "AAAA"},     {"peer_name", "phone"},
            {"state", state},   {"state_version", 3}, {"transport", "192.0.2.2:41000"},
            {"age_s", 125},     {"switches", 1}};
}

TEST(AdminReply, ObjectsPassErrorsAndUnknownCommandsFail) {
    EXPECT_TRUE(admin_reply(json::object(), "/jumpgate/stats").ok());
    auto e = admin_reply("error: session 0000000000000abc: no such session", "/jumpgate/session");
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().where, "/jumpgate/session");
    EXPECT_EQ(e.error().what, "session 0000000000000abc: no such session");
    auto unknown = admin_reply(json(nullptr), "/jumpgate/stats");
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().what.find("does not know"), std::string::npos);
}

TEST(TakeNumbered, OrdersByNumberNotByNameAndLeavesTheRest) {
    json o = {{"transition_10", {{"v", 10}}},
              {"transition_2", {{"v", 2}}},
              {"transition_x", 1},
              {"count", 2}};
    const json list = take_numbered(o, "transition_");
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0]["v"], 2);
    EXPECT_EQ(list[1]["v"], 10);
    EXPECT_TRUE(o.contains("transition_x"));
    EXPECT_TRUE(o.contains("count"));
    EXPECT_FALSE(o.contains("transition_2"));
}

TEST(JoinSessionPages, ConcatenatesPagesAndIgnoresPagingFields) {
    json p1 = {{"total", 3}, {"count", 2}, {"next_after", "00000000000000b2"}};
    p1["s00000000000000b2"] = session_row("00000000000000b2", "ATTACHED");
    p1["s00000000000000a1"] = session_row("00000000000000a1", "VOLATILE");
    json p2 = {{"total", 3}, {"count", 1}, {"next_after", ""}};
    p2["s0000000000000001"] = session_row("0000000000000001", "TERMINATED");
    const json joined = join_session_pages({p1, p2});
    EXPECT_EQ(joined["total"], 3);
    ASSERT_EQ(joined["sessions"].size(), 3u);
    EXPECT_EQ(joined["sessions"][0]["session_id"], "00000000000000a1");
    EXPECT_EQ(joined["sessions"][1]["session_id"], "00000000000000b2");
    EXPECT_EQ(joined["sessions"][2]["session_id"], "0000000000000001");
}

TEST(AlignedTable, PadsColumnsToTheWidestCellWithoutTrailingBlanks) {
    EXPECT_EQ(aligned_table({{"A", "BB", "C"}, {"long", "x", ""}}),
              "A     BB  C\n"
              "long  x\n");
}

TEST(SessionsText, OneRowPerSessionWithReadableAgeAndACount) {
    json joined = {{"total", 1},
                   {"sessions", json::array({session_row("00000000000000a1", "ATTACHED")})}};
    const std::string text = sessions_text(joined);
    EXPECT_EQ(text,
              "SESSION           PEER  NAME   STATE     VERSION  TRANSPORT        AGE   "
              "SWITCHES\n"
              "00000000000000a1  AAAA  phone  ATTACHED  3        192.0.2.2:41000  2m5s  1\n"
              "1 session\n");
}

TEST(SessionDetail, TransitionsBecomeAnOrderedList) {
    json reply = {{"session_id", "00000000000000a1"}, {"recent_transitions", 2}};
    reply["transition_1"] = {{"ts_ms", 2},  {"kind", "transport_switch"}, {"from", "a:1"},
                             {"to", "b:2"}, {"reason", "legacy_roaming"}, {"state_version", 2}};
    reply["transition_0"] = {{"ts_ms", 1},       {"kind", "state_change"},   {"from", "BIRTH"},
                             {"to", "ATTACHED"}, {"reason", "handshake_ok"}, {"state_version", 1}};
    const json d = session_detail(reply);
    ASSERT_EQ(d["transitions"].size(), 2u);
    EXPECT_EQ(d["transitions"][0]["reason"], "handshake_ok");
    EXPECT_FALSE(d.contains("recent_transitions"));
    const std::string text = session_detail_text(d);
    EXPECT_NE(text.find("session_id  00000000000000a1"), std::string::npos) << text;
    EXPECT_NE(text.find("2      2        transport_switch  a:1    b:2       legacy_roaming"),
              std::string::npos)
        << text;
}

TEST(PolicyText, ProfilesSideBySideVersionFirst) {
    json reply = {{"generation", 2}, {"default_profile", "default"}, {"profiles", 2}};
    reply["profile_0"] = {{"name", "default"}, {"version", "v2"}, {"session/max_lifetime_ms", 9}};
    reply["profile_1"] = {{"name", "roaming"}, {"version", "r1"}, {"session/max_lifetime_ms", 7}};
    const json listing = policy_listing(reply);
    ASSERT_EQ(listing["profiles"].size(), 2u);
    EXPECT_EQ(policy_text(listing),
              "policy generation 2, default profile default\n"
              "KEY                      default  roaming\n"
              "version                  v2       r1\n"
              "session/max_lifetime_ms  9        7\n");
}

TEST(StatsText, WorkerBusyShownAsPercent) {
    json reply = {{"live_sessions", 1}};
    reply["worker_0"] = {{"lcore", 1}, {"rx_packets", 5},  {"rx_bytes", 500},     {"tx_packets", 4},
                         {"drops", 0}, {"reassembled", 2}, {"busy_permille", 125}};
    const json listing = stats_listing(reply);
    ASSERT_EQ(listing["workers"].size(), 1u);
    EXPECT_NE(stats_text(listing).find("0       1      5           500       4           0      "
                                       "2            12.5%"),
              std::string::npos)
        << stats_text(listing);
}

TEST(ChooseSocket, OptionsWinThenTheOnlyRunningGateway) {
    GatewayAddress a;
    a.socket = "/tmp/x.sock";
    EXPECT_EQ(*choose_socket(a, {}), "/tmp/x.sock");
    a = {};
    a.node_id = "edge 1";
    EXPECT_EQ(*choose_socket(a, {}), "/var/run/dpdk/jumpgate-edge_1/dpdk_telemetry.v2");
    a = {};
    EXPECT_EQ(*choose_socket(a, {"/var/run/dpdk/jumpgate-a/dpdk_telemetry.v2"}),
              "/var/run/dpdk/jumpgate-a/dpdk_telemetry.v2");
    auto none = choose_socket(a, {});
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error().where, "no gateway is running");
    auto two = choose_socket(a, {"/p/1", "/p/2"});
    ASSERT_FALSE(two.ok());
    EXPECT_NE(two.error().what.find("/p/1, /p/2"), std::string::npos);
}

TEST(ChooseSocket, ConfigFileGivesNodeIdOrExplicitFilePrefix) {
    const std::string path = ::testing::TempDir() + "jumpgatectl_choose_socket.yaml";
    GatewayAddress a;
    a.config = path;
    auto missing = choose_socket(a, {});
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message().find(path), std::string::npos);
}

}  // namespace
}  // namespace jg::ctl
