#include "proto/noise.hpp"

#include <sodium.h>

#include <utility>

#include "proto/blake2s.hpp"
#include "proto/tai64n.hpp"

namespace jg::proto {
namespace {

constexpr std::string_view kHandshakeReject[] = {
#define JG_X(name) #name,
    JG_PROTO_HANDSHAKE_REJECTS(JG_X)
#undef JG_X
};

Error reject(std::string_view where, HandshakeReject r) {
    return make_error(std::string(where), std::string(handshake_reject_name(r)));
}

Bytes as_bytes(std::string_view s) {
    return Bytes(reinterpret_cast<const uint8_t *>(s.data()), s.size());
}

// Ck0 = HASH(CONSTRUCTION), H0 = HASH(Ck0 || IDENTIFIER): the same for every handshake.
struct InitialState {
    Hash chain_key;
    Hash hash;
};
const InitialState &initial_state() {
    static const InitialState s = [] {
        InitialState st;
        st.chain_key = blake2s_hash(as_bytes(kConstruction));
        st.hash = blake2s_hash(st.chain_key, as_bytes(kIdentifier));
        return st;
    }();
    return s;
}

void mix_hash(Hash &h, Bytes data) {
    h = blake2s_hash(h, data);
}
void mix_key(Hash &ck, Bytes data) {
    kdf1(ck, ck, data);
}

// X25519 refusing the all-zero output a low-order point would give.
bool dh(Key &out, const Key &priv, Bytes pub) {
    return crypto_scalarmult(out.data(), priv.data(), pub.data()) == 0 &&
           !sodium_is_zero(out.data(), out.size());
}

void new_private_key(Key &k) {
    randombytes_buf(k.data(), k.size());
}

// The handshake's AEAD: ChaCha20-Poly1305 IETF, zero nonce (every key is used once).
void seal(uint8_t *out, const Hash &key, Bytes plain, const Hash &ad) {
    const uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {};
    crypto_aead_chacha20poly1305_ietf_encrypt(out, nullptr, plain.data(), plain.size(), ad.data(),
                                              ad.size(), nullptr, nonce, key.data());
}

bool open(uint8_t *out, const Hash &key, Bytes sealed, const Hash &ad) {
    const uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = {};
    return crypto_aead_chacha20poly1305_ietf_decrypt(out, nullptr, nullptr, sealed.data(),
                                                     sealed.size(), ad.data(), ad.size(), nonce,
                                                     key.data()) == 0;
}

bool mac1_valid(const Key &receiver_public, std::span<const uint8_t> packet, size_t mac1_off) {
    const Mac want = blake2s_mac(mac1_key_for(receiver_public), packet.first(mac1_off));
    return crypto_verify_16(want.data(), packet.data() + mac1_off) == 0;
}

// Both ends split the final chaining key the same way: initiator sends with the first half.
TransportKeypair derive_keypair(const Hash &chain_key, bool is_initiator, uint32_t local_index,
                                uint32_t remote_index, uint64_t now_ns) {
    Hash first, second;
    kdf2(first, second, chain_key, {});
    TransportKeypair kp{};
    std::memcpy(kp.send_key.data(), (is_initiator ? first : second).data(), kKeySize);
    std::memcpy(kp.recv_key.data(), (is_initiator ? second : first).data(), kKeySize);
    sodium_memzero(first.data(), first.size());
    sodium_memzero(second.data(), second.size());
    kp.local_index = local_index;
    kp.remote_index = remote_index;
    kp.created_ns = now_ns;
    kp.is_initiator = is_initiator;
    return kp;
}

template <class T>
void zero(T &v) {
    sodium_memzero(v.data(), v.size());
}

}  // namespace

std::string_view handshake_reject_name(HandshakeReject r) {
    return kHandshakeReject[static_cast<size_t>(r)];
}

void wipe(TransportKeypair &kp) {
    sodium_memzero(&kp, sizeof(kp));
}

Key x25519_public_key(std::span<const uint8_t, kKeySize> priv) {
    Key pub;
    crypto_scalarmult_base(pub.data(), priv.data());
    return pub;
}

// ---- PeerHandshakeState ----

PeerHandshakeState::~PeerHandshakeState() {
    zero(psk);
    zero(static_static);
}

bool precompute_static_static(PeerHandshakeState &peer, const StaticIdentity &local) {
    peer.static_static_ok = dh(peer.static_static, local.private_key(), peer.public_key);
    if (!peer.static_static_ok)
        zero(peer.static_static);
    peer.static_static_local = local.public_key();
    return peer.static_static_ok;
}

// ---- StaticIdentity ----

StaticIdentity StaticIdentity::generate() {
    StaticIdentity id;
    do {
        new_private_key(id.private_);
        id.public_ = x25519_public_key(id.private_);
    } while (sodium_is_zero(id.public_.data(), id.public_.size()));
    return id;
}

Result<StaticIdentity> StaticIdentity::from_private_key(std::span<const uint8_t, kKeySize> priv) {
    StaticIdentity id;
    std::memcpy(id.private_.data(), priv.data(), kKeySize);
    id.public_ = x25519_public_key(id.private_);
    if (sodium_is_zero(id.public_.data(), id.public_.size())) {
        return make_error("static identity", "private key gives an all-zero public key");
    }
    return id;
}

StaticIdentity::~StaticIdentity() {
    zero(private_);
}

// ---- InitiatorHandshake ----

Result<InitiatorHandshake> InitiatorHandshake::create_initiation(
    const StaticIdentity &local, const Key &remote_static, const Key &psk, uint32_t sender_index,
    uint64_t unix_ns, uint64_t now_ns, CookieJar &jar, std::span<uint8_t, kInitiationSize> out) {
    Key ephemeral;
    new_private_key(ephemeral);
    auto hs = create_initiation_with_ephemeral(local, remote_static, psk, sender_index, unix_ns,
                                               now_ns, jar, out, ephemeral);
    zero(ephemeral);
    return hs;
}

Result<InitiatorHandshake> InitiatorHandshake::create_initiation_with_ephemeral(
    const StaticIdentity &local, const Key &remote_static, const Key &psk, uint32_t sender_index,
    uint64_t unix_ns, uint64_t now_ns, CookieJar &jar, std::span<uint8_t, kInitiationSize> out,
    const Key &ephemeral_private) {
    constexpr std::string_view where = "handshake initiation";
    InitiatorHandshake hs;
    hs.local_static_private_ = local.private_key();
    hs.local_static_public_ = local.public_key();
    hs.remote_static_ = remote_static;
    hs.psk_ = psk;
    hs.sender_index_ = sender_index;
    hs.chain_key_ = initial_state().chain_key;
    hs.hash_ = initial_state().hash;
    mix_hash(hs.hash_, remote_static);

    std::fill(out.begin(), out.end(), uint8_t{0});
    out[0] = static_cast<uint8_t>(MessageType::initiation);
    store_le32(out.data() + initiation_off::sender, sender_index);

    hs.ephemeral_private_ = ephemeral_private;
    const Key ephemeral_public = x25519_public_key(hs.ephemeral_private_);
    std::memcpy(out.data() + initiation_off::ephemeral, ephemeral_public.data(), kKeySize);
    mix_key(hs.chain_key_, ephemeral_public);
    mix_hash(hs.hash_, ephemeral_public);

    Key ss;
    Hash key;
    if (!dh(ss, hs.ephemeral_private_, remote_static)) {
        return reject(where, HandshakeReject::zero_shared_secret);
    }
    kdf2(hs.chain_key_, key, hs.chain_key_, ss);
    seal(out.data() + initiation_off::encrypted_static, key, hs.local_static_public_, hs.hash_);
    mix_hash(hs.hash_, Bytes(out.data() + initiation_off::encrypted_static, kKeySize + kTagSize));

    if (!dh(ss, hs.local_static_private_, remote_static)) {
        zero(key);
        return reject(where, HandshakeReject::zero_shared_secret);
    }
    kdf2(hs.chain_key_, key, hs.chain_key_, ss);
    zero(ss);
    const Tai64n timestamp = tai64n_from_unix_ns(unix_ns);
    seal(out.data() + initiation_off::encrypted_timestamp, key, timestamp, hs.hash_);
    zero(key);
    mix_hash(hs.hash_,
             Bytes(out.data() + initiation_off::encrypted_timestamp, kTimestampSize + kTagSize));

    jar.add_macs(out, now_ns);
    return hs;
}

Result<TransportKeypair> InitiatorHandshake::consume_response(std::span<const uint8_t> packet,
                                                              uint64_t now_ns) {
    constexpr std::string_view where = "handshake response";
    if (spent_) {
        return reject(where, HandshakeReject::already_used);
    }
    const auto parsed = parse_response(packet);
    if (!parsed.ok()) {
        return reject(where, HandshakeReject::malformed);
    }
    const ResponseView msg = parsed.view;
    if (msg.receiver_index() != sender_index_) {
        return reject(where, HandshakeReject::wrong_receiver_index);
    }
    if (!mac1_valid(local_static_public_, packet, response_off::mac1)) {
        return reject(where, HandshakeReject::bad_mac1);
    }

    // Work on copies: a response that fails must leave this handshake untouched.
    Hash hash = hash_;
    Hash chain_key = chain_key_;
    mix_hash(hash, msg.ephemeral());
    mix_key(chain_key, msg.ephemeral());

    Key ss;
    if (!dh(ss, ephemeral_private_, msg.ephemeral())) {
        zero(chain_key);
        return reject(where, HandshakeReject::zero_shared_secret);
    }
    mix_key(chain_key, ss);
    if (!dh(ss, local_static_private_, msg.ephemeral())) {
        zero(chain_key);
        return reject(where, HandshakeReject::zero_shared_secret);
    }
    mix_key(chain_key, ss);
    zero(ss);

    Hash tau, key;
    kdf3(chain_key, tau, key, chain_key, psk_);
    mix_hash(hash, tau);
    zero(tau);
    uint8_t nothing[1];
    const bool ok = open(nothing, key, msg.encrypted_nothing(), hash);
    zero(key);
    if (!ok) {
        zero(chain_key);
        return reject(where, HandshakeReject::response_decrypt_failed);
    }

    TransportKeypair kp =
        derive_keypair(chain_key, true, sender_index_, msg.sender_index(), now_ns);
    zero(chain_key);
    zero(hash);
    wipe_secrets();
    spent_ = true;
    return kp;
}

void InitiatorHandshake::wipe_secrets() {
    zero(hash_);
    zero(chain_key_);
    zero(ephemeral_private_);
    zero(local_static_private_);
    zero(psk_);
}

InitiatorHandshake::InitiatorHandshake(InitiatorHandshake &&other) noexcept {
    *this = std::move(other);
}

InitiatorHandshake &InitiatorHandshake::operator=(InitiatorHandshake &&other) noexcept {
    if (this != &other) {
        hash_ = other.hash_;
        chain_key_ = other.chain_key_;
        ephemeral_private_ = other.ephemeral_private_;
        local_static_private_ = other.local_static_private_;
        local_static_public_ = other.local_static_public_;
        remote_static_ = other.remote_static_;
        psk_ = other.psk_;
        sender_index_ = other.sender_index_;
        spent_ = other.spent_;
        other.wipe_secrets();
        other.spent_ = true;
    }
    return *this;
}

InitiatorHandshake::~InitiatorHandshake() {
    wipe_secrets();
}

// ---- ResponderHandshake ----

Result<ResponderHandshake> ResponderHandshake::consume_initiation(const StaticIdentity &local,
                                                                  std::span<const uint8_t> packet,
                                                                  const PeerLookup &lookup,
                                                                  uint64_t now_ns) {
    constexpr std::string_view where = "handshake initiation";
    const auto parsed = parse_initiation(packet);
    if (!parsed.ok()) {
        return reject(where, HandshakeReject::malformed);
    }
    const InitiationView msg = parsed.view;
    if (!mac1_valid(local.public_key(), packet, initiation_off::mac1)) {
        return reject(where, HandshakeReject::bad_mac1);
    }

    ResponderHandshake hs;
    hs.chain_key_ = initial_state().chain_key;
    hs.hash_ = initial_state().hash;
    mix_hash(hs.hash_, local.public_key());
    mix_hash(hs.hash_, msg.ephemeral());
    mix_key(hs.chain_key_, msg.ephemeral());

    Key ss;
    Hash key;
    if (!dh(ss, local.private_key(), msg.ephemeral())) {
        return reject(where, HandshakeReject::zero_shared_secret);
    }
    kdf2(hs.chain_key_, key, hs.chain_key_, ss);
    zero(ss);
    const bool static_ok = open(hs.remote_static_.data(), key, msg.encrypted_static(), hs.hash_);
    zero(key);
    if (!static_ok) {
        return reject(where, HandshakeReject::static_decrypt_failed);
    }
    mix_hash(hs.hash_, msg.encrypted_static());

    PeerHandshakeState *peer = lookup ? lookup(hs.remote_static_) : nullptr;
    if (peer == nullptr) {
        return reject(where, HandshakeReject::unknown_peer);
    }

    // The peer is known, so its cached static-static DH stands in for the second X25519 of
    // the message (a fifth of the responder's work).
    if (peer->static_static_local != local.public_key()) {
        precompute_static_static(*peer, local);
    }
    if (!peer->static_static_ok) {
        return reject(where, HandshakeReject::zero_shared_secret);
    }
    kdf2(hs.chain_key_, key, hs.chain_key_, peer->static_static);
    const bool ts_ok = open(hs.timestamp_.data(), key, msg.encrypted_timestamp(), hs.hash_);
    zero(key);
    if (!ts_ok) {
        return reject(where, HandshakeReject::timestamp_decrypt_failed);
    }
    mix_hash(hs.hash_, msg.encrypted_timestamp());

    // Replay and flood checks come after authentication so that nobody but the peer can
    // advance its timestamp, and the replay state is written only once everything passed.
    if (peer->has_initiation && !tai64n_after(hs.timestamp_, peer->greatest_timestamp)) {
        return reject(where, HandshakeReject::replayed_timestamp);
    }
    if (peer->has_initiation && now_ns - peer->last_initiation_ns < kInitiationMinIntervalNs) {
        return reject(where, HandshakeReject::initiation_flood);
    }
    peer->greatest_timestamp = hs.timestamp_;
    peer->last_initiation_ns = now_ns;
    peer->has_initiation = true;

    hs.psk_ = peer->psk;
    hs.remote_index_ = msg.sender_index();
    std::memcpy(hs.remote_ephemeral_.data(), msg.ephemeral().data(), kKeySize);
    return hs;
}

Result<TransportKeypair> ResponderHandshake::create_response(
    uint32_t sender_index, uint64_t now_ns, CookieJar &jar, std::span<uint8_t, kResponseSize> out) {
    Key ephemeral;
    new_private_key(ephemeral);
    auto kp = create_response_with_ephemeral(sender_index, now_ns, jar, out, ephemeral);
    zero(ephemeral);
    return kp;
}

Result<TransportKeypair> ResponderHandshake::create_response_with_ephemeral(
    uint32_t sender_index, uint64_t now_ns, CookieJar &jar, std::span<uint8_t, kResponseSize> out,
    const Key &ephemeral_private_in) {
    constexpr std::string_view where = "handshake response";
    if (spent_) {
        return reject(where, HandshakeReject::already_used);
    }
    std::fill(out.begin(), out.end(), uint8_t{0});
    out[0] = static_cast<uint8_t>(MessageType::response);
    store_le32(out.data() + response_off::sender, sender_index);
    store_le32(out.data() + response_off::receiver, remote_index_);

    Key ephemeral_private = ephemeral_private_in;
    const Key ephemeral_public = x25519_public_key(ephemeral_private);
    std::memcpy(out.data() + response_off::ephemeral, ephemeral_public.data(), kKeySize);
    mix_hash(hash_, ephemeral_public);
    mix_key(chain_key_, ephemeral_public);

    Key ss;
    const bool ee = dh(ss, ephemeral_private, remote_ephemeral_);
    if (ee) {
        mix_key(chain_key_, ss);
    }
    const bool se = ee && dh(ss, ephemeral_private, remote_static_);
    zero(ephemeral_private);
    if (!se) {
        zero(ss);
        wipe_secrets();
        spent_ = true;
        return reject(where, HandshakeReject::zero_shared_secret);
    }
    mix_key(chain_key_, ss);
    zero(ss);

    Hash tau, key;
    kdf3(chain_key_, tau, key, chain_key_, psk_);
    mix_hash(hash_, tau);
    zero(tau);
    seal(out.data() + response_off::encrypted_nothing, key, {}, hash_);
    zero(key);
    mix_hash(hash_, Bytes(out.data() + response_off::encrypted_nothing, kTagSize));

    jar.add_macs(out, now_ns);
    TransportKeypair kp = derive_keypair(chain_key_, false, sender_index, remote_index_, now_ns);
    wipe_secrets();
    spent_ = true;
    return kp;
}

void ResponderHandshake::wipe_secrets() {
    zero(hash_);
    zero(chain_key_);
    zero(remote_ephemeral_);
    zero(psk_);
}

ResponderHandshake::ResponderHandshake(ResponderHandshake &&other) noexcept {
    *this = std::move(other);
}

ResponderHandshake &ResponderHandshake::operator=(ResponderHandshake &&other) noexcept {
    if (this != &other) {
        hash_ = other.hash_;
        chain_key_ = other.chain_key_;
        remote_ephemeral_ = other.remote_ephemeral_;
        remote_static_ = other.remote_static_;
        psk_ = other.psk_;
        timestamp_ = other.timestamp_;
        remote_index_ = other.remote_index_;
        spent_ = other.spent_;
        other.wipe_secrets();
        other.spent_ = true;
    }
    return *this;
}

ResponderHandshake::~ResponderHandshake() {
    wipe_secrets();
}

}  // namespace jg::proto
