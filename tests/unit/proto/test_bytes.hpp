// Byte helpers shared by the lib/proto unit tests (test code only, single-threaded).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jg::proto::test {

inline std::vector<uint8_t> from_hex(std::string_view hex) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
        out.push_back(uint8_t(std::stoul(std::string(hex.substr(i, 2)), nullptr, 16)));
    }
    return out;
}

template <class Container>
std::string to_hex(const Container &c) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s;
    for (uint8_t b : c) {
        s.push_back(kDigits[b >> 4]);
        s.push_back(kDigits[b & 15]);
    }
    return s;
}

inline std::vector<uint8_t> bytes_of(std::string_view s) {
    return {s.begin(), s.end()};
}

}  // namespace jg::proto::test
