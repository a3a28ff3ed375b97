#include "endpoint.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace jg::relay {

uint16_t UdpEndpoint::port() const {
    if (family() == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in *>(&storage)->sin_port);
    }
    if (family() == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_port);
    }
    return 0;
}

UdpEndpoint UdpEndpoint::with_port(uint16_t port) const {
    UdpEndpoint e = *this;
    if (family() == AF_INET) {
        reinterpret_cast<sockaddr_in *>(&e.storage)->sin_port = htons(port);
    } else if (family() == AF_INET6) {
        reinterpret_cast<sockaddr_in6 *>(&e.storage)->sin6_port = htons(port);
    }
    return e;
}

std::string UdpEndpoint::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in *>(&storage)->sin_addr, buf,
                  sizeof buf);
        return std::string(buf) + ":" + std::to_string(port());
    }
    if (family() == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_addr, buf,
                  sizeof buf);
        return "[" + std::string(buf) + "]:" + std::to_string(port());
    }
    return "none";
}

bool operator==(const UdpEndpoint &a, const UdpEndpoint &b) {
    if (a.family() != b.family() || a.port() != b.port()) {
        return false;
    }
    if (a.family() == AF_INET) {
        return reinterpret_cast<const sockaddr_in *>(&a.storage)->sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in *>(&b.storage)->sin_addr.s_addr;
    }
    if (a.family() == AF_INET6) {
        return std::memcmp(&reinterpret_cast<const sockaddr_in6 *>(&a.storage)->sin6_addr,
                           &reinterpret_cast<const sockaddr_in6 *>(&b.storage)->sin6_addr,
                           sizeof(in6_addr)) == 0;
    }
    return a.family() == AF_UNSPEC;
}

namespace {

Result<UdpEndpoint> make_endpoint(const std::string &host, uint16_t port, std::string_view what) {
    UdpEndpoint e;
    sockaddr_in v4{};
    sockaddr_in6 v6{};
    if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        std::memcpy(&e.storage, &v4, sizeof v4);
        e.length = sizeof v4;
        return e;
    }
    if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        std::memcpy(&e.storage, &v6, sizeof v6);
        e.length = sizeof v6;
        return e;
    }
    return make_error(std::string(what),
                      "'" + host + "' is not an IPv4 or IPv6 address (names are not resolved)");
}

Result<uint16_t> parse_port(std::string_view text, std::string_view what) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535) {
        return make_error(std::string(what),
                          "port '" + std::string(text) + "' is not a number in 0..65535");
    }
    return static_cast<uint16_t>(value);
}

// Splits "host:port" / "[v6]:port" / "host" / "[v6]"; has_port tells whether a port was given.
Result<UdpEndpoint> split_and_make(std::string_view text, std::string_view what, bool need_port) {
    std::string host;
    std::string_view port_text;
    bool has_port = false;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) {
            return make_error(std::string(what), "'" + std::string(text) + "' lacks a closing ']'");
        }
        host = std::string(text.substr(1, close - 1));
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return make_error(std::string(what),
                                  "'" + std::string(text) + "': expected ':' after ']'");
            }
            port_text = rest.substr(1);
            has_port = true;
        }
    } else {
        auto colon = text.rfind(':');
        if (colon != std::string_view::npos && text.find(':') == colon) {
            host = std::string(text.substr(0, colon));
            port_text = text.substr(colon + 1);
            has_port = true;
        } else {
            host = std::string(text);  // IPv4 without port, or a bare IPv6 address
        }
    }
    if (need_port && !has_port) {
        return make_error(std::string(what),
                          "'" + std::string(text) + "' needs a port (ADDR:PORT or [V6]:PORT)");
    }
    uint16_t port = 0;
    if (has_port) {
        auto p = parse_port(port_text, what);
        if (!p) {
            return p.error();
        }
        port = *p;
    }
    return make_endpoint(host, port, what);
}

}  // namespace

Result<UdpEndpoint> parse_endpoint(std::string_view text, std::string_view what) {
    return split_and_make(text, what, true);
}

Result<UdpEndpoint> parse_address(std::string_view text, std::string_view what) {
    return split_and_make(text, what, false);
}

}  // namespace jg::relay
