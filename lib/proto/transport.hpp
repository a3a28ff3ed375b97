// Single-packet transport data (type 4) sealing and opening with libsodium, for the client,
// test endpoints and the reference path. The gateway's data plane uses drivers/crypto bursts.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "base/result.hpp"
#include "proto/control_messages.hpp"
#include "proto/messages.hpp"

namespace jg::proto {

inline constexpr size_t kNoMtu = std::numeric_limits<size_t>::max();

// Bytes a type-4 message takes for a plaintext of `plaintext_len` bytes, padded to 16 but
// not beyond `mtu` (the tunnel MTU in bytes; kNoMtu = always to 16).
constexpr size_t transport_message_size(size_t plaintext_len, size_t mtu = kNoMtu) {
    return kTransportHeaderSize + padded_plaintext_size(plaintext_len, mtu) + kTagSize;
}

// ChaCha20-Poly1305 IETF nonce for a transport counter: 4 zero bytes + counter LE.
std::array<uint8_t, 12> transport_nonce(uint64_t counter);

// Writes header + ChaCha20-Poly1305(plaintext zero-padded as transport_message_size says, no
// AD) into `out`. Returns the bytes written, or 0 when `out` is smaller than that.
size_t seal_transport(const Key &send_key, uint32_t receiver_index, uint64_t counter,
                      std::span<const uint8_t> plaintext, std::span<uint8_t> out,
                      size_t mtu = kNoMtu);

// Verifies and decrypts a parsed type-4 message into `out` (>= padded_plaintext_size()).
// Returns the padded plaintext length (bytes). Does not touch any replay window: the
// caller checks the counter before and updates the window after this succeeds.
Result<size_t> open_transport(const Key &recv_key, const TransportView &msg,
                              std::span<uint8_t> out);

}  // namespace jg::proto
