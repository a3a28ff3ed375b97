// IndexTable: 32-bit receiver indices, unique among live ones, each bound to an owner id (a
// session or handshake). Control core only; the data plane keeps its own array of them.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>

#include "base/result.hpp"

namespace jg::proto {

// The low bits of a gateway's receiver index are the keypair's position in the data plane's
// index array (a worker finds a keypair with one array read instead of a hash lookup); the
// high bits are random, so an index is not reused as a whole when its position is, and a
// guess finds a live index rarely. Room for four keypairs per session: previous, current,
// next, and the one being installed.
unsigned receiver_index_position_bits(uint32_t max_sessions);
inline uint32_t receiver_index_position(uint32_t index, unsigned position_bits) {
    return position_bits >= 32 ? index : index & ((uint32_t(1) << position_bits) - 1);
}

class IndexTable {
  public:
    using RandomSource = std::function<uint32_t()>;

    // Indices drawn whole from libsodium's CSPRNG (a client, a test peer).
    IndexTable();
    // Draws from `random` instead (tests force collisions through it).
    explicit IndexTable(RandomSource random);
    // Positioned indices (the gateway): the low `position_bits` bits are a free position,
    // never-used ones first, then released ones oldest first, so a released position waits
    // as long as possible before it is handed out again; the high bits come from `random`
    // (the CSPRNG when empty).
    explicit IndexTable(unsigned position_bits, RandomSource random = {});

    // A fresh index not currently live, bound to `owner`. Fails only if many random draws in
    // a row collide, or every position is live: the table is absurdly full.
    Result<uint32_t> allocate(uint64_t owner);
    // Frees `index`; false if it was not live.
    bool release(uint32_t index);
    std::optional<uint64_t> owner(uint32_t index) const;
    bool contains(uint32_t index) const { return live_.count(index) != 0; }
    size_t size() const { return live_.size(); }
    unsigned position_bits() const { return position_bits_; }

  private:
    static constexpr int kMaxDraws = 64;
    RandomSource random_;
    unsigned position_bits_ = 0;  // 0: unpositioned
    uint64_t never_used_ = 0;     // positioned: positions below this were handed out once
    std::deque<uint32_t> free_;   // positioned: released positions, oldest release first
    std::unordered_map<uint32_t, uint64_t> live_;
};

}  // namespace jg::proto
