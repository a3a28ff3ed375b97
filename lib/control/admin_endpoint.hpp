// AdminEndpoint: the gateway's /jumpgate/... commands on DPDK's telemetry socket (sessions,
// session detail, policy, stats, terminate, policy reload). Created, ticked and destroyed on
// the control lcore (EAL main); its command callbacks run on DPDK's telemetry threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "control/admin_requests.hpp"
#include "dataplane/worker.hpp"

namespace jg::control {

class ControlCore;
struct AdminEndpointState;

// Sessions per /jumpgate/sessions reply: a telemetry reply holds at most 16 KiB of JSON and
// one session takes up to ~450 bytes (a 127-byte peer name and an IPv6 transport).
inline constexpr size_t kAdminSessionsPerPage = 24;
// Profiles per /jumpgate/policy reply: one takes up to ~600 bytes (names of up to 64 bytes),
// and a reply that does not fit would lose entries without an error.
inline constexpr size_t kAdminPolicyProfilesPerPage = 16;
// The read-only commands see the control core at most twice this old (ms); it publishes only
// while they are used.
inline constexpr int64_t kAdminPublishIntervalMs = 250;
// How long a command waits for the control lcore to take a request (ms).
inline constexpr int64_t kAdminRequestTimeoutMs = 2000;

struct AdminSources {
    std::vector<const dp::Worker *> workers;  // counters read by /jumpgate/stats; must outlive
                                              // the endpoint
    std::vector<PeerProfile> peer_profiles;   // every configured peer: a reload must keep them
    // Its write errors are shown by /jumpgate/stats; must outlive the endpoint (nullptr: none).
    const AuditWriter *audit = nullptr;
};

class AdminEndpoint {
  public:
    // Registers the commands (once per process: rte_telemetry cannot unregister) and makes
    // this endpoint the one they serve. Needs rte_eal_init done. Fails if another endpoint
    // is alive: the callbacks carry no user pointer, so the endpoint they reach is
    // process-global and there can be only one.
    static Result<std::unique_ptr<AdminEndpoint>> start(AdminSources sources);
    // Afterwards the commands answer "no gateway is running" errors; waits for callbacks in
    // flight, which no longer block on the control lcore.
    ~AdminEndpoint();
    AdminEndpoint(const AdminEndpoint &) = delete;
    AdminEndpoint &operator=(const AdminEndpoint &) = delete;

    // Control lcore, every tick: answers queued requests; publishes a snapshot right after a
    // request changed something, and every kAdminPublishIntervalMs while commands read them.
    void on_tick(ControlCore &core, int64_t now_ms);

    // Use start(); the state type is private to the endpoint.
    explicit AdminEndpoint(std::shared_ptr<AdminEndpointState> state);

  private:
    std::shared_ptr<AdminEndpointState> state_;
    int64_t next_publish_ms_ = 0;
};

}  // namespace jg::control
