// Internal to lib/config: typed, path-aware reading of yaml-cpp nodes that keeps the first
// error and rejects unknown keys. Control path only; any thread (no shared state).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace jg::config_detail {

// The first error found in one document. Later failures are dropped so the operator gets
// one clear error instead of a cascade caused by the first.
class Diagnostics {
  public:
    explicit Diagnostics(std::string source) : source_(std::move(source)) {}

    bool failed() const { return error_.has_value(); }
    // `path` is the YAML path ("workers[1].queues[0]"); empty for the document itself.
    void fail(std::string_view path, std::string what);
    Error error() const { return *error_; }
    const std::string &source() const { return source_; }

  private:
    std::string source_;
    std::optional<Error> error_;
};

std::string child_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, std::size_t index);

inline constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();

// Scalar conversions. On failure they record an error at `path` and return nullopt.
std::optional<int64_t> read_integer(const YAML::Node &node, std::string_view path,
                                    Diagnostics &diag, int64_t min, int64_t max);
std::optional<double> read_number(const YAML::Node &node, std::string_view path, Diagnostics &diag);
std::optional<bool> read_bool(const YAML::Node &node, std::string_view path, Diagnostics &diag);
// Empty when `s` is text an operator can read and a render can write back: well-formed UTF-8
// without control characters (C0, DEL, C1). Otherwise what is wrong, for an error message.
std::string text_problem(std::string_view s);
std::optional<std::string> read_string(const YAML::Node &node, std::string_view path,
                                       Diagnostics &diag);
// A sequence's items; null reads as empty. Anything else is an error.
std::vector<YAML::Node> read_list(const YAML::Node &node, std::string_view path, Diagnostics &diag);

// The largest configuration or policy file read (bytes): room for hundreds of thousands of
// peers, and a bound on what a wrong path (a device, a log) can make the reader hold.
inline constexpr int64_t kMaxTextFileBytes = 64LL << 20;

// Reads a whole regular file of at most kMaxTextFileBytes without blocking on FIFOs or
// devices; the error names the path. Any thread.
Result<std::string> read_text_file(const std::string &path);

// Parses one YAML document; syntax errors are recorded with their line and column.
std::optional<YAML::Node> parse_document(std::string_view text, Diagnostics &diag);

// The shortest decimal text that reads back as the same double ("0.2", not 0.2000000001).
std::string format_number(double v);

// One YAML mapping. Every key a caller asks for is known; finish() rejects the others, so it
// must run after the last lookup.
class MapReader {
  public:
    // A null node reads as an empty mapping; anything else that is not a mapping is an error.
    MapReader(const YAML::Node &node, std::string path, Diagnostics &diag);

    const std::string &path() const { return path_; }
    std::string path_of(std::string_view key) const { return child_path(path_, key); }
    Diagnostics &diag() { return diag_; }
    // Keys in document order (for maps whose keys are names, such as policies).
    std::vector<std::string> keys() const;

    // The value of `key`; nullopt when absent or null (YAML `~`).
    std::optional<YAML::Node> get(std::string_view key);
    // As get(), recording "required key is missing" when absent.
    std::optional<YAML::Node> require(std::string_view key);

    std::optional<int64_t> optional_integer(std::string_view key, int64_t min, int64_t max);
    int64_t integer(std::string_view key, int64_t fallback, int64_t min, int64_t max);
    int64_t required_integer(std::string_view key, int64_t min, int64_t max);
    double number(std::string_view key, double fallback);
    bool boolean(std::string_view key, bool fallback);
    std::optional<std::string> optional_string(std::string_view key);
    std::string string(std::string_view key, std::string fallback);
    std::string required_string(std::string_view key);
    std::vector<std::string> string_list(std::string_view key);

    void finish();

  private:
    std::string path_;
    Diagnostics &diag_;
    std::vector<std::pair<std::string, YAML::Node>> entries_;
    std::vector<std::string> known_;
};

}  // namespace jg::config_detail
