// Known answers: RFC 7693 / BLAKE2 reference vectors, WireGuard's published initial chaining
// key and hash, and HMAC/HKDF values from Python's independent hmac + hashlib.blake2s.
#include <gtest/gtest.h>

#include "proto/blake2s.hpp"
#include "proto/tai64n.hpp"
#include "test_bytes.hpp"

namespace jg::proto {
namespace {

using test::bytes_of;
using test::to_hex;

TEST(Blake2s, HashOfEmptyInputMatchesReferenceVector) {
    EXPECT_EQ(to_hex(blake2s_hash({})),
              "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
}

TEST(Blake2s, HashOfAbcMatchesRfc7693) {
    const auto abc = bytes_of("abc");
    EXPECT_EQ(to_hex(blake2s_hash(abc)),
              "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

TEST(Blake2s, HashOfTwoPartsEqualsHashOfConcatenation) {
    const auto ab = bytes_of("abc");
    const auto a = bytes_of("a");
    const auto b = bytes_of("bc");
    EXPECT_EQ(blake2s_hash(a, b), blake2s_hash(ab));
}

TEST(Blake2s, InitialChainKeyAndHashMatchWireGuard) {
    const auto construction = bytes_of(kConstruction);
    const Hash ck = blake2s_hash(construction);
    EXPECT_EQ(to_hex(ck), "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
    const auto identifier = bytes_of(kIdentifier);
    EXPECT_EQ(to_hex(blake2s_hash(ck, identifier)),
              "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}

TEST(Blake2s, KeyedMacMatchesIndependentImplementation) {
    std::vector<uint8_t> key(32);
    for (size_t i = 0; i < key.size(); ++i)
        key[i] = uint8_t(i);
    EXPECT_EQ(to_hex(blake2s_mac(key, bytes_of("jumpgate hmac test"))),
              "9444aa8a55bd1ec6bd37261770a70816");
}

TEST(Blake2s, HmacMatchesIndependentImplementation) {
    std::vector<uint8_t> key(32);
    for (size_t i = 0; i < key.size(); ++i)
        key[i] = uint8_t(i);
    EXPECT_EQ(to_hex(hmac_blake2s(key, bytes_of("jumpgate hmac test"))),
              "9e60da7c47cfa450a9c0b74a0ccc93171d6482fd03f267f03b97336aa9a9f364");
}

TEST(Blake2s, HmacHashesKeysLongerThanOneBlock) {
    std::vector<uint8_t> key(100);
    for (size_t i = 0; i < key.size(); ++i)
        key[i] = uint8_t(i);
    EXPECT_EQ(to_hex(hmac_blake2s(key, bytes_of("jumpgate hmac test"))),
              "88218ec3379c2f97a4afba9b624a8cf4cae83499259564c6e88771717f2ddd1b");
}

TEST(Blake2s, KdfOutputsMatchIndependentHkdf) {
    std::vector<uint8_t> key(32);
    for (size_t i = 0; i < key.size(); ++i)
        key[i] = uint8_t(i);
    const auto input = bytes_of("jumpgate hmac test");
    Hash t1, t2, t3;
    kdf3(t1, t2, t3, key, input);
    EXPECT_EQ(to_hex(t1), "c957f3a940de0b81400526110e350e1a49f666586c9afd5815b58c74183fdbb7");
    EXPECT_EQ(to_hex(t2), "7f8cf962b2f3408286830e47171616b1babbd0f8a8c94059fbc9f6650a03d2ca");
    EXPECT_EQ(to_hex(t3), "38f45132727a15c951d1676c55b85e6762ca698587d7a9a3ebf0ddbc2c5fcb10");
}

TEST(Blake2s, ShorterKdfsArePrefixesOfKdf3) {
    std::vector<uint8_t> key(32, 7);
    const auto input = bytes_of("chain");
    Hash a1, b1, b2, c1, c2, c3;
    kdf1(a1, key, input);
    kdf2(b1, b2, key, input);
    kdf3(c1, c2, c3, key, input);
    EXPECT_EQ(a1, c1);
    EXPECT_EQ(b1, c1);
    EXPECT_EQ(b2, c2);
}

TEST(Blake2s, KdfOutputMayOverwriteItsOwnKey) {
    Hash ck{};
    ck.fill(3);
    const Hash original = ck;
    Hash expected_ck, expected_k;
    kdf2(expected_ck, expected_k, original, bytes_of("x"));
    Hash k;
    kdf2(ck, k, ck, bytes_of("x"));
    EXPECT_EQ(ck, expected_ck);
    EXPECT_EQ(k, expected_k);
}

TEST(Tai64n, EncodesBigEndianSecondsWithTaiLabelAndWhitenedNanoseconds) {
    // 2021-01-01T00:00:00.123456789Z
    const uint64_t unix_ns = 1609459200ull * 1'000'000'000ull + 123456789ull;
    const Tai64n t = tai64n_from_unix_ns(unix_ns);
    const uint64_t secs = 0x400000000000000aull + 1609459200ull;
    for (int i = 0; i < 8; ++i) {
        EXPECT_EQ(t[i], uint8_t(secs >> (56 - 8 * i))) << i;
    }
    const uint32_t nanos = 123456789u & ~((1u << 24) - 1);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(t[8 + i], uint8_t(nanos >> (24 - 8 * i))) << i;
    }
}

TEST(Tai64n, LaterTimeComparesAfterAndEqualDoesNot) {
    const Tai64n a = tai64n_from_unix_ns(1'000'000'000ull * 1000);
    const Tai64n b = tai64n_from_unix_ns(1'000'000'000ull * 1000 + 100'000'000ull);
    EXPECT_TRUE(tai64n_after(b, a));
    EXPECT_FALSE(tai64n_after(a, b));
    EXPECT_FALSE(tai64n_after(a, a));
}

}  // namespace
}  // namespace jg::proto
