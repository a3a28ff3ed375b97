// WireGuard's DoS defence: mac1/mac2 and cookie replies. CookieChecker is the receiving
// side (one per local identity), CookieJar the sending side (one per remote peer). Control path.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/result.hpp"
#include "proto/messages.hpp"

namespace jg::proto {

enum class MacVerdict : uint8_t {
    ok,
    bad_mac1,     // drop silently
    need_cookie,  // under load and no valid mac2: answer with a cookie reply, skip X25519
};
std::string_view mac_verdict_name(MacVerdict v);

// The bytes a cookie is bound to, as Linux WireGuard hashes them: the IPv4 (4 bytes) or IPv6
// (16 bytes) source address in network order, then the UDP source port big-endian.
struct SourceAddress {
    std::array<uint8_t, 18> bytes{};
    uint8_t len = 0;  // 6 (IPv4) or 18 (IPv6)
    std::span<const uint8_t> span() const { return {bytes.data(), len}; }
};
// `ip` in network byte order (as in the IP header); `port` in host order.
SourceAddress source_address_v4(std::span<const uint8_t, 4> ip, uint16_t port);
SourceAddress source_address_v6(std::span<const uint8_t, 16> ip, uint16_t port);

// Receiving side of mac1/mac2 for messages 1 and 2 addressed to `local_public`.
// `src` is the sender's address as bytes (SourceAddress::span()); only this side computes
// cookies, so any encoding works as long as check() and create_reply() see the same one.
class CookieChecker {
  public:
    explicit CookieChecker(const Key &local_public);
    ~CookieChecker();
    CookieChecker(const CookieChecker &) = default;
    CookieChecker &operator=(const CookieChecker &) = default;

    // mac1 always; mac2 only when `under_load`. `packet`: a whole type-1 or type-2 message
    // (other sizes give bad_mac1). `now_ns`: monotonic, ns.
    MacVerdict check(std::span<const uint8_t> packet, std::span<const uint8_t> src, bool under_load,
                     uint64_t now_ns) const;

    // Type-3 reply to `packet` (whose mac1 verified): cookie = MAC(secret, src), sealed with
    // XChaCha20-Poly1305 under HASH("cookie--" || local_public), AD = the packet's mac1.
    // The secret is regenerated when older than kCookieSecretMaxAgeNs.
    Result<std::array<uint8_t, kCookieReplySize>> create_reply(std::span<const uint8_t> packet,
                                                               std::span<const uint8_t> src,
                                                               uint64_t now_ns);

  private:
    Hash mac1_key_{};
    Hash cookie_key_{};
    std::array<uint8_t, kCookieSecretSize> secret_{};
    uint64_t secret_born_ns_ = 0;
    bool has_secret_ = false;
};

// Sending side towards one peer whose static public key is `remote_public`.
class CookieJar {
  public:
    explicit CookieJar(const Key &remote_public);
    ~CookieJar();
    CookieJar(const CookieJar &) = default;
    CookieJar &operator=(const CookieJar &) = default;

    // Fills mac1, and mac2 when a cookie younger than kCookieValidNs is held (zeros
    // otherwise), of a type-1 or type-2 message about to be sent; remembers mac1 so a
    // cookie reply to this message can be authenticated. `now_ns`: monotonic, ns.
    void add_macs(std::span<uint8_t> packet, uint64_t now_ns);

    // Accepts a type-3 message answering the last message sent through add_macs().
    Status consume_reply(std::span<const uint8_t> packet, uint64_t now_ns);

    bool has_fresh_cookie(uint64_t now_ns) const;

  private:
    Hash mac1_key_{};
    Hash cookie_key_{};
    std::array<uint8_t, kCookieSize> cookie_{};
    uint64_t cookie_born_ns_ = 0;
    bool has_cookie_ = false;
    Mac last_mac1_{};
    bool has_last_mac1_ = false;
};

// mac1 key for messages sent to the holder of `public_key`: HASH("mac1----" || public_key).
Hash mac1_key_for(const Key &public_key);
// Cookie sealing key of the holder of `public_key`: HASH("cookie--" || public_key).
Hash cookie_key_for(const Key &public_key);

}  // namespace jg::proto
