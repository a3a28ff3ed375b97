// ControlCore: the gateway's control core put together: drains the workers' up rings into the
// SessionDirectory, runs its timers, and writes the tables and down rings through
// DpdkDataplaneLink. Runs on the control (EAL main) lcore only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "config/gateway_config.hpp"
#include "config/keys.hpp"
#include "control/dpdk_dataplane_link.hpp"
#include "control/session_directory.hpp"
#include "dataplane/tables.hpp"
#include "telemetry/audit_writer.hpp"

struct rte_mempool;
struct rte_ring;

namespace jg::control {

// Events taken from one up ring per poll(): bounds the time one busy worker can hold the
// control core, so timers and the other workers' rings still get their turn.
inline constexpr unsigned kUpBurstPerRing = 32;

// The rings and pool the gateway created before launching the workers; one entry per worker.
struct ControlRings {
    std::span<rte_ring *const> up;    // worker w -> control core (single consumer: us)
    std::span<rte_ring *const> down;  // control core -> worker w (single producer: us)
    rte_mempool *pool = nullptr;      // packet mbufs with dp::kMbufPrivSize of private area
    uint16_t outer_port_id = 0;
};

class ControlCore {
  public:
    // Reads the peers' PSK files now (start-up); everything after runs without I/O.
    // `tables`, the rings, the pool and `audit` must outlive the ControlCore.
    static Result<std::unique_ptr<ControlCore>> create(const GatewayConfig &config,
                                                       const SecretKey &private_key,
                                                       dp::Tables &tables,
                                                       const ControlRings &rings,
                                                       AuditWriter &audit);

    // Drains every up ring (at most kUpBurstPerRing mbufs each) and frees the mbufs.
    // `now_ms`: control_clock() ms (see SessionDirectory). Returns how many events it handled.
    unsigned poll(int64_t now_ms);
    // Timers (health, TTLs, recovery windows, key expiry) and RCU reclamation.
    // `system_offset_ms`: control_clock().system_offset_ms(), for clients' wall-clock times.
    void tick(int64_t now_ms, int64_t system_offset_ms = 0);

    std::vector<SessionSummary> sessions_snapshot() const {
        return directory_->sessions_snapshot();
    }
    const DirectoryStats &stats() const { return directory_->stats(); }
    const HandshakeStats &handshake_stats() const { return directory_->handshake_stats(); }
    uint64_t malformed_events() const { return malformed_events_; }
    SessionDirectory &directory() { return *directory_; }
    const SessionDirectory &directory() const { return *directory_; }

    ControlCore(dp::Tables &tables, const ControlRings &rings);
    ControlCore(const ControlCore &) = delete;
    ControlCore &operator=(const ControlCore &) = delete;

  private:
    DpdkDataplaneLink link_;
    std::vector<rte_ring *> up_;
    std::unique_ptr<SessionDirectory> directory_;
    uint64_t malformed_events_ = 0;  // multi-segment or unknown-kind mbufs on an up ring
};

}  // namespace jg::control
