// KeypairSlots: a peer's previous/current/next transport keypairs rotated as WireGuard does,
// plus the expiry and rekey rules. Control core only (workers get published copies).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "proto/noise.hpp"

namespace jg::proto {

// True when the keypair must no longer send or receive: older than REJECT_AFTER_TIME or
// `counter` (messages sent, or greatest received) at REJECT_AFTER_MESSAGES. Times: ns.
bool keypair_expired(const TransportKeypair &kp, uint64_t counter, uint64_t now_ns);

// Sending side: start a new handshake once `send_counter` passes REKEY_AFTER_MESSAGES, or
// (initiator only, so both ends do not rekey at once) the keypair is REKEY_AFTER_TIME old.
bool keypair_needs_rekey_on_send(const TransportKeypair &kp, uint64_t send_counter,
                                 uint64_t now_ns);

// Receiving side (initiator only): the keypair is close enough to REJECT_AFTER_TIME that a
// handshake must start now to finish before it dies (REJECT - KEEPALIVE - REKEY_TIMEOUT).
bool keypair_needs_rekey_on_receive(const TransportKeypair &kp, uint64_t now_ns);

class KeypairSlots {
  public:
    KeypairSlots() = default;
    KeypairSlots(const KeypairSlots &) = delete;
    KeypairSlots &operator=(const KeypairSlots &) = delete;
    ~KeypairSlots() { clear(); }

    // Installs a keypair a handshake just derived. The initiator's is confirmed (the
    // response proved the peer has it): it becomes current, the old current becomes previous
    // (or a pending next does, and the old current dies). The responder's waits in next
    // until the first packet under it arrives; previous dies. Returns the local indices of
    // the keypairs that died, so the caller can release them from its IndexTable.
    std::vector<uint32_t> install(const TransportKeypair &kp);

    // A packet under the keypair with `local_index` authenticated. If that is next, it
    // becomes current and current becomes previous; returns the dead previous' index.
    // nullopt when nothing rotated (or nothing died).
    std::optional<uint32_t> confirm(uint32_t local_index, bool *rotated = nullptr);

    // Drops every keypair that keypair_expired() at `now_ns` (counter ignored: the caller
    // tracks counters); returns their local indices.
    std::vector<uint32_t> expire(uint64_t now_ns);
    // The first time (ns) at which expire() drops a keypair by age; nullopt with none held.
    std::optional<uint64_t> next_expiry_ns() const;

    // Wipes everything (session teardown).
    void clear();

    const TransportKeypair *previous() const { return ptr(previous_); }
    const TransportKeypair *current() const { return ptr(current_); }
    const TransportKeypair *next() const { return ptr(next_); }
    // The keypair (any slot) whose local index is `local_index`.
    const TransportKeypair *find(uint32_t local_index) const;

  private:
    static const TransportKeypair *ptr(const std::optional<TransportKeypair> &s) {
        return s ? &*s : nullptr;
    }
    static void drop(std::optional<TransportKeypair> &slot, std::vector<uint32_t> &dead);

    std::optional<TransportKeypair> previous_;
    std::optional<TransportKeypair> current_;
    std::optional<TransportKeypair> next_;
};

}  // namespace jg::proto
