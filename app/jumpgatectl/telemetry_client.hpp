// TelemetryClient: one connection to a DPDK 22.11 telemetry socket (protocol v2: a
// SOCK_SEQPACKET unix socket; the server sends an info object, then answers each command with
// one JSON object {"<command>": value}). jumpgatectl's thread only.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

#include "base/result.hpp"

namespace jg::ctl {

class TelemetryClient {
  public:
    // Error::where is the socket path; the message says why it cannot be reached.
    static Result<TelemetryClient> connect(const std::string &socket_path, int timeout_ms = 5000);

    // Sends "cmd" or "cmd,params" and returns the reply's value (the object under the
    // command's name).
    Result<nlohmann::json> command(const std::string &command_line);

    TelemetryClient(TelemetryClient &&o) noexcept;
    TelemetryClient &operator=(TelemetryClient &&o) = delete;
    TelemetryClient(const TelemetryClient &) = delete;
    ~TelemetryClient();

  private:
    TelemetryClient(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_ = -1;
    std::string path_;
    size_t max_output_len_ = 16384;  // bytes; the server's info object says
};

}  // namespace jg::ctl
