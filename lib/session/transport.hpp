// TransportAddr: an outer IPv4/IPv6 address and UDP port, the thing a session is bound to.
// Value type; any thread. Formats as "198.51.100.7:51820" or "[2001:db8::1]:51820".
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jg {

struct TransportAddr {
    uint8_t family = 0;              // 4 or 6; 0 = none
    std::array<uint8_t, 16> addr{};  // IPv4 in the first 4 bytes, network order
    uint16_t port = 0;               // host order

    bool valid() const { return family == 4 || family == 6; }
    auto operator<=>(const TransportAddr &) const = default;

    static TransportAddr v4(uint32_t host_order_addr, uint16_t port);
    std::string to_string() const;
};

// Parses "a.b.c.d:port" or "[v6]:port"; nullopt when malformed.
std::optional<TransportAddr> parse_transport(std::string_view s);

}  // namespace jg
