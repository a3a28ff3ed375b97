// WireGuard keys as `wg genkey` / `wg pubkey` / `wg genpsk` print them: 32 bytes in
// standard base64, one per file or on the command line.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/result.hpp"

namespace jg::interop {

using Key32 = std::array<std::uint8_t, 32>;

Result<Key32> decode_key(const std::string &base64, const std::string &where);
Result<Key32> read_key_file(const std::string &path);

}  // namespace jg::interop
