#include "config/ip_prefix.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace jg {
namespace {

Error bad(std::string_view text, std::string why) {
    return make_error("", "bad CIDR \"" + std::string(text) + "\": " + std::move(why));
}

// Zeroes every bit after the first `length` bits.
std::array<uint8_t, 16> masked(const std::array<uint8_t, 16> &addr, unsigned length) {
    std::array<uint8_t, 16> out{};
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned first_bit = i * 8;
        if (first_bit + 8 <= length)
            out[i] = addr[i];
        else if (first_bit < length)
            out[i] = static_cast<uint8_t>(addr[i] & (0xFF << (8 - (length - first_bit))));
    }
    return out;
}

}  // namespace

bool IpPrefix::is_network() const {
    return masked(addr, length) == addr;
}

bool IpPrefix::contains(const IpPrefix &other) const {
    if (family != other.family || other.length < length)
        return false;
    return masked(addr, length) == masked(other.addr, length);
}

std::string IpPrefix::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == 4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(length);
}

Result<IpPrefix> parse_ip_address(std::string_view text) {
    IpPrefix p;
    const std::string s(text);
    if (inet_pton(AF_INET, s.c_str(), p.addr.data()) == 1) {
        p.family = 4;
    } else if (inet_pton(AF_INET6, s.c_str(), p.addr.data()) == 1) {
        p.family = 6;
    } else {
        return make_error("", "\"" + s + "\" is not an IPv4 or IPv6 address");
    }
    p.length = p.max_length();
    return p;
}

Result<IpPrefix> parse_ip_prefix(std::string_view text, PrefixForm form) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos && form == PrefixForm::Interface)
        return bad(text, "expected address/length");
    auto addr = parse_ip_address(text.substr(0, slash));
    if (!addr)
        return bad(text, "not an IPv4 or IPv6 address");
    IpPrefix p = *addr;
    if (slash == std::string_view::npos)
        return p;

    const auto len_text = text.substr(slash + 1);
    unsigned len = 0;
    const auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (len_text.empty() || ec != std::errc{} || end != len_text.data() + len_text.size() ||
        len > p.max_length())
        return bad(text, "prefix length must be 0.." + std::to_string(p.max_length()));
    p.length = static_cast<uint8_t>(len);
    if (form == PrefixForm::Network && !p.is_network()) {
        IpPrefix net = p;
        net.addr = masked(p.addr, p.length);
        return bad(text, "host bits are set (did you mean " + net.to_string() + "?)");
    }
    return p;
}

}  // namespace jg
