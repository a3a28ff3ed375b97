#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "proto/messages.hpp"

namespace jg::proto {
namespace {

std::vector<uint8_t> message(MessageType type, size_t size) {
    std::vector<uint8_t> m(size, 0xab);
    m[0] = static_cast<uint8_t>(type);
    m[1] = m[2] = m[3] = 0;
    return m;
}

TEST(MessageLayout, SizesAndOffsetsMatchWireGuard) {
    EXPECT_EQ(kInitiationSize, 148u);
    EXPECT_EQ(kResponseSize, 92u);
    EXPECT_EQ(kCookieReplySize, 64u);
    EXPECT_EQ(kTransportMinSize, 32u);
    EXPECT_EQ(initiation_off::mac1, 116u);
    EXPECT_EQ(response_off::mac1, 60u);
    EXPECT_EQ(kRejectAfterMessages, 18446744073709543423ull);
    EXPECT_EQ(kRekeyAfterMessages, 1152921504606846976ull);
}

TEST(MessageParse, AcceptsWellFormedInitiationAndReadsLittleEndianSender) {
    auto m = message(MessageType::initiation, kInitiationSize);
    m[4] = 0x78;
    m[5] = 0x56;
    m[6] = 0x34;
    m[7] = 0x12;
    const auto p = parse_initiation(m);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.view.sender_index(), 0x12345678u);
    EXPECT_EQ(p.view.ephemeral().data(), m.data() + 8);
    EXPECT_EQ(p.view.mac2().data(), m.data() + 132);
}

TEST(MessageParse, RejectsHandshakeMessagesOfWrongSize) {
    auto init = message(MessageType::initiation, kInitiationSize + 1);
    EXPECT_EQ(parse_initiation(init).reason, ParseReason::wrong_size);
    auto init_short = message(MessageType::initiation, kInitiationSize - 1);
    EXPECT_EQ(parse_initiation(init_short).reason, ParseReason::wrong_size);
    auto resp = message(MessageType::response, kResponseSize - 16);
    EXPECT_EQ(parse_response(resp).reason, ParseReason::wrong_size);
    auto cookie = message(MessageType::cookie_reply, kCookieReplySize + 16);
    EXPECT_EQ(parse_cookie_reply(cookie).reason, ParseReason::wrong_size);
}

TEST(MessageParse, RejectsMessageOfAnotherType) {
    auto resp = message(MessageType::response, kInitiationSize);
    EXPECT_EQ(parse_initiation(resp).reason, ParseReason::wrong_type);
    auto init = message(MessageType::initiation, kResponseSize);
    EXPECT_EQ(parse_response(init).reason, ParseReason::wrong_type);
    auto transport = message(MessageType::transport, kCookieReplySize);
    EXPECT_EQ(parse_cookie_reply(transport).reason, ParseReason::wrong_type);
    auto cookie = message(MessageType::cookie_reply, 32);
    EXPECT_EQ(parse_transport(cookie).reason, ParseReason::wrong_type);
}

TEST(MessageParse, RejectsUnknownTypeBytes) {
    for (uint8_t t : {0x00, 0x05, 0x45, 0x60, 0xff}) {
        auto m = message(MessageType::initiation, kInitiationSize);
        m[0] = t;
        EXPECT_EQ(parse_initiation(m).reason, ParseReason::unknown_type) << int(t);
        m.resize(kResponseSize);
        EXPECT_EQ(parse_response(m).reason, ParseReason::unknown_type) << int(t);
        m.resize(kCookieReplySize);
        EXPECT_EQ(parse_cookie_reply(m).reason, ParseReason::unknown_type) << int(t);
        m.resize(48);
        EXPECT_EQ(parse_transport(m).reason, ParseReason::unknown_type) << int(t);
    }
}

TEST(MessageParse, RejectsNonzeroReservedBytesInEveryType) {
    for (int byte = 1; byte <= 3; ++byte) {
        auto init = message(MessageType::initiation, kInitiationSize);
        init[byte] = 1;
        EXPECT_EQ(parse_initiation(init).reason, ParseReason::nonzero_reserved);
        auto resp = message(MessageType::response, kResponseSize);
        resp[byte] = 0x80;
        EXPECT_EQ(parse_response(resp).reason, ParseReason::nonzero_reserved);
        auto cookie = message(MessageType::cookie_reply, kCookieReplySize);
        cookie[byte] = 2;
        EXPECT_EQ(parse_cookie_reply(cookie).reason, ParseReason::nonzero_reserved);
        auto data = message(MessageType::transport, 48);
        data[byte] = 4;
        EXPECT_EQ(parse_transport(data).reason, ParseReason::nonzero_reserved);
    }
}

TEST(MessageParse, RejectsInputShorterThanHeaderWithoutReadingPastIt) {
    // The vector holds exactly the bytes given, so AddressSanitizer builds would catch an
    // out-of-bounds read here.
    for (size_t n = 0; n < kHeaderSize; ++n) {
        std::vector<uint8_t> m(n, 0);
        if (n > 0)
            m[0] = 1;
        EXPECT_EQ(parse_initiation(m).reason, ParseReason::truncated) << n;
        EXPECT_EQ(parse_transport(m).reason, ParseReason::truncated) << n;
        EXPECT_EQ(classify_outer_payload(m).reason, ParseReason::truncated) << n;
    }
}

TEST(MessageParse, TransportAcceptsKeepaliveAndPaddedSizes) {
    for (size_t n : {32u, 48u, 64u, 1440u}) {
        auto m = message(MessageType::transport, n);
        const auto p = parse_transport(m);
        ASSERT_TRUE(p.ok()) << n;
        EXPECT_EQ(p.view.padded_plaintext_size(), n - 32);
        EXPECT_EQ(p.view.sealed().size(), n - 16);
    }
}

TEST(MessageParse, TransportRejectsShortAndMisalignedLengths) {
    auto short_m = message(MessageType::transport, 31);
    EXPECT_EQ(parse_transport(short_m).reason, ParseReason::truncated);
    auto header_only = message(MessageType::transport, 16);
    EXPECT_EQ(parse_transport(header_only).reason, ParseReason::truncated);
    // Stock WireGuard caps padding at the MTU, so a full-size packet's plaintext (1420 bytes)
    // is not a multiple of 16: every length from header + tag up is well formed.
    for (size_t n : {33u, 40u, 47u, 63u, 32u + 1420u + 16u}) {
        auto m = message(MessageType::transport, n);
        EXPECT_EQ(parse_transport(m).reason, ParseReason::ok) << n;
    }
}

TEST(MessageParse, TransportReadsReceiverAndCounterLittleEndian) {
    auto m = message(MessageType::transport, 32);
    store_le32(m.data() + 4, 0xdeadbeef);
    store_le64(m.data() + 8, 0x0102030405060708ull);
    const auto p = parse_transport(m);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.view.receiver_index(), 0xdeadbeefu);
    EXPECT_EQ(p.view.counter(), 0x0102030405060708ull);
    EXPECT_EQ(m[8], 0x08);
}

TEST(OuterClassify, NamesEachTypeAndRejectsUnknownOnes) {
    EXPECT_EQ(classify_outer_payload(message(MessageType::initiation, 148)).type,
              MessageType::initiation);
    EXPECT_EQ(classify_outer_payload(message(MessageType::response, 92)).type,
              MessageType::response);
    EXPECT_EQ(classify_outer_payload(message(MessageType::cookie_reply, 64)).type,
              MessageType::cookie_reply);
    const auto t = classify_outer_payload(message(MessageType::transport, 96));
    EXPECT_TRUE(t.ok());
    EXPECT_EQ(t.type, MessageType::transport);
    for (uint8_t bad : {0, 5, 0x45, 0xff}) {
        auto m = message(MessageType::transport, 64);
        m[0] = bad;
        EXPECT_EQ(classify_outer_payload(m).reason, ParseReason::unknown_type) << int(bad);
    }
    EXPECT_EQ(classify_outer_payload(message(MessageType::initiation, 92)).reason,
              ParseReason::wrong_size);
    EXPECT_EQ(classify_outer_payload(message(MessageType::transport, 50)).reason, ParseReason::ok);
}

TEST(MessageParse, RandomInputsAgreeWithClassifyOuterPayload) {
    // Exact-size heap buffers: an out-of-bounds read trips AddressSanitizer builds.
    std::mt19937 rng(1234);
    const size_t sizes[] = {0, 1, 3, 4, 31, 32, 48, 63, 64, 92, 148, 149, 200};
    for (int iter = 0; iter < 20'000; ++iter) {
        const size_t n = sizes[rng() % std::size(sizes)];
        std::vector<uint8_t> m(n);
        for (auto &b : m)
            b = uint8_t(rng());
        if (n >= 4 && rng() % 2) {
            m[0] = uint8_t(1 + rng() % 4);  // make valid headers common
            m[1] = m[2] = m[3] = 0;
        }
        const OuterClass c = classify_outer_payload(m);
        const bool ok1 = parse_initiation(m).ok();
        const bool ok2 = parse_response(m).ok();
        const bool ok3 = parse_cookie_reply(m).ok();
        const bool ok4 = parse_transport(m).ok();
        ASSERT_LE(int(ok1) + int(ok2) + int(ok3) + int(ok4), 1);
        ASSERT_EQ(c.ok(), ok1 || ok2 || ok3 || ok4) << n;
        if (c.ok()) {
            ASSERT_EQ(c.type == MessageType::initiation, ok1);
            ASSERT_EQ(c.type == MessageType::response, ok2);
            ASSERT_EQ(c.type == MessageType::cookie_reply, ok3);
            ASSERT_EQ(c.type == MessageType::transport, ok4);
        }
    }
}

TEST(ParseReason, NamesComeFromTheSameList) {
    EXPECT_EQ(parse_reason_name(ParseReason::ok), "ok");
    EXPECT_EQ(parse_reason_name(ParseReason::nonzero_reserved), "nonzero_reserved");
    EXPECT_EQ(parse_reason_name(ParseReason::wrong_size), "wrong_size");
    EXPECT_EQ(kParseReasonCount, size_t(ParseReason::wrong_size) + 1);
}

}  // namespace
}  // namespace jg::proto
