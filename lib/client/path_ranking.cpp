#include "client/path_ranking.hpp"

#include <algorithm>
#include <tuple>

namespace jg::client {

std::vector<uint8_t> rank_candidates(std::span<const PathStanding> paths, uint8_t active,
                                     int64_t now_ms, int64_t fresh_ms) {
    std::vector<const PathStanding *> usable;
    for (const PathStanding &p : paths)
        if (p.id != active && p.open)
            usable.push_back(&p);
    const auto key = [&](const PathStanding *p) {
        const bool fresh = p->last_rx_ms != kNeverHeard && now_ms - p->last_rx_ms < fresh_ms;
        const double score = p->has_health ? path_score(p->health) : -1.0;
        // Larger is better for the first three; the id breaks ties ascending.
        return std::make_tuple(!p->can_send, !fresh, -score, p->id);
    };
    std::stable_sort(usable.begin(), usable.end(),
                     [&](const PathStanding *a, const PathStanding *b) { return key(a) < key(b); });
    std::vector<uint8_t> out;
    out.reserve(usable.size());
    for (const PathStanding *p : usable)
        out.push_back(p->id);
    return out;
}

int64_t reattach_retry_ms(int64_t heartbeat_volatile_ms) {
    return std::max(heartbeat_volatile_ms / 2, kMinReattachIntervalMs);
}

}  // namespace jg::client
