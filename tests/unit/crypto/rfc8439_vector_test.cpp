// RFC 8439 section 2.8.2 proves the job description the data plane submits; the nonce tests
// pin WireGuard's counter layout against libsodium called directly.
#include <sodium.h>

#include <cstring>
#include <string>
#include <vector>

#include "aead_fixture.hpp"

namespace jg::crypto::test {
namespace {

std::vector<uint8_t> from_hex(const std::string &hex) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < hex.size();) {
        if (hex[i] == ' ') {
            ++i;
            continue;
        }
        out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
        i += 2;
    }
    return out;
}

const std::string kPlaintext =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    "future, sunscreen would be it.";
const std::vector<uint8_t> kKey = from_hex(
    "80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f 90 91 92 93 94 95 96 97 98 99 9a 9b 9c "
    "9d 9e 9f");
// 32-bit constant 07 00 00 00 followed by the 64-bit IV 40..47.
const std::vector<uint8_t> kNonce = from_hex("07 00 00 00 40 41 42 43 44 45 46 47");
const std::vector<uint8_t> kAad = from_hex("50 51 52 53 c0 c1 c2 c3 c4 c5 c6 c7");
const std::vector<uint8_t> kCiphertext = from_hex(
    "d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee "
    "62 d6 3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b 1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 "
    "7e cd 3b 36 92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 fa b3 24 e4 fa d6 75 94 55 85 "
    "80 8b 48 31 d7 bc 3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b 61 16");
const std::vector<uint8_t> kTag = from_hex("1a e1 0b 59 4f 09 e2 6a 7e 90 2e cb d0 60 06 91");

std::vector<uint8_t> sealed_vector() {
    std::vector<uint8_t> out = kCiphertext;
    out.insert(out.end(), kTag.begin(), kTag.end());
    return out;
}

AeadExplicitOp vector_op(std::vector<uint8_t> &buffer, const std::vector<uint8_t> &aad) {
    return AeadExplicitOp{buffer.data(), static_cast<uint32_t>(kPlaintext.size()),
                          kKey.data(),   kNonce.data(),
                          aad.data(),    static_cast<uint32_t>(aad.size())};
}

template <class Backend>
class Rfc8439Vector : public ::testing::Test {
  protected:
    void SetUp() override {
        auto created = Backend::create();
        ASSERT_TRUE(created.ok()) << created.error().message();
        backend_ = std::make_unique<Backend>(std::move(created).value());
    }
    Backend &backend() { return *backend_; }

  private:
    std::unique_ptr<Backend> backend_;
};

using Backends = ::testing::Types<IpsecMbAead, SodiumAead>;
TYPED_TEST_SUITE(Rfc8439Vector, Backends);

TYPED_TEST(Rfc8439Vector, SealProducesSection282CiphertextAndTag) {
    ASSERT_EQ(kPlaintext.size(), kCiphertext.size());
    std::vector<uint8_t> buffer(kPlaintext.begin(), kPlaintext.end());
    buffer.resize(kPlaintext.size() + kAeadTagBytes);
    EXPECT_TRUE(this->backend().seal_explicit(vector_op(buffer, kAad)));
    EXPECT_EQ(buffer, sealed_vector());
}

TYPED_TEST(Rfc8439Vector, OpenRecoversSection282Plaintext) {
    std::vector<uint8_t> buffer = sealed_vector();
    EXPECT_TRUE(this->backend().open_explicit(vector_op(buffer, kAad)));
    EXPECT_EQ(std::string(buffer.begin(), buffer.begin() + kPlaintext.size()), kPlaintext);
}

TYPED_TEST(Rfc8439Vector, OpenRejectsSection282VectorUnderDifferentAad) {
    std::vector<uint8_t> buffer = sealed_vector();
    std::vector<uint8_t> aad = kAad;
    aad[0] ^= 0x01;
    EXPECT_FALSE(this->backend().open_explicit(vector_op(buffer, aad)));
    EXPECT_EQ(std::vector<uint8_t>(buffer.begin(), buffer.begin() + kPlaintext.size()),
              std::vector<uint8_t>(kPlaintext.size(), 0))
        << "a forged packet must not leave plaintext behind";
}

TEST(AeadNonce, CounterFollowsFourZeroBytesInLittleEndian) {
    uint8_t nonce[kAeadNonceBytes];
    std::memset(nonce, 0xFF, sizeof(nonce));
    aead_nonce_from_counter(0x0102030405060708ULL, nonce);
    const std::vector<uint8_t> expected = from_hex("00 00 00 00 08 07 06 05 04 03 02 01");
    EXPECT_EQ(std::vector<uint8_t>(nonce, nonce + kAeadNonceBytes), expected);
}

// The burst path (counter nonce, no AAD) against libsodium called with a nonce written out
// by hand, so a shared nonce bug in our code could not hide.
TYPED_TEST(Rfc8439Vector, SealBurstMatchesLibsodiumWithWireGuardNonce) {
    ASSERT_GE(sodium_init(), 0);
    const std::vector<uint8_t> nonce = from_hex("00 00 00 00 ef cd ab 89 67 45 23 01");
    std::vector<uint8_t> expected(kPlaintext.size() + kAeadTagBytes);
    unsigned long long expected_len = 0;
    ASSERT_EQ(
        crypto_aead_chacha20poly1305_ietf_encrypt(
            expected.data(), &expected_len, reinterpret_cast<const uint8_t *>(kPlaintext.data()),
            kPlaintext.size(), nullptr, 0, nullptr, nonce.data(), kKey.data()),
        0);
    ASSERT_EQ(expected_len, expected.size());

    std::vector<uint8_t> buffer(kPlaintext.begin(), kPlaintext.end());
    buffer.resize(kPlaintext.size() + kAeadTagBytes);
    AeadOp op{buffer.data(), static_cast<uint32_t>(kPlaintext.size()), kKey.data(),
              0x0123456789abcdefULL, 0};
    this->backend().seal_burst(&op, 1);
    EXPECT_EQ(op.ok, 1);
    EXPECT_EQ(buffer, expected);
}

}  // namespace
}  // namespace jg::crypto::test
