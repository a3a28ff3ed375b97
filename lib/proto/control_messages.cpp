#include "proto/control_messages.hpp"

#include <cstring>

#include "proto/messages.hpp"

namespace jg::proto {
namespace {

constexpr std::string_view kControlRejectNames[] = {
#define JG_X(name) #name,
    JG_PROTO_CONTROL_REJECTS(JG_X)
#undef JG_X
};

// Fixed sizes in bytes, type byte included; HELLO's is its size with no path ids.
constexpr size_t kHelloBaseSize = 7;
constexpr size_t kFixedSize[] = {
    0,               // unused: types start at 0x01
    kHelloBaseSize,  // HELLO (+ n_paths)
    33,              // HELLO_ACK
    24,              // HEARTBEAT
    31,              // HEARTBEAT_ACK
    35,              // REATTACH_REQUEST
    9,               // PATH_CHALLENGE
    9,               // PATH_RESPONSE
    12,              // REATTACH_RESULT
    12,              // STATE_HINT
    3,               // TERMINATE
};

// Sequential little-endian writer/reader over a buffer whose size the caller checked.
struct Writer {
    uint8_t *p;
    void u8(uint8_t v) { *p++ = v; }
    void u16(uint16_t v) {
        store_le16(p, v);
        p += 2;
    }
    void u32(uint32_t v) {
        store_le32(p, v);
        p += 4;
    }
    void u64(uint64_t v) {
        store_le64(p, v);
        p += 8;
    }
    void raw(const uint8_t *src, size_t n) {
        std::memcpy(p, src, n);
        p += n;
    }
};

struct Reader {
    const uint8_t *p;
    uint8_t u8() { return *p++; }
    uint16_t u16() {
        const uint16_t v = load_le16(p);
        p += 2;
        return v;
    }
    uint32_t u32() {
        const uint32_t v = load_le32(p);
        p += 4;
        return v;
    }
    uint64_t u64() {
        const uint64_t v = load_le64(p);
        p += 8;
        return v;
    }
    void raw(uint8_t *dst, size_t n) {
        std::memcpy(dst, p, n);
        p += n;
    }
};

bool valid_wire_state(uint8_t v) {
    return v >= 1 && v <= kWireStateLast;
}
bool valid_hint_state(uint8_t v) {
    return v >= 1 && v <= kHintStateLast;
}
bool valid_reattach_reason(uint8_t v) {
    return v >= 1 && v <= kReattachReasonLast;
}

// ---- encoders: one per message, body only (the type byte is written by the caller) ----
void encode_body(const Hello &m, Writer &w) {
    w.u8(m.version);
    w.u32(m.capabilities);
    w.u8(m.n_paths);
    w.raw(m.path_ids.data(), m.n_paths);
}
void encode_body(const HelloAck &m, Writer &w) {
    w.u8(m.version);
    w.u64(m.session_id);
    w.u8(static_cast<uint8_t>(m.state));
    w.u64(m.state_version);
    w.u32(m.heartbeat_interval_ms);
    w.u32(m.heartbeat_volatile_ms);
    w.u16(m.loss_volatile_permille);
    w.u32(m.reattach_proof_max_age_ms);
}
void encode_body(const Heartbeat &m, Writer &w) {
    w.u32(m.seq);
    w.u8(m.path_id);
    w.u64(m.send_ts_ms);
    w.u16(m.loss_permille);
    w.u32(m.rtt_us);
    w.u32(m.jitter_us);
}
void encode_body(const HeartbeatAck &m, Writer &w) {
    w.u32(m.seq);
    w.u8(m.path_id);
    w.u64(m.echo_ts_ms);
    w.u32(m.rx_packets);
    w.u32(m.counter_gaps);
    w.u8(static_cast<uint8_t>(m.state));
    w.u64(m.state_version);
}
void encode_body(const ReattachRequest &m, Writer &w) {
    w.u64(m.session_id);
    w.u8(m.path_id);
    w.u8(static_cast<uint8_t>(m.reason));
    w.u64(m.client_time_ms);
    w.u64(m.nonce);
    w.u64(m.last_state_version);
}
void encode_body(const PathChallenge &m, Writer &w) {
    w.raw(m.data.data(), m.data.size());
}
void encode_body(const PathResponse &m, Writer &w) {
    w.raw(m.data.data(), m.data.size());
}
void encode_body(const ReattachResult &m, Writer &w) {
    w.u8(m.accepted ? 1 : 0);
    w.u16(m.reason);
    w.u64(m.state_version);
}
void encode_body(const StateHint &m, Writer &w) {
    w.u8(static_cast<uint8_t>(m.state));
    w.u16(m.reason);
    w.u64(m.state_version);
}
void encode_body(const Terminate &m, Writer &w) {
    w.u16(m.reason);
}

// ---- decoders: body only, size already exact; return the first violated rule ----
ControlReject decode_body(Reader &r, Hello &m) {
    m.version = r.u8();
    m.capabilities = r.u32();
    m.n_paths = r.u8();
    r.raw(m.path_ids.data(), m.n_paths);
    return m.version == kExtensionVersion ? ControlReject::ok : ControlReject::unsupported_version;
}
ControlReject decode_body(Reader &r, HelloAck &m) {
    m.version = r.u8();
    m.session_id = r.u64();
    const uint8_t state = r.u8();
    m.state = static_cast<WireState>(state);
    m.state_version = r.u64();
    m.heartbeat_interval_ms = r.u32();
    m.heartbeat_volatile_ms = r.u32();
    m.loss_volatile_permille = r.u16();
    m.reattach_proof_max_age_ms = r.u32();
    if (m.version != kExtensionVersion) {
        return ControlReject::unsupported_version;
    }
    if (!valid_wire_state(state)) {
        return ControlReject::bad_enum;
    }
    return m.loss_volatile_permille <= kPermilleMax ? ControlReject::ok
                                                    : ControlReject::out_of_range;
}
ControlReject decode_body(Reader &r, Heartbeat &m) {
    m.seq = r.u32();
    m.path_id = r.u8();
    m.send_ts_ms = r.u64();
    m.loss_permille = r.u16();
    m.rtt_us = r.u32();
    m.jitter_us = r.u32();
    return m.loss_permille <= kPermilleMax ? ControlReject::ok : ControlReject::out_of_range;
}
ControlReject decode_body(Reader &r, HeartbeatAck &m) {
    m.seq = r.u32();
    m.path_id = r.u8();
    m.echo_ts_ms = r.u64();
    m.rx_packets = r.u32();
    m.counter_gaps = r.u32();
    const uint8_t state = r.u8();
    m.state = static_cast<WireState>(state);
    m.state_version = r.u64();
    return valid_wire_state(state) ? ControlReject::ok : ControlReject::bad_enum;
}
ControlReject decode_body(Reader &r, ReattachRequest &m) {
    m.session_id = r.u64();
    m.path_id = r.u8();
    const uint8_t reason = r.u8();
    m.reason = static_cast<ReattachReason>(reason);
    m.client_time_ms = r.u64();
    m.nonce = r.u64();
    m.last_state_version = r.u64();
    return valid_reattach_reason(reason) ? ControlReject::ok : ControlReject::bad_enum;
}
ControlReject decode_body(Reader &r, PathChallenge &m) {
    r.raw(m.data.data(), m.data.size());
    return ControlReject::ok;
}
ControlReject decode_body(Reader &r, PathResponse &m) {
    r.raw(m.data.data(), m.data.size());
    return ControlReject::ok;
}
ControlReject decode_body(Reader &r, ReattachResult &m) {
    const uint8_t accepted = r.u8();
    m.accepted = accepted == 1;
    m.reason = r.u16();
    m.state_version = r.u64();
    return accepted <= 1 ? ControlReject::ok : ControlReject::bad_enum;
}
ControlReject decode_body(Reader &r, StateHint &m) {
    const uint8_t state = r.u8();
    m.state = static_cast<HintState>(state);
    m.reason = r.u16();
    m.state_version = r.u64();
    return valid_hint_state(state) ? ControlReject::ok : ControlReject::bad_enum;
}
ControlReject decode_body(Reader &r, Terminate &m) {
    m.reason = r.u16();
    return ControlReject::ok;
}

// Size a message of type `type` must have given its first bytes; 0 when it cannot be
// known (unknown type, or a HELLO too short to hold n_paths, or with too many paths).
size_t intrinsic_size(std::span<const uint8_t> in, ControlReject *why) {
    const uint8_t type = in[0];
    if (type < kControlTypeFirst || type > kControlTypeLast) {
        *why = ControlReject::unknown_type;
        return 0;
    }
    if (type != static_cast<uint8_t>(ControlType::hello)) {
        return kFixedSize[type];
    }
    if (in.size() < kHelloBaseSize) {
        *why = ControlReject::wrong_length;
        return 0;
    }
    const uint8_t n_paths = in[kHelloBaseSize - 1];
    if (n_paths > kMaxHelloPaths) {
        *why = ControlReject::too_many_paths;
        return 0;
    }
    return kHelloBaseSize + n_paths;
}

template <size_t I = 0>
ControlReject decode_alternative(size_t index, Reader &r, ControlMessage &out) {
    if constexpr (I < std::variant_size_v<ControlMessage>) {
        if (index == I) {
            std::variant_alternative_t<I, ControlMessage> m{};
            const ControlReject why = decode_body(r, m);
            out = m;
            return why;
        }
        return decode_alternative<I + 1>(index, r, out);
    } else {
        return ControlReject::unknown_type;
    }
}

}  // namespace

std::string_view control_reject_name(ControlReject r) {
    return kControlRejectNames[static_cast<size_t>(r)];
}

std::string_view plaintext_kind_name(PlaintextKind k) {
    switch (k) {
        case PlaintextKind::keepalive:
            return "keepalive";
        case PlaintextKind::ipv4:
            return "ipv4";
        case PlaintextKind::ipv6:
            return "ipv6";
        case PlaintextKind::control:
            return "control";
        case PlaintextKind::invalid:
            return "invalid";
    }
    return "invalid";
}

size_t control_encoded_size(const ControlMessage &m) {
    if (const auto *hello = std::get_if<Hello>(&m)) {
        return kHelloBaseSize + hello->n_paths;
    }
    return kFixedSize[m.index() + 1];
}

size_t encode_control(const ControlMessage &m, std::span<uint8_t> out) {
    if (const auto *hello = std::get_if<Hello>(&m); hello && hello->n_paths > kMaxHelloPaths) {
        return 0;
    }
    const size_t size = control_encoded_size(m);
    if (out.size() < size) {
        return 0;
    }
    Writer w{out.data()};
    w.u8(static_cast<uint8_t>(control_type_of(m)));
    std::visit([&w](const auto &msg) { encode_body(msg, w); }, m);
    return size;
}

ControlDecoded decode_control(std::span<const uint8_t> in) {
    ControlDecoded out{Terminate{}, ControlReject::ok};
    if (in.empty()) {
        out.reason = ControlReject::empty;
        return out;
    }
    ControlReject why = ControlReject::ok;
    const size_t size = intrinsic_size(in, &why);
    if (size == 0) {
        out.reason = why;
        return out;
    }
    if (in.size() != size) {
        out.reason = ControlReject::wrong_length;
        return out;
    }
    Reader r{in.data() + 1};
    out.reason = decode_alternative(size_t(in[0]) - 1, r, out.message);
    return out;
}

PlaintextClass classify_plaintext(std::span<const uint8_t> p) {
    constexpr PlaintextClass kInvalid{PlaintextKind::invalid, 0};
    if (p.empty()) {
        return {PlaintextKind::keepalive, 0};
    }
    // Lengths above 65535 cannot be IP packets nor control messages.
    if (p.size() > 0xffff + kPaddingMultiple) {
        return kInvalid;
    }
    const uint8_t version = p[0] >> 4;
    if (version == 4) {
        if (p.size() < 20) {
            return kInvalid;
        }
        const size_t ihl = size_t(p[0] & 0x0f) * 4;
        const size_t total = size_t(p[2]) << 8 | p[3];
        if (ihl < 20 || total < ihl || total > p.size()) {
            return kInvalid;
        }
        return {PlaintextKind::ipv4, uint16_t(total)};
    }
    if (version == 6) {
        if (p.size() < 40) {
            return kInvalid;
        }
        const size_t total = 40 + (size_t(p[4]) << 8 | p[5]);
        if (total > p.size() || total > 0xffff) {
            return kInvalid;
        }
        return {PlaintextKind::ipv6, uint16_t(total)};
    }
    if (p[0] >= kControlTypeFirst && p[0] <= kControlRangeLast) {
        ControlReject why = ControlReject::ok;
        const size_t size = intrinsic_size(p, &why);
        if (size == 0 || size > p.size()) {
            return kInvalid;
        }
        return {PlaintextKind::control, uint16_t(size)};
    }
    return kInvalid;
}

}  // namespace jg::proto
