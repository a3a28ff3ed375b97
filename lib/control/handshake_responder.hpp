// HandshakeResponder: the gateway's side of WireGuard handshakes (configured peers, mac2 and
// cookie replies under load, Noise responder, refusal counts). Control core only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "base/token_bucket.hpp"
#include "proto/cookie.hpp"
#include "proto/noise.hpp"

namespace jg::control {

// Why an initiation got no response: lib/proto's rejects plus the ones decided here.
#define JG_CONTROL_HANDSHAKE_REFUSALS(X)                                        \
    X(malformed)                /* not a 148-byte initiation */                 \
    X(bad_mac1)                 /* mac1 does not match our public key */        \
    X(zero_shared_secret)       /* low-order ephemeral */                       \
    X(static_decrypt_failed)    /* not sealed to our static key */              \
    X(unknown_peer)             /* static key of no configured peer */          \
    X(timestamp_decrypt_failed) /* PSK mismatch or forgery */                   \
    X(replayed_timestamp)       /* TAI64N not newer than the peer's greatest */ \
    X(initiation_flood)         /* same peer again within 20 ms */              \
    X(session_table_full)       /* max_sessions live: no room for a new one */  \
    X(source_rate_limited)      /* proven source above its per-address rate */  \
    X(other)                    /* any proto reject this list does not name */

enum class HandshakeRefusal : uint8_t {
#define JG_X(name) name,
    JG_CONTROL_HANDSHAKE_REFUSALS(JG_X)
#undef JG_X
};
inline constexpr size_t kHandshakeRefusalCount = 0
#define JG_X(name) +1
    JG_CONTROL_HANDSHAKE_REFUSALS(JG_X)
#undef JG_X
    ;
std::string_view handshake_refusal_name(HandshakeRefusal r);

struct HandshakePeer {
    proto::Key public_key{};
    proto::Key psk{};  // all zero: none
};

// An initiation worth a response: the Noise state is consumed, the timestamp recorded.
struct AdmittedInitiation {
    size_t peer = 0;  // index into the peers given at construction
    proto::ResponderHandshake handshake;
};
struct CookieDemanded {
    std::array<uint8_t, proto::kCookieReplySize> reply{};
};
struct RefusedInitiation {
    HandshakeRefusal reason = HandshakeRefusal::other;
    // The first refusal with this reason in its second: the one worth an audit line. The
    // rest are only counted, so replays sent below the cookie threshold cannot flood the log.
    bool audit_due = false;
};
using Admission = std::variant<AdmittedInitiation, CookieDemanded, RefusedInitiation>;

struct CompletedHandshake {
    proto::TransportKeypair keypair{};
    std::array<uint8_t, proto::kResponseSize> response{};
};

struct HandshakeStats {
    uint64_t initiations = 0;
    uint64_t accepted = 0;
    uint64_t cookie_replies = 0;
    std::array<uint64_t, kHandshakeRefusalCount> refused{};
};

class HandshakeResponder {
  public:
    // `rate_per_sec`: initiations per second above which an initiation must carry a valid
    // mac2 (0: always, a gateway that is permanently "under load").
    HandshakeResponder(proto::StaticIdentity identity, std::vector<HandshakePeer> peers,
                       uint32_t rate_per_sec);

    // `src`: the sender's address bytes (the cookie binds to them): 16 address bytes (IPv4
    // in the first 4, the rest zero) and the port. `now_ms`: control clock. Costs one X25519
    // only when the initiation is admitted past the cookie check. `over_source_rate`: the
    // worker found the source above its per-source rate. Such an initiation needs a valid mac2
    // as under load (else it gets a cookie), and proven sources then share a per-address
    // bucket (kProvenSourceRate, WireGuard's per-IP limit, IPv6 by /64): a spoofed flood
    // cannot lock its victim out, and a sender that owns its address is still bounded.
    Admission admit(std::span<const uint8_t> packet, std::span<const uint8_t> src, int64_t now_ms,
                    bool over_source_rate = false);

    static constexpr uint32_t kProvenSourceRate = 20;   // initiations per second
    static constexpr uint32_t kProvenSourceBurst = 5;   // initiations at once
    static constexpr size_t kMaxProvenSources = 65536;  // addresses tracked at once

    // Builds message 2 with our receiver index `local_index` and derives the keypair.
    Result<CompletedHandshake> complete(AdmittedInitiation &admitted, uint32_t local_index,
                                        int64_t now_ms);

    // Counts a refusal the caller decided after admit() (no room for a new session): the
    // initiation is not answered and not counted as accepted. True for the first refusal
    // with this reason in each second of `now_ms`: the caller audits that one only, so a
    // peer retrying against a full table cannot flood the audit log.
    bool refuse_admitted(HandshakeRefusal r, int64_t now_ms);

    // True while the initiation rate of the current or the previous second exceeds the limit.
    bool under_load(int64_t now_ms) const;
    const HandshakeStats &stats() const { return stats_; }
    const proto::Key &public_key() const { return identity_.public_key(); }
    size_t peer_count() const { return peers_.size(); }
    const proto::Key &peer_public_key(size_t peer) const { return peers_[peer].state.public_key; }

  private:
    struct Peer {
        proto::PeerHandshakeState state;
        proto::CookieJar jar;  // adds mac1 to our responses
    };
    RefusedInitiation refuse(HandshakeRefusal r, int64_t now_ms);
    void count_initiation(int64_t now_ms);
    // Spends one initiation from the bucket of `src`'s address; false when it is empty.
    bool spend_proven_source(std::span<const uint8_t> src, int64_t now_ms);

    proto::StaticIdentity identity_;
    proto::CookieChecker cookies_;
    std::vector<Peer> peers_;
    std::map<proto::Key, size_t> by_public_key_;  // into peers_
    uint32_t rate_per_sec_;
    int64_t window_second_ = -1;  // now_ms / 1000 of the current counting window
    uint64_t window_count_ = 0;
    uint64_t previous_window_count_ = 0;
    // now_ms / 1000 of the last refusal of each reason found worth auditing.
    std::array<int64_t, kHandshakeRefusalCount> audited_second_{};
    HandshakeStats stats_;
    std::unordered_map<uint64_t, TokenBucket> proven_sources_;  // by address (IPv6: /64)
};

}  // namespace jg::control
