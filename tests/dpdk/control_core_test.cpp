// ControlCore on real data-plane tables, rings and mbufs: the test plays the workers (it
// enqueues what a worker would send up and reads what the control core sends down) and a
// WireGuard client (lib/proto's initiator).
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_lpm.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "control/control_core.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/tables.hpp"
#include "proto/control_messages.hpp"
#include "proto/noise.hpp"
#include "telemetry/audit_check.hpp"
#include "telemetry/audit_writer.hpp"

namespace {

using namespace jg;
using namespace jg::control;

constexpr int64_t kStartMs = 1'700'000'000'000;
const TransportAddr kClient = TransportAddr::v4(0xC6336407, 40000);  // 198.51.100.7
const TransportAddr kRoamed = TransportAddr::v4(0xCB007101, 50000);  // 203.0.113.1

std::string unique_name(const char *what) {
    static std::atomic<int> n{0};
    return std::string("cc") + what + std::to_string(n++);
}

class ControlCoreTest : public ::testing::Test {
  protected:
    static constexpr uint16_t kWorkers = 2;

    void SetUp() override {
        dp::TablesConfig tc;
        tc.name = unique_name("t");
        tc.max_sessions = 16;
        tc.n_workers = kWorkers;
        tc.max_routes4 = 64;
        tc.max_routes6 = 64;
        tc.lpm6_tbl8s = 64;
        tc.max_neighbors = 64;
        auto t = dp::create_tables(tc);
        ASSERT_TRUE(t.ok()) << t.error().message();
        tables = *t;
        pool = rte_pktmbuf_pool_create(unique_name("p").c_str(), 511, 0, dp::kMbufPrivSize,
                                       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
        ASSERT_NE(pool, nullptr);
        for (uint16_t w = 0; w < kWorkers; ++w) {
            up.push_back(rte_ring_create(unique_name("u").c_str(), 256, SOCKET_ID_ANY,
                                         RING_F_SP_ENQ | RING_F_SC_DEQ));
            down.push_back(rte_ring_create(unique_name("d").c_str(), 256, SOCKET_ID_ANY,
                                           RING_F_SP_ENQ | RING_F_SC_DEQ));
            ASSERT_NE(up.back(), nullptr);
            ASSERT_NE(down.back(), nullptr);
        }

        gateway_key = generate_private_key();
        client_identity.emplace(proto::StaticIdentity::generate());
        PeerConfig peer;
        peer.name = "laptop";
        peer.public_key = client_identity->public_key();
        peer.allowed_ips = {*parse_ip_prefix("10.8.0.2/32", PrefixForm::Network)};
        config.node_id = "gw-dpdk-test";
        config.peers.push_back(peer);

        sink = std::make_shared<AuditMemorySink>();
        AuditWriterOptions wo;
        wo.node_id = config.node_id;
        writer = std::make_unique<AuditWriter>(sink, wo);

        ControlRings rings{up, down, pool, 0};
        auto c = ControlCore::create(config, gateway_key, tables, rings, *writer);
        ASSERT_TRUE(c.ok()) << c.error().message();
        core = std::move(c).value();
    }

    void TearDown() override {
        core.reset();
        if (writer)
            writer->close();
        for (rte_ring *r : down) {
            void *m = nullptr;
            while (rte_ring_dequeue(r, &m) == 0)
                rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
            rte_ring_free(r);
        }
        for (rte_ring *r : up)
            rte_ring_free(r);
        rte_mempool_free(pool);
        dp::destroy_tables(tables);
    }

    // What a worker enqueues on its up ring.
    void send_up(uint16_t worker, dp::MetaKind kind, const TransportAddr &src,
                 std::span<const uint8_t> payload, uint32_t slot = dp::kNoSession,
                 uint32_t local_index = 0) {
        rte_mbuf *m = rte_pktmbuf_alloc(pool);
        ASSERT_NE(m, nullptr);
        if (!payload.empty())
            std::memcpy(rte_pktmbuf_append(m, uint16_t(payload.size())), payload.data(),
                        payload.size());
        dp::PacketMeta *meta = dp::packet_meta(m);
        std::memset(meta, 0, sizeof(*meta));
        meta->kind = kind;
        meta->family = src.family;
        meta->worker = worker;
        meta->src_port = src.port;
        std::memcpy(meta->src_addr, src.addr.data(), 16);
        meta->src_mac.addr_bytes[0] = 0x02;
        meta->src_mac.addr_bytes[5] = 0x77;
        meta->session_slot = slot;
        meta->local_index = local_index;
        ASSERT_EQ(rte_ring_sp_enqueue(up[worker], m), 0);
    }

    struct DownFrame {
        dp::PacketMeta meta;
        std::vector<uint8_t> bytes;
    };
    std::vector<DownFrame> take_down(uint16_t worker) {
        std::vector<DownFrame> out;
        void *p = nullptr;
        while (rte_ring_sc_dequeue(down[worker], &p) == 0) {
            auto *m = static_cast<rte_mbuf *>(p);
            const auto *d = rte_pktmbuf_mtod(m, const uint8_t *);
            out.push_back({*dp::packet_meta(m), {d, d + rte_pktmbuf_data_len(m)}});
            rte_pktmbuf_free(m);
        }
        return out;
    }

    // A full handshake through worker `worker`; returns the client's keypair.
    proto::TransportKeypair handshake(uint16_t worker, const TransportAddr &from) {
        proto::CookieJar jar(proto::x25519_public_key(gateway_key.bytes()));
        std::array<uint8_t, proto::kInitiationSize> msg{};
        auto hs = proto::InitiatorHandshake::create_initiation(
            *client_identity, proto::x25519_public_key(gateway_key.bytes()), proto::Key{}, 0x77,
            uint64_t(now) * proto::kNsPerMs, uint64_t(now) * proto::kNsPerMs, jar, msg);
        EXPECT_TRUE(hs.ok());
        send_up(worker, dp::MetaKind::HandshakeInitiation, from, msg);
        EXPECT_EQ(core->poll(now), 1u);
        auto frames = take_down(worker);
        EXPECT_EQ(frames.size(), 1u);
        if (frames.size() != 1)
            return {};
        EXPECT_EQ(frames[0].meta.kind, dp::MetaKind::SendRaw);
        EXPECT_EQ(frames[0].meta.src_port, from.port);
        EXPECT_EQ(0, std::memcmp(frames[0].meta.src_addr, from.addr.data(), 4));
        auto kp = hs->consume_response(frames[0].bytes, uint64_t(now) * proto::kNsPerMs);
        EXPECT_TRUE(kp.ok());
        return kp ? *kp : proto::TransportKeypair{};
    }

    dp::Keypair *keypair_by_index(uint32_t index) { return dp::keypair_by_index(tables, index); }

    dp::Tables tables;
    rte_mempool *pool = nullptr;
    std::vector<rte_ring *> up;
    std::vector<rte_ring *> down;
    SecretKey gateway_key;
    std::optional<proto::StaticIdentity> client_identity;
    GatewayConfig config;
    std::shared_ptr<AuditMemorySink> sink;
    std::unique_ptr<AuditWriter> writer;
    std::unique_ptr<ControlCore> core;
    int64_t now = kStartMs;
};

TEST_F(ControlCoreTest, HandshakeFromTheUpRingPublishesASessionTheWorkersCanUse) {
    const auto kp = handshake(1, kClient);
    // The client's remote index is the gateway's receiver index: the key of by_index.
    dp::Keypair *installed = keypair_by_index(kp.remote_index);
    ASSERT_NE(installed, nullptr);
    EXPECT_EQ(0, std::memcmp(installed->recv_key, kp.send_key.data(), 32));
    EXPECT_EQ(installed->remote_index, 0x77u);
    const uint32_t slot = installed->session_slot;
    ASSERT_LT(slot, tables.max_sessions);
    dp::SessionEntry &se = tables.sessions[slot];
    EXPECT_EQ(se.next.load(), installed) << "responder keys wait in next";
    EXPECT_EQ(se.owner.load(), 1) << "owned by the worker that received the initiation";
    EXPECT_TRUE(se.flags.load() & dp::kSessionLive);
    const dp::Binding *b = se.binding.load();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->port, kClient.port);
    EXPECT_EQ(0, std::memcmp(b->addr, kClient.addr.data(), 4));
    uint32_t routed = 0;
    ASSERT_EQ(dp::lookup_route4(tables, RTE_IPV4(10, 8, 0, 2), &routed), 0);
    EXPECT_EQ(routed, slot);

    const auto sessions = core->sessions_snapshot();
    ASSERT_EQ(sessions.size(), 1u);
    EXPECT_EQ(sessions[0].session_id, se.session_id);
    EXPECT_EQ(sessions[0].state, SessionState::Attached);

    // The worker's first packet under the keypair confirms it.
    send_up(1, dp::MetaKind::KeypairConfirmed, kClient, {}, slot, kp.remote_index);
    EXPECT_EQ(core->poll(now), 1u);
    EXPECT_EQ(se.current.load(), installed);
    EXPECT_EQ(se.next.load(), nullptr);
}

TEST_F(ControlCoreTest, LegacyRoamingReportMovesThePublishedBinding) {
    const auto kp = handshake(0, kClient);
    const uint32_t slot = keypair_by_index(kp.remote_index)->session_slot;
    now += 2'000;
    send_up(0, dp::MetaKind::SourceChanged, kRoamed, {}, slot, kp.remote_index);
    EXPECT_EQ(core->poll(now), 1u);
    const dp::Binding *b = tables.sessions[slot].binding.load();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->port, kRoamed.port);
    EXPECT_EQ(0, std::memcmp(b->addr, kRoamed.addr.data(), 4));
}

TEST_F(ControlCoreTest, HelloIsAnsweredOnTheOwnersDownRingForEncryption) {
    const auto kp = handshake(1, kClient);
    const uint32_t slot = keypair_by_index(kp.remote_index)->session_slot;
    std::array<uint8_t, 16> hello{};
    const size_t n = proto::encode_control(proto::Hello{}, hello);
    ASSERT_GT(n, 0u);
    send_up(1, dp::MetaKind::ControlMessage, kClient, std::span(hello.data(), n), slot,
            kp.remote_index);
    EXPECT_EQ(core->poll(now), 1u);
    EXPECT_TRUE(tables.sessions[slot].flags.load() & dp::kSessionExtensions);
    const auto frames = take_down(1);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(frames[0].meta.kind, dp::MetaKind::SendControl);
    EXPECT_EQ(frames[0].meta.session_slot, slot);
    const auto dec = proto::decode_control(frames[0].bytes);
    ASSERT_TRUE(dec.ok());
    ASSERT_TRUE(std::holds_alternative<proto::HelloAck>(dec.message));
    EXPECT_EQ(std::get<proto::HelloAck>(dec.message).session_id, tables.sessions[slot].session_id);
}

TEST_F(ControlCoreTest, SilentSessionIsRetiredFromTheTablesAndTheAuditLogChecksOut) {
    const auto kp = handshake(0, kClient);
    const uint32_t slot = keypair_by_index(kp.remote_index)->session_slot;
    // A jumpgate client (HELLO) promises heartbeats, so its silence means a lost transport.
    std::array<uint8_t, 16> hello{};
    const size_t n = proto::encode_control(proto::Hello{}, hello);
    send_up(0, dp::MetaKind::ControlMessage, kClient, std::span(hello.data(), n), slot,
            kp.remote_index);
    EXPECT_EQ(core->poll(now), 1u);
    for (int i = 0; i < 20; ++i) {
        now += 1'000;
        core->tick(now);
    }
    // The TERMINATE went down to the owner while the slot still had the keys to seal it.
    bool told = false;
    for (const auto &f : take_down(0)) {
        const auto dec = proto::decode_control(f.bytes);
        told |= dec.ok() && std::holds_alternative<proto::Terminate>(dec.message);
    }
    EXPECT_TRUE(told);
    EXPECT_EQ(tables.sessions[slot].flags.load(), 0);
    EXPECT_EQ(tables.sessions[slot].binding.load(), nullptr);
    EXPECT_EQ(keypair_by_index(kp.remote_index), nullptr);
    uint32_t routed = 0;
    EXPECT_NE(dp::lookup_route4(tables, RTE_IPV4(10, 8, 0, 2), &routed), 0);
    EXPECT_EQ(core->stats().dataplane_errors, 0u);

    writer->close();
    std::string text;
    for (const auto &l : sink->lines())
        text += l + "\n";
    std::istringstream in(text);
    const auto report = audit_check(in, {});
    EXPECT_TRUE(report.ok()) << (report.ok() ? "" : report.violations[0].message);
    EXPECT_EQ(report.sessions, 1u);
    EXPECT_NE(text.find("\"node_id\":\"gw-dpdk-test\""), std::string::npos);
}

TEST_F(ControlCoreTest, UnknownPeerGetsNothingDown) {
    proto::StaticIdentity stranger = proto::StaticIdentity::generate();
    proto::CookieJar jar(proto::x25519_public_key(gateway_key.bytes()));
    std::array<uint8_t, proto::kInitiationSize> msg{};
    auto hs = proto::InitiatorHandshake::create_initiation(
        stranger, proto::x25519_public_key(gateway_key.bytes()), proto::Key{}, 1,
        uint64_t(now) * proto::kNsPerMs, uint64_t(now) * proto::kNsPerMs, jar, msg);
    ASSERT_TRUE(hs.ok());
    send_up(0, dp::MetaKind::HandshakeInitiation, kClient, msg);
    EXPECT_EQ(core->poll(now), 1u);
    EXPECT_TRUE(take_down(0).empty());
    EXPECT_TRUE(core->sessions_snapshot().empty());
    EXPECT_EQ(core->handshake_stats().refused[size_t(HandshakeRefusal::unknown_peer)], 1u);
    EXPECT_EQ(rte_mempool_in_use_count(pool), 0u) << "every up mbuf was freed";
}

}  // namespace
