// A blocking IPv4 UDP socket with bounded waits: the endpoint's only way to the network.
#pragma once

#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace jg::interop {

struct UdpAddress {
    sockaddr_in sin{};

    static Result<UdpAddress> parse(const std::string &host_port);
    std::string to_string() const;
    // The cookie MAC covers the sender's address and port exactly as they appear on the wire.
    std::vector<std::uint8_t> wire_bytes() const;
};

struct Datagram {
    std::vector<std::uint8_t> bytes;
    UdpAddress from;
};

class UdpSocket {
  public:
    static Result<UdpSocket> bind(const UdpAddress &local);

    UdpSocket(UdpSocket &&other) noexcept;
    UdpSocket &operator=(UdpSocket &&other) noexcept;
    UdpSocket(const UdpSocket &) = delete;
    UdpSocket &operator=(const UdpSocket &) = delete;
    ~UdpSocket();

    Status send_to(std::span<const std::uint8_t> bytes, const UdpAddress &to) const;
    // nullopt when nothing arrived before `wait` ran out (or a signal cut the wait short).
    Result<std::optional<Datagram>> receive(std::chrono::milliseconds wait) const;

  private:
    explicit UdpSocket(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace jg::interop
