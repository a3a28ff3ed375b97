// What one wg_endpoint run is told to do, already loaded and validated from the command line.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "proto/messages.hpp"
#include "proto/noise.hpp"
#include "udp_socket.hpp"

namespace jg::interop {

enum class Role { initiator, responder };

struct EndpointConfig {
    explicit EndpointConfig(const proto::StaticIdentity &identity) : local(identity) {}

    Role role = Role::initiator;
    proto::StaticIdentity local;
    proto::Key peer_public{};
    proto::Key psk{};  // all zero = none, as in WireGuard
    UdpAddress listen;
    std::optional<UdpAddress> peer_endpoint;  // required to initiate
    in_addr_t tunnel_address = 0;             // network byte order; ours inside the tunnel
    std::optional<in_addr_t> ping_target;     // initiator: whom to send the echo request
    std::uint32_t echo_count = 1;             // responder: stop after answering this many
    bool under_load = false;                  // responder: demand mac2 from every initiation
    std::uint32_t flood_initiations = 0;      // initiator: push the responder under load first
    std::chrono::milliseconds timeout{10000};
};

}  // namespace jg::interop
