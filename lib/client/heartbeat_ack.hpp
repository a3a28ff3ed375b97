// HEARTBEAT figures both ways: what a HEARTBEAT_ACK may tell the client about one path, and
// the client's health estimates as HEARTBEAT's integer fields. An ack is authenticated, but
// only values the client itself could have caused are believed: a faulty gateway must not
// overflow the RTT arithmetic or report losses of heartbeats never sent. Pure; the client's
// loop thread.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>

#include "proto/control_messages.hpp"

namespace jg::client {

// One path's heartbeat sequence as the client keeps it, with the send times of the last
// kRemembered heartbeats (an ack of an older one is refused).
struct HeartbeatSequence {
    static constexpr uint32_t kRemembered = 64;

    uint8_t path_id = 0;
    uint32_t next_seq = 1;        // the next HEARTBEAT carries this seq (the first is 1)
    uint32_t last_acked_seq = 0;  // the highest seq acknowledged so far (0: none)
    std::array<uint64_t, kRemembered> sent_ms{};  // by seq % kRemembered

    // The seq of a HEARTBEAT sent now, whose send_ts_ms is `now_ms` (timer ms, >= 0).
    uint32_t send(int64_t now_ms) {
        sent_ms[next_seq % kRemembered] = uint64_t(now_ms);
        return next_seq++;
    }
};

struct AckSample {
    uint32_t seq = 0;
    double rtt_ms = 0.0;  // now - the send time the ack echoes
    // Heartbeats between the previous highest ack and this one, sent at most the loss
    // window before this one (older losses are not news: a path dead for minutes, back now).
    uint32_t lost = 0;
};

// The sample an ack gives, or nullopt when it cannot answer a heartbeat sent on this path:
// another path id, seq 0, not sent yet or no longer remembered, or an echoed send time other
// than that heartbeat's (or after `now_ms`). Updates `seq.last_acked_seq` when the ack is the
// newest. Losses count only heartbeats still remembered and sent no more than
// `loss_window_ms` before the acked one.
std::optional<AckSample> take_heartbeat_ack(
    const proto::HeartbeatAck &ack, HeartbeatSequence &seq, int64_t now_ms,
    int64_t loss_window_ms = std::numeric_limits<int64_t>::max());

// A duration in ms as a wire field in µs: 0 for negative or NaN, saturating at UINT32_MAX.
uint32_t wire_us(double ms);
// A ratio as a wire field in 1/1000: 0 for negative or NaN, at most 1000.
uint16_t wire_permille(double ratio);

}  // namespace jg::client
