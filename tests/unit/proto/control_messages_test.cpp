#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "proto/control_messages.hpp"

namespace jg::proto {
namespace {

std::vector<uint8_t> encode(const ControlMessage &m) {
    std::vector<uint8_t> out(control_encoded_size(m));
    EXPECT_EQ(encode_control(m, out), out.size());
    return out;
}

// One populated instance of every message, in type order, with values that exercise every
// byte of the little-endian fields.
std::vector<ControlMessage> all_messages() {
    Hello hello;
    hello.capabilities = 0xa1b2c3d4;
    hello.n_paths = 3;
    hello.path_ids = {4, 9, 200, 0, 0, 0, 0, 0};
    HelloAck ack;
    ack.session_id = 0x0123456789abcdefull;
    ack.state = WireState::degraded;
    ack.state_version = 77;
    ack.heartbeat_interval_ms = 500;
    ack.heartbeat_volatile_ms = 2000;
    ack.loss_volatile_permille = 200;
    ack.reattach_proof_max_age_ms = 5000;
    Heartbeat hb{0xfffffffe, 2, 1'700'000'000'123ull, 1000, 35'000, 1'200};
    HeartbeatAck hba{41, 1, 1'700'000'000'456ull, 1000, 3, WireState::volatile_, 12};
    ReattachRequest rr{0xfeedfacecafebeefull,           5,
                       ReattachReason::address_changed, 1'700'000'000'789ull,
                       0x1122334455667788ull,           99};
    PathChallenge pc{{1, 2, 3, 4, 5, 6, 7, 8}};
    PathResponse pr{{8, 7, 6, 5, 4, 3, 2, 1}};
    ReattachResult res{true, 0, 100};
    StateHint hint{HintState::terminating, 0x0102, 101};
    Terminate term{0xbeef};
    return {hello, ack, hb, hba, rr, pc, pr, res, hint, term};
}

TEST(ControlMessages, AllTenRoundTripWithTheirTypeByteAndSize) {
    const size_t expected_sizes[] = {10, 33, 24, 31, 35, 9, 9, 12, 12, 3};
    const auto msgs = all_messages();
    ASSERT_EQ(msgs.size(), 10u);
    for (size_t i = 0; i < msgs.size(); ++i) {
        const auto wire = encode(msgs[i]);
        EXPECT_EQ(wire.size(), expected_sizes[i]) << i;
        EXPECT_EQ(wire[0], i + 1) << i;
        const auto d = decode_control(wire);
        ASSERT_TRUE(d.ok()) << i << " " << control_reject_name(d.reason);
        EXPECT_EQ(d.message, msgs[i]) << i;
        EXPECT_EQ(control_type_of(d.message), static_cast<ControlType>(i + 1));
    }
}

TEST(ControlMessages, FieldsAreLittleEndianAtDocumentedOffsets) {
    const auto wire = encode(all_messages()[4]);  // REATTACH_REQUEST
    EXPECT_EQ(wire[1], 0xef);                     // session_id LSB first
    EXPECT_EQ(wire[8], 0xfe);
    EXPECT_EQ(wire[9], 5);      // path_id
    EXPECT_EQ(wire[10], 4);     // reason address_changed
    EXPECT_EQ(wire[19], 0x88);  // nonce LSB
    EXPECT_EQ(wire[27], 99);    // last_state_version LSB
}

TEST(ControlMessages, RejectsEveryLengthButTheExactOne) {
    for (const auto &m : all_messages()) {
        auto wire = encode(m);
        auto longer = wire;
        longer.push_back(0);
        EXPECT_EQ(decode_control(longer).reason, ControlReject::wrong_length) << int(wire[0]);
        if (wire.size() > 1) {
            std::vector<uint8_t> shorter(wire.begin(), wire.end() - 1);
            const auto r = decode_control(shorter).reason;
            EXPECT_TRUE(r == ControlReject::wrong_length) << int(wire[0]);
        }
    }
}

TEST(ControlMessages, RejectsEmptyAndUnknownTypes) {
    EXPECT_EQ(decode_control({}).reason, ControlReject::empty);
    for (uint8_t t : {0x00, 0x0b, 0x0f, 0x45, 0x60}) {
        std::vector<uint8_t> m(12, 0);
        m[0] = t;
        EXPECT_EQ(decode_control(m).reason, ControlReject::unknown_type) << int(t);
    }
}

TEST(ControlMessages, RejectsBadEnumValues) {
    auto ack = encode(all_messages()[1]);
    ack[10] = 0;  // state
    EXPECT_EQ(decode_control(ack).reason, ControlReject::bad_enum);
    ack[10] = kWireStateLast + 1;
    EXPECT_EQ(decode_control(ack).reason, ControlReject::bad_enum);

    auto hba = encode(all_messages()[3]);
    hba[22] = 9;
    EXPECT_EQ(decode_control(hba).reason, ControlReject::bad_enum);

    auto rr = encode(all_messages()[4]);
    rr[10] = 0;
    EXPECT_EQ(decode_control(rr).reason, ControlReject::bad_enum);
    rr[10] = kReattachReasonLast + 1;
    EXPECT_EQ(decode_control(rr).reason, ControlReject::bad_enum);

    auto res = encode(all_messages()[7]);
    res[1] = 2;  // accepted is a boolean
    EXPECT_EQ(decode_control(res).reason, ControlReject::bad_enum);

    auto hint = encode(all_messages()[8]);
    hint[1] = 0;
    EXPECT_EQ(decode_control(hint).reason, ControlReject::bad_enum);
    hint[1] = kHintStateLast + 1;
    EXPECT_EQ(decode_control(hint).reason, ControlReject::bad_enum);
}

TEST(ControlMessages, RejectsUnsupportedVersion) {
    auto hello = encode(all_messages()[0]);
    hello[1] = kExtensionVersion + 1;
    EXPECT_EQ(decode_control(hello).reason, ControlReject::unsupported_version);
    auto ack = encode(all_messages()[1]);
    ack[1] = 0;
    EXPECT_EQ(decode_control(ack).reason, ControlReject::unsupported_version);
}

TEST(ControlMessages, HelloPathCountIsBoundedAndDecidesTheLength) {
    std::vector<uint8_t> hello = {0x01, 1, 0, 0, 0, 0, 9};
    hello.resize(7 + 9, 0);
    EXPECT_EQ(decode_control(hello).reason, ControlReject::too_many_paths);
    Hello empty;
    const auto wire = encode(empty);
    EXPECT_EQ(wire.size(), 7u);
    EXPECT_TRUE(decode_control(wire).ok());
    Hello too_many;
    too_many.n_paths = 9;
    std::vector<uint8_t> out(64);
    EXPECT_EQ(encode_control(too_many, out), 0u);
    std::vector<uint8_t> truncated = {0x01, 1, 0, 0};
    EXPECT_EQ(decode_control(truncated).reason, ControlReject::wrong_length);
}

TEST(ControlMessages, RejectsPermilleAboveOneThousand) {
    auto hb = encode(all_messages()[2]);
    hb[14] = 0xe9;  // loss_permille = 1001 (0x03e9)
    hb[15] = 0x03;
    EXPECT_EQ(decode_control(hb).reason, ControlReject::out_of_range);
    auto ack = encode(all_messages()[1]);
    ack[27] = 0xff;
    ack[28] = 0xff;
    EXPECT_EQ(decode_control(ack).reason, ControlReject::out_of_range);
}

TEST(ControlMessages, EncodeRefusesTooSmallBuffer) {
    std::vector<uint8_t> out(8);
    EXPECT_EQ(encode_control(Heartbeat{}, out), 0u);
    EXPECT_EQ(encode_control(Terminate{}, out), 3u);
}

TEST(ControlMessages, AnythingThatDecodesReencodesToTheSameBytes) {
    std::mt19937 rng(99);
    int decoded = 0;
    for (int iter = 0; iter < 50'000; ++iter) {
        std::vector<uint8_t> m(rng() % 40);
        for (auto &b : m)
            b = uint8_t(rng() % 4 == 0 ? rng() % 6 : rng());
        if (!m.empty())
            m[0] = uint8_t(rng() % 12);
        const auto d = decode_control(m);
        const auto c = classify_plaintext(m);
        if (!d.ok())
            continue;
        ++decoded;
        ASSERT_EQ(c.kind, PlaintextKind::control);
        ASSERT_EQ(c.length, m.size());
        std::vector<uint8_t> again(m.size());
        ASSERT_EQ(encode_control(d.message, again), m.size());
        ASSERT_EQ(again, m);
    }
    EXPECT_GT(decoded, 100);
}

TEST(PlaintextClass, EmptyIsKeepalive) {
    const auto c = classify_plaintext({});
    EXPECT_EQ(c.kind, PlaintextKind::keepalive);
    EXPECT_EQ(c.length, 0);
}

std::vector<uint8_t> ipv4(uint16_t total, size_t buffer) {
    std::vector<uint8_t> p(buffer, 0);
    p[0] = 0x45;
    p[2] = uint8_t(total >> 8);
    p[3] = uint8_t(total);
    return p;
}

TEST(PlaintextClass, Ipv4WithPaddingReportsTotalLength) {
    const auto c = classify_plaintext(ipv4(21, 32));
    EXPECT_EQ(c.kind, PlaintextKind::ipv4);
    EXPECT_EQ(c.length, 21);
    EXPECT_EQ(classify_plaintext(ipv4(32, 32)).kind, PlaintextKind::ipv4);
}

TEST(PlaintextClass, Ipv4RejectsLengthBeyondBufferOrBelowHeader) {
    EXPECT_EQ(classify_plaintext(ipv4(33, 32)).kind, PlaintextKind::invalid);
    EXPECT_EQ(classify_plaintext(ipv4(19, 32)).kind, PlaintextKind::invalid);
    auto bad_ihl = ipv4(24, 32);
    bad_ihl[0] = 0x44;  // header length 16 bytes
    EXPECT_EQ(classify_plaintext(bad_ihl).kind, PlaintextKind::invalid);
    EXPECT_EQ(classify_plaintext(ipv4(20, 19)).kind, PlaintextKind::invalid);
}

TEST(PlaintextClass, Ipv6UsesPayloadLengthPlusHeader) {
    std::vector<uint8_t> p(64, 0);
    p[0] = 0x60;
    p[5] = 8;
    auto c = classify_plaintext(p);
    EXPECT_EQ(c.kind, PlaintextKind::ipv6);
    EXPECT_EQ(c.length, 48);
    p[5] = 25;  // 40 + 25 > 64
    EXPECT_EQ(classify_plaintext(p).kind, PlaintextKind::invalid);
    std::vector<uint8_t> short_p(39, 0);
    short_p[0] = 0x60;
    EXPECT_EQ(classify_plaintext(short_p).kind, PlaintextKind::invalid);
}

TEST(PlaintextClass, ControlMessageLengthIsItsIntrinsicSize) {
    auto wire = encode(all_messages()[7]);  // REATTACH_RESULT, 12 bytes
    wire.resize(padded_plaintext_size(wire.size()), 0);
    ASSERT_EQ(wire.size(), 16u);
    const auto c = classify_plaintext(wire);
    EXPECT_EQ(c.kind, PlaintextKind::control);
    EXPECT_EQ(c.length, 12);
    EXPECT_TRUE(decode_control(std::span<const uint8_t>(wire).first(c.length)).ok());

    auto hello = encode(all_messages()[0]);
    hello.resize(16, 0);
    EXPECT_EQ(classify_plaintext(hello).length, 10);
}

TEST(PlaintextClass, OtherLeadingBytesAreInvalid) {
    for (uint8_t b : {0x00, 0x0b, 0x0f, 0x10, 0x30, 0x50, 0x70, 0xff}) {
        std::vector<uint8_t> p(48, 0);
        p[0] = b;
        EXPECT_EQ(classify_plaintext(p).kind, PlaintextKind::invalid) << int(b);
    }
    std::vector<uint8_t> cut = {0x03, 0, 0};  // HEARTBEAT shorter than its 24 bytes
    EXPECT_EQ(classify_plaintext(cut).kind, PlaintextKind::invalid);
}

TEST(PlaintextClass, PaddedSizeRoundsUpToSixteen) {
    EXPECT_EQ(padded_plaintext_size(0), 0u);
    EXPECT_EQ(padded_plaintext_size(1), 16u);
    EXPECT_EQ(padded_plaintext_size(16), 16u);
    EXPECT_EQ(padded_plaintext_size(1420), 1424u);
    EXPECT_EQ(plaintext_kind_name(PlaintextKind::control), "control");
}

TEST(PlaintextClass, PaddingNeverGrowsPastTheMtu) {
    // WireGuard's rule: pad to 16, but a full-size inner packet stays exactly the MTU.
    EXPECT_EQ(padded_plaintext_size(1, 1420), 16u);
    EXPECT_EQ(padded_plaintext_size(1400, 1420), 1408u);
    EXPECT_EQ(padded_plaintext_size(1409, 1420), 1420u);
    EXPECT_EQ(padded_plaintext_size(1420, 1420), 1420u);
    EXPECT_EQ(padded_plaintext_size(1500, 1420), 1500u);
}

TEST(ControlReject, NamesComeFromTheSameList) {
    EXPECT_EQ(control_reject_name(ControlReject::too_many_paths), "too_many_paths");
    EXPECT_EQ(control_reject_name(ControlReject::ok), "ok");
}

}  // namespace
}  // namespace jg::proto
