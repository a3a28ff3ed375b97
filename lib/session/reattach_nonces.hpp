// ReattachNonces: the reattach nonces a session has accepted, newest security.replay_window_size
// of them, in a ring grown on demand. Owned by the session record; control core only.
#pragma once

#include <cstdint>

#include "base/bounded_ring.hpp"

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
    uint32_t size() const { return ring_.size(); }

  private:
    // Grown as nonces come: most sessions never reattach, and a fixed ring was half of a
    // session's memory on the control core (2 KiB of 4).
    BoundedRing<uint64_t, kCapacity> ring_;
};

}  // namespace jg
