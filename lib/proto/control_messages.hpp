// Jumping control messages (0x01-0x0A, carried as transport-data plaintext) and the
// classification of decrypted plaintexts. No allocation: workers and the control core may call.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <variant>

namespace jg::proto {

// Wire layouts. Byte 0 is the type; integers little-endian; every message has a fixed size
// except HELLO (7 + n_paths). After decryption a message is followed by zero padding up to
// a multiple of 16, which classify_plaintext() strips.
//
// | type | message          | bytes | fields after the type byte                              |
// |------|------------------|-------|---------------------------------------------------------|
// | 0x01 | HELLO            | 7+n   | version u8, capabilities u32, n_paths u8 (<= 8),        |
// |      |                  |       | path_ids u8[n_paths]                                    |
// | 0x02 | HELLO_ACK        | 33    | version u8, session_id u64, state u8, state_version u64,|
// |      |                  |       | heartbeat_interval_ms u32, heartbeat_volatile_ms u32,   |
// |      |                  |       | loss_volatile_permille u16, reattach_proof_max_age_ms u32|
// | 0x03 | HEARTBEAT        | 24    | seq u32, path_id u8, send_ts_ms u64, loss_permille u16, |
// |      |                  |       | rtt_us u32, jitter_us u32                               |
// | 0x04 | HEARTBEAT_ACK    | 31    | seq u32, path_id u8, echo_ts_ms u64, rx_packets u32,    |
// |      |                  |       | counter_gaps u32, state u8, state_version u64           |
// | 0x05 | REATTACH_REQUEST | 35    | session_id u64, path_id u8, reason u8,                  |
// |      |                  |       | client_time_ms u64, nonce u64, last_state_version u64   |
// | 0x06 | PATH_CHALLENGE   | 9     | data[8]                                                 |
// | 0x07 | PATH_RESPONSE    | 9     | data[8] (the challenge's, echoed)                       |
// | 0x08 | REATTACH_RESULT  | 12    | accepted u8 (0/1), reason u16, state_version u64        |
// | 0x09 | STATE_HINT       | 12    | state u8 (HintState), reason u16, state_version u64     |
// | 0x0A | TERMINATE        | 3     | reason u16                                              |
//
// Reason fields are lib/session reason codes as numbers; this layer carries them opaquely.
// Permille values are <= 1000.

inline constexpr uint8_t kExtensionVersion = 1;
inline constexpr size_t kMaxHelloPaths = 8;
inline constexpr uint16_t kPermilleMax = 1000;

enum class ControlType : uint8_t {
    hello = 0x01,
    hello_ack = 0x02,
    heartbeat = 0x03,
    heartbeat_ack = 0x04,
    reattach_request = 0x05,
    path_challenge = 0x06,
    path_response = 0x07,
    reattach_result = 0x08,
    state_hint = 0x09,
    terminate = 0x0A,
};
inline constexpr uint8_t kControlTypeFirst = 0x01;
inline constexpr uint8_t kControlTypeLast = 0x0A;
// Bytes 0x01..0x0F are reserved for control messages (never a valid IP version nibble).
inline constexpr uint8_t kControlRangeLast = 0x0F;

// Session state as the wire carries it (HELLO_ACK, HEARTBEAT_ACK).
enum class WireState : uint8_t {
    attached = 1,
    volatile_ = 2,
    recovering = 3,
    degraded = 4,
    terminated = 5,
};
inline constexpr uint8_t kWireStateLast = 5;

// What a STATE_HINT announces.
enum class HintState : uint8_t {
    volatile_ = 1,
    degraded = 2,
    terminating = 3,
};
inline constexpr uint8_t kHintStateLast = 3;

// Why a client asks to reattach.
enum class ReattachReason : uint8_t {
    path_degraded = 1,
    path_lost = 2,
    better_path = 3,
    address_changed = 4,
    user_request = 5,
};
inline constexpr uint8_t kReattachReasonLast = 5;

struct Hello {
    uint8_t version = kExtensionVersion;
    uint32_t capabilities = 0;
    uint8_t n_paths = 0;
    std::array<uint8_t, kMaxHelloPaths> path_ids{};
    bool operator==(const Hello &) const = default;
};
struct HelloAck {
    uint8_t version = kExtensionVersion;
    uint64_t session_id = 0;
    WireState state = WireState::attached;
    uint64_t state_version = 0;
    uint32_t heartbeat_interval_ms = 0;
    uint32_t heartbeat_volatile_ms = 0;
    uint16_t loss_volatile_permille = 0;
    uint32_t reattach_proof_max_age_ms = 0;
    bool operator==(const HelloAck &) const = default;
};
struct Heartbeat {
    uint32_t seq = 0;
    uint8_t path_id = 0;
    uint64_t send_ts_ms = 0;
    uint16_t loss_permille = 0;
    uint32_t rtt_us = 0;
    uint32_t jitter_us = 0;
    bool operator==(const Heartbeat &) const = default;
};
struct HeartbeatAck {
    uint32_t seq = 0;
    uint8_t path_id = 0;
    uint64_t echo_ts_ms = 0;
    uint32_t rx_packets = 0;
    uint32_t counter_gaps = 0;
    WireState state = WireState::attached;
    uint64_t state_version = 0;
    bool operator==(const HeartbeatAck &) const = default;
};
struct ReattachRequest {
    uint64_t session_id = 0;
    uint8_t path_id = 0;
    ReattachReason reason = ReattachReason::path_degraded;
    uint64_t client_time_ms = 0;
    uint64_t nonce = 0;
    uint64_t last_state_version = 0;
    bool operator==(const ReattachRequest &) const = default;
};
struct PathChallenge {
    std::array<uint8_t, 8> data{};
    bool operator==(const PathChallenge &) const = default;
};
struct PathResponse {
    std::array<uint8_t, 8> data{};
    bool operator==(const PathResponse &) const = default;
};
struct ReattachResult {
    bool accepted = false;
    uint16_t reason = 0;
    uint64_t state_version = 0;
    bool operator==(const ReattachResult &) const = default;
};
struct StateHint {
    HintState state = HintState::volatile_;
    uint16_t reason = 0;
    uint64_t state_version = 0;
    bool operator==(const StateHint &) const = default;
};
struct Terminate {
    uint16_t reason = 0;
    bool operator==(const Terminate &) const = default;
};

// Alternatives in type order: index() + 1 == the type byte.
using ControlMessage =
    std::variant<Hello, HelloAck, Heartbeat, HeartbeatAck, ReattachRequest, PathChallenge,
                 PathResponse, ReattachResult, StateHint, Terminate>;

#define JG_PROTO_CONTROL_REJECTS(X)                                         \
    X(ok)                                                                   \
    X(empty)               /* no bytes */                                   \
    X(unknown_type)        /* byte 0 outside 0x01..0x0A */                  \
    X(wrong_length)        /* not exactly the type's size */                \
    X(unsupported_version) /* HELLO / HELLO_ACK version other than ours */  \
    X(bad_enum)            /* state, reason or boolean outside its range */ \
    X(too_many_paths)      /* HELLO n_paths > kMaxHelloPaths */             \
    X(out_of_range)        /* permille above 1000 */

enum class ControlReject : uint8_t {
#define JG_X(name) name,
    JG_PROTO_CONTROL_REJECTS(JG_X)
#undef JG_X
};
std::string_view control_reject_name(ControlReject r);

struct ControlDecoded {
    ControlMessage message;
    ControlReject reason;
    bool ok() const { return reason == ControlReject::ok; }
};

inline ControlType control_type_of(const ControlMessage &m) {
    return static_cast<ControlType>(m.index() + 1);
}

// Exact encoded size of `m` (bytes, before padding).
size_t control_encoded_size(const ControlMessage &m);
// Writes `m` into `out`; returns bytes written, 0 when `out` is too small or `m` holds an
// out-of-range value (n_paths > 8) that the decoder would refuse.
size_t encode_control(const ControlMessage &m, std::span<uint8_t> out);
// Strict decode of exactly one message (no padding: classify_plaintext() gives the length).
ControlDecoded decode_control(std::span<const uint8_t> in);

// ---- Plaintext classification (after transport decryption) ----
enum class PlaintextKind : uint8_t { keepalive, ipv4, ipv6, control, invalid };
std::string_view plaintext_kind_name(PlaintextKind k);

struct PlaintextClass {
    PlaintextKind kind;
    uint16_t length;  // bytes of the packet or message without padding (0 when invalid)
};

// keepalive: empty. ipv4: version 4, header length >= 20, total length in [20, size].
// ipv6: version 6, 40 + payload length <= size. control: byte 0 in 0x01..0x0A, its intrinsic
// length fits. Anything after `length` is padding and is ignored, as WireGuard does.
PlaintextClass classify_plaintext(std::span<const uint8_t> plaintext);

// Plaintext length after zero padding to a multiple of 16 (bytes).
constexpr size_t padded_plaintext_size(size_t len) {
    return (len + 15) / 16 * 16;
}

// As WireGuard pads: to a multiple of 16 but never beyond the tunnel MTU (bytes), and not at
// all for a plaintext already at or above it, so a full-size packet does not grow past what
// the outer path was sized for.
constexpr size_t padded_plaintext_size(size_t len, size_t mtu) {
    if (len >= mtu)
        return len;
    const size_t padded = padded_plaintext_size(len);
    return padded < mtu ? padded : mtu;
}

}  // namespace jg::proto
