#include "udp_socket.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace jg::interop {
namespace {

Error errno_error(const std::string &where) {
    return make_error(where, std::strerror(errno));
}

}  // namespace

Result<UdpAddress> UdpAddress::parse(const std::string &host_port) {
    const auto colon = host_port.rfind(':');
    if (colon == std::string::npos) {
        return make_error(host_port, "expected IPv4:port");
    }
    UdpAddress address;
    address.sin.sin_family = AF_INET;
    const std::string host = host_port.substr(0, colon);
    if (inet_pton(AF_INET, host.c_str(), &address.sin.sin_addr) != 1) {
        return make_error(host_port, "not an IPv4 address: " + host);
    }
    char *end = nullptr;
    const unsigned long port = std::strtoul(host_port.c_str() + colon + 1, &end, 10);
    if (end == host_port.c_str() + colon + 1 || *end != '\0' || port > 65535) {
        return make_error(host_port, "not a port number");
    }
    address.sin.sin_port = htons(static_cast<std::uint16_t>(port));
    return address;
}

std::string UdpAddress::to_string() const {
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(sin.sin_port));
}

std::vector<std::uint8_t> UdpAddress::wire_bytes() const {
    std::vector<std::uint8_t> bytes(6);
    std::memcpy(bytes.data(), &sin.sin_addr.s_addr, 4);
    std::memcpy(bytes.data() + 4, &sin.sin_port, 2);
    return bytes;
}

Result<UdpSocket> UdpSocket::bind(const UdpAddress &local) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno_error("socket");
    }
    UdpSocket socket(fd);
    if (::bind(fd, reinterpret_cast<const sockaddr *>(&local.sin), sizeof local.sin) != 0) {
        return errno_error("bind " + local.to_string());
    }
    return socket;
}

UdpSocket::UdpSocket(UdpSocket &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

UdpSocket &UdpSocket::operator=(UdpSocket &&other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

UdpSocket::~UdpSocket() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

Status UdpSocket::send_to(std::span<const std::uint8_t> bytes, const UdpAddress &to) const {
    const ssize_t sent = ::sendto(fd_, bytes.data(), bytes.size(), 0,
                                  reinterpret_cast<const sockaddr *>(&to.sin), sizeof to.sin);
    if (sent < 0 || static_cast<std::size_t>(sent) != bytes.size()) {
        return errno_error("sendto " + to.to_string());
    }
    return Ok{};
}

Result<std::optional<Datagram>> UdpSocket::receive(std::chrono::milliseconds wait) const {
    pollfd waiter{fd_, POLLIN, 0};
    const int ready = ::poll(&waiter, 1, static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) {
        return errno_error("poll");
    }
    if (ready <= 0) {
        return std::optional<Datagram>{};
    }
    Datagram datagram;
    datagram.bytes.resize(65536);
    socklen_t from_len = sizeof datagram.from.sin;
    const ssize_t got = ::recvfrom(fd_, datagram.bytes.data(), datagram.bytes.size(), 0,
                                   reinterpret_cast<sockaddr *>(&datagram.from.sin), &from_len);
    if (got < 0) {
        return errno_error("recvfrom");
    }
    datagram.bytes.resize(static_cast<std::size_t>(got));
    return std::optional<Datagram>{std::move(datagram)};
}

}  // namespace jg::interop
