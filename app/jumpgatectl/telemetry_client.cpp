#include "telemetry_client.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace jg::ctl {
namespace {

std::string errno_text(int e) {
    return std::strerror(e);
}

}  // namespace

Result<TelemetryClient> TelemetryClient::connect(const std::string &socket_path, int timeout_ms) {
    sockaddr_un addr{};
    if (socket_path.size() >= sizeof addr.sun_path)
        return make_error(socket_path, "socket path longer than " +
                                           std::to_string(sizeof addr.sun_path - 1) + " bytes");
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return make_error(socket_path, errno_text(errno));
    TelemetryClient c(fd, socket_path);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    if (::connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) != 0)
        return make_error(socket_path, errno_text(errno));
    std::vector<char> buf(4096);
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0)
        return make_error(socket_path, n == 0 ? std::string("closed before its greeting")
                                              : "no greeting: " + errno_text(errno));
    const auto info = nlohmann::json::parse(buf.begin(), buf.begin() + n, nullptr, false);
    if (info.is_discarded() || !info.is_object())
        return make_error(socket_path,
                          "the greeting is not a JSON object: not a DPDK telemetry "
                          "socket");
    if (const auto it = info.find("max_output_len");
        it != info.end() && it->is_number_unsigned() && it->get<size_t>() > 0)
        c.max_output_len_ = it->get<size_t>();
    return c;
}

Result<nlohmann::json> TelemetryClient::command(const std::string &command_line) {
    if (::send(fd_, command_line.data(), command_line.size(), 0) < 0)
        return make_error(path_, "cannot send \"" + command_line + "\": " + errno_text(errno));
    std::vector<char> buf(max_output_len_ + 1);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0)
        return make_error(path_, "no reply to \"" + command_line + "\": " + errno_text(errno));
    if (n == 0)
        return make_error(path_, "the gateway closed the connection");
    auto reply = nlohmann::json::parse(buf.begin(), buf.begin() + n, nullptr, false);
    if (reply.is_discarded() || !reply.is_object() || reply.size() != 1)
        return make_error(path_, "the reply to \"" + command_line + "\" is not one JSON object");
    return std::move(reply.begin().value());
}

TelemetryClient::TelemetryClient(TelemetryClient &&o) noexcept
    : fd_(o.fd_), path_(std::move(o.path_)), max_output_len_(o.max_output_len_) {
    o.fd_ = -1;
}

TelemetryClient::~TelemetryClient() {
    if (fd_ >= 0)
        ::close(fd_);
}

}  // namespace jg::ctl
