#include "config/keys.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <type_traits>

namespace jg {
namespace {

// libsodium must be initialised before randombytes; sodium_init is idempotent and
// thread-safe, so every entry point that needs it may call it.
void ensure_sodium() {
    [[maybe_unused]] static const int once = sodium_init();
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

// Decodes into `out` (32 bytes); wipes `out` on failure.
Status decode_into(std::string_view base64, std::span<uint8_t, kKeyBytes> out) {
    if (base64.size() != kKeyBase64Chars)
        return make_error("", "not a WireGuard key: expected " + std::to_string(kKeyBase64Chars) +
                                  " characters of base64, got " + std::to_string(base64.size()));
    std::size_t decoded = 0;
    const char *end = nullptr;
    // libsodium also rejects set bits before '=', as `wg` does: one key has one spelling.
    if (sodium_base642bin(out.data(), out.size(), base64.data(), base64.size(), nullptr, &decoded,
                          &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        decoded != kKeyBytes || end != base64.data() + base64.size()) {
        sodium_memzero(out.data(), out.size());
        return make_error("", "not a WireGuard key: invalid base64 for 32 bytes");
    }
    return Ok{};
}

std::string errno_text() {
    return std::strerror(errno);
}

// A key file holds 44 base64 characters and a newline; the slack is for whitespace.
constexpr std::size_t kMaxKeyFileBytes = 256;

// Reads a small file whole; the buffer is wiped by the caller. One byte past the limit is
// read so that a longer file is refused, not cut short into something that decodes.
Result<std::string> read_small_file(const std::string &path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return make_error(path, "cannot open key file: " + errno_text());
    std::string text(kMaxKeyFileBytes + 1, '\0');
    std::size_t used = 0;
    while (used < text.size()) {
        const ssize_t n = ::read(fd, text.data() + used, text.size() - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const std::string why = errno_text();
            ::close(fd);
            sodium_memzero(text.data(), text.size());
            return make_error(path, "cannot read key file: " + why);
        }
        if (n == 0)
            break;
        used += static_cast<std::size_t>(n);
    }
    ::close(fd);
    if (used > kMaxKeyFileBytes) {
        sodium_memzero(text.data(), text.size());
        return make_error(path,
                          "key file is larger than " + std::to_string(kMaxKeyFileBytes) + " bytes");
    }
    text.resize(used);
    return text;
}

template <class Key>
Result<Key> read_key_file(const std::string &path) {
    auto text = read_small_file(path);
    if (!text)
        return text.error();
    Key key;
    auto decoded = decode_into(trimmed(*text), [&]() -> std::span<uint8_t, kKeyBytes> {
        if constexpr (std::is_same_v<Key, SecretKey>)
            return key.mutable_bytes();
        else
            return key;
    }());
    sodium_memzero(text->data(), text->size());
    if (!decoded)
        return make_error(path, decoded.error().what);
    return key;
}

}  // namespace

SecretKey::SecretKey(std::span<const uint8_t, kKeyBytes> bytes) {
    std::memcpy(bytes_.data(), bytes.data(), kKeyBytes);
}

SecretKey::SecretKey(SecretKey &&other) noexcept : bytes_(other.bytes_) {
    sodium_memzero(other.bytes_.data(), kKeyBytes);
}

SecretKey &SecretKey::operator=(SecretKey &&other) noexcept {
    if (this != &other) {
        bytes_ = other.bytes_;
        sodium_memzero(other.bytes_.data(), kKeyBytes);
    }
    return *this;
}

SecretKey::~SecretKey() {
    sodium_memzero(bytes_.data(), kKeyBytes);
}

bool SecretKey::operator==(const SecretKey &other) const {
    return sodium_memcmp(bytes_.data(), other.bytes_.data(), kKeyBytes) == 0;
}

SecretKey generate_preshared_key() {
    ensure_sodium();
    SecretKey key;
    randombytes_buf(key.mutable_bytes().data(), kKeyBytes);
    return key;
}

SecretKey generate_private_key() {
    SecretKey key = generate_preshared_key();
    // X25519 clamping (RFC 7748), as `wg genkey` writes it.
    auto b = key.mutable_bytes();
    b[0] &= 248;
    b[31] &= 127;
    b[31] |= 64;
    return key;
}

PublicKey derive_public_key(const SecretKey &private_key) {
    ensure_sodium();
    PublicKey pub{};
    // Fails only for a scalar that yields the identity, which clamping makes impossible; an
    // unclamped all-zero key then derives the all-zero key, which no peer will accept.
    if (crypto_scalarmult_base(pub.data(), private_key.bytes().data()) != 0)
        pub.fill(0);
    return pub;
}

std::string encode_key(std::span<const uint8_t, kKeyBytes> key) {
    char buf[kKeyBase64Chars + 1] = {};
    sodium_bin2base64(buf, sizeof buf, key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
    std::string out(buf, kKeyBase64Chars);
    sodium_memzero(buf, sizeof buf);
    return out;
}

Result<PublicKey> decode_public_key(std::string_view base64) {
    PublicKey key{};
    auto s = decode_into(base64, key);
    if (!s)
        return s.error();
    return key;
}

Result<SecretKey> decode_secret_key(std::string_view base64) {
    SecretKey key;
    auto s = decode_into(base64, key.mutable_bytes());
    if (!s)
        return s.error();
    return key;
}

Result<SecretKey> read_secret_key_file(const std::string &path) {
    return read_key_file<SecretKey>(path);
}

Result<PublicKey> read_public_key_file(const std::string &path) {
    return read_key_file<PublicKey>(path);
}

std::optional<std::string> key_file_permission_warning(const std::string &path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return std::nullopt;
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) == 0)
        return std::nullopt;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return path + ": key file is accessible by group or others (mode " + mode + "); chmod 600 it";
}

Status write_key_fd(int fd, const SecretKey &key) {
    char buf[kKeyBase64Chars + 1] = {};
    sodium_bin2base64(buf, sizeof buf, key.bytes().data(), kKeyBytes,
                      sodium_base64_VARIANT_ORIGINAL);
    buf[kKeyBase64Chars] = '\n';
    std::size_t done = 0;
    while (done < sizeof buf) {
        const ssize_t n = ::write(fd, buf + done, sizeof buf - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            sodium_memzero(buf, sizeof buf);
            return make_error("", "cannot write key: " + errno_text());
        }
        done += static_cast<std::size_t>(n);
    }
    sodium_memzero(buf, sizeof buf);
    return Ok{};
}

Status write_secret_key_file(const std::string &path, const SecretKey &key) {
    // O_EXCL: an existing key is somebody's identity; never replace it silently.
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return make_error(path, "key file already exists; refusing to overwrite it");
        return make_error(path, "cannot create key file: " + errno_text());
    }
    auto written = write_key_fd(fd, key);
    const bool synced = ::fsync(fd) == 0;
    const std::string why = errno_text();
    ::close(fd);
    if (written && synced)
        return Ok{};
    // A truncated key file would later fail to decode far from here; leave nothing behind.
    ::unlink(path.c_str());
    return make_error(path, written ? "cannot sync key file: " + why : written.error().what);
}

}  // namespace jg
