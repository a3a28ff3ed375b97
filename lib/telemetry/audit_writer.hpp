// AuditWriter: the bounded queue from the control core to the audit JSONL sink and the thread
// that drains it. try_push: the control core only (single producer); stats: any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "session/audit_event.hpp"

namespace jg {

// What became of one batch handed to a sink.
struct AuditSinkReport {
    // The batch's first `written` lines are in the log whole; the rest are lost.
    size_t written = 0;
    // Why lines were lost; or, with every line written, what is wrong with a sink that still
    // writes (an audit log that cannot be reopened after rotation).
    std::optional<Error> error = std::nullopt;
};

// Where rendered lines go. Called only from the writer thread, one batch at a time.
class AuditSink {
  public:
    virtual ~AuditSink() = default;
    // `lines` carry no newline.
    virtual AuditSinkReport write(std::span<const std::string> lines) = 0;
};

// Appends to a file, a batch at a time; no fsync (the log is telemetry). The file only ever
// holds whole lines: a batch cut short (disk full, I/O error) is cut back to its last complete
// line, so the next batch does not glue onto half a line and both stay readable. Where the
// file cannot be shortened (a device, an append-only file) the next batch starts with a
// newline instead, leaving the torn line on a line of its own.
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

    AuditSinkReport write(std::span<const std::string> lines) override;

    // Reopens the path before the next batch, so logrotate can move the file away (SIGHUP
    // handlers may call it: it only sets a flag). Any thread. When the path cannot be opened
    // the sink keeps appending to the file it has, reports the failure with every batch and
    // tries again before the next one.
    void request_reopen() { reopen_.store(true, std::memory_order_relaxed); }

  private:
    std::optional<Error> reopen_if_requested();
    AuditSinkReport cut_short(size_t sent, size_t lines, int error);
    bool remove_tail(size_t bytes);

    int fd_;  // writer thread only, as are torn_ and buffer_
    std::string path_;
    std::atomic<bool> reopen_{false};
    bool torn_ = false;   // the file ends in part of a line that could not be removed
    std::string buffer_;  // reused across batches
};

// Keeps the lines in memory: tests, and tools that post-process events in-process.
class AuditMemorySink final : public AuditSink {
  public:
    AuditSinkReport write(std::span<const std::string> lines) override;
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
    // A sink error is logged when its text changes, and so is the sink's recovery, but at
    // most one line per interval: a full disk fails every batch.
    std::chrono::milliseconds error_log_interval{10'000};
    // Receives those lines (no newline), on the writer thread. Empty: standard error.
    std::function<void(const std::string &)> log = nullptr;
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
    // The sink's latest error, also one that lost no line (a failed reopen); empty while the
    // sink has never failed.
    std::string last_write_error() const;

  private:
    void run(std::stop_token stop);
    bool drain_batch();  // false when the queue was empty
    void report_sink(const std::optional<Error> &error);

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
    // Writer thread only: the error text last logged (empty: none, or the sink recovered since)
    // and when the next log line may be written.
    std::string logged_error_;
    std::chrono::steady_clock::time_point next_log_at_{};

    // Only the writer thread waits here, and only stop requests wake it: the producer never
    // signals, so a push costs no syscall; lines wait at most flush_interval.
    std::mutex wait_mu_;
    std::condition_variable_any wait_cv_;
    std::jthread thread_;  // last: started after everything it reads is constructed
};

}  // namespace jg
