#include "telemetry/audit_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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

Status AuditFileSink::write(std::span<const std::string> lines) {
    if (reopen_.exchange(false, std::memory_order_relaxed)) {
        const int fd = open_for_append(path_);
        if (fd < 0) {
            // The batch is lost and counted (so the operator sees it in write_errors); the
            // old file stays open and the next batch tries again.
            reopen_.store(true, std::memory_order_relaxed);
            return make_error(path_,
                              std::string("cannot reopen audit log: ") + std::strerror(errno));
        }
        ::close(fd_);
        fd_ = fd;
    }
    buffer_.clear();
    for (const std::string &line : lines) {
        buffer_ += line;
        buffer_ += '\n';
    }
    const char *p = buffer_.data();
    size_t left = buffer_.size();
    while (left > 0) {
        const ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return make_error(path_, std::string("write failed: ") + std::strerror(errno));
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    return Ok{};
}

Status AuditMemorySink::write(std::span<const std::string> lines) {
    std::lock_guard lock(mu_);
    lines_.insert(lines_.end(), lines.begin(), lines.end());
    return Ok{};
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

    Status st = sink_->write(batch_);
    if (st) {
        written_.fetch_add(n, std::memory_order_relaxed);
    } else {
        write_errors_.fetch_add(n, std::memory_order_relaxed);
        std::lock_guard lock(error_mu_);
        last_error_ = st.error().message();
    }
    return true;
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
