#include "proto/cookie.hpp"

#include <sodium.h>

#include "proto/blake2s.hpp"

namespace jg::proto {
namespace {

// mac1 and mac2 sit in the last 32 bytes of both handshake messages.
bool is_handshake_size(size_t n) {
    return n == kInitiationSize || n == kResponseSize;
}
size_t mac1_offset(size_t n) {
    return n - 2 * kMacSize;
}
size_t mac2_offset(size_t n) {
    return n - kMacSize;
}

bool mac_equal(const Mac &computed, const uint8_t *received) {
    return crypto_verify_16(computed.data(), received) == 0;
}

}  // namespace

std::string_view mac_verdict_name(MacVerdict v) {
    switch (v) {
        case MacVerdict::ok:
            return "ok";
        case MacVerdict::bad_mac1:
            return "bad_mac1";
        case MacVerdict::need_cookie:
            return "need_cookie";
    }
    return "unknown";
}

namespace {

SourceAddress source_address(const uint8_t *ip, size_t ip_len, uint16_t port) {
    SourceAddress a;
    std::memcpy(a.bytes.data(), ip, ip_len);
    a.bytes[ip_len] = uint8_t(port >> 8);
    a.bytes[ip_len + 1] = uint8_t(port);
    a.len = uint8_t(ip_len + 2);
    return a;
}

}  // namespace

SourceAddress source_address_v4(std::span<const uint8_t, 4> ip, uint16_t port) {
    return source_address(ip.data(), ip.size(), port);
}

SourceAddress source_address_v6(std::span<const uint8_t, 16> ip, uint16_t port) {
    return source_address(ip.data(), ip.size(), port);
}

Hash mac1_key_for(const Key &public_key) {
    return blake2s_hash(
        Bytes(reinterpret_cast<const uint8_t *>(kLabelMac1.data()), kLabelMac1.size()), public_key);
}

Hash cookie_key_for(const Key &public_key) {
    return blake2s_hash(
        Bytes(reinterpret_cast<const uint8_t *>(kLabelCookie.data()), kLabelCookie.size()),
        public_key);
}

// ---- CookieChecker ----

CookieChecker::CookieChecker(const Key &local_public)
    : mac1_key_(mac1_key_for(local_public)), cookie_key_(cookie_key_for(local_public)) {}

CookieChecker::~CookieChecker() {
    sodium_memzero(secret_.data(), secret_.size());
}

MacVerdict CookieChecker::check(std::span<const uint8_t> packet, std::span<const uint8_t> src,
                                bool under_load, uint64_t now_ns) const {
    const size_t n = packet.size();
    if (!is_handshake_size(n)) {
        return MacVerdict::bad_mac1;
    }
    const Mac mac1 = blake2s_mac(mac1_key_, packet.first(mac1_offset(n)));
    if (!mac_equal(mac1, packet.data() + mac1_offset(n))) {
        return MacVerdict::bad_mac1;
    }
    if (!under_load) {
        return MacVerdict::ok;
    }
    // A secret older than its lifetime makes every cookie derived from it stale.
    if (!has_secret_ || now_ns - secret_born_ns_ > kCookieSecretMaxAgeNs) {
        return MacVerdict::need_cookie;
    }
    Mac cookie = blake2s_mac(secret_, src);
    const Mac mac2 = blake2s_mac(cookie, packet.first(mac2_offset(n)));
    sodium_memzero(cookie.data(), cookie.size());
    return mac_equal(mac2, packet.data() + mac2_offset(n)) ? MacVerdict::ok
                                                           : MacVerdict::need_cookie;
}

Result<std::array<uint8_t, kCookieReplySize>> CookieChecker::create_reply(
    std::span<const uint8_t> packet, std::span<const uint8_t> src, uint64_t now_ns) {
    const size_t n = packet.size();
    if (!is_handshake_size(n)) {
        return make_error("cookie reply", "answered message is not a handshake message");
    }
    if (!has_secret_ || now_ns - secret_born_ns_ > kCookieSecretMaxAgeNs) {
        randombytes_buf(secret_.data(), secret_.size());
        secret_born_ns_ = now_ns;
        has_secret_ = true;
    }
    std::array<uint8_t, kCookieReplySize> reply{};
    reply[0] = static_cast<uint8_t>(MessageType::cookie_reply);
    // The reply is addressed to the sender index of the message it answers (offset 4 in
    // both handshake messages).
    std::memcpy(reply.data() + cookie_reply_off::receiver, packet.data() + 4, 4);
    uint8_t *nonce = reply.data() + cookie_reply_off::nonce;
    randombytes_buf(nonce, kCookieNonceSize);

    Mac cookie = blake2s_mac(secret_, src);
    const uint8_t *mac1 = packet.data() + mac1_offset(n);
    crypto_aead_xchacha20poly1305_ietf_encrypt(reply.data() + cookie_reply_off::encrypted_cookie,
                                               nullptr, cookie.data(), cookie.size(), mac1,
                                               kMacSize, nullptr, nonce, cookie_key_.data());
    sodium_memzero(cookie.data(), cookie.size());
    return reply;
}

// ---- CookieJar ----

CookieJar::CookieJar(const Key &remote_public)
    : mac1_key_(mac1_key_for(remote_public)), cookie_key_(cookie_key_for(remote_public)) {}

CookieJar::~CookieJar() {
    sodium_memzero(cookie_.data(), cookie_.size());
}

bool CookieJar::has_fresh_cookie(uint64_t now_ns) const {
    return has_cookie_ && now_ns - cookie_born_ns_ < kCookieValidNs;
}

void CookieJar::add_macs(std::span<uint8_t> packet, uint64_t now_ns) {
    const size_t n = packet.size();
    if (!is_handshake_size(n)) {
        return;
    }
    last_mac1_ = blake2s_mac(mac1_key_, packet.first(mac1_offset(n)));
    has_last_mac1_ = true;
    std::memcpy(packet.data() + mac1_offset(n), last_mac1_.data(), kMacSize);

    Mac mac2{};
    if (has_fresh_cookie(now_ns)) {
        mac2 = blake2s_mac(cookie_, packet.first(mac2_offset(n)));
    }
    std::memcpy(packet.data() + mac2_offset(n), mac2.data(), kMacSize);
}

Status CookieJar::consume_reply(std::span<const uint8_t> packet, uint64_t now_ns) {
    const auto parsed = parse_cookie_reply(packet);
    if (!parsed.ok()) {
        return make_error("cookie reply", std::string(parse_reason_name(parsed.reason)));
    }
    if (!has_last_mac1_) {
        return make_error("cookie reply", "no handshake message was sent to answer");
    }
    std::array<uint8_t, kCookieSize> cookie;
    const auto sealed = parsed.view.encrypted_cookie();
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            cookie.data(), nullptr, nullptr, sealed.data(), sealed.size(), last_mac1_.data(),
            kMacSize, parsed.view.nonce().data(), cookie_key_.data()) != 0) {
        return make_error("cookie reply", "cookie does not decrypt");
    }
    cookie_ = cookie;
    sodium_memzero(cookie.data(), cookie.size());
    cookie_born_ns_ = now_ns;
    has_cookie_ = true;
    // One reply per message: a second reply to the same mac1 is a replay.
    has_last_mac1_ = false;
    return Ok{};
}

}  // namespace jg::proto
