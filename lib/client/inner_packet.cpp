#include "client/inner_packet.hpp"

#include <algorithm>

namespace jg::client {
namespace {

void store_be16(uint8_t *p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
void store_be32(uint8_t *p, uint32_t v) {
    store_be16(p, uint16_t(v >> 16));
    store_be16(p + 2, uint16_t(v));
}
uint16_t load_be16(const uint8_t *p) {
    return uint16_t(p[0] << 8 | p[1]);
}
uint32_t load_be32(const uint8_t *p) {
    return uint32_t(load_be16(p)) << 16 | load_be16(p + 2);
}

constexpr uint8_t kProtoUdp = 17;

uint32_t partial_sum(std::span<const uint8_t> bytes, uint32_t sum) {
    size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2)
        sum += uint32_t(bytes[i] << 8 | bytes[i + 1]);
    if (i < bytes.size())
        sum += uint32_t(bytes[i] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

uint32_t pseudo_header_sum(uint32_t src, uint32_t dst, uint16_t udp_len) {
    uint32_t sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff);
    sum += kProtoUdp;
    sum += udp_len;
    return sum;
}

}  // namespace

uint16_t internet_checksum(std::span<const uint8_t> bytes, uint32_t initial) {
    return static_cast<uint16_t>(~partial_sum(bytes, initial) & 0xffff);
}

size_t wrap_udp(const UdpFlow &flow, uint16_t ip_id, std::span<const uint8_t> payload,
                std::span<uint8_t> out) {
    const size_t total = kIpv4HeaderBytes + kUdpHeaderBytes + payload.size();
    if (total > kMaxInnerPacketBytes || out.size() < total)
        return 0;
    uint8_t *ip = out.data();
    ip[0] = 0x45;
    ip[1] = 0;
    store_be16(ip + 2, uint16_t(total));
    store_be16(ip + 4, ip_id);
    store_be16(ip + 6, 0);
    ip[8] = 64;
    ip[9] = kProtoUdp;
    store_be16(ip + 10, 0);
    store_be32(ip + 12, flow.src_addr);
    store_be32(ip + 16, flow.dst_addr);
    store_be16(ip + 10, internet_checksum({ip, kIpv4HeaderBytes}));

    uint8_t *udp = ip + kIpv4HeaderBytes;
    const uint16_t udp_len = uint16_t(kUdpHeaderBytes + payload.size());
    store_be16(udp, flow.src_port);
    store_be16(udp + 2, flow.dst_port);
    store_be16(udp + 4, udp_len);
    store_be16(udp + 6, 0);
    std::copy(payload.begin(), payload.end(), udp + kUdpHeaderBytes);
    uint16_t sum =
        internet_checksum({udp, udp_len}, pseudo_header_sum(flow.src_addr, flow.dst_addr, udp_len));
    // A computed 0 is sent as all ones: 0 on the wire means "no checksum" (RFC 768).
    store_be16(udp + 6, sum == 0 ? 0xffff : sum);
    return total;
}

std::optional<UnwrappedUdp> unwrap_udp(std::span<const uint8_t> packet) {
    if (packet.size() < kIpv4HeaderBytes + kUdpHeaderBytes)
        return std::nullopt;
    const uint8_t *ip = packet.data();
    if ((ip[0] >> 4) != 4)
        return std::nullopt;
    const size_t ihl = size_t(ip[0] & 0x0f) * 4;
    const size_t total = load_be16(ip + 2);
    if (ihl < kIpv4HeaderBytes || total < ihl + kUdpHeaderBytes || total > packet.size())
        return std::nullopt;
    if (ip[9] != kProtoUdp)
        return std::nullopt;
    const uint16_t frag = load_be16(ip + 6);
    if ((frag & 0x3fff) != 0)  // more-fragments set or a non-zero offset
        return std::nullopt;
    if (internet_checksum({ip, ihl}) != 0)
        return std::nullopt;
    const uint8_t *udp = ip + ihl;
    const size_t udp_len = load_be16(udp + 4);
    if (udp_len < kUdpHeaderBytes || udp_len > total - ihl)
        return std::nullopt;
    UnwrappedUdp out;
    out.flow.src_addr = load_be32(ip + 12);
    out.flow.dst_addr = load_be32(ip + 16);
    out.flow.src_port = load_be16(udp);
    out.flow.dst_port = load_be16(udp + 2);
    if (load_be16(udp + 6) != 0 &&
        internet_checksum({udp, udp_len}, pseudo_header_sum(out.flow.src_addr, out.flow.dst_addr,
                                                            uint16_t(udp_len))) != 0)
        return std::nullopt;
    out.payload = {udp + kUdpHeaderBytes, udp_len - kUdpHeaderBytes};
    return out;
}

}  // namespace jg::client
