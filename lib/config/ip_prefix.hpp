// IpPrefix: an IPv4/IPv6 address with a prefix length, as written in ports and allowed_ips.
// Value type; any thread. Formats as "192.0.2.1/24" or "2001:db8::/32".
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace jg {

struct IpPrefix {
    uint8_t family = 4;              // 4 or 6
    std::array<uint8_t, 16> addr{};  // network order; IPv4 uses the first 4 bytes
    uint8_t length = 0;              // prefix length in bits

    uint8_t max_length() const { return family == 4 ? 32 : 128; }
    // True when every bit after `length` is zero (a network, not an interface address).
    bool is_network() const;
    // True when this prefix covers every address of `other` (same family only).
    bool contains(const IpPrefix &other) const;
    bool overlaps(const IpPrefix &other) const { return contains(other) || other.contains(*this); }
    std::string to_string() const;

    auto operator<=>(const IpPrefix &) const = default;
};

// What a prefix string must look like where it is parsed.
enum class PrefixForm {
    Interface,  // "addr/len" required; host bits allowed (a port's own address)
    Network,    // "addr" (a host route) or "addr/len" with no host bits set (allowed_ips)
};

// Parses "a.b.c.d/len" or "x::y/len". The error's `what` names the problem; `where` is empty
// so the caller can put its own path there.
Result<IpPrefix> parse_ip_prefix(std::string_view text, PrefixForm form);

// Parses a bare address (no "/len") of either family; the result has a full-length prefix.
Result<IpPrefix> parse_ip_address(std::string_view text);

}  // namespace jg
