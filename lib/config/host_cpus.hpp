// host_cpus: the CPUs online on this machine, which is where DPDK can pin lcores.
// Control path; any thread (reads sysfs, shares no state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace jg {

// Online CPU ids (/sys/devices/system/cpu/online), sorted. Not this process's affinity mask:
// DPDK pins each lcore thread itself, so CPUs kept from ordinary tasks (isolcpus, a systemd
// CPUAffinity, taskset) are exactly where a gateway's workers belong.
Result<std::vector<uint32_t>> available_cpus();

// The kernel's CPU list format ("0-3,6,8-9", trailing newline allowed), expanded in the
// order written; an error names the text.
Result<std::vector<uint32_t>> parse_cpu_list(const std::string &text);

// One item of such a list ("N" or "N-M"; eal.lcores is written the same way) appended to
// `out`. Returns the error sentence, worded for eal.lcores, or nothing: a malformed item, an
// id at or beyond `limit`, an id already in `out`.
std::optional<std::string> add_cpu_list_item(std::string_view item, uint32_t limit,
                                             std::vector<uint32_t> &out);

}  // namespace jg
