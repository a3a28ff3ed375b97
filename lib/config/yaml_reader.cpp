#include "config/yaml_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace jg::config_detail {
namespace {

// A quoted scalar ("256") is a string to YAML even when it looks like a number; yaml-cpp
// marks plain scalars with the non-specific tag "?".
bool is_plain(const YAML::Node &node) {
    return node.Tag() == "?";
}

// One character of `s` at byte i: its length in bytes, 0 where the bytes are not well-formed
// UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), and code point.
struct Utf8Char {
    std::size_t len;
    uint32_t cp;
};

Utf8Char decode_utf8(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80)
        return {1, c};
    const std::size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                            : c >= 0xe0 && c <= 0xef ? 3
                            : c >= 0xf0 && c <= 0xf4 ? 4
                                                     : 0;
    if (len == 0 || i + len > s.size())
        return {0, 0};
    uint32_t cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (std::size_t k = 1; k < len; ++k) {
        const auto cont = static_cast<unsigned char>(s[i + k]);
        if ((cont & 0xc0) != 0x80)
            return {0, 0};
        cp = cp << 6 | (cont & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return {0, 0};
    return {len, cp};
}

bool is_control(uint32_t cp) {
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);  // C0, DEL, C1
}

// Outside YAML's printable set; yaml-cpp writes them as U+FFFD.
bool is_noncharacter(uint32_t cp) {
    return (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe;
}

// A scalar as an error message may quote it: control characters (C0, DEL, C1),
// noncharacters and bytes that are not UTF-8 escaped as \xNN, so a typo cannot send
// terminal escape sequences to whoever reads the message.
std::string quotable(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        const Utf8Char ch = decode_utf8(text, i);
        const std::size_t n = ch.len != 0 ? ch.len : 1;
        if (ch.len == 0 || is_control(ch.cp) || is_noncharacter(ch.cp)) {
            for (std::size_t k = 0; k < n; ++k) {
                char hex[8];
                std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(text[i + k]));
                out += hex;
            }
        } else {
            out.append(text.substr(i, n));
        }
        i += n;
    }
    return out;
}

std::string kind_of(const YAML::Node &node) {
    switch (node.Type()) {
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Map:
            return "a mapping";
        case YAML::NodeType::Null:
            return "nothing";
        default:
            return is_plain(node) ? "\"" + quotable(node.Scalar()) + "\""
                                  : "the string \"" + quotable(node.Scalar()) + "\"";
    }
}

std::string range_text(int64_t min, int64_t max) {
    // A type's own limit (4294967295) means nothing to an operator; only the floor does.
    if (max >= int64_t{std::numeric_limits<uint32_t>::max()})
        return "must be >= " + std::to_string(min);
    return "must be in " + std::to_string(min) + ".." + std::to_string(max);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

}  // namespace

void Diagnostics::fail(std::string_view path, std::string what) {
    if (error_)
        return;
    std::string where = source_;
    if (!path.empty())
        where += (where.empty() ? "" : ": ") + std::string(path);
    error_ = Error{std::move(where), std::move(what)};
}

// Keys come from the file as values do, so they are escaped the same way.
std::string child_path(std::string_view parent, std::string_view key) {
    if (parent.empty())
        return quotable(key);
    return std::string(parent) + "." + quotable(key);
}

std::string index_path(std::string_view parent, std::size_t index) {
    return std::string(parent) + "[" + std::to_string(index) + "]";
}

Result<std::string> read_text_file(const std::string &path) {
    // Only a regular file of bounded size is read, never /dev/zero. Checked before opening
    // too, since opening some devices acts (a watchdog arms, a tape rewinds); the open is
    // non-blocking so a FIFO swapped in between cannot stall the caller (the admin thread).
    struct stat before {};
    if (::stat(path.c_str(), &before) == 0 && !S_ISREG(before.st_mode))
        return make_error(path, "is not a regular file");
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return make_error(path, std::string("cannot open: ") + std::strerror(errno));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return make_error(path, std::string("cannot read: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        return make_error(path, "is not a regular file");
    if (st.st_size > kMaxTextFileBytes)
        return make_error(path, std::to_string(st.st_size) + " bytes, more than the " +
                                    std::to_string(kMaxTextFileBytes) +
                                    " a configuration may have");
    std::string text;
    char buf[16384];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return make_error(path, std::string("cannot read: ") + std::strerror(errno));
        if (n == 0)
            break;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > static_cast<size_t>(kMaxTextFileBytes))  // grew while being read
            return make_error(path, "grew past the " + std::to_string(kMaxTextFileBytes) +
                                        " bytes a configuration may have");
    }
    return text;
}

std::optional<YAML::Node> parse_document(std::string_view text, Diagnostics &diag) {
    try {
        return YAML::Load(std::string(text));
    } catch (const YAML::Exception &e) {
        // Marks are 0-based; editors count from 1.
        diag.fail("line " + std::to_string(e.mark.line + 1) + ", column " +
                      std::to_string(e.mark.column + 1),
                  "YAML syntax error: " + e.msg);
        return std::nullopt;
    }
}

std::string format_number(double v) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    std::string s(buf, ec == std::errc{} ? end : buf);
    // A double that happens to be whole must still read back as a number, not an integer.
    if (s.find_first_not_of("-0123456789") == std::string::npos)
        s += ".0";
    return s;
}

std::optional<int64_t> read_integer(const YAML::Node &node, std::string_view path,
                                    Diagnostics &diag, int64_t min, int64_t max) {
    if (!node.IsScalar() || !is_plain(node)) {
        diag.fail(path, "expected an integer, got " + kind_of(node));
        return std::nullopt;
    }
    const std::string &s = node.Scalar();
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    const bool whole = !s.empty() && end == s.data() + s.size();
    if (whole && ec == std::errc::result_out_of_range) {
        diag.fail(path, "is out of range (" + range_text(min, max) + "), got " + s);
        return std::nullopt;
    }
    if (!whole || ec != std::errc{}) {
        diag.fail(path, "expected an integer, got " + kind_of(node));
        return std::nullopt;
    }
    if (v < min || v > max) {
        diag.fail(path, range_text(min, max) + ", got " + s);
        return std::nullopt;
    }
    return v;
}

std::optional<double> read_number(const YAML::Node &node, std::string_view path,
                                  Diagnostics &diag) {
    if (node.IsScalar() && is_plain(node)) {
        const std::string &s = node.Scalar();
        double v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (!s.empty() && ec == std::errc{} && end == s.data() + s.size())
            return v;
    }
    diag.fail(path, "expected a number, got " + kind_of(node));
    return std::nullopt;
}

std::optional<bool> read_bool(const YAML::Node &node, std::string_view path, Diagnostics &diag) {
    // YAML 1.2 booleans only: "yes"/"no"/"on"/"off" are strings there, and a country code
    // such as NO silently becoming false is a classic YAML trap.
    if (node.IsScalar() && is_plain(node)) {
        const std::string &s = node.Scalar();
        if (s == "true" || s == "True" || s == "TRUE")
            return true;
        if (s == "false" || s == "False" || s == "FALSE")
            return false;
    }
    diag.fail(path, "expected true or false, got " + kind_of(node));
    return std::nullopt;
}

std::string text_problem(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const Utf8Char ch = decode_utf8(s, i);
        char where[64];
        if (ch.len == 0) {
            std::snprintf(where, sizeof where, "at byte %zu", i);
            return std::string("is not valid UTF-8 ") + where;
        }
        if (is_control(ch.cp)) {
            if (ch.cp < 0x80)
                std::snprintf(where, sizeof where, "a control character (0x%02x) at byte %zu",
                              unsigned(ch.cp), i);
            else
                std::snprintf(where, sizeof where, "a control character (U+%04X) at byte %zu",
                              unsigned(ch.cp), i);
            return std::string("contains ") + where;
        }
        if (is_noncharacter(ch.cp)) {
            std::snprintf(where, sizeof where, "a noncharacter (U+%04X) at byte %zu",
                          unsigned(ch.cp), i);
            return std::string("contains ") + where;
        }
        i += ch.len;
    }
    return {};
}

std::optional<std::string> read_string(const YAML::Node &node, std::string_view path,
                                       Diagnostics &diag) {
    if (!node.IsScalar()) {
        diag.fail(path, "expected a string, got " + kind_of(node));
        return std::nullopt;
    }
    if (std::string problem = text_problem(node.Scalar()); !problem.empty()) {
        diag.fail(path, problem);
        return std::nullopt;
    }
    return node.Scalar();
}

std::vector<YAML::Node> read_list(const YAML::Node &node, std::string_view path,
                                  Diagnostics &diag) {
    std::vector<YAML::Node> items;
    if (node.IsNull())
        return items;
    if (!node.IsSequence()) {
        diag.fail(path, "expected a list, got " + kind_of(node));
        return items;
    }
    for (const auto &item : node)
        items.push_back(item);
    return items;
}

MapReader::MapReader(const YAML::Node &node, std::string path, Diagnostics &diag)
    : path_(std::move(path)), diag_(diag) {
    if (!node.IsDefined() || node.IsNull())
        return;
    if (!node.IsMap()) {
        diag_.fail(path_, "expected a mapping, got " + kind_of(node));
        return;
    }
    for (const auto &kv : node) {
        if (!kv.first.IsScalar()) {
            diag_.fail(path_, "keys must be plain strings, got " + kind_of(kv.first));
            return;
        }
        const std::string key = kv.first.Scalar();
        const bool seen = std::any_of(entries_.begin(), entries_.end(),
                                      [&](const auto &e) { return e.first == key; });
        if (seen) {
            diag_.fail(path_of(key), "duplicate key");
            return;
        }
        entries_.emplace_back(key, kv.second);
    }
}

std::vector<std::string> MapReader::keys() const {
    std::vector<std::string> out;
    for (const auto &e : entries_)
        out.push_back(e.first);
    return out;
}

std::optional<YAML::Node> MapReader::get(std::string_view key) {
    known_.emplace_back(key);
    for (const auto &e : entries_) {
        if (e.first == key) {
            if (e.second.IsNull())
                return std::nullopt;
            return e.second;
        }
    }
    return std::nullopt;
}

std::optional<YAML::Node> MapReader::require(std::string_view key) {
    auto node = get(key);
    if (!node)
        diag_.fail(path_of(key), "required key is missing");
    return node;
}

std::optional<int64_t> MapReader::optional_integer(std::string_view key, int64_t min, int64_t max) {
    auto node = get(key);
    if (!node)
        return std::nullopt;
    return read_integer(*node, path_of(key), diag_, min, max);
}

int64_t MapReader::integer(std::string_view key, int64_t fallback, int64_t min, int64_t max) {
    return optional_integer(key, min, max).value_or(fallback);
}

int64_t MapReader::required_integer(std::string_view key, int64_t min, int64_t max) {
    auto node = require(key);
    if (!node)
        return min;
    return read_integer(*node, path_of(key), diag_, min, max).value_or(min);
}

double MapReader::number(std::string_view key, double fallback) {
    auto node = get(key);
    if (!node)
        return fallback;
    return read_number(*node, path_of(key), diag_).value_or(fallback);
}

bool MapReader::boolean(std::string_view key, bool fallback) {
    auto node = get(key);
    if (!node)
        return fallback;
    return read_bool(*node, path_of(key), diag_).value_or(fallback);
}

std::optional<std::string> MapReader::optional_string(std::string_view key) {
    auto node = get(key);
    if (!node)
        return std::nullopt;
    return read_string(*node, path_of(key), diag_);
}

std::string MapReader::string(std::string_view key, std::string fallback) {
    return optional_string(key).value_or(std::move(fallback));
}

std::string MapReader::required_string(std::string_view key) {
    auto node = require(key);
    if (!node)
        return {};
    auto s = read_string(*node, path_of(key), diag_).value_or("");
    if (s.empty())
        diag_.fail(path_of(key), "must not be empty");
    return s;
}

std::vector<std::string> MapReader::string_list(std::string_view key) {
    std::vector<std::string> out;
    auto node = get(key);
    if (!node)
        return out;
    const auto items = read_list(*node, path_of(key), diag_);
    for (std::size_t i = 0; i < items.size(); ++i)
        out.push_back(read_string(items[i], index_path(path_of(key), i), diag_).value_or(""));
    return out;
}

void MapReader::finish() {
    for (const auto &e : entries_) {
        if (std::find(known_.begin(), known_.end(), e.first) != known_.end())
            continue;
        std::string what = "unknown key";
        for (const auto &k : known_) {
            if (edit_distance(e.first, k) <= 2) {
                what += " (did you mean \"" + k + "\"?)";
                break;
            }
        }
        diag_.fail(path_of(e.first), std::move(what));
        return;
    }
}

}  // namespace jg::config_detail
