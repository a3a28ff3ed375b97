#include "proto/index_table.hpp"

#include <sodium.h>

#include <utility>

namespace jg::proto {

IndexTable::IndexTable() : random_([] { return randombytes_random(); }) {}

IndexTable::IndexTable(RandomSource random) : random_(std::move(random)) {}

Result<uint32_t> IndexTable::allocate(uint64_t owner) {
    for (int i = 0; i < kMaxDraws; ++i) {
        const uint32_t index = random_();
        if (live_.emplace(index, owner).second) {
            return index;
        }
    }
    return make_error("index table", "no free index found after repeated random draws");
}

bool IndexTable::release(uint32_t index) {
    return live_.erase(index) != 0;
}

std::optional<uint64_t> IndexTable::owner(uint32_t index) const {
    const auto it = live_.find(index);
    if (it == live_.end()) {
        return std::nullopt;
    }
    return it->second;
}

}  // namespace jg::proto
