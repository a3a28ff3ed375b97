// host_cpus: the CPUs this process may run on, which is where its lcores can be pinned.
// Control path; any thread (reads the calling thread's affinity mask, shares no state).
#pragma once

#include <cstdint>
#include <vector>

#include "base/result.hpp"

namespace jg {

// CPU ids in this process's affinity mask (sched_getaffinity), sorted. A CPU that is online
// but excluded by taskset or a cgroup cpuset is not in the list: DPDK could not pin to it.
Result<std::vector<uint32_t>> available_cpus();

}  // namespace jg
