#include "path_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace jg::client {

sockaddr_in to_sockaddr(const TransportAddr &t) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, t.addr.data(), 4);
    sin.sin_port = htons(t.port);
    return sin;
}

TransportAddr from_sockaddr(const sockaddr_in &sin) {
    return TransportAddr::v4(ntohl(sin.sin_addr.s_addr), ntohs(sin.sin_port));
}

namespace {

Error errno_error(const std::string &where, const std::string &what) {
    return make_error(where, what + ": " + std::strerror(errno));
}

std::optional<uint32_t> interface_ipv4(const std::string &device) {
    ifaddrs *list = nullptr;
    if (getifaddrs(&list) != 0)
        return std::nullopt;
    std::optional<uint32_t> found;
    for (ifaddrs *i = list; i != nullptr && !found; i = i->ifa_next)
        if (i->ifa_addr != nullptr && i->ifa_addr->sa_family == AF_INET && device == i->ifa_name)
            found = ntohl(reinterpret_cast<sockaddr_in *>(i->ifa_addr)->sin_addr.s_addr);
    freeifaddrs(list);
    return found;
}

}  // namespace

Result<int> open_udp_socket(const TransportAddr &local) {
    const std::string where = local.to_string();
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno_error(where, "socket");
    const sockaddr_in sin = to_sockaddr(local);
    if (bind(fd, reinterpret_cast<const sockaddr *>(&sin), sizeof sin) != 0) {
        Error e = errno_error(where, "bind");
        close(fd);
        return e;
    }
    return fd;
}

Result<PathSocket> PathSocket::open(const PathSpec &spec) {
    const std::string where = "path " + spec.name;
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno_error(where, "socket");
    PathSocket s(fd, spec, 0);
    if (!spec.device.empty()) {
        if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, spec.device.c_str(),
                       socklen_t(spec.device.size())) != 0)
            return errno_error(where, "SO_BINDTODEVICE " + spec.device);
    }
    // Several paths may share a fixed port on different addresses.
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const TransportAddr local = spec.source ? *spec.source : TransportAddr::v4(INADDR_ANY, 0);
    const sockaddr_in sin = to_sockaddr(local);
    if (bind(fd, reinterpret_cast<const sockaddr *>(&sin), sizeof sin) != 0)
        return errno_error(where, "bind " + local.to_string());
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &len) != 0)
        return errno_error(where, "getsockname");
    s.port_ = ntohs(bound.sin_port);
    return s;
}

PathSocket::PathSocket(PathSocket &&o) noexcept
    : fd_(std::exchange(o.fd_, -1)), spec_(std::move(o.spec_)), port_(o.port_) {}

PathSocket &PathSocket::operator=(PathSocket &&o) noexcept {
    if (this != &o) {
        if (fd_ >= 0)
            close(fd_);
        fd_ = std::exchange(o.fd_, -1);
        spec_ = std::move(o.spec_);
        port_ = o.port_;
    }
    return *this;
}

PathSocket::~PathSocket() {
    if (fd_ >= 0)
        close(fd_);
}

TransportAddr PathSocket::local() const {
    if (spec_.source) {
        TransportAddr t = *spec_.source;
        t.port = port_;
        return t;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!address_known_ || now - address_at_ >= kAddressTtl) {
        address_ = interface_ipv4(spec_.device);
        address_at_ = now;
        address_known_ = true;
    }
    if (address_)
        return TransportAddr::v4(*address_, port_);
    return {};
}

Result<bool> PathSocket::send_to(std::span<const uint8_t> bytes, const TransportAddr &to) const {
    const sockaddr_in sin = to_sockaddr(to);
    const ssize_t n = sendto(fd_, bytes.data(), bytes.size(), 0,
                             reinterpret_cast<const sockaddr *>(&sin), sizeof sin);
    if (n >= 0)
        return true;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EMSGSIZE ||
        errno == EINTR)
        return false;
    return errno_error("path " + spec_.name, "send to " + to.to_string());
}

Result<std::optional<ReceivedDatagram>> PathSocket::receive(std::span<uint8_t> buf) const {
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    const ssize_t n =
        recvfrom(fd_, buf.data(), buf.size(), MSG_TRUNC, reinterpret_cast<sockaddr *>(&sin), &len);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return std::optional<ReceivedDatagram>{};
        // ICMP errors (port unreachable) surface here on Linux; they are not fatal.
        if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)
            return std::optional<ReceivedDatagram>{};
        return errno_error("path " + spec_.name, "receive");
    }
    if (static_cast<size_t>(n) > buf.size())
        return std::optional<ReceivedDatagram>{};  // truncated: not a message of ours
    return std::optional<ReceivedDatagram>{ReceivedDatagram{size_t(n), from_sockaddr(sin)}};
}

}  // namespace jg::client
