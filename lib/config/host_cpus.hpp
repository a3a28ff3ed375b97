// host_cpus: the CPUs online on this machine, which is where DPDK can pin lcores.
// Control path; any thread (reads sysfs, shares no state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace jg {

// Online CPU ids (/sys/devices/system/cpu/online), sorted. Not this process's affinity mask:
// DPDK pins each lcore thread itself, so CPUs kept from ordinary tasks (isolcpus, a systemd
// CPUAffinity, taskset) are exactly where a gateway's workers belong.
Result<std::vector<uint32_t>> available_cpus();

// The kernel's CPU list format ("0-3,6,8-9", trailing newline allowed), expanded and sorted
// as written; an error names the text.
Result<std::vector<uint32_t>> parse_cpu_list(const std::string &text);

}  // namespace jg
