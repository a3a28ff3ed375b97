// ControlStats: what the control core publishes for the metrics scrape (sessions by state,
// handshake results, crypto bytes). publish: the control core; latest: any thread.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "session/state.hpp"

namespace jg {

struct ControlStats {
    // Sessions listed in each state now (TERMINATED ones while they are retained).
    std::array<uint64_t, kSessionStateCount> sessions_by_state{};
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

}  // namespace jg
