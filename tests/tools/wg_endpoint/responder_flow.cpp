#include <array>
#include <iostream>
#include <memory>
#include <string>

#include "endpoint_clock.hpp"
#include "endpoint_flows.hpp"
#include "icmp_echo.hpp"
#include "proto/cookie.hpp"
#include "proto/index_table.hpp"
#include "proto/messages.hpp"
#include "proto/noise.hpp"
#include "transport_channel.hpp"

namespace jg::interop {
namespace {

using Clock = std::chrono::steady_clock;

// The responder's view of its single peer: handshake replay state, the keypair that waits
// for confirmation, and the confirmed one that carries echoes.
struct ResponderPeer {
    proto::PeerHandshakeState handshake_state;
    proto::CookieJar jar;
    std::unique_ptr<TransportChannel> pending;
    std::unique_ptr<TransportChannel> confirmed;
};

void answer_initiation(const EndpointConfig &config, const UdpSocket &socket,
                       const Datagram &datagram, proto::CookieChecker &checker,
                       proto::IndexTable &indices, ResponderPeer &peer,
                       EndpointCounters &counters) {
    const auto source = datagram.from.wire_bytes();
    const auto verdict = checker.check(datagram.bytes, source, config.under_load, monotonic_ns());
    if (verdict == proto::MacVerdict::bad_mac1) {
        ++counters.dropped;
        return;
    }
    if (verdict == proto::MacVerdict::need_cookie) {
        auto reply = checker.create_reply(datagram.bytes, source, monotonic_ns());
        if (!reply.ok()) {
            std::cerr << "cookie reply: " << reply.error().message() << "\n";
            ++counters.dropped;
            return;
        }
        if (socket.send_to(*reply, datagram.from).ok()) {
            ++counters.cookie_replies;
        }
        return;
    }
    if (config.under_load) {
        ++counters.mac2_verified;
    }
    const proto::PeerLookup lookup = [&peer](const proto::Key &remote_static) {
        return remote_static == peer.handshake_state.public_key ? &peer.handshake_state : nullptr;
    };
    auto handshake = proto::ResponderHandshake::consume_initiation(config.local, datagram.bytes,
                                                                   lookup, monotonic_ns());
    if (!handshake.ok()) {
        std::cerr << "initiation from " << datagram.from.to_string()
                  << " rejected: " << handshake.error().message() << "\n";
        ++counters.initiations_rejected;
        return;
    }
    auto index = indices.allocate(counters.responses_sent);
    if (!index.ok()) {
        std::cerr << "receiver index: " << index.error().message() << "\n";
        return;
    }
    std::array<std::uint8_t, proto::kResponseSize> response{};
    auto keypair = handshake->create_response(*index, monotonic_ns(), peer.jar, response);
    if (!keypair.ok()) {
        std::cerr << "handshake response: " << keypair.error().message() << "\n";
        indices.release(*index);
        return;
    }
    if (socket.send_to(response, datagram.from).ok()) {
        ++counters.responses_sent;
    }
    if (peer.pending) {
        indices.release(peer.pending->local_index());
    }
    peer.pending = std::make_unique<TransportChannel>(*keypair);
    proto::wipe(*keypair);
}

// Opens a transport message under the confirmed keypair or, the first time, the pending
// one; a packet under the pending keypair is the initiator's key confirmation.
std::optional<std::vector<std::uint8_t>> open_transport(const Datagram &datagram,
                                                        proto::IndexTable &indices,
                                                        ResponderPeer &peer,
                                                        EndpointCounters &counters) {
    if (peer.confirmed) {
        if (auto plaintext = peer.confirmed->open(datagram.bytes)) {
            return plaintext;
        }
    }
    if (!peer.pending) {
        return std::nullopt;
    }
    auto plaintext = peer.pending->open(datagram.bytes);
    if (plaintext) {
        if (peer.confirmed) {
            indices.release(peer.confirmed->local_index());
        }
        peer.confirmed = std::move(peer.pending);
        ++counters.handshakes;
    }
    return plaintext;
}

void answer_transport(const EndpointConfig &config, const UdpSocket &socket,
                      const Datagram &datagram, proto::IndexTable &indices, ResponderPeer &peer,
                      EndpointCounters &counters) {
    auto plaintext = open_transport(datagram, indices, peer, counters);
    if (!plaintext) {
        ++counters.dropped;
        return;
    }
    ++counters.packets_received;
    if (plaintext->empty()) {
        return;  // keepalive
    }
    const auto request = parse_echo(*plaintext);
    if (!request || request->type != kIcmpEchoRequest ||
        request->destination != config.tunnel_address) {
        ++counters.dropped;
        return;
    }
    const auto reply = build_echo_reply(*request);
    if (socket.send_to(peer.confirmed->seal(reply), datagram.from).ok()) {
        ++counters.packets_sent;
        ++counters.echo_replies_sent;
    }
}

}  // namespace

Status run_responder(const EndpointConfig &config, const UdpSocket &socket,
                     EndpointCounters &counters) {
    const auto deadline = Clock::now() + config.timeout;
    proto::CookieChecker checker(config.local.public_key());
    proto::IndexTable indices;
    ResponderPeer peer{proto::PeerHandshakeState{}, proto::CookieJar(config.peer_public), {}, {}};
    peer.handshake_state.public_key = config.peer_public;
    peer.handshake_state.psk = config.psk;

    while (counters.echo_replies_sent < config.echo_count && Clock::now() < deadline) {
        auto received = socket.receive(remaining(deadline));
        if (!received.ok()) {
            return received.error();
        }
        if (!received->has_value()) {
            continue;
        }
        const Datagram &datagram = **received;
        const auto kind = proto::classify_outer_payload(datagram.bytes);
        if (!kind.ok()) {
            ++counters.dropped;
        } else if (kind.type == proto::MessageType::initiation) {
            answer_initiation(config, socket, datagram, checker, indices, peer, counters);
        } else if (kind.type == proto::MessageType::transport) {
            answer_transport(config, socket, datagram, indices, peer, counters);
        } else {
            ++counters.dropped;
        }
    }
    if (counters.handshakes == 0) {
        return make_error(
            "handshake",
            "not completed within " + std::to_string(config.timeout.count()) +
                " ms: " + std::to_string(counters.responses_sent) +
                " responses sent, but no transport data authenticated under their keys "
                "(initiator rejected the response: pre-shared key or keys differ?)");
    }
    if (counters.echo_replies_sent < config.echo_count) {
        return make_error("echo", "answered " + std::to_string(counters.echo_replies_sent) +
                                      " of " + std::to_string(config.echo_count) +
                                      " echo requests within " +
                                      std::to_string(config.timeout.count()) + " ms");
    }
    return Ok{};
}

}  // namespace jg::interop
