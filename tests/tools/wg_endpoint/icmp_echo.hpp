// IPv4 ICMP echo packets as they travel inside the tunnel: built by the initiator flow,
// answered by the responder flow. Plain functions over byte buffers; no sockets.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace jg::interop {

struct EchoHeader {
    in_addr_t source;       // network byte order
    in_addr_t destination;  // network byte order
    std::uint8_t type;      // 8 = request, 0 = reply
    std::uint16_t identifier;
    std::uint16_t sequence;
    std::span<const std::uint8_t> payload;
};

inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;

// RFC 1071 one's-complement sum, shared by the IPv4 header and the ICMP message.
std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes);

std::vector<std::uint8_t> build_echo_request(in_addr_t source, in_addr_t destination,
                                             std::uint16_t identifier, std::uint16_t sequence,
                                             std::span<const std::uint8_t> payload);

// Accepts only a well-formed IPv4/ICMP echo (either direction) whose lengths and both
// checksums are right; anything else is not an echo as far as the tunnel test is concerned.
std::optional<EchoHeader> parse_echo(std::span<const std::uint8_t> packet);

// The reply a host would send: addresses swapped, type 0, identifier, sequence and payload
// kept, both checksums recomputed.
std::vector<std::uint8_t> build_echo_reply(const EchoHeader &request);

}  // namespace jg::interop
