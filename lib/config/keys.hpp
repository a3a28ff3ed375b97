// WireGuard keys as `wg genkey` / `wg pubkey` / `wg genpsk` handle them: 32 bytes, written
// as 44 characters of standard base64. Control path only; any thread may call these.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace jg {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kKeyBase64Chars = 44;

using PublicKey = std::array<uint8_t, kKeyBytes>;

// A private or pre-shared key. Wiped with sodium_memzero when it dies; moving leaves the
// source wiped too, so exactly one copy of the secret is alive per move chain.
class SecretKey {
  public:
    SecretKey() = default;
    explicit SecretKey(std::span<const uint8_t, kKeyBytes> bytes);
    SecretKey(const SecretKey &other) = default;
    SecretKey &operator=(const SecretKey &other) = default;
    SecretKey(SecretKey &&other) noexcept;
    SecretKey &operator=(SecretKey &&other) noexcept;
    ~SecretKey();

    std::span<const uint8_t, kKeyBytes> bytes() const { return bytes_; }
    std::span<uint8_t, kKeyBytes> mutable_bytes() { return bytes_; }

    // Constant time: secrets are never compared with memcmp.
    bool operator==(const SecretKey &other) const;

  private:
    std::array<uint8_t, kKeyBytes> bytes_{};
};

// A fresh X25519 private key, clamped as `wg genkey` does.
SecretKey generate_private_key();
// A fresh pre-shared key (uniform random bytes, as `wg genpsk`).
SecretKey generate_preshared_key();
// The X25519 public key of a private key (`wg pubkey`).
PublicKey derive_public_key(const SecretKey &private_key);

// Standard base64 with padding: always 44 characters. The caller owns wiping the string when
// it encodes a secret; prefer write_key_fd, which never leaves a copy behind.
std::string encode_key(std::span<const uint8_t, kKeyBytes> key);

// Accepts exactly 44 characters of standard base64 decoding to 32 bytes. The error's `where`
// is empty; its `what` says why ("expected 44 characters of base64, got 12").
Result<PublicKey> decode_public_key(std::string_view base64);
Result<SecretKey> decode_secret_key(std::string_view base64);

// Reads a key file holding one base64 key (surrounding whitespace ignored). Errors name the
// path. Permissions are not enforced here: see key_file_permission_warning.
Result<SecretKey> read_secret_key_file(const std::string &path);
Result<PublicKey> read_public_key_file(const std::string &path);

// A sentence to log when a secret key file is readable or writable by group or others
// (what `wg` warns about); nullopt when the mode is private or the file cannot be stat'ed.
std::optional<std::string> key_file_permission_warning(const std::string &path);

// Writes "<base64>\n" to `fd` (stdout for `jumpgate genkey`) without keeping a copy.
Status write_key_fd(int fd, const SecretKey &key);
// Creates `path` with mode 0600 and writes the key; refuses to overwrite an existing file.
Status write_secret_key_file(const std::string &path, const SecretKey &key);

}  // namespace jg
