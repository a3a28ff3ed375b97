#include "telemetry/audit_writer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>

#include "telemetry/audit_json.hpp"

namespace jg {
namespace {

using namespace std::chrono_literals;

audit::Event key_rotated(uint64_t epoch) {
    audit::Event e;
    e.ts_ms = static_cast<int64_t>(1000 + epoch);
    e.session_id = 0xa1;
    e.state_version = 1;
    e.policy_version = "p1";
    e.payload = audit::KeyRotated{epoch};
    return e;
}

uint64_t epoch_of(const std::string &line) {
    auto rec = audit::parse_line(line);
    EXPECT_TRUE(rec.ok()) << line;
    return rec ? std::get<audit::KeyRotated>(rec->event.payload).key_epoch : UINT64_MAX;
}

// Holds the writer thread inside write() until released, to fill the queue on purpose.
class StalledSink final : public AuditSink {
  public:
    AuditSinkReport write(std::span<const std::string> lines) override {
        std::unique_lock lock(mu_);
        ++entered_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return released_; });
        written_ += lines.size();
        return {.written = lines.size()};
    }
    void wait_until_entered() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return entered_ > 0; });
    }
    void release() {
        std::lock_guard lock(mu_);
        released_ = true;
        cv_.notify_all();
    }
    size_t written() {
        std::lock_guard lock(mu_);
        return written_;
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    int entered_ = 0;
    bool released_ = false;
    size_t written_ = 0;
};

class FailingSink final : public AuditSink {
  public:
    AuditSinkReport write(std::span<const std::string>) override {
        return {.written = 0, .error = make_error("test-sink", "disk on fire")};
    }
};

// Fails with the error texts it is given, one batch each, then writes everything.
class ScriptedSink final : public AuditSink {
  public:
    explicit ScriptedSink(std::vector<std::string> errors) : errors_(std::move(errors)) {}
    AuditSinkReport write(std::span<const std::string> lines) override {
        if (next_ == errors_.size())
            return {.written = lines.size()};
        return {.written = 0, .error = make_error("test-sink", errors_[next_++])};
    }

  private:
    std::vector<std::string> errors_;
    size_t next_ = 0;
};

// Collects what the writer logs (the writer thread appends, the test reads after close()).
struct LogLines {
    std::shared_ptr<std::vector<std::string>> lines = std::make_shared<std::vector<std::string>>();
    std::function<void(const std::string &)> sink() {
        return [l = lines](const std::string &line) { l->push_back(line); };
    }
};

std::filesystem::path temp_file(const std::string &name) {
    const auto p = std::filesystem::temp_directory_path() /
                   (name + "-" + std::to_string(::getpid()) + ".jsonl");
    std::filesystem::remove(p);
    return p;
}

std::vector<std::string> read_lines(const std::filesystem::path &p) {
    std::ifstream in(p);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

TEST(AuditWriter, CloseDrainsEveryAcceptedEventInPushOrder) {
    auto sink = std::make_shared<AuditMemorySink>();
    AuditWriter w(sink, {.node_id = "gw-1", .capacity = 4096});
    for (uint64_t i = 0; i < 1000; ++i)
        ASSERT_TRUE(w.try_push(key_rotated(i)));
    w.close();

    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), 1000u);
    for (uint64_t i = 0; i < lines.size(); ++i)
        EXPECT_EQ(epoch_of(lines[i]), i);
    EXPECT_EQ(w.stats().written, 1000u);
    EXPECT_EQ(w.stats().dropped, 0u);
    EXPECT_EQ(w.stats().write_errors, 0u);
}

TEST(AuditWriter, StampsItsNodeIdOnEveryLine) {
    auto sink = std::make_shared<AuditMemorySink>();
    AuditWriter w(sink, {.node_id = "gw-ams-3"});
    ASSERT_TRUE(w.try_push(key_rotated(1)));
    w.close();
    ASSERT_EQ(sink->lines().size(), 1u);
    EXPECT_EQ(audit::parse_line(sink->lines()[0])->node_id, "gw-ams-3");
}

TEST(AuditWriter, WritesWithinTheFlushIntervalWithoutClose) {
    auto sink = std::make_shared<AuditMemorySink>();
    AuditWriter w(sink, {.flush_interval = 5ms});
    ASSERT_TRUE(w.try_push(key_rotated(1)));
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (sink->lines().empty() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    EXPECT_EQ(sink->lines().size(), 1u);
    EXPECT_EQ(w.stats().written, 1u);
}

TEST(AuditWriter, FullQueueDropsAndCountsInsteadOfBlocking) {
    auto sink = std::make_shared<StalledSink>();
    AuditWriter w(sink, {.capacity = 8, .flush_interval = 1ms});
    ASSERT_TRUE(w.try_push(key_rotated(0)));
    sink->wait_until_entered();  // the writer thread now holds event 0 and is stuck

    for (uint64_t i = 1; i <= 8; ++i)
        EXPECT_TRUE(w.try_push(key_rotated(i)));
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t i = 9; i < 9 + 5; ++i)
        EXPECT_FALSE(w.try_push(key_rotated(i)));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    EXPECT_EQ(w.stats().dropped, 5u);

    sink->release();
    w.close();
    EXPECT_EQ(sink->written(), 9u);
    EXPECT_EQ(w.stats().written, 9u);
    EXPECT_EQ(w.stats().dropped, 5u);
}

TEST(AuditWriter, FailingSinkCountsLostLinesAndKeepsAccepting) {
    AuditWriter w(std::make_shared<FailingSink>(), {.capacity = 64, .flush_interval = 1ms});
    for (uint64_t i = 0; i < 50; ++i) {
        EXPECT_TRUE(w.try_push(key_rotated(i)));
        if (i % 10 == 0)
            std::this_thread::sleep_for(2ms);
    }
    w.close();
    EXPECT_EQ(w.stats().write_errors, 50u);
    EXPECT_EQ(w.stats().written, 0u);
    EXPECT_EQ(w.stats().dropped, 0u);
    EXPECT_THAT(w.last_write_error(), ::testing::HasSubstr("disk on fire"));
}

TEST(AuditWriter, LogsEachNewSinkErrorAndTheRecovery) {
    LogLines log;
    auto sink = std::make_shared<ScriptedSink>(
        std::vector<std::string>{"disk full", "disk full", "disk full", "I/O error"});
    AuditWriter w(sink, {.max_batch = 1, .error_log_interval = 0ms, .log = log.sink()});
    for (uint64_t i = 0; i < 6; ++i)
        ASSERT_TRUE(w.try_push(key_rotated(i)));
    w.close();
    EXPECT_THAT(*log.lines,
                ::testing::ElementsAre("test-sink: disk full; audit lines lost so far: 1",
                                       "test-sink: I/O error; audit lines lost so far: 4",
                                       "audit log written again; audit lines lost so far: 4"));
    EXPECT_EQ(w.stats().write_errors, 4u);
    EXPECT_EQ(w.stats().written, 2u);
    EXPECT_EQ(w.last_write_error(), "test-sink: I/O error");
}

TEST(AuditWriter, LogsAtMostOneSinkLinePerInterval) {
    LogLines log;
    auto sink = std::make_shared<ScriptedSink>(
        std::vector<std::string>{"disk full", "I/O error", "disk full"});
    AuditWriter w(sink, {.max_batch = 1, .error_log_interval = 1h, .log = log.sink()});
    for (uint64_t i = 0; i < 5; ++i)
        ASSERT_TRUE(w.try_push(key_rotated(i)));
    w.close();
    EXPECT_THAT(*log.lines,
                ::testing::ElementsAre("test-sink: disk full; audit lines lost so far: 1"));
    EXPECT_EQ(w.stats().write_errors, 3u);
    EXPECT_EQ(w.last_write_error(), "test-sink: disk full");
}

TEST(AuditWriter, PushAfterCloseIsDroppedAndCounted) {
    auto sink = std::make_shared<AuditMemorySink>();
    AuditWriter w(sink, {});
    w.close();
    EXPECT_FALSE(w.try_push(key_rotated(1)));
    EXPECT_EQ(w.stats().dropped, 1u);
    EXPECT_TRUE(sink->lines().empty());
    w.close();  // idempotent
}

TEST(AuditWriter, AcceptedEqualsWrittenPlusErrorsUnderConcurrentDraining) {
    auto sink = std::make_shared<AuditMemorySink>();
    AuditWriter w(sink, {.capacity = 16, .flush_interval = 1ms, .max_batch = 4});
    uint64_t accepted = 0;
    for (uint64_t i = 0; i < 20000; ++i)
        accepted += w.try_push(key_rotated(i)) ? 1 : 0;
    w.close();
    const auto s = w.stats();
    EXPECT_EQ(accepted + s.dropped, 20000u);
    EXPECT_EQ(s.written + s.write_errors, accepted);
    const auto lines = sink->lines();
    ASSERT_EQ(lines.size(), accepted);
    // Drops lose events, never reorder the ones kept.
    for (size_t i = 1; i < lines.size(); ++i)
        ASSERT_LT(epoch_of(lines[i - 1]), epoch_of(lines[i]));
}

TEST(AuditFileSink, AppendsLinesAfterExistingContent) {
    const auto path = temp_file("jg-audit-append");
    { std::ofstream(path) << "previous run\n"; }
    auto sink = AuditFileSink::open(path.string());
    ASSERT_TRUE(sink.ok()) << sink.error().message();
    AuditWriter w(std::shared_ptr<AuditSink>(std::move(*sink)), {.node_id = "gw-1"});
    ASSERT_TRUE(w.try_push(key_rotated(5)));
    ASSERT_TRUE(w.try_push(key_rotated(6)));
    w.close();

    const auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], "previous run");
    EXPECT_EQ(epoch_of(lines[1]), 5u);
    EXPECT_EQ(epoch_of(lines[2]), 6u);
    std::filesystem::remove(path);
}

TEST(AuditFileSink, ReopenAfterRotationWritesToAFreshFile) {
    const auto path = temp_file("jg-audit-rotate");
    const auto rotated = std::filesystem::path(path.string() + ".1");
    std::filesystem::remove(rotated);
    auto opened = AuditFileSink::open(path.string());
    ASSERT_TRUE(opened.ok());
    std::shared_ptr<AuditFileSink> sink = std::move(*opened);
    AuditWriter w(sink, {.flush_interval = 1ms});
    ASSERT_TRUE(w.try_push(key_rotated(1)));
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (w.stats().written < 1 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    ASSERT_EQ(w.stats().written, 1u);

    std::filesystem::rename(path, rotated);  // what logrotate does
    sink->request_reopen();
    ASSERT_TRUE(w.try_push(key_rotated(2)));
    w.close();

    const auto old_lines = read_lines(rotated);
    const auto new_lines = read_lines(path);
    ASSERT_EQ(old_lines.size(), 1u);
    ASSERT_EQ(new_lines.size(), 1u);
    EXPECT_EQ(epoch_of(old_lines[0]), 1u);
    EXPECT_EQ(epoch_of(new_lines[0]), 2u);
    std::filesystem::remove(path);
    std::filesystem::remove(rotated);
}

TEST(AuditFileSink, FailedReopenKeepsWritingToThePreviousFileAndTriesAgain) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("jg-audit-reopen-" + std::to_string(::getpid()));
    const auto moved = std::filesystem::path(dir.string() + ".moved");
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(moved);
    std::filesystem::create_directory(dir);
    const auto path = dir / "audit.jsonl";
    auto opened = AuditFileSink::open(path.string());
    ASSERT_TRUE(opened.ok());
    std::shared_ptr<AuditFileSink> sink = std::move(*opened);
    LogLines log;
    AuditWriter w(sink, {.flush_interval = 1ms, .error_log_interval = 0ms, .log = log.sink()});
    auto push_and_wait = [&](uint64_t epoch) {
        const uint64_t before = w.stats().written;
        ASSERT_TRUE(w.try_push(key_rotated(epoch)));
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (w.stats().written == before && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(1ms);
        ASSERT_EQ(w.stats().written, before + 1);
    };

    std::filesystem::rename(dir, moved);  // the path cannot be opened any more
    sink->request_reopen();
    push_and_wait(1);
    push_and_wait(2);
    EXPECT_THAT(w.last_write_error(), ::testing::HasSubstr("cannot reopen"));
    EXPECT_EQ(w.stats().write_errors, 0u);

    std::filesystem::create_directory(dir);  // the path works again: the next batch reopens
    push_and_wait(3);
    w.close();

    const auto old_lines = read_lines(moved / "audit.jsonl");
    ASSERT_EQ(old_lines.size(), 2u);
    EXPECT_EQ(epoch_of(old_lines[0]), 1u);
    EXPECT_EQ(epoch_of(old_lines[1]), 2u);
    const auto new_lines = read_lines(path);
    ASSERT_EQ(new_lines.size(), 1u);
    EXPECT_EQ(epoch_of(new_lines[0]), 3u);
    ASSERT_EQ(log.lines->size(), 2u);
    EXPECT_THAT((*log.lines)[0], ::testing::HasSubstr("cannot reopen"));
    EXPECT_THAT((*log.lines)[1], ::testing::HasSubstr("written again"));
    std::filesystem::remove_all(dir);
    std::filesystem::remove_all(moved);
}

// Lowers the process's file size limit for one test: a write crossing it is cut short at the
// limit and the next fails with EFBIG, as on a disk that fills up mid-batch.
class FileSizeLimit {
  public:
    explicit FileSizeLimit(rlim_t bytes) {
        ::getrlimit(RLIMIT_FSIZE, &saved_);
        rlimit lowered = saved_;
        lowered.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &lowered);
        previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved_);
        std::signal(SIGXFSZ, previous_handler_);
    }
    FileSizeLimit(const FileSizeLimit &) = delete;
    FileSizeLimit &operator=(const FileSizeLimit &) = delete;

  private:
    rlimit saved_{};
    void (*previous_handler_)(int) = SIG_DFL;
};

TEST(AuditFileSink, WriteCutShortLeavesOnlyWholeLinesAndCountsThem) {
    const auto path = temp_file("jg-audit-torn");
    auto opened = AuditFileSink::open(path.string());
    ASSERT_TRUE(opened.ok());
    std::shared_ptr<AuditFileSink> sink = std::move(*opened);
    // Epochs 10..19 render to lines of one length: two and a half of them fit.
    const size_t line = audit::render_line(key_rotated(10), "gw-1").size() + 1;
    {
        FileSizeLimit limit(2 * line + line / 2);
        AuditWriter w(sink, {.node_id = "gw-1", .error_log_interval = 0ms, .log = [](auto &) {}});
        for (uint64_t i = 10; i < 14; ++i)
            ASSERT_TRUE(w.try_push(key_rotated(i)));
        w.close();
        EXPECT_EQ(w.stats().written, 2u);
        EXPECT_EQ(w.stats().write_errors, 2u);
        EXPECT_THAT(w.last_write_error(), ::testing::HasSubstr("write failed"));
    }
    EXPECT_EQ(std::filesystem::file_size(path), 2 * line);

    // Space again: the next line starts on a line of its own.
    AuditWriter w(sink, {.node_id = "gw-1"});
    ASSERT_TRUE(w.try_push(key_rotated(15)));
    w.close();
    const auto lines = read_lines(path);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(epoch_of(lines[0]), 10u);
    EXPECT_EQ(epoch_of(lines[1]), 11u);
    EXPECT_EQ(epoch_of(lines[2]), 15u);
    std::filesystem::remove(path);
}

TEST(AuditFileSink, OpenFailureNamesThePath) {
    auto sink = AuditFileSink::open("/nonexistent-dir/audit.jsonl");
    ASSERT_FALSE(sink.ok());
    EXPECT_EQ(sink.error().where, "/nonexistent-dir/audit.jsonl");
}

TEST(AuditFileSink, FullDeviceIsReportedAsWriteErrors) {
    if (!std::filesystem::exists("/dev/full"))
        GTEST_SKIP() << "/dev/full not available";
    auto sink = AuditFileSink::open("/dev/full");
    ASSERT_TRUE(sink.ok());
    LogLines log;
    AuditWriter w(std::shared_ptr<AuditSink>(std::move(*sink)), {.log = log.sink()});
    ASSERT_TRUE(w.try_push(key_rotated(1)));
    w.close();
    EXPECT_EQ(w.stats().write_errors, 1u);
    EXPECT_EQ(w.stats().written, 0u);
    EXPECT_THAT(w.last_write_error(), ::testing::HasSubstr("/dev/full"));
    ASSERT_EQ(log.lines->size(), 1u);
    EXPECT_THAT((*log.lines)[0], ::testing::HasSubstr("/dev/full: write failed"));
}

}  // namespace
}  // namespace jg
