// Ranking of a client's candidate paths for a switch away from the active one, from what the
// client knows of each (can it send, when did it last hear the gateway, its health), and the
// pace at which candidates are tried. Pure; the client's loop thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "session/health.hpp"

namespace jg::client {

inline constexpr int64_t kNeverHeard = INT64_MIN;

struct PathStanding {
    uint8_t id = 0;                    // path id (1-based, configuration order)
    bool open = true;                  // socket open on an address that exists
    bool can_send = true;              // its last send did not fail
    int64_t last_rx_ms = kNeverHeard;  // last authenticated packet received on it (ms)
    bool has_health = false;           // `health` holds measurements (heartbeat acks seen)
    HealthSnapshot health;
};

// Open paths other than `active`, best first:
//   1. those that can send before those whose last send failed (only a send tells that a
//      failed path works again, so they stay in the ranking and a rotation reaches them),
//   2. heard from within `fresh_ms` of `now_ms` (a path the gateway answered recently),
//   3. then by path_score of their health (measured paths before unmeasured ones),
//   4. then configuration order (lower id first), so the choice is deterministic.
std::vector<uint8_t> rank_candidates(std::span<const PathStanding> paths, uint8_t active,
                                     int64_t now_ms, int64_t fresh_ms);

// Requests closer together than this would put more than 5 in some second: the gateway drops
// a session's REATTACH_REQUESTs above 10 a second, and the client keeps to half of that.
inline constexpr int64_t kMinReattachIntervalMs = 250;

// How long (ms) a REATTACH_REQUEST may go unanswered before the next candidate is tried: half
// of heartbeat_volatile_ms (a lost request or challenge costs that much recovery time, and a
// retry replaces the pending challenge, so a loaded path needs time to answer), at least
// kMinReattachIntervalMs.
int64_t reattach_retry_ms(int64_t heartbeat_volatile_ms);

}  // namespace jg::client
