// Inner IPv4/UDP packets of headless mode: wraps an application payload as a datagram from
// the tunnel address and unwraps what comes back. Pure functions; the client's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace jg::client {

inline constexpr size_t kIpv4HeaderBytes = 20;
inline constexpr size_t kUdpHeaderBytes = 8;
inline constexpr size_t kMaxInnerPacketBytes = 65535;

// Addresses and ports in host byte order.
struct UdpFlow {
    uint32_t src_addr = 0;
    uint32_t dst_addr = 0;
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
};

// One's-complement sum folded to 16 bits and inverted (RFC 1071), over `bytes` after
// `initial` (a partial sum, e.g. of a pseudo-header).
uint16_t internet_checksum(std::span<const uint8_t> bytes, uint32_t initial = 0);

// Writes an IPv4 header (no options, TTL 64, DF clear, `ip_id`) and a UDP header with its
// checksum, then `payload`, into `out`. Returns the packet length in bytes, or 0 when `out`
// is too small or the packet would exceed 65535 bytes.
size_t wrap_udp(const UdpFlow &flow, uint16_t ip_id, std::span<const uint8_t> payload,
                std::span<uint8_t> out);

struct UnwrappedUdp {
    UdpFlow flow;
    std::span<const uint8_t> payload;  // points into the packet given to unwrap_udp
};

// The UDP payload of an unfragmented IPv4/UDP packet whose header checksum and lengths are
// consistent (a UDP checksum of 0 means none, as RFC 768 allows; any other must verify);
// nullopt for anything else. Bytes after the IPv4 total length (tunnel padding) are ignored.
std::optional<UnwrappedUdp> unwrap_udp(std::span<const uint8_t> packet);

}  // namespace jg::client
