#include "session/transport.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace jg {

TransportAddr TransportAddr::v4(uint32_t host_order_addr, uint16_t port) {
    TransportAddr t;
    t.family = 4;
    const uint32_t be = htonl(host_order_addr);
    std::memcpy(t.addr.data(), &be, 4);
    t.port = port;
    return t;
}

std::string TransportAddr::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family == 4) {
        inet_ntop(AF_INET, addr.data(), buf, sizeof buf);
        return std::string(buf) + ":" + std::to_string(port);
    }
    if (family == 6) {
        inet_ntop(AF_INET6, addr.data(), buf, sizeof buf);
        return "[" + std::string(buf) + "]:" + std::to_string(port);
    }
    return "none";
}

std::optional<TransportAddr> parse_transport(std::string_view s) {
    TransportAddr t;
    std::string host;
    std::string_view port_str;
    if (!s.empty() && s.front() == '[') {
        const auto close = s.find("]:");
        if (close == std::string_view::npos)
            return std::nullopt;
        host = std::string(s.substr(1, close - 1));
        port_str = s.substr(close + 2);
        t.family = 6;
    } else {
        const auto colon = s.rfind(':');
        if (colon == std::string_view::npos)
            return std::nullopt;
        host = std::string(s.substr(0, colon));
        port_str = s.substr(colon + 1);
        t.family = 4;
    }
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_str.data(), port_str.data() + port_str.size(), port);
    if (ec != std::errc{} || end != port_str.data() + port_str.size() || port > 65535 ||
        port_str.empty())
        return std::nullopt;
    t.port = static_cast<uint16_t>(port);
    if (inet_pton(t.family == 4 ? AF_INET : AF_INET6, host.c_str(), t.addr.data()) != 1)
        return std::nullopt;
    return t;
}

}  // namespace jg
