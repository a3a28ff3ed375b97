// IndexTable: random 32-bit receiver indices, unique among live ones, each bound to an
// owner id (a session or handshake). Control core only; the data plane keeps its own hash.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>

#include "base/result.hpp"

namespace jg::proto {

class IndexTable {
  public:
    using RandomSource = std::function<uint32_t()>;

    // Draws indices from libsodium's CSPRNG.
    IndexTable();
    // Draws from `random` instead (tests force collisions through it).
    explicit IndexTable(RandomSource random);

    // A fresh index not currently live, bound to `owner`. Fails only if many draws in a
    // row collide, which means the table is absurdly full.
    Result<uint32_t> allocate(uint64_t owner);
    // Frees `index`; false if it was not live.
    bool release(uint32_t index);
    std::optional<uint64_t> owner(uint32_t index) const;
    bool contains(uint32_t index) const { return live_.count(index) != 0; }
    size_t size() const { return live_.size(); }

  private:
    static constexpr int kMaxDraws = 64;
    RandomSource random_;
    std::unordered_map<uint32_t, uint64_t> live_;
};

}  // namespace jg::proto
