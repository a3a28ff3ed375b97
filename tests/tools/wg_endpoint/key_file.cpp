#include "key_file.hpp"

#include <sodium.h>

#include <fstream>
#include <sstream>

namespace jg::interop {

Result<Key32> decode_key(const std::string &base64, const std::string &where) {
    Key32 key{};
    std::size_t decoded = 0;
    const char *end = nullptr;
    // Trailing whitespace (the newline `wg genkey` writes) is skipped, anything else is not.
    if (sodium_base642bin(key.data(), key.size(), base64.data(), base64.size(), " \t\r\n", &decoded,
                          &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        decoded != key.size() || end != base64.data() + base64.size()) {
        sodium_memzero(key.data(), key.size());
        return make_error(where, "not a base64 32-byte WireGuard key");
    }
    return key;
}

Result<Key32> read_key_file(const std::string &path) {
    std::ifstream in(path);
    if (!in) {
        return make_error(path, "cannot open key file");
    }
    std::stringstream text;
    text << in.rdbuf();
    std::string contents = text.str();
    auto key = decode_key(contents, path);
    sodium_memzero(contents.data(), contents.size());
    return key;
}

}  // namespace jg::interop
