#include "control/handshake_responder.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "proto/messages.hpp"

namespace jg::control {
namespace {

uint64_t to_ns(int64_t ms) {
    return static_cast<uint64_t>(ms) * proto::kNsPerMs;
}

HandshakeRefusal refusal_from_proto(std::string_view what) {
#define JG_X(name)                                                          \
    if (what == proto::handshake_reject_name(proto::HandshakeReject::name)) \
        return HandshakeRefusal::name;
    JG_X(malformed)
    JG_X(bad_mac1)
    JG_X(zero_shared_secret)
    JG_X(static_decrypt_failed)
    JG_X(unknown_peer)
    JG_X(timestamp_decrypt_failed)
    JG_X(replayed_timestamp)
    JG_X(initiation_flood)
#undef JG_X
    return HandshakeRefusal::other;
}

}  // namespace

std::string_view handshake_refusal_name(HandshakeRefusal r) {
    switch (r) {
#define JG_X(name)               \
    case HandshakeRefusal::name: \
        return #name;
        JG_CONTROL_HANDSHAKE_REFUSALS(JG_X)
#undef JG_X
    }
    return "?";
}

HandshakeResponder::HandshakeResponder(proto::StaticIdentity identity,
                                       std::vector<HandshakePeer> peers, uint32_t rate_per_sec)
    : identity_(std::move(identity)),
      cookies_(identity_.public_key()),
      rate_per_sec_(rate_per_sec) {
    audited_second_.fill(INT64_MIN);  // never
    peers_.reserve(peers.size());
    for (const HandshakePeer &p : peers) {
        Peer peer{proto::PeerHandshakeState{}, proto::CookieJar(p.public_key)};
        peer.state.public_key = p.public_key;
        peer.state.psk = p.psk;
        // Now, at configuration, rather than in the peer's first handshake. A low-order key
        // leaves the peer unusable: its initiations are refused as zero_shared_secret.
        proto::precompute_static_static(peer.state, identity_);
        by_public_key_.emplace(p.public_key, peers_.size());
        peers_.push_back(std::move(peer));
    }
}

void HandshakeResponder::count_initiation(int64_t now_ms) {
    const int64_t second = now_ms / 1000;
    if (second != window_second_) {
        previous_window_count_ = second == window_second_ + 1 ? window_count_ : 0;
        window_count_ = 0;
        window_second_ = second;
    }
    ++window_count_;
    ++stats_.initiations;
}

bool HandshakeResponder::under_load(int64_t now_ms) const {
    if (rate_per_sec_ == 0)
        return true;
    const int64_t second = now_ms / 1000;
    const uint64_t current = second == window_second_ ? window_count_ : 0;
    const uint64_t previous = second == window_second_       ? previous_window_count_
                              : second == window_second_ + 1 ? window_count_
                                                             : 0;
    // The previous second counts too, so the cookie regime does not flap off at every
    // second boundary in the middle of a flood.
    return current > rate_per_sec_ || previous > rate_per_sec_;
}

bool HandshakeResponder::refuse_admitted(HandshakeRefusal r, int64_t now_ms) {
    return refuse(r, now_ms).audit_due;
}

RefusedInitiation HandshakeResponder::refuse(HandshakeRefusal r, int64_t now_ms) {
    ++stats_.refused[static_cast<size_t>(r)];
    const int64_t second = now_ms / 1000;
    int64_t &last = audited_second_[static_cast<size_t>(r)];
    const bool first = last != second;
    last = second;
    return RefusedInitiation{r, first};
}

bool HandshakeResponder::spend_proven_source(std::span<const uint8_t> src, int64_t now_ms) {
    // IPv4 sources fill the first 4 of 16 address bytes: the first 8 are the address, or an
    // IPv6 source's /64, which one host owns whole.
    uint64_t key = 0;
    std::memcpy(&key, src.data(), std::min<size_t>(sizeof key, src.size()));
    auto it = proven_sources_.find(key);
    if (it == proven_sources_.end()) {
        if (proven_sources_.size() >= kMaxProvenSources)
            std::erase_if(proven_sources_, [&](const auto &e) { return e.second.full(now_ms); });
        if (proven_sources_.size() >= kMaxProvenSources)
            return false;
        it =
            proven_sources_.emplace(key, TokenBucket(kProvenSourceRate, kProvenSourceBurst, now_ms))
                .first;
    }
    return it->second.spend(now_ms);
}

Admission HandshakeResponder::admit(std::span<const uint8_t> packet, std::span<const uint8_t> src,
                                    int64_t now_ms, bool over_source_rate) {
    count_initiation(now_ms);
    if (!proto::parse_initiation(packet).ok())
        return refuse(HandshakeRefusal::malformed, now_ms);
    const uint64_t now_ns = to_ns(now_ms);
    switch (cookies_.check(packet, src, under_load(now_ms) || over_source_rate, now_ns)) {
        case proto::MacVerdict::ok:
            if (over_source_rate && !spend_proven_source(src, now_ms))
                return refuse(HandshakeRefusal::source_rate_limited, now_ms);
            break;
        case proto::MacVerdict::bad_mac1:
            return refuse(HandshakeRefusal::bad_mac1, now_ms);
        case proto::MacVerdict::need_cookie: {
            auto reply = cookies_.create_reply(packet, src, now_ns);
            if (!reply)
                return refuse(HandshakeRefusal::other, now_ms);
            ++stats_.cookie_replies;
            return CookieDemanded{*reply};
        }
    }
    size_t found = peers_.size();
    const proto::PeerLookup lookup = [&](const proto::Key &k) -> proto::PeerHandshakeState * {
        const auto it = by_public_key_.find(k);
        if (it == by_public_key_.end())
            return nullptr;
        found = it->second;
        return &peers_[found].state;
    };
    auto hs = proto::ResponderHandshake::consume_initiation(identity_, packet, lookup, now_ns);
    if (!hs)
        return refuse(refusal_from_proto(hs.error().what), now_ms);
    if (found == peers_.size())
        return refuse(HandshakeRefusal::unknown_peer, now_ms);
    return AdmittedInitiation{found, std::move(hs).value()};
}

Result<CompletedHandshake> HandshakeResponder::complete(AdmittedInitiation &admitted,
                                                        uint32_t local_index, int64_t now_ms) {
    CompletedHandshake done;
    auto kp = admitted.handshake.create_response(local_index, to_ns(now_ms),
                                                 peers_[admitted.peer].jar, done.response);
    if (!kp)
        return kp.error();
    done.keypair = *kp;
    proto::wipe(*kp);
    ++stats_.accepted;
    return done;
}

}  // namespace jg::control
