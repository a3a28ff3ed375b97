#include "proto/keypairs.hpp"

#include <algorithm>

namespace jg::proto {

bool keypair_expired(const TransportKeypair &kp, uint64_t counter, uint64_t now_ns) {
    return now_ns - kp.created_ns >= kRejectAfterTimeNs || counter >= kRejectAfterMessages;
}

bool keypair_needs_rekey_on_send(const TransportKeypair &kp, uint64_t send_counter,
                                 uint64_t now_ns) {
    return send_counter > kRekeyAfterMessages ||
           (kp.is_initiator && now_ns - kp.created_ns > kRekeyAfterTimeNs);
}

bool keypair_needs_rekey_on_receive(const TransportKeypair &kp, uint64_t now_ns) {
    return kp.is_initiator &&
           now_ns - kp.created_ns > kRejectAfterTimeNs - kKeepaliveTimeoutNs - kRekeyTimeoutNs;
}

void KeypairSlots::drop(std::optional<TransportKeypair> &slot, std::vector<uint32_t> &dead) {
    if (slot) {
        dead.push_back(slot->local_index);
        wipe(*slot);
        slot.reset();
    }
}

std::vector<uint32_t> KeypairSlots::install(const TransportKeypair &kp) {
    std::vector<uint32_t> dead;
    if (kp.is_initiator) {
        drop(previous_, dead);
        if (next_) {
            // An unconfirmed responder keypair may still carry the peer's packets in flight,
            // so it is kept as previous rather than the older current (WireGuard does so).
            drop(current_, dead);
            previous_ = next_;
            wipe(*next_);
            next_.reset();
        } else {
            previous_ = current_;
        }
        current_ = kp;
    } else {
        drop(next_, dead);
        drop(previous_, dead);
        next_ = kp;
    }
    return dead;
}

std::optional<uint32_t> KeypairSlots::confirm(uint32_t local_index, bool *rotated) {
    if (rotated != nullptr) {
        *rotated = false;
    }
    if (!next_ || next_->local_index != local_index) {
        return std::nullopt;
    }
    std::vector<uint32_t> dead;
    drop(previous_, dead);
    previous_ = current_;
    current_ = next_;
    wipe(*next_);
    next_.reset();
    if (rotated != nullptr) {
        *rotated = true;
    }
    if (dead.empty()) {
        return std::nullopt;
    }
    return dead.front();
}

std::vector<uint32_t> KeypairSlots::expire(uint64_t now_ns) {
    std::vector<uint32_t> dead;
    for (auto *slot : {&previous_, &current_, &next_}) {
        if (*slot && keypair_expired(**slot, 0, now_ns)) {
            drop(*slot, dead);
        }
    }
    return dead;
}

std::optional<uint64_t> KeypairSlots::next_expiry_ns() const {
    std::optional<uint64_t> first;
    for (const auto *slot : {&previous_, &current_, &next_})
        if (*slot)
            first = std::min(first.value_or(UINT64_MAX), (*slot)->created_ns + kRejectAfterTimeNs);
    return first;
}

void KeypairSlots::clear() {
    std::vector<uint32_t> dead;
    drop(previous_, dead);
    drop(current_, dead);
    drop(next_, dead);
}

const TransportKeypair *KeypairSlots::find(uint32_t local_index) const {
    for (const auto *slot : {&previous_, &current_, &next_}) {
        if (*slot && (*slot)->local_index == local_index) {
            return &**slot;
        }
    }
    return nullptr;
}

}  // namespace jg::proto
