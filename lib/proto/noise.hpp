// Noise_IKpsk2 handshake exactly as WireGuard runs it: identities, initiator and responder
// states, transport keypair derivation. Control path only (control core, client, tests).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "base/result.hpp"
#include "proto/cookie.hpp"
#include "proto/messages.hpp"

namespace jg::proto {

// Why a handshake message was refused; Error::what carries the name (metric label).
#define JG_PROTO_HANDSHAKE_REJECTS(X)                                                   \
    X(malformed)                /* fails parse_initiation / parse_response */           \
    X(bad_mac1)                 /* mac1 does not match our static public key */         \
    X(zero_shared_secret)       /* an X25519 result was all zero (low-order point) */   \
    X(static_decrypt_failed)    /* initiation not sealed to our static key */           \
    X(unknown_peer)             /* decrypted static key is not a configured peer */     \
    X(timestamp_decrypt_failed) /* wrong peer static or PSK-less forgery */             \
    X(replayed_timestamp)       /* TAI64N not greater than the greatest seen */         \
    X(initiation_flood)         /* under kInitiationMinIntervalNs since the last one */ \
    X(wrong_receiver_index)     /* response not addressed to this handshake */          \
    X(response_decrypt_failed)  /* wrong PSK or wrong keys: transcript mismatch */      \
    X(already_used)             /* this handshake state already produced a keypair */

enum class HandshakeReject : uint8_t {
#define JG_X(name) name,
    JG_PROTO_HANDSHAKE_REJECTS(JG_X)
#undef JG_X
};
std::string_view handshake_reject_name(HandshakeReject r);

// The symmetric result of a handshake. Plain data so the data plane can copy it into its
// own tables; call wipe() on every copy once it is dead.
struct TransportKeypair {
    Key send_key;
    Key recv_key;
    uint32_t local_index;   // peers put this receiver index on packets to us
    uint32_t remote_index;  // we put this receiver index on packets to the peer
    uint64_t created_ns;    // monotonic clock, ns (the `now_ns` given to the handshake)
    bool is_initiator;
};
void wipe(TransportKeypair &kp);

// A static X25519 key pair. The private key is wiped when the object dies.
class StaticIdentity {
  public:
    static StaticIdentity generate();
    // Refuses a key whose public key would be all zero.
    static Result<StaticIdentity> from_private_key(std::span<const uint8_t, kKeySize> priv);

    StaticIdentity(const StaticIdentity &) = default;
    StaticIdentity &operator=(const StaticIdentity &) = default;
    ~StaticIdentity();

    const Key &public_key() const { return public_; }
    const Key &private_key() const { return private_; }

  private:
    StaticIdentity() = default;
    Key private_{};
    Key public_{};
};

// Public X25519 key of a private key (libsodium crypto_scalarmult_base).
Key x25519_public_key(std::span<const uint8_t, kKeySize> priv);

// What the responder knows and remembers per configured peer. Owned by the caller (one
// per peer, control core only); consume_initiation reads it and, on success only, updates
// the replay fields. Secrets (psk, the cached DH) are wiped when it dies.
struct PeerHandshakeState {
    Key public_key{};
    Key psk{};                        // all zero = no pre-shared key (WireGuard's convention)
    Tai64n greatest_timestamp{};      // written by consume_initiation
    uint64_t last_initiation_ns = 0;  // monotonic ns of the last accepted initiation
    bool has_initiation = false;

    // DH(local static private, public_key) is the same in every handshake with this peer, so
    // it is computed once (precompute_static_static, or the first initiation) and reused
    // while the local identity is the one whose public key is `static_static_local`; another
    // local key recomputes it. All zero local = not computed yet. Whoever changes
    // public_key in place calls precompute_static_static again.
    Key static_static{};
    Key static_static_local{};
    bool static_static_ok = false;  // false once computed: a low-order peer key, never usable

    PeerHandshakeState() = default;
    PeerHandshakeState(const PeerHandshakeState &) = default;
    PeerHandshakeState(PeerHandshakeState &&) = default;
    PeerHandshakeState &operator=(const PeerHandshakeState &) = default;
    PeerHandshakeState &operator=(PeerHandshakeState &&) = default;
    ~PeerHandshakeState();
};

// Computes the peer's cached static-static DH for `local` now (when the peer is configured,
// or after the local key changed) instead of in its first handshake. False when the peer's
// key is a low-order point: every handshake with it will be refused (zero_shared_secret).
bool precompute_static_static(PeerHandshakeState &peer, const StaticIdentity &local);

// Finds the peer whose static public key the initiation carried; nullptr when unknown.
using PeerLookup = std::function<PeerHandshakeState *(const Key &remote_static)>;

// Initiator side of one handshake attempt (move-only; secrets wiped on destruction).
class InitiatorHandshake {
  public:
    // Builds message 1 into `out`, with mac1 (and mac2 when `jar` holds a fresh cookie).
    // `sender_index`: from the caller's IndexTable. `unix_ns`: wall clock, for TAI64N.
    // `now_ns`: monotonic clock, for the cookie's age. `psk`: all zero for none.
    static Result<InitiatorHandshake> create_initiation(const StaticIdentity &local,
                                                        const Key &remote_static, const Key &psk,
                                                        uint32_t sender_index, uint64_t unix_ns,
                                                        uint64_t now_ns, CookieJar &jar,
                                                        std::span<uint8_t, kInitiationSize> out);

    // Same with the ephemeral private key supplied instead of drawn from the CSPRNG. Only
    // for known-answer tests against other implementations: a reused ephemeral key
    // destroys forward secrecy.
    static Result<InitiatorHandshake> create_initiation_with_ephemeral(
        const StaticIdentity &local, const Key &remote_static, const Key &psk,
        uint32_t sender_index, uint64_t unix_ns, uint64_t now_ns, CookieJar &jar,
        std::span<uint8_t, kInitiationSize> out, const Key &ephemeral_private);

    // Checks mac1 and the Noise transcript of message 2; on success derives the keypair
    // (created_ns = now_ns, monotonic) and the handshake is spent. A failure leaves the
    // state usable (a forged response must not kill a genuine handshake).
    Result<TransportKeypair> consume_response(std::span<const uint8_t> packet, uint64_t now_ns);

    uint32_t sender_index() const { return sender_index_; }
    const Key &remote_static() const { return remote_static_; }

    InitiatorHandshake(InitiatorHandshake &&other) noexcept;
    InitiatorHandshake &operator=(InitiatorHandshake &&other) noexcept;
    InitiatorHandshake(const InitiatorHandshake &) = delete;
    InitiatorHandshake &operator=(const InitiatorHandshake &) = delete;
    ~InitiatorHandshake();

  private:
    InitiatorHandshake() = default;
    void wipe_secrets();

    Hash hash_{};
    Hash chain_key_{};
    Key ephemeral_private_{};
    Key local_static_private_{};
    Key local_static_public_{};
    Key remote_static_{};
    Key psk_{};
    uint32_t sender_index_ = 0;
    bool spent_ = false;
};

// Responder side: the state between consuming message 1 and sending message 2.
class ResponderHandshake {
  public:
    // Checks mac1, runs the Noise transcript, finds the peer through `lookup`, refuses a
    // replayed timestamp or a flood, and only then records the timestamp in the peer state.
    // Does not check mac2: CookieChecker::check decides that before this costly call.
    // `now_ns`: monotonic clock, ns.
    static Result<ResponderHandshake> consume_initiation(const StaticIdentity &local,
                                                         std::span<const uint8_t> packet,
                                                         const PeerLookup &lookup, uint64_t now_ns);

    // Builds message 2 into `out` (mac1 and, if `jar` holds a cookie from the peer, mac2)
    // and derives the keypair (created_ns = now_ns). Single use.
    Result<TransportKeypair> create_response(uint32_t sender_index, uint64_t now_ns, CookieJar &jar,
                                             std::span<uint8_t, kResponseSize> out);

    // Same with the ephemeral private key supplied: known-answer tests only (see above).
    Result<TransportKeypair> create_response_with_ephemeral(uint32_t sender_index, uint64_t now_ns,
                                                            CookieJar &jar,
                                                            std::span<uint8_t, kResponseSize> out,
                                                            const Key &ephemeral_private);

    const Key &remote_static() const { return remote_static_; }
    uint32_t remote_index() const { return remote_index_; }
    const Tai64n &timestamp() const { return timestamp_; }

    ResponderHandshake(ResponderHandshake &&other) noexcept;
    ResponderHandshake &operator=(ResponderHandshake &&other) noexcept;
    ResponderHandshake(const ResponderHandshake &) = delete;
    ResponderHandshake &operator=(const ResponderHandshake &) = delete;
    ~ResponderHandshake();

  private:
    ResponderHandshake() = default;
    void wipe_secrets();

    Hash hash_{};
    Hash chain_key_{};
    Key remote_ephemeral_{};
    Key remote_static_{};
    Key psk_{};
    Tai64n timestamp_{};
    uint32_t remote_index_ = 0;
    bool spent_ = false;
};

}  // namespace jg::proto
