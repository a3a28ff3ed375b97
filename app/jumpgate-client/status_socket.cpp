#include "status_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace jg::client {
namespace {

Result<sockaddr_un> unix_address(const std::string &path) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sun.sun_path)
        return make_error(path, "status socket path must be 1.." +
                                    std::to_string(sizeof sun.sun_path - 1) + " characters");
    std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    return sun;
}

// Whether a process accepts connections at `sun`: a socket file nobody listens on refuses
// them (ECONNREFUSED), one whose listener is only busy has a full backlog (EAGAIN).
bool has_listener(const sockaddr_un &sun) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const bool live = connect(fd, reinterpret_cast<const sockaddr *>(&sun), sizeof sun) == 0 ||
                      errno == EAGAIN || errno == EINPROGRESS;
    close(fd);
    return live;
}

// Takes the lock file beside the socket; -1 with `error` set when it cannot be had.
int take_lock(const std::string &lock_path, std::string &error) {
    const int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        error = std::string("cannot open its lock file: ") + std::strerror(errno);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        error = errno == EWOULDBLOCK
                    ? "a running process (another jumpgate-client?) holds " + lock_path +
                          "; not replacing its status socket (use --status-socket elsewhere)"
                    : std::string("cannot lock ") + lock_path + ": " + std::strerror(errno);
        close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

Result<StatusListener> StatusListener::listen(const std::string &path) {
    auto sun = unix_address(path);
    if (!sun)
        return sun.error();
    // Held for the listener's lifetime: whoever holds it owns the socket file, so checking
    // for a live listener and replacing a stale file cannot race another client doing the
    // same, and the file we unlink at the end is still ours.
    std::string error;
    const int lock_fd = take_lock(path + ".lock", error);
    if (lock_fd < 0)
        return make_error(path, error);
    const auto fail = [&](std::string what) {
        close(lock_fd);
        return make_error(path, std::move(what));
    };
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return fail("exists and is not a socket; not replacing it");
        // A process that does not take the lock (an older client) may still serve it:
        // unlinking a live client's socket would leave it serving nobody.
        if (has_listener(*sun))
            return fail(
                "a running process (another jumpgate-client?) serves this status socket; not "
                "replacing it (use --status-socket elsewhere)");
        unlink(path.c_str());
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail(std::string("socket: ") + std::strerror(errno));
    if (bind(fd, reinterpret_cast<const sockaddr *>(&*sun), sizeof *sun) != 0 ||
        ::listen(fd, 8) != 0 || lstat(path.c_str(), &st) != 0) {
        const std::string what = std::strerror(errno);
        close(fd);
        return fail("bind/listen: " + what);
    }
    return StatusListener(fd, lock_fd, path, st.st_dev, st.st_ino);
}

StatusListener::StatusListener(StatusListener &&o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      lock_fd_(std::exchange(o.lock_fd_, -1)),
      path_(std::move(o.path_)),
      dev_(o.dev_),
      ino_(o.ino_) {}

StatusListener::~StatusListener() {
    if (fd_ >= 0) {
        close(fd_);
        // Only the file we bound: one put there since by someone else is left alone.
        struct stat st {};
        if (lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
            unlink(path_.c_str());
    }
    // Released after the unlink, so a successor binds only once our file is gone. The lock
    // file stays: unlinking it would let two processes lock two different files.
    if (lock_fd_ >= 0)
        close(lock_fd_);
}

void StatusListener::serve(const std::string &document) const {
    const std::string text = document + "\n";
    for (;;) {
        const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0)
            return;
        // A few kilobytes fit the socket buffer; a reader that does not read loses the rest.
        const ssize_t n = send(c, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        (void)n;
        close(c);
    }
}

Result<std::string> fetch_status(const std::string &path, std::chrono::milliseconds timeout) {
    auto sun = unix_address(path);
    if (!sun)
        return sun.error();
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return make_error(path, std::string("socket: ") + std::strerror(errno));
    if (connect(fd, reinterpret_cast<const sockaddr *>(&*sun), sizeof *sun) != 0) {
        const std::string what = std::strerror(errno);
        close(fd);
        return make_error(path, "cannot connect (is jumpgate-client running?): " + what);
    }
    std::string out;
    char buf[4096];
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || poll(&p, 1, int(left.count())) <= 0) {
            close(fd);
            return make_error(path, "no status within " + std::to_string(timeout.count()) + " ms");
        }
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        out.append(buf, size_t(n));
    }
    close(fd);
    if (out.empty())
        return make_error(path, "the client closed the connection without a status");
    return out;
}

}  // namespace jg::client
