#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>
#include <array>
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

// Shorter than WireGuard's REKEY_TIMEOUT (5 s) so a lost initiation costs a test little;
// the responder accepts any initiation whose timestamp is newer than the last.
constexpr std::chrono::milliseconds kInitiationRetry{2000};
constexpr std::size_t kEchoPayloadBytes = 56;  // what ping sends by default

std::string address_text(in_addr_t address) {
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &address, text, sizeof text);
    return text;
}

// Initiations with a valid mac1 and random contents: the responder spends an X25519 on each
// before dropping it, so a burst of them fills its handshake queue past the point where it
// declares itself under load and answers with cookie replies (WireGuard's DoS mode). They
// go through their own jar so the real initiation's mac1 stays the one a cookie reply must
// authenticate against.
Status send_bogus_initiations(const EndpointConfig &config, const UdpSocket &socket,
                              EndpointCounters &counters) {
    proto::CookieJar flood_jar(config.peer_public);
    std::array<std::uint8_t, proto::kInitiationSize> bogus{};
    for (std::uint32_t i = 0; i < config.flood_initiations; ++i) {
        bogus.fill(0);
        bogus[0] = static_cast<std::uint8_t>(proto::MessageType::initiation);
        randombytes_buf(bogus.data() + proto::initiation_off::sender,
                        proto::initiation_off::mac1 - proto::initiation_off::sender);
        flood_jar.add_macs(bogus, monotonic_ns());
        if (auto sent = socket.send_to(bogus, *config.peer_endpoint); !sent.ok()) {
            return sent.error();
        }
        ++counters.flood_initiations_sent;
    }
    return Ok{};
}

// Bursts until one of them draws a cookie reply, i.e. the responder is under load, then
// waits for the burst's replies to stop. WireGuard stays under load for a second after its
// queue last looked full, so the real initiation sent right after still meets the cookie
// demand, and it meets it alone: no backlog of flood replies can crowd its reply out of
// our socket buffer.
Status push_under_load(const EndpointConfig &config, const UdpSocket &socket,
                       EndpointCounters &counters, Clock::time_point deadline) {
    constexpr int kMaxBursts = 5;
    constexpr std::chrono::milliseconds kQuiet{100};
    for (int burst = 0; burst < kMaxBursts && Clock::now() < deadline; ++burst) {
        if (auto sent = send_bogus_initiations(config, socket, counters); !sent.ok()) {
            return sent;
        }
        bool loaded = false;
        for (;;) {
            auto received = socket.receive(std::min(kQuiet, remaining(deadline)));
            if (!received.ok()) {
                return received.error();
            }
            if (!received->has_value()) {
                break;
            }
            const auto kind = proto::classify_outer_payload((*received)->bytes);
            if (kind.ok() && kind.type == proto::MessageType::cookie_reply) {
                ++counters.flood_cookie_replies;
                loaded = true;
            } else {
                ++counters.dropped;
            }
        }
        if (loaded) {
            return Ok{};
        }
    }
    return make_error("flood", "the responder answered none of " +
                                   std::to_string(counters.flood_initiations_sent) +
                                   " bogus initiations with a cookie reply: it never went "
                                   "under load");
}

// Runs initiations until one response authenticates, a response proves the keys differ,
// or the deadline passes.
Result<proto::TransportKeypair> complete_handshake(const EndpointConfig &config,
                                                   const UdpSocket &socket,
                                                   EndpointCounters &counters,
                                                   Clock::time_point deadline) {
    proto::IndexTable indices;
    proto::CookieJar jar(config.peer_public);
    const UdpAddress &peer = *config.peer_endpoint;
    while (Clock::now() < deadline) {
        auto index = indices.allocate(counters.initiations_sent);
        if (!index.ok()) {
            return index.error();
        }
        std::array<std::uint8_t, proto::kInitiationSize> initiation{};
        auto handshake = proto::InitiatorHandshake::create_initiation(
            config.local, config.peer_public, config.psk, *index, unix_ns(), monotonic_ns(), jar,
            initiation);
        if (!handshake.ok()) {
            return make_error("handshake initiation", handshake.error().message());
        }
        if (auto sent = socket.send_to(initiation, peer); !sent.ok()) {
            return sent.error();
        }
        ++counters.initiations_sent;

        const auto retry_at = std::min(deadline, Clock::now() + kInitiationRetry);
        bool retry_now = false;
        while (!retry_now && Clock::now() < retry_at) {
            auto received = socket.receive(remaining(retry_at));
            if (!received.ok()) {
                return received.error();
            }
            if (!received->has_value()) {
                continue;
            }
            const auto &bytes = (*received)->bytes;
            const auto kind = proto::classify_outer_payload(bytes);
            if (kind.ok() && kind.type == proto::MessageType::cookie_reply) {
                if (jar.consume_reply(bytes, monotonic_ns()).ok()) {
                    ++counters.cookie_replies_received;
                    // The responder is loaded and dropped this initiation; the next one
                    // carries mac2 under the fresh cookie.
                    retry_now = true;
                } else {
                    ++counters.dropped;
                }
                continue;
            }
            if (!kind.ok() || kind.type != proto::MessageType::response) {
                ++counters.dropped;
                continue;
            }
            auto keypair = handshake->consume_response(bytes, monotonic_ns());
            if (keypair.ok()) {
                ++counters.handshakes;
                return keypair;
            }
            ++counters.dropped;
            if (keypair.error().what ==
                proto::handshake_reject_name(proto::HandshakeReject::response_decrypt_failed)) {
                // A response that passed mac1 for our initiation but not the Noise
                // transcript: the peer used different keys, and retrying cannot fix that.
                return make_error("handshake",
                                  "response from " + (*received)->from.to_string() +
                                      " did not authenticate (" + keypair.error().what +
                                      "): the peers disagree on the pre-shared key or keys");
            }
        }
    }
    return make_error("handshake", "no valid handshake response from " + peer.to_string() +
                                       " within " + std::to_string(config.timeout.count()) +
                                       " ms (" + std::to_string(counters.initiations_sent) +
                                       " initiations sent)");
}

bool is_reply_to(const EchoHeader &reply, const EchoHeader &request) {
    return reply.type == kIcmpEchoReply && reply.source == request.destination &&
           reply.destination == request.source && reply.identifier == request.identifier &&
           reply.sequence == request.sequence &&
           std::equal(reply.payload.begin(), reply.payload.end(), request.payload.begin(),
                      request.payload.end());
}

}  // namespace

Status run_initiator(const EndpointConfig &config, const UdpSocket &socket,
                     EndpointCounters &counters) {
    if (!config.peer_endpoint || !config.ping_target) {
        return make_error("initiator", "--peer-endpoint and --ping are required");
    }
    const auto deadline = Clock::now() + config.timeout;
    if (config.flood_initiations > 0) {
        if (auto loaded = push_under_load(config, socket, counters, deadline); !loaded.ok()) {
            return loaded.error();
        }
    }
    auto keypair = complete_handshake(config, socket, counters, deadline);
    if (!keypair.ok()) {
        return keypair.error();
    }
    TransportChannel channel(*keypair);
    proto::wipe(*keypair);

    std::array<std::uint8_t, kEchoPayloadBytes> payload{};
    randombytes_buf(payload.data(), payload.size());
    const auto identifier = static_cast<std::uint16_t>(randombytes_uniform(65536));
    const auto request_packet =
        build_echo_request(config.tunnel_address, *config.ping_target, identifier, 1, payload);
    const auto request = parse_echo(request_packet);
    if (!request) {
        return make_error("echo request", "built a packet that does not parse as an echo");
    }
    // Also the initiator's key confirmation: the responder starts using the keypair only
    // once a transport packet under it arrives.
    if (auto sent = socket.send_to(channel.seal(request_packet), *config.peer_endpoint);
        !sent.ok()) {
        return sent.error();
    }
    ++counters.packets_sent;

    while (Clock::now() < deadline) {
        auto received = socket.receive(remaining(deadline));
        if (!received.ok()) {
            return received.error();
        }
        if (!received->has_value()) {
            continue;
        }
        auto plaintext = channel.open((*received)->bytes);
        if (!plaintext) {
            ++counters.dropped;
            continue;
        }
        ++counters.packets_received;
        const auto reply = parse_echo(*plaintext);
        if (reply && is_reply_to(*reply, *request)) {
            ++counters.echo_replies_received;
            return Ok{};
        }
    }
    return make_error("echo", "no echo reply from " + address_text(*config.ping_target) +
                                  " through the tunnel within " +
                                  std::to_string(config.timeout.count()) + " ms");
}

}  // namespace jg::interop
