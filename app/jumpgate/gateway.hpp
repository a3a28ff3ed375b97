// Gateway bring-up and shutdown: EAL from the config, ports, mbuf pool, worker lcores as the
// core/queue map says, the control loop on the control lcore. Main thread only.
#pragma once

#include <cstdint>
#include <ostream>

#include "config/gateway_config.hpp"

namespace jg::app {

struct RunOptions {
    int64_t run_for_ms = 0;         // 0 = until SIGINT/SIGTERM
    int64_t stats_interval_ms = 0;  // 0 = no periodic statistics line
};

// Runs the gateway until a signal (or the run time) stops it. Returns the process exit
// code: 0 after a clean shutdown, 1 when bring-up failed (the reason is on `log`).
int run_gateway(const GatewayConfig &config, const RunOptions &opts, std::ostream &log);

}  // namespace jg::app
