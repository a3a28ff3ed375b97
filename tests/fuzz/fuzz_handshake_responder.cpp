// Handshake initiations as the control core receives them: the cookie checker and the Noise
// responder must agree on mac1, an accepted initiation must be bound to the one configured
// peer and refuse to be replayed, and a cookie demanded under load must make mac2 pass.
// Input: byte 0 holds kFlag* bits, the rest is the UDP payload (148 bytes to get past parsing).
#include <sodium.h>

#include <array>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/blake2s.hpp"
#include "proto/cookie.hpp"
#include "proto/noise.hpp"

namespace {

using namespace jg;
using namespace jg::proto;

struct Fixture {
    StaticIdentity responder;
    Key peer_public;
    SourceAddress src;
};

const Fixture &fixture() {
    static const Fixture f = [] {
        if (sodium_init() < 0)
            std::abort();
        const Key priv = fuzz::responder_private();
        auto id = StaticIdentity::from_private_key(priv);
        FUZZ_REQUIRE(id.ok());
        const std::array<uint8_t, 4> ip{192, 0, 2, 7};
        return Fixture{id.value(), x25519_public_key(fuzz::peer_private()),
                       source_address_v4(ip, 51820)};
    }();
    return f;
}

bool rejected_as(const Result<ResponderHandshake> &r, HandshakeReject why) {
    return !r.ok() && r.error().what == handshake_reject_name(why);
}

// Under load a fresh checker has no secret, so nothing passes without a cookie; once the
// sender holds the cookie from our reply, mac2 must verify.
void check_cookie_round_trip(std::span<const uint8_t> packet, const Fixture &f) {
    CookieChecker checker(f.responder.public_key());
    const MacVerdict loaded = checker.check(packet, f.src.span(), true, fuzz::kNowNs);
    FUZZ_REQUIRE(loaded != MacVerdict::ok);
    if (loaded != MacVerdict::need_cookie)
        return;

    auto reply = checker.create_reply(packet, f.src.span(), fuzz::kNowNs);
    FUZZ_REQUIRE(reply.ok());
    FUZZ_REQUIRE(parse_cookie_reply(reply.value()).ok());

    std::vector<uint8_t> resent(packet.begin(), packet.end());
    CookieJar jar(f.responder.public_key());
    jar.add_macs(resent, fuzz::kNowNs);
    FUZZ_REQUIRE(checker.check(resent, f.src.span(), false, fuzz::kNowNs) == MacVerdict::ok);
    auto fresh = checker.create_reply(resent, f.src.span(), fuzz::kNowNs);
    FUZZ_REQUIRE(fresh.ok());
    FUZZ_REQUIRE(jar.consume_reply(fresh.value(), fuzz::kNowNs).ok());
    FUZZ_REQUIRE(jar.has_fresh_cookie(fuzz::kNowNs));
    jar.add_macs(resent, fuzz::kNowNs);
    FUZZ_REQUIRE(checker.check(resent, f.src.span(), true, fuzz::kNowNs) == MacVerdict::ok);
}

void check_accepted(ResponderHandshake &hs, std::span<const uint8_t> packet,
                    const PeerLookup &lookup, const PeerHandshakeState &peer, const Fixture &f) {
    const auto parsed = parse_initiation(packet);
    FUZZ_REQUIRE(hs.remote_static() == f.peer_public);
    FUZZ_REQUIRE(hs.remote_index() == parsed.view.sender_index());
    FUZZ_REQUIRE(peer.has_initiation);
    FUZZ_REQUIRE(peer.greatest_timestamp == hs.timestamp());
    FUZZ_REQUIRE(peer.last_initiation_ns == fuzz::kNowNs);

    // The same initiation a second later is a replay, whatever the flood limit says.
    const auto replay = ResponderHandshake::consume_initiation(f.responder, packet, lookup,
                                                               fuzz::kNowNs + kNsPerSecond);
    FUZZ_REQUIRE(rejected_as(replay, HandshakeReject::replayed_timestamp));

    CookieJar jar_to_peer(f.peer_public);
    std::array<uint8_t, kResponseSize> response{};
    constexpr uint32_t kLocalIndex = 0x5eed0001;
    auto kp = hs.create_response_with_ephemeral(kLocalIndex, fuzz::kNowNs, jar_to_peer, response,
                                                fuzz::response_ephemeral_private());
    FUZZ_REQUIRE(kp.ok());
    FUZZ_REQUIRE(kp->local_index == kLocalIndex);
    FUZZ_REQUIRE(kp->remote_index == hs.remote_index());
    FUZZ_REQUIRE(!kp->is_initiator);
    FUZZ_REQUIRE(kp->send_key != kp->recv_key);
    const auto resp = parse_response(response);
    FUZZ_REQUIRE(resp.ok());
    FUZZ_REQUIRE(resp.view.sender_index() == kLocalIndex);
    FUZZ_REQUIRE(resp.view.receiver_index() == hs.remote_index());
    CookieChecker peer_checker(f.peer_public);
    FUZZ_REQUIRE(peer_checker.check(response, f.src.span(), false, fuzz::kNowNs) == MacVerdict::ok);
    wipe(kp.value());

    std::array<uint8_t, kResponseSize> again{};
    auto spent = hs.create_response(kLocalIndex + 1, fuzz::kNowNs, jar_to_peer, again);
    FUZZ_REQUIRE(!spent.ok());
    FUZZ_REQUIRE(spent.error().what == handshake_reject_name(HandshakeReject::already_used));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const Fixture &f = fixture();
    const uint8_t flags = data[0];
    std::vector<uint8_t> packet(data + 1, data + size);
    if ((flags & fuzz::kFlagFixMac1) && packet.size() == kInitiationSize) {
        const Hash key = mac1_key_for(f.responder.public_key());
        const Mac mac1 =
            blake2s_mac(key, std::span<const uint8_t>(packet).first(initiation_off::mac1));
        std::copy(mac1.begin(), mac1.end(), packet.begin() + initiation_off::mac1);
    }

    CookieChecker checker(f.responder.public_key());
    const MacVerdict verdict = checker.check(packet, f.src.span(), false, fuzz::kNowNs);
    if (flags & fuzz::kFlagUnderLoad)
        check_cookie_round_trip(packet, f);

    PeerHandshakeState peer;
    peer.public_key = f.peer_public;
    const PeerLookup lookup = [&peer](const Key &k) -> PeerHandshakeState * {
        return k == peer.public_key ? &peer : nullptr;
    };
    auto hs = ResponderHandshake::consume_initiation(f.responder, packet, lookup, fuzz::kNowNs);

    if (!parse_initiation(packet).ok()) {
        FUZZ_REQUIRE(rejected_as(hs, HandshakeReject::malformed));
        return 0;
    }
    // Both sides of the control core judge mac1 the same way.
    FUZZ_REQUIRE((verdict == MacVerdict::bad_mac1) == rejected_as(hs, HandshakeReject::bad_mac1));
    if (!hs.ok()) {
        FUZZ_REQUIRE(!peer.has_initiation);  // a refused initiation leaves the peer untouched
        return 0;
    }
    check_accepted(hs.value(), packet, lookup, peer, f);
    return 0;
}
