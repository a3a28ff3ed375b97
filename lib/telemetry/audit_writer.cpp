#include "telemetry/audit_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <string_view>

#include "telemetry/audit_json.hpp"

namespace jg {

namespace {

int open_for_append(const std::string &path) {
    return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
}

}  // namespace

Result<std::unique_ptr<AuditFileSink>> AuditFileSink::open(const std::string &path) {
    const int fd = open_for_append(path);
    if (fd < 0)
        return make_error(path, std::string("cannot open audit log: ") + std::strerror(errno));
    return std::make_unique<AuditFileSink>(OpenedFd{fd}, path);
}

AuditFileSink::~AuditFileSink() {
    ::close(fd_);
}

std::optional<Error> AuditFileSink::reopen_if_requested() {
    if (!reopen_.exchange(false, std::memory_order_relaxed))
        return std::nullopt;
    const int fd = open_for_append(path_);
    if (fd < 0) {
        // The old descriptor still works (logrotate moved its file, it did not break it): the
        // lines go on there and nothing is lost. Try again before the next batch.
        const int err = errno;
        reopen_.store(true, std::memory_order_relaxed);
        return make_error(path_, std::string("cannot reopen audit log (") + std::strerror(err) +
                                     "); still appending to the file it named before");
    }
    ::close(fd_);
    fd_ = fd;
    if (torn_) {  // the torn line is in the old file unless the path still names it
        struct stat st {};
        torn_ = ::fstat(fd_, &st) != 0 || st.st_size > 0;
    }
    return std::nullopt;
}

AuditSinkReport AuditFileSink::write(std::span<const std::string> lines) {
    std::optional<Error> reopen_error = reopen_if_requested();
    buffer_.clear();
    if (torn_)
        buffer_ += '\n';
    for (const std::string &line : lines) {
        buffer_ += line;
        buffer_ += '\n';
    }
    size_t sent = 0;
    while (sent < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + sent, buffer_.size() - sent);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cut_short(sent, lines.size(), errno);
        }
        sent += static_cast<size_t>(n);
    }
    torn_ = false;
    return AuditSinkReport{.written = lines.size(), .error = std::move(reopen_error)};
}

// The first `sent` bytes of buffer_ reached the file before write(2) failed with `error`.
AuditSinkReport AuditFileSink::cut_short(size_t sent, size_t lines, int error) {
    AuditSinkReport report{
        .written = 0,
        .error = make_error(path_, std::string("write failed: ") + std::strerror(error))};
    const size_t start = torn_ ? 1 : 0;  // the newline ending an earlier torn line
    if (sent < start)
        return report;
    torn_ = false;
    const std::string_view body(buffer_.data() + start, sent - start);
    report.written =
        std::min(lines, static_cast<size_t>(std::count(body.begin(), body.end(), '\n')));
    const size_t last_end = body.rfind('\n') + 1;  // 0 when no line was finished
    if (body.size() > last_end && !remove_tail(body.size() - last_end))
        torn_ = true;
    return report;
}

// Cuts off the last `bytes` this sink appended, unless the file is not ours alone to cut:
// not a regular file, or written or truncated (copytruncate) by someone else since.
bool AuditFileSink::remove_tail(size_t bytes) {
    const off_t end = ::lseek(fd_, 0, SEEK_CUR);  // O_APPEND: just past our last byte
    struct stat st {};
    if (end < 0 || ::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != end ||
        static_cast<uint64_t>(end) < bytes)
        return false;
    return ::ftruncate(fd_, end - static_cast<off_t>(bytes)) == 0;
}

AuditSinkReport AuditMemorySink::write(std::span<const std::string> lines) {
    std::lock_guard lock(mu_);
    lines_.insert(lines_.end(), lines.begin(), lines.end());
    return AuditSinkReport{.written = lines.size()};
}

std::vector<std::string> AuditMemorySink::lines() const {
    std::lock_guard lock(mu_);
    return lines_;
}

namespace {

AuditWriterOptions normalised(AuditWriterOptions o) {
    o.capacity = std::max<size_t>(o.capacity, 1);
    o.max_batch = std::max<size_t>(o.max_batch, 1);
    return o;
}

}  // namespace

AuditWriter::AuditWriter(std::shared_ptr<AuditSink> sink, AuditWriterOptions options)
    : sink_(std::move(sink)),
      options_(normalised(std::move(options))),
      slots_(options_.capacity),
      thread_([this](std::stop_token stop) { run(stop); }) {}

AuditWriter::~AuditWriter() {
    close();
}

bool AuditWriter::try_push(audit::Event event) {
    if (AuditObserver *observer = observer_.load(std::memory_order_acquire))
        observer->observe(event);
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (closed_.load(std::memory_order_relaxed) ||
        head - tail_.load(std::memory_order_acquire) >= slots_.size()) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    slots_[head % slots_.size()] = std::move(event);
    head_.store(head + 1, std::memory_order_release);
    return true;
}

void AuditWriter::close() {
    if (closed_.exchange(true))
        return;
    thread_.request_stop();
    if (thread_.joinable())
        thread_.join();
}

AuditWriterStats AuditWriter::stats() const {
    return AuditWriterStats{
        .written = written_.load(std::memory_order_relaxed),
        .dropped = dropped_.load(std::memory_order_relaxed),
        .write_errors = write_errors_.load(std::memory_order_relaxed),
    };
}

std::string AuditWriter::last_write_error() const {
    std::lock_guard lock(error_mu_);
    return last_error_;
}

bool AuditWriter::drain_batch() {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const uint64_t available = head_.load(std::memory_order_acquire) - tail;
    if (available == 0)
        return false;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(available, options_.max_batch));
    batch_.resize(n);
    for (size_t i = 0; i < n; ++i) {
        // Render straight from the slot, then release the slot before the (slow) sink write
        // so the producer gets its space back as early as possible.
        audit::Event &slot = slots_[(tail + i) % slots_.size()];
        batch_[i] = audit::render_line(slot, options_.node_id);
        slot = audit::Event{};
    }
    tail_.store(tail + n, std::memory_order_release);

    const AuditSinkReport report = sink_->write(batch_);
    const size_t written = std::min(report.written, n);
    written_.fetch_add(written, std::memory_order_relaxed);
    write_errors_.fetch_add(n - written, std::memory_order_relaxed);
    report_sink(report.error);
    return true;
}

void AuditWriter::report_sink(const std::optional<Error> &error) {
    if (!error && logged_error_.empty())
        return;  // healthy, and nothing logged that a recovery line would answer
    std::string text = error ? error->message() : std::string();
    if (error) {
        std::lock_guard lock(error_mu_);
        last_error_ = text;
    }
    if (text == logged_error_)
        return;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_log_at_)
        return;  // a sink failing on and off: what holds after the pause is logged then
    next_log_at_ = now + options_.error_log_interval;
    const std::string lost = std::to_string(write_errors_.load(std::memory_order_relaxed));
    std::string line = (error ? text : std::string("audit log written again")) +
                       "; audit lines lost so far: " + lost;
    if (options_.log)
        options_.log(line);
    else
        std::cerr << "audit writer: " + line + "\n";
    logged_error_ = std::move(text);
}

void AuditWriter::run(std::stop_token stop) {
    for (;;) {
        // Sample the stop request before draining: whatever was pushed before close() asked
        // us to stop is then written by the drain below.
        const bool stopping = stop.stop_requested();
        while (drain_batch()) {
        }
        if (stopping)
            return;
        std::unique_lock lock(wait_mu_);
        wait_cv_.wait_for(lock, stop, options_.flush_interval, [] { return false; });
    }
}

}  // namespace jg
