// The status socket: a Unix stream socket that hands every connecting reader one JSON
// document (the client's status) and closes; and the reader `jumpgate-client status` uses.
// StatusListener: the client's loop thread only. fetch_status: any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "base/result.hpp"

namespace jg::client {

class StatusListener {
  public:
    // Takes an exclusive lock on `path`.lock (created if missing, kept for the listener's
    // lifetime) and replaces a stale socket file at `path`; refuses when another process
    // holds the lock, anything but a socket, and a socket some process still accepts
    // connections on (another client's).
    static Result<StatusListener> listen(const std::string &path);

    StatusListener(StatusListener &&other) noexcept;
    StatusListener &operator=(StatusListener &&) = delete;
    StatusListener(const StatusListener &) = delete;
    StatusListener &operator=(const StatusListener &) = delete;
    ~StatusListener();  // closes, unlinks the socket file if still ours, releases the lock

    int fd() const { return fd_; }
    // Accepts every waiting reader and writes `document` (plus a newline) to each.
    void serve(const std::string &document) const;

  private:
    StatusListener(int fd, int lock_fd, std::string path, dev_t dev, ino_t ino)
        : fd_(fd), lock_fd_(lock_fd), path_(std::move(path)), dev_(dev), ino_(ino) {}
    int fd_ = -1;
    int lock_fd_ = -1;
    std::string path_;
    dev_t dev_ = 0;  // the socket file bound, to unlink only that one
    ino_t ino_ = 0;
};

// Connects to `path` and reads the document, waiting at most `timeout`.
Result<std::string> fetch_status(const std::string &path, std::chrono::milliseconds timeout);

}  // namespace jg::client
