#include "telemetry/control_stats.hpp"

namespace jg {

void SessionByteTally::update(std::span<const SessionBytes> live) {
    std::unordered_map<uint64_t, SessionBytes> next;
    next.reserve(live.size());
    for (const SessionBytes &s : live) {
        SessionBytes before{s.session_id, 0, 0};
        if (auto it = seen_.find(s.session_id); it != seen_.end())
            before = it->second;
        // A counter below its last value is a new life of the slot: count it from zero.
        rx_total_ += s.rx_bytes >= before.rx_bytes ? s.rx_bytes - before.rx_bytes : s.rx_bytes;
        tx_total_ += s.tx_bytes >= before.tx_bytes ? s.tx_bytes - before.tx_bytes : s.tx_bytes;
        next.emplace(s.session_id, s);
    }
    seen_ = std::move(next);
}

}  // namespace jg
