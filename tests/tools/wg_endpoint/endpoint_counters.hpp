// What happened during one run, printed as one JSON line at exit so the harness can assert
// on it (e.g. that a cookie reply really went out).
#pragma once

#include <cstdint>
#include <string>

namespace jg::interop {

struct EndpointCounters {
    std::uint64_t handshakes = 0;  // initiator: response accepted; responder: confirmed by data
    std::uint64_t initiations_sent = 0;
    std::uint64_t flood_initiations_sent = 0;  // bogus ones, to push the responder under load
    std::uint64_t initiations_rejected = 0;
    std::uint64_t responses_sent = 0;
    std::uint64_t cookie_replies = 0;  // sent, as the responder under load
    std::uint64_t cookie_replies_received = 0;
    std::uint64_t flood_cookie_replies = 0;  // answers to the bogus initiations
    std::uint64_t mac2_verified = 0;         // initiations let through under load by their mac2
    std::uint64_t packets_sent = 0;          // type 4
    std::uint64_t packets_received = 0;      // type 4 that authenticated
    std::uint64_t echo_replies_sent = 0;
    std::uint64_t echo_replies_received = 0;
    std::uint64_t dropped = 0;  // anything unparseable, unauthenticated or unexpected

    std::string to_json(const std::string &role, const std::string &error) const;
};

}  // namespace jg::interop
