// ipsec-mb against libsodium on random packets: identical bytes, cross-opening, and
// rejection of every corruption tried.
#include <algorithm>
#include <vector>

#include "aead_fixture.hpp"

namespace jg::crypto::test {
namespace {

constexpr int kCases = 10000;
constexpr uint16_t kBurst = 32;
constexpr uint32_t kMaxLen = 1500;

struct Case {
    Key key;
    uint64_t counter;
    std::vector<uint8_t> plaintext;
};

Case random_case(std::mt19937_64 &rng) {
    Case c;
    c.key = random_key(rng);
    c.counter = rng();
    c.plaintext.resize(std::uniform_int_distribution<uint32_t>(0, kMaxLen)(rng));
    fill_random(c.plaintext, c.plaintext.size(), rng);
    return c;
}

Packet packet_of(const Case &c) {
    Packet p(static_cast<uint32_t>(c.plaintext.size()));
    std::copy(c.plaintext.begin(), c.plaintext.end(), p.bytes.begin());
    return p;
}

bool payload_equals(const Packet &p, const std::vector<uint8_t> &expected) {
    return std::equal(expected.begin(), expected.end(), p.bytes.begin());
}

bool payload_zeroed(const Packet &p) {
    return std::all_of(p.bytes.begin(), p.bytes.begin() + p.len, [](uint8_t b) { return b == 0; });
}

using AeadDifferential = CryptoBackends;

TEST_F(AeadDifferential, RandomCasesSealIdenticallyAndEachOpensTheOthersOutput) {
    int checked = 0;
    while (checked < kCases) {
        std::vector<Case> cases;
        std::vector<Packet> by_mb, by_na;
        for (uint16_t i = 0; i < kBurst && checked + i < kCases; ++i) {
            cases.push_back(random_case(rng_));
        }
        for (const Case &c : cases) {
            by_mb.push_back(packet_of(c));
            by_na.push_back(packet_of(c));
        }
        std::vector<AeadOp> mb_ops, na_ops;
        for (size_t i = 0; i < cases.size(); ++i) {
            mb_ops.push_back(op_for(by_mb[i], cases[i].key, cases[i].counter));
            na_ops.push_back(op_for(by_na[i], cases[i].key, cases[i].counter));
        }
        const auto n = static_cast<uint16_t>(cases.size());
        mb().seal_burst(mb_ops.data(), n);
        na().seal_burst(na_ops.data(), n);
        for (size_t i = 0; i < cases.size(); ++i) {
            ASSERT_EQ(mb_ops[i].ok, 1) << "case " << checked + i;
            ASSERT_EQ(na_ops[i].ok, 1) << "case " << checked + i;
            ASSERT_EQ(by_mb[i].bytes, by_na[i].bytes)
                << "case " << checked + i << " len " << cases[i].plaintext.size();
        }
        // Cross-open: libsodium opens what ipsec-mb sealed and the other way round.
        na().open_burst(mb_ops.data(), n);
        mb().open_burst(na_ops.data(), n);
        for (size_t i = 0; i < cases.size(); ++i) {
            ASSERT_EQ(mb_ops[i].ok, 1) << "case " << checked + i;
            ASSERT_EQ(na_ops[i].ok, 1) << "case " << checked + i;
            ASSERT_TRUE(payload_equals(by_mb[i], cases[i].plaintext)) << "case " << checked + i;
            ASSERT_TRUE(payload_equals(by_na[i], cases[i].plaintext)) << "case " << checked + i;
        }
        checked += n;
    }
    EXPECT_EQ(checked, kCases);
}

TEST_F(AeadDifferential, RandomSingleBitFlipInCiphertextOrTagIsRejectedByBoth) {
    int checked = 0;
    while (checked < kCases) {
        std::vector<Case> cases;
        for (uint16_t i = 0; i < kBurst && checked + i < kCases; ++i) {
            cases.push_back(random_case(rng_));
        }
        std::vector<Packet> sealed;
        std::vector<AeadOp> ops;
        for (const Case &c : cases) {
            sealed.push_back(packet_of(c));
        }
        for (size_t i = 0; i < cases.size(); ++i) {
            ops.push_back(op_for(sealed[i], cases[i].key, cases[i].counter));
        }
        const auto n = static_cast<uint16_t>(cases.size());
        na().seal_burst(ops.data(), n);
        for (Packet &p : sealed) {
            const uint32_t bits = (p.len + kAeadTagBytes) * 8;
            const uint32_t bit = std::uniform_int_distribution<uint32_t>(0, bits - 1)(rng_);
            p.bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
        }
        std::vector<Packet> for_mb = sealed, for_na = sealed;
        std::vector<AeadOp> mb_ops, na_ops;
        for (size_t i = 0; i < cases.size(); ++i) {
            mb_ops.push_back(op_for(for_mb[i], cases[i].key, cases[i].counter));
            na_ops.push_back(op_for(for_na[i], cases[i].key, cases[i].counter));
        }
        mb().open_burst(mb_ops.data(), n);
        na().open_burst(na_ops.data(), n);
        for (size_t i = 0; i < cases.size(); ++i) {
            ASSERT_EQ(mb_ops[i].ok, 0) << "case " << checked + i;
            ASSERT_EQ(na_ops[i].ok, 0) << "case " << checked + i;
            ASSERT_TRUE(payload_zeroed(for_mb[i])) << "case " << checked + i;
            ASSERT_TRUE(payload_zeroed(for_na[i])) << "case " << checked + i;
        }
        checked += n;
    }
    EXPECT_EQ(checked, kCases);
}

TEST_F(AeadDifferential, EveryBitFlipOfShortMessagesIsRejectedByBoth) {
    for (uint32_t len : {0u, 1u, 15u, 16u, 17u, 63u, 64u, 65u}) {
        Case c = random_case(rng_);
        c.plaintext.resize(len);
        fill_random(c.plaintext, len, rng_);
        Packet sealed = packet_of(c);
        AeadOp seal_op = op_for(sealed, c.key, c.counter);
        mb().seal_burst(&seal_op, 1);
        ASSERT_EQ(seal_op.ok, 1);

        const uint32_t bits = (len + kAeadTagBytes) * 8;
        int rejected_mb = 0, rejected_na = 0;
        for (uint32_t first = 0; first < bits; first += kBurst) {
            const uint32_t count = std::min<uint32_t>(kBurst, bits - first);
            std::vector<Packet> for_mb(count, sealed), for_na(count, sealed);
            std::vector<AeadOp> mb_ops, na_ops;
            for (uint32_t i = 0; i < count; ++i) {
                const uint32_t bit = first + i;
                for_mb[i].bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
                for_na[i].bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
                mb_ops.push_back(op_for(for_mb[i], c.key, c.counter));
                na_ops.push_back(op_for(for_na[i], c.key, c.counter));
            }
            mb().open_burst(mb_ops.data(), static_cast<uint16_t>(count));
            na().open_burst(na_ops.data(), static_cast<uint16_t>(count));
            for (uint32_t i = 0; i < count; ++i) {
                EXPECT_EQ(mb_ops[i].ok, 0) << "len " << len << " bit " << first + i;
                EXPECT_EQ(na_ops[i].ok, 0) << "len " << len << " bit " << first + i;
                rejected_mb += mb_ops[i].ok == 0;
                rejected_na += na_ops[i].ok == 0;
            }
        }
        EXPECT_EQ(rejected_mb, static_cast<int>(bits)) << "len " << len;
        EXPECT_EQ(rejected_na, static_cast<int>(bits)) << "len " << len;

        // The untouched packet still opens, so the rejections above were about the flips.
        AeadOp open_op = op_for(sealed, c.key, c.counter);
        mb().open_burst(&open_op, 1);
        EXPECT_EQ(open_op.ok, 1) << "len " << len;
        EXPECT_TRUE(payload_equals(sealed, c.plaintext));
    }
}

}  // namespace
}  // namespace jg::crypto::test
