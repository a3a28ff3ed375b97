// WireGuard wire format: every constant, offset and limit of message types 1-4, and the
// validating parsers. Pure functions on caller memory: any thread or lcore may call them.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace jg::proto {

// ---- Noise / WireGuard strings (the exact bytes, no terminating NUL) ----
inline constexpr std::string_view kConstruction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr std::string_view kIdentifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr std::string_view kLabelMac1 = "mac1----";
inline constexpr std::string_view kLabelCookie = "cookie--";

// ---- Key and field sizes (bytes) ----
inline constexpr size_t kKeySize = 32;          // X25519 keys, symmetric keys, PSK
inline constexpr size_t kHashSize = 32;         // BLAKE2s-256
inline constexpr size_t kMacSize = 16;          // BLAKE2s-128 (mac1, mac2, cookie)
inline constexpr size_t kTagSize = 16;          // Poly1305
inline constexpr size_t kTimestampSize = 12;    // TAI64N
inline constexpr size_t kCookieNonceSize = 24;  // XChaCha20
inline constexpr size_t kCookieSize = 16;
inline constexpr size_t kCookieSecretSize = 32;

using Key = std::array<uint8_t, kKeySize>;
using Hash = std::array<uint8_t, kHashSize>;
using Mac = std::array<uint8_t, kMacSize>;
using Tai64n = std::array<uint8_t, kTimestampSize>;

// ---- Message types (byte 0; bytes 1..3 are reserved and must be zero) ----
enum class MessageType : uint8_t {
    initiation = 1,
    response = 2,
    cookie_reply = 3,
    transport = 4,
};

// ---- Sizes (bytes) ----
inline constexpr size_t kHeaderSize = 4;  // type + reserved[3]
inline constexpr size_t kInitiationSize = 148;
inline constexpr size_t kResponseSize = 92;
inline constexpr size_t kCookieReplySize = 64;
inline constexpr size_t kTransportHeaderSize = 16;  // type, reserved, receiver, counter
inline constexpr size_t kTransportMinSize = kTransportHeaderSize + kTagSize;  // keepalive
inline constexpr size_t kPaddingMultiple = 16;  // plaintexts are zero-padded to this

// ---- Offsets (bytes from the start of the UDP payload; integers little-endian) ----
namespace initiation_off {
inline constexpr size_t sender = 4;
inline constexpr size_t ephemeral = 8;
inline constexpr size_t encrypted_static = 40;     // 32 + 16
inline constexpr size_t encrypted_timestamp = 88;  // 12 + 16
inline constexpr size_t mac1 = 116;
inline constexpr size_t mac2 = 132;
}  // namespace initiation_off

namespace response_off {
inline constexpr size_t sender = 4;
inline constexpr size_t receiver = 8;
inline constexpr size_t ephemeral = 12;
inline constexpr size_t encrypted_nothing = 44;  // 0 + 16
inline constexpr size_t mac1 = 60;
inline constexpr size_t mac2 = 76;
}  // namespace response_off

namespace cookie_reply_off {
inline constexpr size_t receiver = 4;
inline constexpr size_t nonce = 8;
inline constexpr size_t encrypted_cookie = 32;  // 16 + 16
}  // namespace cookie_reply_off

namespace transport_off {
inline constexpr size_t receiver = 4;
inline constexpr size_t counter = 8;
inline constexpr size_t content = 16;
}  // namespace transport_off

static_assert(initiation_off::mac2 + kMacSize == kInitiationSize);
static_assert(response_off::mac2 + kMacSize == kResponseSize);
static_assert(cookie_reply_off::encrypted_cookie + kCookieSize + kTagSize == kCookieReplySize);

// ---- Limits and timers (WireGuard paper section 6) ----
inline constexpr uint64_t kRekeyAfterMessages = 1ull << 60;
inline constexpr uint64_t kRejectAfterMessages = ~0ull - (1ull << 13);  // 2^64 - 2^13 - 1
inline constexpr uint64_t kNsPerSecond = 1'000'000'000ull;
inline constexpr uint64_t kNsPerMs = 1'000'000ull;
inline constexpr uint64_t kRekeyAfterTimeNs = 120 * kNsPerSecond;
inline constexpr uint64_t kRejectAfterTimeNs = 180 * kNsPerSecond;
inline constexpr uint64_t kRekeyAttemptTimeNs = 90 * kNsPerSecond;
inline constexpr uint64_t kRekeyTimeoutNs = 5 * kNsPerSecond;
inline constexpr uint64_t kKeepaliveTimeoutNs = 10 * kNsPerSecond;
inline constexpr uint64_t kCookieSecretMaxAgeNs = 120 * kNsPerSecond;
// A cookie received in a cookie reply is used for mac2 for this long.
inline constexpr uint64_t kCookieValidNs = 120 * kNsPerSecond;
// Initiations from one peer closer together than this are dropped as a flood (50 per s).
inline constexpr uint64_t kInitiationMinIntervalNs = kNsPerSecond / 50;

// ---- Little-endian access without alignment or aliasing assumptions ----
// One unaligned load or store each (memcpy), byte-swapped only on a big-endian host: the
// byte-by-byte forms were not always merged, and these sit on every packet's path.
template <typename T>
constexpr T byte_swapped(T v) {
    if constexpr (sizeof(T) == 2)
        return T(__builtin_bswap16(v));
    else if constexpr (sizeof(T) == 4)
        return T(__builtin_bswap32(v));
    else
        return T(__builtin_bswap64(v));
}
template <typename T>
inline T load_le(const uint8_t *p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::big)
        v = byte_swapped(v);
    return v;
}
template <typename T>
inline void store_le(uint8_t *p, T v) {
    if constexpr (std::endian::native == std::endian::big)
        v = byte_swapped(v);
    std::memcpy(p, &v, sizeof v);
}
inline uint16_t load_le16(const uint8_t *p) {
    return load_le<uint16_t>(p);
}
inline uint32_t load_le32(const uint8_t *p) {
    return load_le<uint32_t>(p);
}
inline uint64_t load_le64(const uint8_t *p) {
    return load_le<uint64_t>(p);
}
inline void store_le16(uint8_t *p, uint16_t v) {
    store_le(p, v);
}
inline void store_le32(uint8_t *p, uint32_t v) {
    store_le(p, v);
}
inline void store_le64(uint8_t *p, uint64_t v) {
    store_le(p, v);
}

// ---- Parse reasons: one list yields the enum and the names (drop-counter labels) ----
#define JG_PROTO_PARSE_REASONS(X)                                                    \
    X(ok)                                                                            \
    X(truncated)        /* shorter than the header, or a transport under 32 bytes */ \
    X(unknown_type)     /* byte 0 is not 1..4 */                                     \
    X(wrong_type)       /* a valid type, but not the one this parser reads */        \
    X(nonzero_reserved) /* bytes 1..3 are not zero */                                \
    X(wrong_size)       /* handshake or cookie message not exactly its size */

enum class ParseReason : uint8_t {
#define JG_X(name) name,
    JG_PROTO_PARSE_REASONS(JG_X)
#undef JG_X
};

inline constexpr std::string_view kParseReasonNames[] = {
#define JG_X(name) #name,
    JG_PROTO_PARSE_REASONS(JG_X)
#undef JG_X
};
inline constexpr size_t kParseReasonCount = std::size(kParseReasonNames);

constexpr std::string_view parse_reason_name(ParseReason r) {
    return kParseReasonNames[static_cast<size_t>(r)];
}

inline bool is_message_type(uint8_t b) {
    return b >= 1 && b <= 4;
}

// A parser's answer: `view` is meaningful only when reason == ok.
template <class View>
struct Parsed {
    View view;
    ParseReason reason;
    bool ok() const { return reason == ParseReason::ok; }
};

// ---- Typed read-only views over validated bytes (they borrow, never copy) ----
struct InitiationView {
    const uint8_t *p;
    uint32_t sender_index() const { return load_le32(p + initiation_off::sender); }
    std::span<const uint8_t, kKeySize> ephemeral() const {
        return std::span<const uint8_t, kKeySize>(p + initiation_off::ephemeral, kKeySize);
    }
    std::span<const uint8_t, kKeySize + kTagSize> encrypted_static() const {
        return std::span<const uint8_t, kKeySize + kTagSize>(p + initiation_off::encrypted_static,
                                                             kKeySize + kTagSize);
    }
    std::span<const uint8_t, kTimestampSize + kTagSize> encrypted_timestamp() const {
        return std::span<const uint8_t, kTimestampSize + kTagSize>(
            p + initiation_off::encrypted_timestamp, kTimestampSize + kTagSize);
    }
    std::span<const uint8_t, kMacSize> mac1() const {
        return std::span<const uint8_t, kMacSize>(p + initiation_off::mac1, kMacSize);
    }
    std::span<const uint8_t, kMacSize> mac2() const {
        return std::span<const uint8_t, kMacSize>(p + initiation_off::mac2, kMacSize);
    }
};

struct ResponseView {
    const uint8_t *p;
    uint32_t sender_index() const { return load_le32(p + response_off::sender); }
    uint32_t receiver_index() const { return load_le32(p + response_off::receiver); }
    std::span<const uint8_t, kKeySize> ephemeral() const {
        return std::span<const uint8_t, kKeySize>(p + response_off::ephemeral, kKeySize);
    }
    std::span<const uint8_t, kTagSize> encrypted_nothing() const {
        return std::span<const uint8_t, kTagSize>(p + response_off::encrypted_nothing, kTagSize);
    }
    std::span<const uint8_t, kMacSize> mac1() const {
        return std::span<const uint8_t, kMacSize>(p + response_off::mac1, kMacSize);
    }
    std::span<const uint8_t, kMacSize> mac2() const {
        return std::span<const uint8_t, kMacSize>(p + response_off::mac2, kMacSize);
    }
};

struct CookieReplyView {
    const uint8_t *p;
    uint32_t receiver_index() const { return load_le32(p + cookie_reply_off::receiver); }
    std::span<const uint8_t, kCookieNonceSize> nonce() const {
        return std::span<const uint8_t, kCookieNonceSize>(p + cookie_reply_off::nonce,
                                                          kCookieNonceSize);
    }
    std::span<const uint8_t, kCookieSize + kTagSize> encrypted_cookie() const {
        return std::span<const uint8_t, kCookieSize + kTagSize>(
            p + cookie_reply_off::encrypted_cookie, kCookieSize + kTagSize);
    }
};

struct TransportView {
    const uint8_t *p;
    size_t len;  // whole message, bytes
    uint32_t receiver_index() const { return load_le32(p + transport_off::receiver); }
    uint64_t counter() const { return load_le64(p + transport_off::counter); }
    // Ciphertext of the padded plaintext followed by the 16-byte tag.
    std::span<const uint8_t> sealed() const {
        return {p + transport_off::content, len - transport_off::content};
    }
    size_t padded_plaintext_size() const { return len - kTransportMinSize; }
};

// ---- Validating parsers: exact sizes, known type, zero reserved; never read past `in` ----
Parsed<InitiationView> parse_initiation(std::span<const uint8_t> in);
Parsed<ResponseView> parse_response(std::span<const uint8_t> in);
Parsed<CookieReplyView> parse_cookie_reply(std::span<const uint8_t> in);

Parsed<TransportView> parse_transport(std::span<const uint8_t> in);

// What a UDP payload on the outer port is, from its first 4 bytes and its length only (no
// crypto, no allocation): cheap enough for the data plane's per-packet dispatch. `type` is
// meaningful only when reason == ok.
struct OuterClass {
    MessageType type;
    ParseReason reason;
    bool ok() const { return reason == ParseReason::ok; }
};
OuterClass classify_outer_payload(std::span<const uint8_t> in);

}  // namespace jg::proto
