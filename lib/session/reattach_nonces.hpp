// ReattachNonces: the reattach nonces a session has accepted, newest security.replay_window_size
// of them, in a fixed ring. Owned by the session record; control core only.
#pragma once

#include <array>
#include <cstdint>

namespace jg {

class ReattachNonces {
  public:
    // security.replay_window_size above this remembers this many: nonces older than
    // security.reattach_proof_max_age_ms are refused as stale anyway, so the ring only has to
    // outlast the freshness window at any sane request rate.
    static constexpr uint32_t kCapacity = 256;

    // Whether `nonce` is among the newest `window` accepted nonces.
    bool contains(uint64_t nonce, uint32_t window) const;
    void insert(uint64_t nonce);
    uint32_t size() const { return count_ < kCapacity ? count_ : kCapacity; }

  private:
    std::array<uint64_t, kCapacity> ring_{};
    uint32_t next_ = 0;
    uint32_t count_ = 0;
};

}  // namespace jg
