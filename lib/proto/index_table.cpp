#include "proto/index_table.hpp"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <utility>

namespace jg::proto {

unsigned receiver_index_position_bits(uint32_t max_sessions) {
    const uint64_t positions = std::max<uint64_t>(uint64_t(max_sessions) * 4, 16);
    return std::min<unsigned>(unsigned(std::bit_width(positions - 1)), 32);
}

IndexTable::IndexTable() : IndexTable(0u) {}

IndexTable::IndexTable(RandomSource random) : random_(std::move(random)) {}

IndexTable::IndexTable(unsigned position_bits, RandomSource random)
    : random_(random ? std::move(random) : RandomSource([] { return randombytes_random(); })),
      position_bits_(std::min(position_bits, 32u)) {}

Result<uint32_t> IndexTable::allocate(uint64_t owner) {
    if (position_bits_ != 0) {
        uint32_t position;
        if (never_used_ < (uint64_t(1) << position_bits_)) {
            position = uint32_t(never_used_++);
        } else if (!free_.empty()) {
            position = free_.front();
            free_.pop_front();
        } else {
            return make_error("index table", "every receiver index position is live");
        }
        const uint32_t high = position_bits_ >= 32 ? 0 : random_() << position_bits_;
        const uint32_t index = high | position;
        live_.emplace(index, owner);
        return index;
    }
    for (int i = 0; i < kMaxDraws; ++i) {
        const uint32_t index = random_();
        if (live_.emplace(index, owner).second) {
            return index;
        }
    }
    return make_error("index table", "no free index found after repeated random draws");
}

bool IndexTable::release(uint32_t index) {
    if (live_.erase(index) == 0)
        return false;
    if (position_bits_ != 0)
        free_.push_back(receiver_index_position(index, position_bits_));
    return true;
}

std::optional<uint64_t> IndexTable::owner(uint32_t index) const {
    const auto it = live_.find(index);
    if (it == live_.end()) {
        return std::nullopt;
    }
    return it->second;
}

}  // namespace jg::proto
