// ControlStats: what the control core publishes for the metrics scrape (sessions by state,
// handshake results, crypto bytes). publish: the control core; latest: any thread.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "session/state.hpp"

namespace jg {

struct ControlStats {
    std::array<uint64_t, kSessionStateCount> sessions_by_state{};  // live sessions now
    // Handshake initiations by outcome ("accepted", "cookie_reply", refusal names); cumulative.
    std::vector<std::pair<std::string, uint64_t>> handshakes_by_result;
    uint64_t cookie_replies = 0;
    uint64_t keepalives_sent = 0;  // passive keepalives queued to the workers; cumulative
    uint64_t crypto_rx_bytes = 0;  // cumulative: decrypted from peers
    uint64_t crypto_tx_bytes = 0;  // cumulative: encrypted towards peers
};

// The control core's copy for the scrape threads: the ControlCore itself is single-threaded
// and must never be called from them. One short critical section per publish and per scrape.
class ControlStatsBoard {
  public:
    void publish(ControlStats stats) {
        std::lock_guard lock(mu_);
        latest_ = std::move(stats);
    }
    std::optional<ControlStats> latest() const {
        std::lock_guard lock(mu_);
        return latest_;
    }

  private:
    mutable std::mutex mu_;
    std::optional<ControlStats> latest_;  // nullopt until the first publish
};

struct SessionBytes {
    uint64_t session_id = 0;
    uint64_t rx_bytes = 0;  // the session's own counters since it was created
    uint64_t tx_bytes = 0;
};

// Turns the per-session byte counters of the live sessions into gateway-wide totals that never
// go down when a session ends (bytes since its last update are lost with it). Control core only.
class SessionByteTally {
  public:
    void update(std::span<const SessionBytes> live);
    uint64_t rx_total() const { return rx_total_; }
    uint64_t tx_total() const { return tx_total_; }

  private:
    std::unordered_map<uint64_t, SessionBytes> seen_;
    uint64_t rx_total_ = 0;
    uint64_t tx_total_ = 0;
};

}  // namespace jg
