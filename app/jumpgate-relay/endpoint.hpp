// UdpEndpoint: an IPv4/IPv6 address and UDP port parsed from "ADDR:PORT" or "[V6]:PORT".
// Value type without shared state; any thread may use it.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace jg::relay {

struct UdpEndpoint {
    sockaddr_storage storage{};
    socklen_t length = 0;

    int family() const { return storage.ss_family; }
    uint16_t port() const;
    const sockaddr *addr() const { return reinterpret_cast<const sockaddr *>(&storage); }
    sockaddr *addr() { return reinterpret_cast<sockaddr *>(&storage); }
    // "192.0.2.1:51820" or "[2001:db8::1]:51820".
    std::string to_string() const;
    UdpEndpoint with_port(uint16_t port) const;

    friend bool operator==(const UdpEndpoint &a, const UdpEndpoint &b);
};

// "ADDR:PORT" (port 0..65535; 0 means ephemeral when binding). `what` names the input in
// errors (e.g. "--listen").
Result<UdpEndpoint> parse_endpoint(std::string_view text, std::string_view what);
// "ADDR" or "ADDR:PORT"; without a port the endpoint has port 0.
Result<UdpEndpoint> parse_address(std::string_view text, std::string_view what);

}  // namespace jg::relay
