// AuditWriter: the bounded queue from the control core to the audit JSONL sink and the thread
// that drains it. try_push: the control core only (single producer); stats: any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "session/audit_event.hpp"

namespace jg {

// Where rendered lines go. Called only from the writer thread, one batch at a time.
class AuditSink {
  public:
    virtual ~AuditSink() = default;
    // `lines` carry no newline. An error loses the whole batch (counted by the writer).
    virtual Status write(std::span<const std::string> lines) = 0;
};

// Appends to a file. One write(2) per batch, so a batch reaches the kernel whole and another
// process tailing the file never sees half a line; no fsync (the log is telemetry).
class AuditFileSink final : public AuditSink {
    struct OpenedFd {
        int fd;
    };

  public:
    static Result<std::unique_ptr<AuditFileSink>> open(const std::string &path);
    // Only open() can name OpenedFd: the sink always owns a descriptor it opened itself.
    AuditFileSink(OpenedFd fd, std::string path) : fd_(fd.fd), path_(std::move(path)) {}
    ~AuditFileSink() override;
    AuditFileSink(const AuditFileSink &) = delete;
    AuditFileSink &operator=(const AuditFileSink &) = delete;

    Status write(std::span<const std::string> lines) override;

    // Reopens the path before the next batch, so logrotate can move the file away (SIGHUP
    // handlers may call it: it only sets a flag). Any thread.
    void request_reopen() { reopen_.store(true, std::memory_order_relaxed); }

  private:
    int fd_;  // writer thread only
    std::string path_;
    std::atomic<bool> reopen_{false};
    std::string buffer_;  // reused across batches
};

// Keeps the lines in memory: tests, and tools that post-process events in-process.
class AuditMemorySink final : public AuditSink {
  public:
    Status write(std::span<const std::string> lines) override;
    std::vector<std::string> lines() const;

  private:
    mutable std::mutex mu_;
    std::vector<std::string> lines_;
};

// Sees every event offered to AuditWriter::try_push, accepted or dropped, on the producer (control
// core) thread before it is queued: metrics derived from the audit stream. Must not block.
class AuditObserver {
  public:
    virtual ~AuditObserver() = default;
    virtual void observe(const audit::Event &event) noexcept = 0;
};

struct AuditWriterOptions {
    std::string node_id = "jumpgate";
    size_t capacity = 16384;  // events; ~2 MB of slots, minutes of a busy gateway's transitions
    std::chrono::milliseconds flush_interval{20};  // upper bound on how long a line waits
    size_t max_batch = 512;                        // lines per sink write
};

struct AuditWriterStats {
    uint64_t written = 0;       // lines the sink accepted
    uint64_t dropped = 0;       // events refused by try_push: queue full or writer closed
    uint64_t write_errors = 0;  // lines lost because the sink failed
};

// Once drained, every accepted event is either written or counted in write_errors:
// accepted == written + write_errors.
class AuditWriter {
  public:
    AuditWriter(std::shared_ptr<AuditSink> sink, AuditWriterOptions options);
    ~AuditWriter();  // close()
    AuditWriter(const AuditWriter &) = delete;
    AuditWriter &operator=(const AuditWriter &) = delete;

    // Never blocks, never locks, never allocates: a full queue drops the event and counts it.
    // Single producer: only one thread may call it.
    bool try_push(audit::Event event);

    // The observer try_push shows every event to (nullptr: none). Set it before the producer
    // starts pushing, or from the producer thread; it must outlive the pushes that see it.
    void set_observer(AuditObserver *observer) {
        observer_.store(observer, std::memory_order_release);
    }

    // Writes out everything already accepted, then stops the thread. Idempotent. Call it from
    // the producer thread (or once the producer is done): later pushes are dropped.
    void close();

    AuditWriterStats stats() const;
    std::string last_write_error() const;  // empty while the sink has never failed

  private:
    void run(std::stop_token stop);
    bool drain_batch();  // false when the queue was empty

    std::shared_ptr<AuditSink> sink_;
    AuditWriterOptions options_;

    // The ring: slots_ is sized once. head_ is written by the producer, tail_ by the writer
    // thread; each reads the other's with acquire. Kept on separate cache lines.
    std::vector<audit::Event> slots_;
    alignas(64) std::atomic<uint64_t> head_{0};
    alignas(64) std::atomic<uint64_t> tail_{0};
    alignas(64) std::atomic<bool> closed_{false};  // written: close(); read: producer

    std::atomic<AuditObserver *> observer_{nullptr};  // written: set_observer; read: producer

    std::atomic<uint64_t> written_{0};
    std::atomic<uint64_t> dropped_{0};
    std::atomic<uint64_t> write_errors_{0};

    mutable std::mutex error_mu_;
    std::string last_error_;

    std::vector<std::string> batch_;  // writer thread only; reused so lines keep capacity

    // Only the writer thread waits here, and only stop requests wake it: the producer never
    // signals, so a push costs no syscall; lines wait at most flush_interval.
    std::mutex wait_mu_;
    std::condition_variable_any wait_cv_;
    std::jthread thread_;  // last: started after everything it reads is constructed
};

}  // namespace jg
