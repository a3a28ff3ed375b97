#include "client/heartbeat_ack.hpp"

#include <cmath>
#include <limits>

namespace jg::client {

std::optional<AckSample> take_heartbeat_ack(const proto::HeartbeatAck &ack, HeartbeatSequence &seq,
                                            int64_t now_ms) {
    if (ack.path_id != seq.path_id || ack.seq == 0 || ack.seq >= seq.next_seq ||
        seq.next_seq - ack.seq > HeartbeatSequence::kRemembered || now_ms < 0 ||
        ack.echo_ts_ms > uint64_t(now_ms) ||
        ack.echo_ts_ms != seq.sent_ms[ack.seq % HeartbeatSequence::kRemembered])
        return std::nullopt;
    AckSample s;
    s.seq = ack.seq;
    s.rtt_ms = double(now_ms - int64_t(ack.echo_ts_ms));
    if (ack.seq > seq.last_acked_seq) {
        s.lost = seq.last_acked_seq == 0 ? 0 : ack.seq - seq.last_acked_seq - 1;
        seq.last_acked_seq = ack.seq;
    }
    return s;
}

uint32_t wire_us(double ms) {
    const double us = ms * 1000.0;
    if (!(us > 0.0))
        return 0;
    constexpr double kMax = double(std::numeric_limits<uint32_t>::max());
    return us >= kMax ? std::numeric_limits<uint32_t>::max() : uint32_t(us);
}

uint16_t wire_permille(double ratio) {
    if (!(ratio > 0.0))
        return 0;
    return ratio >= 1.0 ? 1000 : uint16_t(std::lround(ratio * 1000.0));
}

}  // namespace jg::client
