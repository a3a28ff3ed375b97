// PathSocket: one candidate path's UDP socket, bound to a source address or to an interface
// (SO_BINDTODEVICE), non-blocking. Owned and used by the client's loop thread only.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "client/client_config.hpp"
#include "session/transport.hpp"

namespace jg::client {

struct ReceivedDatagram {
    size_t length = 0;  // bytes written into the caller's buffer
    TransportAddr from;
};

class PathSocket {
  public:
    static Result<PathSocket> open(const PathSpec &spec);

    PathSocket(PathSocket &&other) noexcept;
    PathSocket &operator=(PathSocket &&other) noexcept;
    PathSocket(const PathSocket &) = delete;
    PathSocket &operator=(const PathSocket &) = delete;
    ~PathSocket();

    int fd() const { return fd_; }
    // The address and port packets leave from. For an interface path, its current first
    // IPv4 address (none while it has none).
    TransportAddr local() const;

    // True: sent. False: this datagram alone was dropped (socket buffer full, or larger than
    // a UDP datagram may be): the path itself is fine. An error says the path cannot send
    // (address gone, network unreachable, ...) and names why.
    Result<bool> send_to(std::span<const uint8_t> bytes, const TransportAddr &to) const;
    // One datagram if one is waiting; nullopt when none is.
    Result<std::optional<ReceivedDatagram>> receive(std::span<uint8_t> buf) const;

  private:
    PathSocket(int fd, PathSpec spec, uint16_t port)
        : fd_(fd), spec_(std::move(spec)), port_(port) {}
    int fd_ = -1;
    PathSpec spec_;
    uint16_t port_ = 0;  // the bound port (host order)
    // An interface path's address, looked up (a netlink dump) at most every kAddressTtl: the
    // loop asks for it every 10 ms tick.
    static constexpr std::chrono::milliseconds kAddressTtl{200};
    mutable std::optional<uint32_t> address_;
    mutable std::chrono::steady_clock::time_point address_at_{};
    mutable bool address_known_ = false;
};

// Non-blocking IPv4 UDP socket bound to `local` (headless mode's application socket).
Result<int> open_udp_socket(const TransportAddr &local);

sockaddr_in to_sockaddr(const TransportAddr &t);
TransportAddr from_sockaddr(const sockaddr_in &sin);

}  // namespace jg::client
