// Burst semantics both backends must share (per-op verdicts, isolation of a bad packet,
// empty payloads, long bursts), plus what only the ipsec-mb backend has (modes, arch, move).
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "aead_fixture.hpp"

namespace jg::crypto::test {
namespace {

enum class Damage { kNone, kCiphertextBit, kTagBit, kWrongCounter, kWrongKey };

struct Flow {
    Key key;
    uint64_t counter;
    std::vector<uint8_t> plaintext;
    Packet packet;
    Damage damage = Damage::kNone;
};

template <class Backend>
class AeadBurst : public ::testing::Test {
  protected:
    void SetUp() override {
        auto created = Backend::create();
        ASSERT_TRUE(created.ok()) << created.error().message();
        backend_ = std::make_unique<Backend>(std::move(created).value());
    }
    Backend &backend() { return *backend_; }

    Flow make_flow(uint32_t len) {
        Flow f;
        f.key = random_key(rng_);
        f.counter = rng_();
        f.plaintext.resize(len);
        fill_random(f.plaintext, len, rng_);
        f.packet = Packet(len);
        std::copy(f.plaintext.begin(), f.plaintext.end(), f.packet.bytes.begin());
        return f;
    }

    // Seals every flow in one burst and checks the seal verdicts.
    void seal_all(std::vector<Flow> &flows) {
        std::vector<AeadOp> ops;
        for (Flow &f : flows) {
            ops.push_back(op_for(f.packet, f.key, f.counter));
        }
        EXPECT_EQ(backend().seal_burst(ops.data(), static_cast<uint16_t>(ops.size())), ops.size());
        for (const AeadOp &op : ops) {
            ASSERT_EQ(op.ok, 1);
        }
    }

    void damage(Flow &f, Damage how) {
        f.damage = how;
        Packet &p = f.packet;
        switch (how) {
            case Damage::kNone:
                break;
            case Damage::kCiphertextBit:
                if (p.len == 0) {
                    f.damage = Damage::kTagBit;
                    damage(f, Damage::kTagBit);
                    return;
                }
                p.bytes[rng_() % p.len] ^= static_cast<uint8_t>(1u << (rng_() % 8));
                break;
            case Damage::kTagBit:
                p.bytes[p.len + rng_() % kAeadTagBytes] ^= static_cast<uint8_t>(1u << (rng_() % 8));
                break;
            case Damage::kWrongCounter:
                f.counter ^= 1ULL << (rng_() % 64);
                break;
            case Damage::kWrongKey:
                f.key[rng_() % kAeadKeyBytes] ^= static_cast<uint8_t>(1u << (rng_() % 8));
                break;
        }
    }

    // Opens every flow in one burst and checks each verdict and payload.
    void open_all_and_check(std::vector<Flow> &flows) {
        std::vector<AeadOp> ops;
        for (Flow &f : flows) {
            ops.push_back(op_for(f.packet, f.key, f.counter));
        }
        const uint16_t authentic =
            backend().open_burst(ops.data(), static_cast<uint16_t>(ops.size()));
        const auto intact_count = std::count_if(
            flows.begin(), flows.end(), [](const Flow &f) { return f.damage == Damage::kNone; });
        EXPECT_EQ(authentic, intact_count) << "open_burst's count of authentic ops";
        for (size_t i = 0; i < flows.size(); ++i) {
            const Flow &f = flows[i];
            const bool intact = f.damage == Damage::kNone;
            EXPECT_EQ(ops[i].ok, intact ? 1 : 0) << "op " << i << " of " << flows.size();
            if (intact) {
                EXPECT_TRUE(
                    std::equal(f.plaintext.begin(), f.plaintext.end(), f.packet.bytes.begin()))
                    << "op " << i;
            } else {
                EXPECT_TRUE(std::all_of(f.packet.bytes.begin(),
                                        f.packet.bytes.begin() + f.packet.len,
                                        [](uint8_t b) { return b == 0; }))
                    << "op " << i << " left bytes behind after a failed open";
            }
        }
    }

    std::mt19937_64 rng_{0x62757273747321ULL};

  private:
    std::unique_ptr<Backend> backend_;
};

using Backends = ::testing::Types<IpsecMbAead, SodiumAead>;
TYPED_TEST_SUITE(AeadBurst, Backends);

TYPED_TEST(AeadBurst, MixedKeysAndLengthsReportPerOpVerdicts) {
    const Damage kinds[] = {Damage::kCiphertextBit, Damage::kTagBit, Damage::kWrongCounter,
                            Damage::kWrongKey};
    for (int round = 0; round < 8; ++round) {
        for (uint16_t n = 1; n <= 32; ++n) {
            std::vector<Flow> flows;
            for (uint16_t i = 0; i < n; ++i) {
                flows.push_back(this->make_flow(static_cast<uint32_t>(this->rng_() % 1501)));
            }
            this->seal_all(flows);
            for (Flow &f : flows) {
                if (this->rng_() % 4 == 0) {
                    this->damage(f, kinds[this->rng_() % 4]);
                }
            }
            this->open_all_and_check(flows);
        }
    }
}

TYPED_TEST(AeadBurst, CorruptedPacketLeavesTheRestOfItsBurstCorrect) {
    std::vector<Flow> flows;
    for (uint32_t i = 0; i < 32; ++i) {
        flows.push_back(this->make_flow(64 + 37 * i));
    }
    this->seal_all(flows);
    this->damage(flows[13], Damage::kTagBit);
    this->damage(flows[31], Damage::kCiphertextBit);
    this->open_all_and_check(flows);
}

TYPED_TEST(AeadBurst, ZeroLengthPayloadSealsToABareTagThatOpens) {
    std::vector<Flow> flows;
    flows.push_back(this->make_flow(0));
    flows.push_back(this->make_flow(0));
    this->seal_all(flows);
    const SodiumAead reference = SodiumAead::create().value();
    Packet expected(0);
    AeadOp ref_op = op_for(expected, flows[0].key, flows[0].counter);
    reference.seal_burst(&ref_op, 1);
    EXPECT_EQ(flows[0].packet.bytes, expected.bytes);
    EXPECT_NE(flows[0].packet.bytes, std::vector<uint8_t>(kAeadTagBytes, 0));
    this->damage(flows[1], Damage::kTagBit);
    this->open_all_and_check(flows);
}

TYPED_TEST(AeadBurst, BurstLongerThanOneSubmissionRoundIsFullyProcessed) {
    std::vector<Flow> flows;
    for (uint32_t i = 0; i < 200; ++i) {
        flows.push_back(this->make_flow(static_cast<uint32_t>(this->rng_() % 1501)));
    }
    this->seal_all(flows);
    this->damage(flows[63], Damage::kTagBit);
    this->damage(flows[64], Damage::kTagBit);
    this->damage(flows[199], Damage::kWrongCounter);
    this->open_all_and_check(flows);
}

TYPED_TEST(AeadBurst, SealSetsOkToExactlyOne) {
    std::vector<Flow> flows;
    flows.push_back(this->make_flow(100));
    AeadOp op = op_for(flows[0].packet, flows[0].key, flows[0].counter);
    op.ok = 0x5A;
    this->backend().seal_burst(&op, 1);
    EXPECT_EQ(op.ok, 1);
}

TYPED_TEST(AeadBurst, EmptyBurstTouchesNothing) {
    Flow f = this->make_flow(10);
    AeadOp op = op_for(f.packet, f.key, f.counter);
    op.ok = 0x5A;
    EXPECT_EQ(this->backend().seal_burst(&op, 0), 0);
    EXPECT_EQ(this->backend().open_burst(&op, 0), 0);
    EXPECT_EQ(op.ok, 0x5A);
    EXPECT_TRUE(std::equal(f.plaintext.begin(), f.plaintext.end(), f.packet.bytes.begin()));
}

using IpsecMbModes = CryptoBackends;

TEST_F(IpsecMbModes, ReportsTheArchItChose) {
    const std::string arch = mb().arch_name();
    EXPECT_TRUE(arch == "sse" || arch == "avx" || arch == "avx2" || arch == "avx512") << arch;
}

TEST_F(IpsecMbModes, SingleBufferAndDirectModesProduceTheBurstBytes) {
    for (uint32_t len : {0u, 1u, 64u, 255u, 1420u}) {
        const Key key = random_key(rng_);
        const uint64_t counter = rng_();
        Packet burst(len), each(len), direct(len);
        fill_random(burst.bytes, len, rng_);
        std::copy(burst.bytes.begin(), burst.bytes.begin() + len, each.bytes.begin());
        std::copy(burst.bytes.begin(), burst.bytes.begin() + len, direct.bytes.begin());
        const std::vector<uint8_t> plaintext(burst.bytes.begin(), burst.bytes.begin() + len);

        AeadOp burst_op = op_for(burst, key, counter);
        AeadOp each_op = op_for(each, key, counter);
        AeadOp direct_op = op_for(direct, key, counter);
        mb().seal_burst(&burst_op, 1);
        mb().seal_each(&each_op, 1);
        EXPECT_TRUE(mb().seal_direct(direct_op));
        EXPECT_EQ(each_op.ok, 1);
        EXPECT_EQ(burst.bytes, each.bytes) << "len " << len;
        EXPECT_EQ(burst.bytes, direct.bytes) << "len " << len;

        mb().open_each(&each_op, 1);
        EXPECT_EQ(each_op.ok, 1);
        EXPECT_TRUE(mb().open_direct(direct_op));
        EXPECT_TRUE(std::equal(plaintext.begin(), plaintext.end(), each.bytes.begin()));
        EXPECT_TRUE(std::equal(plaintext.begin(), plaintext.end(), direct.bytes.begin()));
    }
}

TEST_F(IpsecMbModes, SingleBufferAndDirectOpenRejectAFlippedTag) {
    const Key key = random_key(rng_);
    Packet a(300), b(300);
    AeadOp seal_a = op_for(a, key, 7), seal_b = op_for(b, key, 7);
    mb().seal_burst(&seal_a, 1);
    mb().seal_burst(&seal_b, 1);
    a.bytes[300 + 5] ^= 0x80;
    b.bytes[300 + 15] ^= 0x01;
    AeadOp open_a = op_for(a, key, 7), open_b = op_for(b, key, 7);
    EXPECT_EQ(mb().open_each(&open_a, 1), 0);
    EXPECT_EQ(open_a.ok, 0);
    EXPECT_FALSE(mb().open_direct(open_b));
    EXPECT_EQ(open_b.ok, 0);
}

// ipsec-mb validates each job; a malformed op must fail alone, not take the burst with it.
TEST_F(IpsecMbModes, JobRejectedByIpsecMbFailsOnlyItsOwnOp) {
    const Key key = random_key(rng_);
    std::vector<Packet> packets(5, Packet(100));
    std::vector<AeadOp> ops;
    for (uint64_t i = 0; i < packets.size(); ++i) {
        ops.push_back(op_for(packets[i], key, i));
    }
    ops[2].key = nullptr;
    EXPECT_EQ(mb().seal_burst(ops.data(), static_cast<uint16_t>(ops.size())), 4);
    for (size_t i = 0; i < ops.size(); ++i) {
        EXPECT_EQ(ops[i].ok, i == 2 ? 0 : 1) << "op " << i;
    }
    ops.erase(ops.begin() + 2);
    EXPECT_EQ(na().open_burst(ops.data(), static_cast<uint16_t>(ops.size())), 4)
        << "the neighbours of the rejected job were sealed correctly";
}

TEST_F(IpsecMbModes, MovedBackendKeepsSealingWithItsManager) {
    IpsecMbAead moved = std::move(mb());
    const Key key = random_key(rng_);
    Packet a(77), b(77);
    AeadOp op_a = op_for(a, key, 42), op_b = op_for(b, key, 42);
    moved.seal_burst(&op_a, 1);
    na().seal_burst(&op_b, 1);
    EXPECT_EQ(op_a.ok, 1);
    EXPECT_EQ(a.bytes, b.bytes);
}

}  // namespace
}  // namespace jg::crypto::test
