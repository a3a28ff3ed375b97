// TunDevice: the user's side of the tunnel in TUN mode (/dev/net/tun, IFF_TUN | IFF_NO_PI),
// addressed and brought up with `ip`. The client's loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace jg::client {

class TunDevice {
  public:
    // Creates (or attaches to) interface `name`, adds each tunnel address as /32 and sets
    // it up with `mtu` (bytes).
    static Result<TunDevice> open(const std::string &name, const std::vector<uint32_t> &addresses,
                                  int mtu);

    TunDevice(TunDevice &&other) noexcept;
    TunDevice &operator=(TunDevice &&) = delete;
    TunDevice(const TunDevice &) = delete;
    TunDevice &operator=(const TunDevice &) = delete;
    ~TunDevice();

    int fd() const { return fd_; }

  private:
    explicit TunDevice(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace jg::client
