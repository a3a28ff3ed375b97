#include "client/inner_packet.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace jg::client {
namespace {

UdpFlow flow() {
    return UdpFlow{0x0a4d0002, 0xc6336402, 40000, 7777};  // 10.77.0.2 -> 198.51.100.2
}

TEST(InnerPacket, WrapThenUnwrapGivesThePayloadAndFlowBack) {
    const std::vector<uint8_t> payload = {1, 2, 3, 4, 5, 6, 7};
    std::array<uint8_t, 128> out{};
    const size_t n = wrap_udp(flow(), 9, payload, out);
    ASSERT_EQ(n, kIpv4HeaderBytes + kUdpHeaderBytes + payload.size());
    const auto back = unwrap_udp({out.data(), n});
    ASSERT_TRUE(back);
    EXPECT_EQ(back->flow.src_addr, flow().src_addr);
    EXPECT_EQ(back->flow.dst_addr, flow().dst_addr);
    EXPECT_EQ(back->flow.src_port, 40000);
    EXPECT_EQ(back->flow.dst_port, 7777);
    EXPECT_EQ(std::vector<uint8_t>(back->payload.begin(), back->payload.end()), payload);
}

TEST(InnerPacket, HeaderAndUdpChecksumsVerifyAsTheKernelWould) {
    const std::vector<uint8_t> payload(33, 0xab);
    std::array<uint8_t, 128> out{};
    const size_t n = wrap_udp(flow(), 1, payload, out);
    ASSERT_GT(n, 0u);
    EXPECT_EQ(internet_checksum({out.data(), kIpv4HeaderBytes}), 0);
    // UDP checksum over pseudo-header + datagram sums to zero when correct.
    std::vector<uint8_t> pseudo = {10, 77, 0, 2, 198, 51, 100, 2, 0, 17};
    const uint16_t udp_len = uint16_t(n - kIpv4HeaderBytes);
    pseudo.push_back(uint8_t(udp_len >> 8));
    pseudo.push_back(uint8_t(udp_len));
    pseudo.insert(pseudo.end(), out.begin() + kIpv4HeaderBytes, out.begin() + n);
    EXPECT_EQ(internet_checksum(pseudo), 0);
    EXPECT_EQ(out[0], 0x45);
    EXPECT_EQ(out[9], 17);
    EXPECT_EQ(out[8], 64);
}

TEST(InnerPacket, KnownChecksumOfRfc1071Example) {
    // RFC 1071 section 3: the sum of these words is 0xddf2, the checksum its complement.
    const std::array<uint8_t, 8> words = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(internet_checksum(words), uint16_t(~0xddf2));
}

TEST(InnerPacket, WrapRefusesTooSmallBufferOrOversizedPayload) {
    std::array<uint8_t, 30> small{};
    EXPECT_EQ(wrap_udp(flow(), 1, std::vector<uint8_t>(10), small), 0u);
    std::vector<uint8_t> big_out(70000);
    EXPECT_EQ(wrap_udp(flow(), 1, std::vector<uint8_t>(65535 - 27), big_out), 0u);
    EXPECT_EQ(wrap_udp(flow(), 1, std::vector<uint8_t>(65535 - 28), big_out), 65535u);
}

TEST(InnerPacket, UnwrapIgnoresTunnelPaddingAfterTotalLength) {
    std::array<uint8_t, 64> out{};
    const size_t n = wrap_udp(flow(), 1, std::vector<uint8_t>{42}, out);
    const auto back = unwrap_udp({out.data(), 48});  // padded to 16 as WireGuard does
    ASSERT_TRUE(back);
    ASSERT_EQ(back->payload.size(), 1u);
    EXPECT_EQ(back->payload[0], 42);
    EXPECT_EQ(n, 29u);
}

TEST(InnerPacket, UnwrapRejectsCorruptedOrForeignPackets) {
    std::array<uint8_t, 64> good{};
    const size_t n = wrap_udp(flow(), 1, std::vector<uint8_t>{1, 2, 3}, good);

    auto bad = good;
    bad[n - 1] ^= 1;  // payload bit flip: UDP checksum fails
    EXPECT_FALSE(unwrap_udp({bad.data(), n}));

    bad = good;
    bad[12] ^= 1;  // source address: header checksum fails
    EXPECT_FALSE(unwrap_udp({bad.data(), n}));

    bad = good;
    bad[9] = 6;  // TCP
    bad[10] = bad[11] = 0;
    const uint16_t sum = internet_checksum({bad.data(), kIpv4HeaderBytes});
    bad[10] = uint8_t(sum >> 8);
    bad[11] = uint8_t(sum);
    EXPECT_FALSE(unwrap_udp({bad.data(), n}));

    EXPECT_FALSE(unwrap_udp({good.data(), n - 1}));  // shorter than total length
    bad = good;
    bad[0] = 0x65;  // IPv6 nibble
    EXPECT_FALSE(unwrap_udp({bad.data(), n}));

    bad = good;
    bad[6] = 0x20;  // more fragments
    bad[10] = bad[11] = 0;
    const uint16_t sum2 = internet_checksum({bad.data(), kIpv4HeaderBytes});
    bad[10] = uint8_t(sum2 >> 8);
    bad[11] = uint8_t(sum2);
    EXPECT_FALSE(unwrap_udp({bad.data(), n}));
}

TEST(InnerPacket, UnwrapAcceptsAZeroUdpChecksum) {
    std::array<uint8_t, 64> p{};
    const size_t n = wrap_udp(flow(), 1, std::vector<uint8_t>{7, 7}, p);
    p[kIpv4HeaderBytes + 6] = 0;
    p[kIpv4HeaderBytes + 7] = 0;
    EXPECT_TRUE(unwrap_udp({p.data(), n}));
}

}  // namespace
}  // namespace jg::client
