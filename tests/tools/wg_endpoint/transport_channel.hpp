// One handshake's keypair in use: type-4 messages sealed and opened by the data plane's
// ipsec-mb driver, a running send counter, lib/proto's replay window. Single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "proto/noise.hpp"
#include "proto/replay_window.hpp"

namespace jg::interop {

class TransportChannel {
  public:
    explicit TransportChannel(const proto::TransportKeypair &keypair);
    TransportChannel(const TransportChannel &) = delete;
    TransportChannel &operator=(const TransportChannel &) = delete;
    ~TransportChannel();

    std::vector<std::uint8_t> seal(std::span<const std::uint8_t> plaintext);

    // The padded plaintext (empty for a keepalive), or nullopt for a message that is not
    // for this keypair, does not authenticate, or repeats a counter.
    std::optional<std::vector<std::uint8_t>> open(std::span<const std::uint8_t> message);

    std::uint32_t local_index() const { return keypair_.local_index; }

  private:
    proto::TransportKeypair keypair_;
    proto::ReplayWindow window_{};
    std::uint64_t send_counter_ = 0;
};

}  // namespace jg::interop
