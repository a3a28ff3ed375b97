#include "config/host_cpus.hpp"

#include <sched.h>

#include <cerrno>
#include <cstring>

namespace jg {

Result<std::vector<uint32_t>> available_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return make_error("sched_getaffinity",
                          std::string("cannot read this process's CPUs: ") + std::strerror(errno));
    std::vector<uint32_t> cpus;
    for (uint32_t c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set))
            cpus.push_back(c);
    return cpus;
}

}  // namespace jg
