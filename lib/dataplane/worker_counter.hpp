// Counter: a statistic with exactly one writing core and any number of readers.
// Hot path; the writer adds without a locked instruction, readers never see a torn value.
#pragma once

#include <atomic>
#include <cstdint>

namespace jg::dp {

using Counter = std::atomic<uint64_t>;
static_assert(Counter::is_always_lock_free);

// Only the counter's single writer may call this.
inline void counter_add(Counter &c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

inline void counter_set(Counter &c, uint64_t v) {
    c.store(v, std::memory_order_relaxed);
}

}  // namespace jg::dp
