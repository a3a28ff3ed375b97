#include "client/heartbeat_ack.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace jg::client {

std::optional<AckSample> take_heartbeat_ack(const proto::HeartbeatAck &ack, HeartbeatSequence &seq,
                                            int64_t now_ms, int64_t loss_window_ms) {
    if (ack.path_id != seq.path_id || ack.seq == 0 || ack.seq >= seq.next_seq ||
        seq.next_seq - ack.seq > HeartbeatSequence::kRemembered || now_ms < 0 ||
        ack.echo_ts_ms > uint64_t(now_ms) ||
        ack.echo_ts_ms != seq.sent_ms[ack.seq % HeartbeatSequence::kRemembered])
        return std::nullopt;
    AckSample s;
    s.seq = ack.seq;
    s.rtt_ms = double(now_ms - int64_t(ack.echo_ts_ms));
    if (ack.seq > seq.last_acked_seq) {
        if (seq.last_acked_seq != 0) {
            constexpr uint32_t kRing = HeartbeatSequence::kRemembered;
            const uint32_t oldest = seq.next_seq > kRing ? seq.next_seq - kRing : 1;
            const int64_t since = int64_t(ack.echo_ts_ms) - std::max<int64_t>(loss_window_ms, 0);
            const uint32_t first = seq.last_acked_seq + 1;
            // Seqs below `oldest` have no send time left (their slots hold newer ones). They
            // were sent before the oldest remembered one: inside the window too while that one
            // is (short heartbeat intervals), long past when it is not.
            if (first < oldest && oldest < ack.seq && int64_t(seq.sent_ms[oldest % kRing]) >= since)
                s.lost += oldest - first;
            for (uint32_t q = std::max(first, oldest); q < ack.seq; ++q)
                if (int64_t(seq.sent_ms[q % kRing]) >= since)
                    ++s.lost;
        }
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
