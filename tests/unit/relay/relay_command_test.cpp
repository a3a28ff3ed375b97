// The relay's command language: text and JSON forms, the errors a person sees for bad
// input, scripts, and what each impairment command changes.
#include <gtest/gtest.h>

#include <string>

#include "relay_command.hpp"

namespace jg::relay {
namespace {

template <class T>
T parsed(std::string_view line) {
    auto c = parse_command(line);
    EXPECT_TRUE(c.ok()) << line << ": " << (c.ok() ? "" : c.error().message());
    if (!c.ok()) {
        return T{};
    }
    const T *t = std::get_if<T>(&*c);
    EXPECT_NE(t, nullptr) << line << " parsed as another command";
    return t ? *t : T{};
}

std::string error_of(std::string_view line) {
    auto c = parse_command(line);
    EXPECT_FALSE(c.ok()) << line << " was accepted";
    return c.ok() ? "" : c.error().message();
}

TEST(RelayCommand, TextImpairmentsCarryTheirValues) {
    auto drop = parsed<SetDrop>("up drop 15%");
    EXPECT_EQ(drop.target, Target::up);
    EXPECT_DOUBLE_EQ(drop.percent, 15);
    EXPECT_DOUBLE_EQ(parsed<SetDrop>("drop 2.5").percent, 2.5);
    EXPECT_EQ(parsed<SetDrop>("drop 2.5").target, Target::both);

    auto delay = parsed<SetDelay>("down delay 50ms jitter 10 normal");
    EXPECT_EQ(delay.target, Target::down);
    EXPECT_EQ(delay.delay_ms, 50u);
    EXPECT_EQ(delay.jitter_ms, 10u);
    EXPECT_EQ(delay.shape, JitterShape::normal);
    EXPECT_EQ(parsed<SetDelay>("delay 2s").delay_ms, 2000u);

    EXPECT_TRUE(parsed<SetBlackhole>("both blackhole on").on);
    EXPECT_FALSE(parsed<SetBlackhole>("blackhole off").on);
    EXPECT_DOUBLE_EQ(parsed<SetDuplicate>("up duplicate 1%").percent, 1);
    auto reorder = parsed<SetReorder>("reorder 5% hold 30ms");
    EXPECT_DOUBLE_EQ(reorder.percent, 5);
    EXPECT_EQ(reorder.hold_ms, 30u);
    EXPECT_FALSE(parsed<SetReorder>("reorder 5").hold_ms.has_value());
    EXPECT_EQ(parsed<ClearImpairments>("down clear").target, Target::down);
    auto limit = parsed<SetQueueLimit>("up limit 5000");
    EXPECT_EQ(limit.target, Target::up);
    EXPECT_EQ(limit.packets, 5000u);
}

TEST(RelayCommand, TargetedLossCarriesCountSizeAndSkip) {
    auto lose = parsed<SetTargetedLoss>("down lose 1 size 48 after 1");
    EXPECT_EQ(lose.target, Target::down);
    EXPECT_EQ(lose.count, 1u);
    EXPECT_EQ(lose.size, 48u);
    EXPECT_EQ(lose.skip, 1u);
    auto any = parsed<SetTargetedLoss>("lose 3");
    EXPECT_EQ(any.target, Target::both);
    EXPECT_EQ(any.count, 3u);
    EXPECT_EQ(any.size, 0u);
    EXPECT_EQ(any.skip, 0u);
    auto reordered = parsed<SetTargetedLoss>("up lose 2 after 5 size 1400");
    EXPECT_EQ(reordered.size, 1400u);
    EXPECT_EQ(reordered.skip, 5u);
    EXPECT_EQ(reordered.following, 0u);
    auto reply = parsed<SetTargetedLoss>("down lose 1 size 48 following 48");
    EXPECT_EQ(reply.following, 48u);
    EXPECT_EQ(reply.skip, 0u);
    auto json = parsed<SetTargetedLoss>(
        R"({"cmd":"lose","dir":"down","count":1,"size":48,"after":1,"following":80})");
    EXPECT_EQ(json.target, Target::down);
    EXPECT_EQ(json.count, 1u);
    EXPECT_EQ(json.size, 48u);
    EXPECT_EQ(json.skip, 1u);
    EXPECT_EQ(json.following, 80u);
}

TEST(RelayCommand, TextPathCommands) {
    parsed<RebindPort>("rebind-port");
    EXPECT_EQ(parsed<RebindAddr>("rebind-addr 127.0.0.2").address.to_string(), "127.0.0.2:0");
    EXPECT_EQ(parsed<SetRecord>("record on").mode, RecordMode::on);
    EXPECT_EQ(parsed<SetRecord>("record clear").mode, RecordMode::clear);
    auto replay = parsed<Replay>("replay 3 from 127.0.0.3");
    EXPECT_EQ(replay.direction, Direction::up);
    EXPECT_EQ(replay.index, 3u);
    ASSERT_TRUE(replay.from.has_value());
    EXPECT_EQ(replay.from->to_string(), "127.0.0.3:0");
    auto down = parsed<Replay>("down replay 0 from [::1]:4000");
    EXPECT_EQ(down.direction, Direction::down);
    EXPECT_EQ(down.from->to_string(), "[::1]:4000");
    parsed<ShowStats>("  stats  ");
    EXPECT_EQ(parsed<ShowCaptures>("up captures").target, Target::up);
}

TEST(RelayCommand, JsonFormsMeanTheSameAsText) {
    auto drop = parsed<SetDrop>(R"({"cmd":"drop","dir":"up","percent":15})");
    EXPECT_EQ(drop.target, Target::up);
    EXPECT_DOUBLE_EQ(drop.percent, 15);
    auto delay =
        parsed<SetDelay>(R"({"cmd":"delay","dir":"down","ms":40,"jitter_ms":5,"shape":"normal"})");
    EXPECT_EQ(delay.delay_ms, 40u);
    EXPECT_EQ(delay.jitter_ms, 5u);
    EXPECT_EQ(delay.shape, JitterShape::normal);
    EXPECT_TRUE(parsed<SetBlackhole>(R"({"cmd":"blackhole","on":true})").on);
    EXPECT_EQ(parsed<SetRecord>(R"({"cmd":"record","on":false})").mode, RecordMode::off);
    EXPECT_EQ(parsed<SetReorder>(R"({"cmd":"reorder","percent":5,"hold_ms":20})").hold_ms, 20u);
    auto replay = parsed<Replay>(R"({"cmd":"replay","index":7,"from":"127.0.0.3:9999"})");
    EXPECT_EQ(replay.index, 7u);
    EXPECT_EQ(replay.from->to_string(), "127.0.0.3:9999");
    parsed<RebindPort>(R"( {"cmd":"rebind-port"})");
    EXPECT_EQ(parsed<RebindAddr>(R"({"cmd":"rebind-addr","addr":"10.0.0.1"})").address.to_string(),
              "10.0.0.1:0");
    EXPECT_EQ(parsed<SetQueueLimit>(R"({"cmd":"limit","dir":"down","packets":20})").packets, 20u);
}

TEST(RelayCommand, ErrorsNameWhatIsWrong) {
    EXPECT_NE(error_of("dorp 15").find("unknown command 'dorp'"), std::string::npos);
    EXPECT_NE(error_of("drop 150%").find("'150%' is not a percentage in 0..100"),
              std::string::npos);
    EXPECT_NE(error_of("drop -1").find("not a percentage"), std::string::npos);
    for (const char *text : {"drop nan", "drop nan%", "drop -nan", "duplicate inf", "reorder nan"})
        EXPECT_NE(error_of(text).find("is not a percentage in 0..100"), std::string::npos) << text;
    EXPECT_NE(error_of("delay nan").find("'nan' is not a whole number of milliseconds"),
              std::string::npos);
    EXPECT_NE(error_of("drop").find("takes one percentage"), std::string::npos);
    EXPECT_NE(error_of("delay fast").find("'fast' is not a whole number of milliseconds"),
              std::string::npos);
    EXPECT_NE(error_of("delay 10 jitter").find("'jitter' needs a value"), std::string::npos);
    EXPECT_NE(error_of("delay 10 wobble").find("unexpected 'wobble'"), std::string::npos);
    EXPECT_NE(error_of("blackhole maybe").find("'on' or 'off'"), std::string::npos);
    EXPECT_NE(error_of("up rebind-port").find("takes no direction"), std::string::npos);
    EXPECT_NE(error_of("rebind-port now").find("takes no arguments"), std::string::npos);
    EXPECT_NE(error_of("rebind-addr 127.0.0.2:99").find("without a port"), std::string::npos);
    EXPECT_NE(error_of("rebind-addr gateway.example").find("not an IPv4 or IPv6 address"),
              std::string::npos);
    EXPECT_NE(error_of("both replay 1").find("'up' or 'down'"), std::string::npos);
    EXPECT_NE(error_of("replay x").find("index 'x'"), std::string::npos);
    EXPECT_NE(error_of("replay 1 from 127.0.0.3:70000").find("port '70000'"), std::string::npos);
    EXPECT_NE(error_of("reorder 5 hold 0").find("at least 1 ms"), std::string::npos);
    for (const char *text : {"limit 0", "limit 1000001", "limit -5", "limit 2.5", "limit lots"})
        EXPECT_NE(error_of(text).find("limit takes one number of packets in 1..1000000, not '"),
                  std::string::npos)
            << text;
    EXPECT_NE(error_of("limit").find("limit takes one number of packets"), std::string::npos);
    EXPECT_NE(error_of("lose").find("lose takes COUNT [size BYTES] [after SKIP] [following BYTES]"),
              std::string::npos);
    EXPECT_NE(error_of("lose 1 size").find("lose: 'size' needs a value"), std::string::npos);
    EXPECT_NE(error_of("lose 1 size 48 size 80").find("lose: 'size' given twice"),
              std::string::npos);
    EXPECT_NE(error_of("lose 1000001").find("lose: '1000001' is not a whole number in 0..1000000"),
              std::string::npos);
    EXPECT_NE(error_of("lose many").find("lose: 'many' is not a whole number in 0..1000000"),
              std::string::npos);
    EXPECT_NE(error_of("lose 1 size 0").find("lose size: '0' is not a whole number in 1..65535"),
              std::string::npos);
    EXPECT_NE(error_of("lose 1 size 70000").find("1..65535"), std::string::npos);
    EXPECT_NE(error_of("lose 1 after -1").find("lose after: '-1'"), std::string::npos);
    EXPECT_NE(error_of("lose 1 every 2").find("unexpected 'every'"), std::string::npos);
    EXPECT_NE(error_of("lose 1 following 48").find("give 'up' or 'down'"), std::string::npos);
    EXPECT_NE(error_of("down lose 1 following 0").find("lose following: '0'"), std::string::npos);
    EXPECT_NE(error_of("up").find("must be followed by a command"), std::string::npos);
    EXPECT_NE(error_of("   ").find("empty command"), std::string::npos);
}

TEST(RelayCommand, JsonErrorsNameTheField) {
    EXPECT_NE(error_of(R"({"cmd":"drop","percent":15,"pct":3})").find("\"pct\" is not known"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"percent":15})").find("\"cmd\""), std::string::npos);
    EXPECT_NE(error_of(R"({"cmd":"drop","dir":"sideways","percent":1})").find("sideways"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"cmd":"drop", "percent":)").find("not a JSON object"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"cmd":"drop","percent":101})").find("not a percentage"),
              std::string::npos);
}

TEST(RelayScript, StepsComeBackInTimeOrderWithTheirLines) {
    auto steps = parse_script(
        "# a comment\n"
        "at 5000ms both blackhole on\n"
        "\n"
        "at 2000ms up drop 15%   # loss first\n"
        "at 5s both blackhole off\n"
        "at 0 record on",
        "drill.txt");
    ASSERT_TRUE(steps.ok()) << steps.error().message();
    ASSERT_EQ(steps->size(), 4u);
    EXPECT_EQ((*steps)[0].at_ms, 0u);
    EXPECT_EQ((*steps)[0].line, 6u);
    EXPECT_EQ((*steps)[1].at_ms, 2000u);
    EXPECT_EQ((*steps)[1].text, "up drop 15%");
    EXPECT_TRUE(std::holds_alternative<SetDrop>((*steps)[1].command));
    // Equal times keep file order: 'on' before 'off'.
    EXPECT_TRUE(std::get<SetBlackhole>((*steps)[2].command).on);
    EXPECT_FALSE(std::get<SetBlackhole>((*steps)[3].command).on);
    EXPECT_EQ((*steps)[3].line, 5u);
}

TEST(RelayScript, ErrorsNameFileAndLine) {
    auto bad_verb = parse_script("at 10ms drop 1\nat 20ms explode\n", "drill.txt");
    ASSERT_FALSE(bad_verb.ok());
    EXPECT_EQ(bad_verb.error().where, "drill.txt:2");
    EXPECT_NE(bad_verb.error().what.find("unknown command 'explode'"), std::string::npos);

    auto no_at = parse_script("drop 5\n", "s");
    ASSERT_FALSE(no_at.ok());
    EXPECT_EQ(no_at.error().where, "s:1");
    EXPECT_NE(no_at.error().what.find("expected 'at <T>ms <command>'"), std::string::npos);

    auto bad_time = parse_script("at soon drop 5\n", "s");
    ASSERT_FALSE(bad_time.ok());
    EXPECT_NE(bad_time.error().what.find("'soon'"), std::string::npos);
}

TEST(RelayImpairmentSettings, CommandsChangeOnlyTheirTargetDirection) {
    ImpairmentSettings s;
    EXPECT_TRUE(apply_impairment(*parse_command("up drop 15"), s));
    EXPECT_DOUBLE_EQ(s.up.drop_percent, 15);
    EXPECT_DOUBLE_EQ(s.down.drop_percent, 0);
    EXPECT_TRUE(apply_impairment(*parse_command("down delay 30 jitter 5"), s));
    EXPECT_EQ(s.down.delay_ms, 30u);
    EXPECT_EQ(s.up.delay_ms, 0u);
    EXPECT_TRUE(apply_impairment(*parse_command("blackhole on"), s));
    EXPECT_TRUE(s.up.blackhole && s.down.blackhole);
    EXPECT_TRUE(apply_impairment(*parse_command("reorder 10 hold 40"), s));
    EXPECT_EQ(s.up.reorder_hold_ms, 40u);
    EXPECT_TRUE(apply_impairment(*parse_command("reorder 20"), s));
    EXPECT_EQ(s.up.reorder_hold_ms, 40u);  // unchanged when not given
    EXPECT_TRUE(apply_impairment(*parse_command("up clear"), s));
    EXPECT_FALSE(s.up.blackhole);
    EXPECT_DOUBLE_EQ(s.up.drop_percent, 0);
    EXPECT_TRUE(s.down.blackhole);
    EXPECT_EQ(s.down.delay_ms, 30u);
}

TEST(RelayImpairmentSettings, TheQueueLimitDefaultsToNetemsAndOutlivesClear) {
    ImpairmentSettings s;
    EXPECT_EQ(s.up.queue_limit, 1000u);
    EXPECT_TRUE(apply_impairment(*parse_command("down limit 50"), s));
    EXPECT_EQ(s.down.queue_limit, 50u);
    EXPECT_EQ(s.up.queue_limit, 1000u);
    EXPECT_TRUE(apply_impairment(*parse_command("down delay 100"), s));
    EXPECT_TRUE(apply_impairment(*parse_command("clear"), s));
    EXPECT_EQ(s.down.delay_ms, 0u);
    EXPECT_EQ(s.down.queue_limit, 50u);  // a capacity, not an impairment
}

TEST(RelayImpairmentSettings, TargetedLossTakesExactlyTheNamedPackets) {
    ImpairmentSettings s;
    EXPECT_TRUE(apply_impairment(*parse_command("down lose 2 size 48 after 1"), s));
    EXPECT_EQ(s.up.lose_count, 0u);
    // Other sizes pass without counting; the first 48-byte packet is let through.
    EXPECT_FALSE(take_targeted_loss(s.down, 64));
    EXPECT_FALSE(take_targeted_loss(s.down, 48));
    EXPECT_FALSE(take_targeted_loss(s.down, 32));
    EXPECT_TRUE(take_targeted_loss(s.down, 48));
    EXPECT_FALSE(take_targeted_loss(s.down, 64));
    EXPECT_TRUE(take_targeted_loss(s.down, 48));
    // Spent: the rule ends by itself.
    EXPECT_FALSE(take_targeted_loss(s.down, 48));
    EXPECT_EQ(s.down.lose_count, 0u);
    EXPECT_FALSE(take_targeted_loss(s.up, 48));

    EXPECT_TRUE(apply_impairment(*parse_command("up lose 1"), s));
    EXPECT_TRUE(take_targeted_loss(s.up, 1200));  // any size
    EXPECT_FALSE(take_targeted_loss(s.up, 1200));

    // 'following': asleep until the other direction carries a datagram of that size.
    EXPECT_TRUE(apply_impairment(*parse_command("down lose 1 size 48 following 48"), s));
    EXPECT_FALSE(take_targeted_loss(s.down, 48));
    note_opposite_datagram(s.down, 80);
    EXPECT_FALSE(take_targeted_loss(s.down, 48));
    note_opposite_datagram(s.down, 48);
    EXPECT_FALSE(take_targeted_loss(s.down, 64));
    EXPECT_TRUE(take_targeted_loss(s.down, 48));
    EXPECT_FALSE(take_targeted_loss(s.down, 48));

    // 'lose 0' and 'clear' cancel a pending rule.
    EXPECT_TRUE(apply_impairment(*parse_command("up lose 5"), s));
    EXPECT_TRUE(apply_impairment(*parse_command("up lose 0"), s));
    EXPECT_FALSE(take_targeted_loss(s.up, 100));
    EXPECT_TRUE(apply_impairment(*parse_command("up lose 5"), s));
    EXPECT_TRUE(apply_impairment(*parse_command("up clear"), s));
    EXPECT_FALSE(take_targeted_loss(s.up, 100));
}

TEST(RelayImpairmentSettings, NonImpairmentCommandsLeaveSettingsAlone) {
    ImpairmentSettings s;
    s.up.drop_percent = 3;
    for (const char *line : {"rebind-port", "record on", "replay 1", "stats", "captures"}) {
        EXPECT_FALSE(apply_impairment(*parse_command(line), s)) << line;
    }
    EXPECT_DOUBLE_EQ(s.up.drop_percent, 3);
}

}  // namespace
}  // namespace jg::relay
