#include "config/keys.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace jg {
namespace {

std::array<uint8_t, 32> from_hex(const char *hex) {
    std::array<uint8_t, 32> out{};
    size_t len = 0;
    EXPECT_EQ(sodium_hex2bin(out.data(), out.size(), hex, 64, nullptr, &len, nullptr), 0);
    EXPECT_EQ(len, 32u);
    return out;
}

// A fresh empty directory, removed with everything in it when the test ends.
class KeyFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/jg-keys-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string path(const char *name) const { return dir_ + "/" + name; }
    void write(const std::string &p, const std::string &text, mode_t mode) const {
        std::ofstream(p) << text;
        chmod(p.c_str(), mode);
    }

    std::string dir_;
};

// Runs `wg <args>` with `input` on stdin; the first line it prints, or nullopt if wg is absent.
std::optional<std::string> run_wg(const std::string &args, const std::string &input,
                                  const std::string &dir) {
    if (access("/usr/bin/wg", X_OK) != 0 && system("command -v wg >/dev/null 2>&1") != 0)
        return std::nullopt;
    const std::string in = dir + "/wg-in";
    std::ofstream(in) << input;
    FILE *p = popen(("wg " + args + " < " + in).c_str(), "r");
    if (!p)
        return std::nullopt;
    char buf[128] = {};
    const bool got = fgets(buf, sizeof buf, p) != nullptr;
    pclose(p);
    if (!got)
        return std::nullopt;
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    return s;
}

TEST(Keys, GeneratedPrivateKeysAreClampedAndDistinct) {
    const SecretKey a = generate_private_key();
    const SecretKey b = generate_private_key();
    EXPECT_FALSE(a == b);
    for (const SecretKey *k : {&a, &b}) {
        EXPECT_EQ(k->bytes()[0] & 7, 0);
        EXPECT_EQ(k->bytes()[31] & 128, 0);
        EXPECT_EQ(k->bytes()[31] & 64, 64);
    }
}

TEST(Keys, PublicKeyDerivationMatchesRfc7748) {
    // RFC 7748 section 6.1, Alice.
    const SecretKey alice(
        from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
    EXPECT_EQ(derive_public_key(alice),
              from_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
}

TEST(Keys, EncodingIs44CharactersOfStandardBase64AndRoundTrips) {
    const SecretKey k = generate_private_key();
    const PublicKey pub = derive_public_key(k);
    const std::string text = encode_key(pub);
    EXPECT_EQ(text.size(), 44u);
    EXPECT_EQ(text.back(), '=');
    auto decoded = decode_public_key(text);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, pub);
    auto secret = decode_secret_key(encode_key(k.bytes()));
    ASSERT_TRUE(secret);
    EXPECT_TRUE(*secret == k);
}

TEST(Keys, DecodingRejectsWrongLengthAlphabetAndPaddingBits) {
    EXPECT_EQ(decode_public_key("abc").error().what,
              "not a WireGuard key: expected 44 characters of base64, got 3");
    // URL-safe alphabet is not WireGuard's.
    EXPECT_FALSE(decode_public_key("vR03_Samc0xVaFMeP4jcQ3DCc_ZW9SMSHkKTMmMXdGs="));
    // 's' -> 't' sets one of the two unused bits before '='; such text never came from `wg`.
    EXPECT_TRUE(decode_public_key("vR03/Samc0xVaFMeP4jcQ3DCc/ZW9SMSHkKTMmMXdGs="));
    EXPECT_EQ(decode_public_key("vR03/Samc0xVaFMeP4jcQ3DCc/ZW9SMSHkKTMmMXdGt=").error().what,
              "not a WireGuard key: invalid base64 for 32 bytes");
}

TEST(Keys, SecretKeyMoveLeavesTheSourceWiped) {
    SecretKey a = generate_private_key();
    const SecretKey copy = a;
    SecretKey b = std::move(a);
    EXPECT_TRUE(b == copy);
    EXPECT_TRUE(a == SecretKey{});  // NOLINT(bugprone-use-after-move): the point of the test
}

TEST_F(KeyFileTest, WrittenKeyFileIsPrivateAndReadsBack) {
    const SecretKey k = generate_private_key();
    ASSERT_TRUE(write_secret_key_file(path("gw.key"), k));
    struct stat st {};
    ASSERT_EQ(stat(path("gw.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(st.st_size, 45);  // 44 characters and a newline, like `wg genkey`
    auto back = read_secret_key_file(path("gw.key"));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_TRUE(*back == k);
    EXPECT_FALSE(key_file_permission_warning(path("gw.key")).has_value());
}

TEST_F(KeyFileTest, WritingNeverOverwritesAnExistingKey) {
    write(path("gw.key"), "keep me\n", 0600);
    auto s = write_secret_key_file(path("gw.key"), generate_private_key());
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message(),
              path("gw.key") + ": key file already exists; refusing to overwrite it");
    std::ifstream in(path("gw.key"));
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "keep me");
}

TEST_F(KeyFileTest, ReadingIgnoresSurroundingWhitespace) {
    write(path("pub"), "  \n vR03/Samc0xVaFMeP4jcQ3DCc/ZW9SMSHkKTMmMXdGs= \r\n\n", 0644);
    auto k = read_public_key_file(path("pub"));
    ASSERT_TRUE(k) << k.error().message();
    EXPECT_EQ(encode_key(*k), "vR03/Samc0xVaFMeP4jcQ3DCc/ZW9SMSHkKTMmMXdGs=");
}

TEST_F(KeyFileTest, MalformedKeyFileIsRejectedWithItsPath) {
    write(path("bad.key"), "vR03/Samc0xVaFMeP4jcQ3DCc/ZW9SMSHkKTMm!MXdG=\n", 0600);
    auto k = read_secret_key_file(path("bad.key"));
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().message(),
              path("bad.key") + ": not a WireGuard key: invalid base64 for 32 bytes");
    EXPECT_EQ(read_secret_key_file(path("missing.key")).error().where, path("missing.key"));
}

TEST_F(KeyFileTest, KeyFileOverTheSizeLimitIsRefusedNotCutShort) {
    const std::string key = "vR03/Samc0xVaFMeP4jcQ3DCc/ZW9SMSHkKTMmMXdGs=";
    // Junk past byte 256 would go unseen if the file were read only that far.
    write(path("long.key"), key + std::string(300, ' ') + "junk\n", 0600);
    auto k = read_public_key_file(path("long.key"));
    ASSERT_FALSE(k);
    EXPECT_EQ(k.error().message(), path("long.key") + ": key file is larger than 256 bytes");

    write(path("full.key"), key + std::string(256 - key.size() - 1, ' ') + "\n", 0600);
    ASSERT_EQ(std::filesystem::file_size(path("full.key")), 256u);
    auto full = read_public_key_file(path("full.key"));
    ASSERT_TRUE(full) << full.error().message();
    EXPECT_EQ(encode_key(*full), key);
}

TEST_F(KeyFileTest, GroupReadableKeyFileGetsAWarningNotAnError) {
    const SecretKey k = generate_private_key();
    ASSERT_TRUE(write_secret_key_file(path("gw.key"), k));
    chmod(path("gw.key").c_str(), 0640);
    EXPECT_TRUE(read_secret_key_file(path("gw.key")));
    EXPECT_EQ(key_file_permission_warning(path("gw.key")),
              path("gw.key") +
                  ": key file is accessible by group or others (mode 0640); chmod "
                  "600 it");
}

TEST_F(KeyFileTest, KeyWrittenToADescriptorIsOneLine) {
    const SecretKey k = generate_private_key();
    const int fd = open(path("out").c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(write_key_fd(fd, k));
    close(fd);
    std::ifstream in(path("out"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, encode_key(k.bytes()) + "\n");
}

TEST_F(KeyFileTest, WgPubkeyAgreesWithOurDerivation) {
    for (int i = 0; i < 4; ++i) {
        const SecretKey k = generate_private_key();
        auto theirs = run_wg("pubkey", encode_key(k.bytes()) + "\n", dir_);
        if (!theirs)
            GTEST_SKIP() << "wg (wireguard-tools) is not installed";
        EXPECT_EQ(*theirs, encode_key(derive_public_key(k)));
    }
}

TEST_F(KeyFileTest, KeysFromWgGenkeyDecodeAndDeriveAsWgDoes) {
    for (int i = 0; i < 4; ++i) {
        auto priv = run_wg("genkey", "", dir_);
        if (!priv)
            GTEST_SKIP() << "wg (wireguard-tools) is not installed";
        auto pub = run_wg("pubkey", *priv + "\n", dir_);
        ASSERT_TRUE(pub);
        auto k = decode_secret_key(*priv);
        ASSERT_TRUE(k) << k.error().message();
        EXPECT_EQ(encode_key(derive_public_key(*k)), *pub);
    }
}

}  // namespace
}  // namespace jg
