// The two roles wg_endpoint can play against a stock WireGuard peer. Each returns once its
// job is done or the configured timeout ran out; the error says which step failed.
#pragma once

#include "base/result.hpp"
#include "endpoint_config.hpp"
#include "endpoint_counters.hpp"
#include "udp_socket.hpp"

namespace jg::interop {

// Handshake as initiator, one echo request through the tunnel, wait for its reply.
Status run_initiator(const EndpointConfig &config, const UdpSocket &socket,
                     EndpointCounters &counters);

// Answer initiations (with cookie replies first when under load) and echo requests until
// `echo_count` replies went out.
Status run_responder(const EndpointConfig &config, const UdpSocket &socket,
                     EndpointCounters &counters);

}  // namespace jg::interop
