// The status socket: a Unix stream socket that hands every connecting reader one JSON
// document (the client's status) and closes; and the reader `jumpgate-client status` uses.
// StatusListener: the client's loop thread only. fetch_status: any thread.
#pragma once

#include <chrono>
#include <string>

#include "base/result.hpp"

namespace jg::client {

class StatusListener {
  public:
    // Replaces a stale socket file at `path`; refuses anything but a socket, and a socket some
    // process still accepts connections on (another client's).
    static Result<StatusListener> listen(const std::string &path);

    StatusListener(StatusListener &&other) noexcept;
    StatusListener &operator=(StatusListener &&) = delete;
    StatusListener(const StatusListener &) = delete;
    StatusListener &operator=(const StatusListener &) = delete;
    ~StatusListener();  // closes and unlinks the socket file

    int fd() const { return fd_; }
    // Accepts every waiting reader and writes `document` (plus a newline) to each.
    void serve(const std::string &document) const;

  private:
    StatusListener(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    int fd_ = -1;
    std::string path_;
};

// Connects to `path` and reads the document, waiting at most `timeout`.
Result<std::string> fetch_status(const std::string &path, std::chrono::milliseconds timeout);

}  // namespace jg::client
