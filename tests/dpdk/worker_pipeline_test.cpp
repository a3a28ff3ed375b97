// The worker pipeline end to end on net_ring ports: the test plays the control core (writer
// API, up/down rings) and the peers (frames sealed and opened with libsodium through lib/proto).
#include <rte_arp.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crypto/ipsec_mb_aead.hpp"
#include "dataplane/fragments.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/pipeline.hpp"
#include "dataplane/tables.hpp"
#include "dataplane/worker.hpp"
#include "net/port.hpp"
#include "proto/blake2s.hpp"
#include "proto/cookie.hpp"
#include "proto/transport.hpp"

namespace {

using namespace std::chrono_literals;
using namespace jg::dp;
using Bytes = std::vector<uint8_t>;

constexpr uint16_t kListenPort = 51820;
const rte_ether_addr kOuterMac{{0x02, 0, 0, 0, 0, 0x01}};
const rte_ether_addr kInnerMac{{0x02, 0, 0, 0, 0, 0x02}};
const rte_ether_addr kPeerMacA{{0x02, 0xaa, 0, 0, 0, 0x0a}};
const rte_ether_addr kPeerMacB{{0x02, 0xbb, 0, 0, 0, 0x0b}};
const rte_ether_addr kHostMac{{0x02, 0xcc, 0, 0, 0, 0x05}};
const uint8_t kOuterIp4[4] = {192, 0, 2, 1};
const uint8_t kOuterIp6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t kInnerIp4[4] = {10, 0, 0, 1};
const uint8_t kInnerIp6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t kPeerIpA[4] = {198, 51, 100, 7};
const uint8_t kPeerIpB[4] = {203, 0, 113, 9};
const uint8_t kPeerIp6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x77};
const uint8_t kTunnelIp[4] = {10, 9, 0, 2};  // the peer's allowed IP
const uint8_t kHostIp[4] = {10, 0, 0, 5};    // a host on the inner subnet
const uint8_t kTunnelIp6[16] = {0xfd, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
const uint8_t kHostIp6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};

uint32_t be32(const uint8_t a[4]) {
    uint32_t v;
    std::memcpy(&v, a, 4);
    return v;
}

jg::proto::Key key_of(uint8_t fill) {
    jg::proto::Key k;
    for (size_t i = 0; i < k.size(); ++i)
        k[i] = uint8_t(fill + i);
    return k;
}

// ---- Frame building (the peers' side) ----
Bytes udp(uint16_t sport, uint16_t dport, const Bytes &payload) {
    Bytes b(8 + payload.size());
    auto *h = reinterpret_cast<rte_udp_hdr *>(b.data());
    h->src_port = rte_cpu_to_be_16(sport);
    h->dst_port = rte_cpu_to_be_16(dport);
    h->dgram_len = rte_cpu_to_be_16(uint16_t(b.size()));
    h->dgram_cksum = 0;
    std::memcpy(b.data() + 8, payload.data(), payload.size());
    return b;
}

Bytes ipv4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, const Bytes &l4) {
    Bytes b(20 + l4.size());
    auto *h = reinterpret_cast<rte_ipv4_hdr *>(b.data());
    h->version_ihl = RTE_IPV4_VHL_DEF;
    h->total_length = rte_cpu_to_be_16(uint16_t(b.size()));
    h->time_to_live = 64;
    h->next_proto_id = proto;
    std::memcpy(&h->src_addr, src, 4);
    std::memcpy(&h->dst_addr, dst, 4);
    h->hdr_checksum = rte_ipv4_cksum(h);
    std::memcpy(b.data() + 20, l4.data(), l4.size());
    return b;
}

Bytes ipv6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, const Bytes &l4,
           uint8_t hops = 64) {
    Bytes b(40 + l4.size());
    auto *h = reinterpret_cast<rte_ipv6_hdr *>(b.data());
    h->vtc_flow = rte_cpu_to_be_32(6u << 28);
    h->payload_len = rte_cpu_to_be_16(uint16_t(l4.size()));
    h->proto = proto;
    h->hop_limits = hops;
    std::memcpy(h->src_addr, src, 16);
    std::memcpy(h->dst_addr, dst, 16);
    std::memcpy(b.data() + 40, l4.data(), l4.size());
    return b;
}

Bytes ether(const rte_ether_addr &dst, const rte_ether_addr &src, uint16_t type, const Bytes &l3) {
    Bytes b(14 + l3.size());
    auto *h = reinterpret_cast<rte_ether_hdr *>(b.data());
    h->dst_addr = dst;
    h->src_addr = src;
    h->ether_type = rte_cpu_to_be_16(type);
    std::memcpy(b.data() + 14, l3.data(), l3.size());
    return b;
}

// An inner IPv4 packet (UDP inside) of `payload_len` bytes of payload.
Bytes inner_packet(const uint8_t src[4], const uint8_t dst[4], size_t payload_len,
                   uint8_t tag = 0) {
    Bytes p(payload_len);
    for (size_t i = 0; i < p.size(); ++i)
        p[i] = uint8_t(tag + i);
    return ipv4(src, dst, 17, udp(1234, 80, p));
}

Bytes transport(const jg::proto::Key &key, uint32_t receiver, uint64_t counter,
                const Bytes &plaintext) {
    Bytes out(jg::proto::transport_message_size(plaintext.size()));
    const size_t n = jg::proto::seal_transport(key, receiver, counter, plaintext, out);
    EXPECT_EQ(n, out.size());
    return out;
}

// A WireGuard message from the peer at (ip, port, mac) to the gateway's outer IPv4.
Bytes outer_frame(const Bytes &wg, const uint8_t peer_ip[4] = kPeerIpA, uint16_t peer_port = 40000,
                  const rte_ether_addr &peer_mac = kPeerMacA) {
    return ether(kOuterMac, peer_mac, RTE_ETHER_TYPE_IPV4,
                 ipv4(peer_ip, kOuterIp4, 17, udp(peer_port, kListenPort, wg)));
}

// The payload behind a frame's first `hdr` bytes cut into pieces of at most `chunk` bytes (a
// multiple of 8), each behind a copy of those headers, which `mark(f, off, n, more)` turns
// into the headers of the fragment at payload offset `off` carrying `n` bytes.
template <class Mark>
std::vector<Bytes> cut_payload(const Bytes &frame, size_t hdr, size_t chunk, Mark mark) {
    const size_t payload = frame.size() - hdr;
    std::vector<Bytes> out;
    for (size_t off = 0; off < payload; off += chunk) {
        const size_t n = std::min(chunk, payload - off);
        Bytes f(frame.begin(), frame.begin() + hdr);
        f.insert(f.end(), frame.begin() + hdr + off, frame.begin() + hdr + off + n);
        mark(f, off, n, off + n < payload);
        out.push_back(std::move(f));
    }
    return out;
}

// An IPv4 frame (20-byte header) cut into fragments, as a router before a smaller MTU cuts it.
std::vector<Bytes> fragment4(const Bytes &frame, size_t chunk, uint16_t id = 0x4242) {
    return cut_payload(frame, 14 + 20, chunk, [&](Bytes &f, size_t off, size_t n, bool more) {
        auto *ip = reinterpret_cast<rte_ipv4_hdr *>(f.data() + 14);
        ip->total_length = rte_cpu_to_be_16(uint16_t(20 + n));
        ip->packet_id = rte_cpu_to_be_16(id);
        ip->fragment_offset =
            rte_cpu_to_be_16(uint16_t(off / 8) | (more ? RTE_IPV4_HDR_MF_FLAG : 0));
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
    });
}

// The same for an IPv6 frame (40-byte header, no extension headers): each fragment carries
// a fragment header (RFC 8200 4.5).
std::vector<Bytes> fragment6(const Bytes &frame, size_t chunk, uint32_t id = 0x42424242) {
    const size_t hdr = 14 + 40;
    return cut_payload(frame, hdr, chunk, [&](Bytes &f, size_t off, size_t n, bool more) {
        auto *ip = reinterpret_cast<rte_ipv6_hdr *>(f.data() + 14);
        rte_ipv6_fragment_ext fh{};
        fh.next_header = ip->proto;
        fh.frag_data = rte_cpu_to_be_16(uint16_t(off | (more ? 1 : 0)));
        fh.id = rte_cpu_to_be_32(id);
        ip->proto = IPPROTO_FRAGMENT;
        ip->payload_len = rte_cpu_to_be_16(uint16_t(sizeof(fh) + n));
        const auto *fb = reinterpret_cast<const uint8_t *>(&fh);
        f.insert(f.begin() + hdr, fb, fb + sizeof(fh));  // last: it may move what `ip` points to
    });
}

// ---- Ports, pool and rings shared by every test of this process ----
struct RingPort {
    rte_ring *rx[2]{};
    rte_ring *tx[2]{};
    uint16_t port_id = 0;
};

rte_mempool *pool() {
    static rte_mempool *mp = [] {
        auto r = jg::net::create_mbuf_pool("pipe_pool", 16384, SOCKET_ID_ANY, kMbufPrivSize);
        return r ? *r : nullptr;
    }();
    return mp;
}

RingPort make_port(const std::string &name) {
    RingPort p;
    for (int q = 0; q < 2; ++q) {
        p.rx[q] = rte_ring_create((name + "_rx" + std::to_string(q)).c_str(), 4096, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
        p.tx[q] = rte_ring_create((name + "_tx" + std::to_string(q)).c_str(), 4096, SOCKET_ID_ANY,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
    }
    const int port = rte_eth_from_rings(name.c_str(), p.rx, 2, p.tx, 2, SOCKET_ID_ANY);
    EXPECT_GE(port, 0);
    char dev[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(uint16_t(port), dev);
    jg::net::PortSetup s;
    s.name = name;
    s.device = dev;
    s.rx_queues = 2;
    s.tx_queues = 2;
    auto st = jg::net::start_port(s, pool());
    EXPECT_TRUE(st.ok()) << st.error().message();
    p.port_id = st->port_id;
    return p;
}

RingPort &outer_port() {
    static RingPort p = make_port("pipe_outer");
    return p;
}
RingPort &inner_port() {
    static RingPort p = make_port("pipe_inner");
    return p;
}

rte_mbuf *to_mbuf(const Bytes &b) {
    rte_mbuf *m = rte_pktmbuf_alloc(pool());
    EXPECT_NE(m, nullptr);
    std::memcpy(rte_pktmbuf_append(m, uint16_t(b.size())), b.data(), b.size());
    return m;
}

Bytes bytes_of(rte_mbuf *m) {
    const auto *p = rte_pktmbuf_mtod(m, const uint8_t *);
    return Bytes(p, p + rte_pktmbuf_data_len(m));
}

void inject(rte_ring *ring, const Bytes &frame) {
    ASSERT_EQ(rte_ring_enqueue(ring, to_mbuf(frame)), 0);
}

bool wait_for(const std::function<bool()> &cond, std::chrono::milliseconds limit = 5s) {
    for (auto deadline = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(200us))
        if (cond())
            return true;
    return cond();
}

// Takes `n` frames off a ring (waiting for them); fewer if they never come.
std::vector<Bytes> take(rte_ring *ring, size_t n, std::chrono::milliseconds limit = 5s) {
    std::vector<Bytes> out;
    wait_for(
        [&] {
            void *m;
            while (out.size() < n && rte_ring_dequeue(ring, &m) == 0) {
                out.push_back(bytes_of(static_cast<rte_mbuf *>(m)));
                rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
            }
            return out.size() >= n;
        },
        limit);
    return out;
}

void drain(rte_ring *ring) {
    void *m;
    while (rte_ring_dequeue(ring, &m) == 0)
        rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
}

// The transport checksum of an IPv6 packet verifies (sum over pseudo header and L4 is ~0).
bool ipv6_l4_checksum_ok(const rte_ipv6_hdr *ip, const void *l4) {
    uint32_t sum =
        rte_raw_cksum(l4, rte_be_to_cpu_16(ip->payload_len)) + rte_ipv6_phdr_cksum(ip, 0);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

// A decoded outer frame the gateway sent.
struct OuterOut {
    rte_ether_addr dst_mac;
    uint8_t family = 0;
    Bytes dst_addr;
    uint16_t dst_port = 0;
    uint16_t src_port = 0;
    Bytes payload;  // UDP payload
    bool checksum_ok = false;
};

OuterOut decode_outer(const Bytes &f) {
    OuterOut o;
    const auto *eth = reinterpret_cast<const rte_ether_hdr *>(f.data());
    o.dst_mac = eth->dst_addr;
    const uint8_t *l3 = f.data() + 14;
    const rte_udp_hdr *u;
    if (rte_be_to_cpu_16(eth->ether_type) == RTE_ETHER_TYPE_IPV4) {
        const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(l3);
        o.family = 4;
        o.dst_addr.assign(l3 + 16, l3 + 20);
        o.checksum_ok = rte_ipv4_cksum(ip) == 0 || rte_raw_cksum(ip, 20) == 0xffff;
        u = reinterpret_cast<const rte_udp_hdr *>(l3 + 20);
    } else {
        const auto *ip = reinterpret_cast<const rte_ipv6_hdr *>(l3);
        o.family = 6;
        o.dst_addr.assign(l3 + 24, l3 + 40);
        u = reinterpret_cast<const rte_udp_hdr *>(l3 + 40);
        o.checksum_ok = ipv6_l4_checksum_ok(ip, u);
    }
    o.dst_port = rte_be_to_cpu_16(u->dst_port);
    o.src_port = rte_be_to_cpu_16(u->src_port);
    const auto *pl = reinterpret_cast<const uint8_t *>(u + 1);
    o.payload.assign(pl, pl + rte_be_to_cpu_16(u->dgram_len) - 8);
    return o;
}

// Opens a type-4 message with libsodium: the plaintext as sent (padding included), or
// nullopt. lib/proto's parser insists on 16-byte alignment, which MTU-capped padding breaks.
std::optional<Bytes> open_wg(const jg::proto::Key &key, const Bytes &msg, uint64_t *counter) {
    if (msg.size() < jg::proto::kTransportMinSize || msg[0] != 4)
        return std::nullopt;
    *counter = jg::proto::load_le64(msg.data() + 8);
    const auto nonce = jg::proto::transport_nonce(*counter);
    Bytes out(msg.size() - jg::proto::kTransportMinSize);
    unsigned long long n = 0;
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &n, nullptr, msg.data() + 16,
                                                  msg.size() - 16, nullptr, 0, nonce.data(),
                                                  key.data()) != 0)
        return std::nullopt;
    return out;
}

uint64_t drops(const Worker &w, DropReason r) {
    return w.counters.drops[unsigned(r)].load();
}

// ---- The fixture: tables, rings, two workers (worker i polls queue i of both ports) ----
class Pipeline : public ::testing::Test {
  protected:
    static constexpr uint32_t kLocalIndex = 0x11223344;
    static constexpr uint32_t kRemoteIndex = 0x55667788;
    const jg::proto::Key gw_send = key_of(0x10);  // gateway -> peer
    const jg::proto::Key gw_recv = key_of(0x40);  // peer -> gateway
    const jg::proto::Key gw_public = key_of(0x70);

    void SetUp() override {
        ASSERT_NE(pool(), nullptr);
        static int n = 0;
        const std::string name = "pp" + std::to_string(n++);
        TablesConfig cfg;
        cfg.name = name;
        cfg.max_sessions = 64;
        cfg.n_workers = 2;
        cfg.max_routes4 = 64;
        cfg.max_routes6 = 64;
        cfg.lpm6_tbl8s = 64;
        cfg.max_neighbors = 64;
        auto t = create_tables(cfg);
        ASSERT_TRUE(t.ok()) << t.error().message();
        tables = *t;
        for (unsigned i = 0; i < 2; ++i) {
            const std::string s = name + "_" + std::to_string(i);
            up[i] = rte_ring_create((s + "u").c_str(), 4096, SOCKET_ID_ANY,
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
            down[i] = rte_ring_create((s + "d").c_str(), 1024, SOCKET_ID_ANY,
                                      RING_F_SP_ENQ | RING_F_SC_DEQ);
            handoff[i] = rte_ring_create((s + "h").c_str(), 4096, SOCKET_ID_ANY, RING_F_SC_DEQ);
            ASSERT_NE(up[i], nullptr);
            auto a = jg::crypto::IpsecMbAead::create();
            ASSERT_TRUE(a.ok()) << a.error().message();
            aead[i] = std::make_unique<jg::crypto::IpsecMbAead>(std::move(*a));
            workers[i] = std::make_unique<Worker>();
            Worker &w = *workers[i];
            w.config.lcore = 1 + i;
            w.config.n_queues = 2;
            w.config.queues[0] = {outer_port().port_id, uint16_t(i)};
            w.config.queues[1] = {inner_port().port_id, uint16_t(i)};
            w.config.idle_sleep_us = 20;
            w.stop = &stop;
            w.index = uint16_t(i);
            w.n_workers = 2;
            w.tables = &tables;
            w.up = up[i];
            w.down = down[i];
            w.handoff = handoff;
            w.aead = aead[i].get();
            w.outer.port_id = outer_port().port_id;
            w.outer.mac = kOuterMac;
            w.outer.ipv4 = be32(kOuterIp4);
            std::memcpy(w.outer.ipv6, kOuterIp6, 16);
            w.inner.port_id = inner_port().port_id;
            w.inner.mac = kInnerMac;
            w.inner.ipv4 = be32(kInnerIp4);
            std::memcpy(w.inner.ipv6, kInnerIp6, 16);
            w.inner.subnet6_len = 64;
            w.inner.subnet4 = be32(kInnerIp4) & rte_cpu_to_be_32(0xffffff00);
            w.inner.subnet4_mask = rte_cpu_to_be_32(0xffffff00);
            w.listen_port = kListenPort;
            const jg::proto::Hash k = jg::proto::mac1_key_for(gw_public);
            std::copy(k.begin(), k.end(), w.mac1_key.begin());
        }
        ASSERT_TRUE(learn_neighbor(tables, be32(kHostIp), kHostMac).ok());
        ASSERT_TRUE(learn_neighbor6(tables, kHostIp6, kHostMac).ok());
    }

    void TearDown() override {
        stop_workers();
        for (auto &f : fragments)
            f.reset();  // gives back what is still in reassembly
        for (RingPort *p : {&outer_port(), &inner_port()})
            for (int q = 0; q < 2; ++q) {
                drain(p->rx[q]);
                drain(p->tx[q]);
            }
        for (unsigned i = 0; i < 2; ++i) {
            for (rte_ring *r : {up[i], down[i], handoff[i]}) {
                drain(r);
                rte_ring_free(r);
            }
        }
        destroy_tables(tables);
        EXPECT_EQ(rte_mempool_in_use_count(pool()), 0u) << "an mbuf leaked";
    }

    // Both workers reassemble outer fragments, `timeout_ms` per datagram; before launch().
    void enable_reassembly(uint32_t timeout_ms = 2000) {
        for (unsigned i = 0; i < 2; ++i) {
            auto f = create_fragment_table(64, timeout_ms, SOCKET_ID_ANY);
            ASSERT_TRUE(f.ok()) << f.error().message();
            fragments[i] = std::move(*f);
            workers[i]->fragments = fragments[i].get();
        }
    }

    void launch() {
        stop = false;
        for (unsigned i = 0; i < 2; ++i)
            ASSERT_EQ(rte_eal_remote_launch(worker_loop, workers[i].get(), 1 + i), 0);
        running = true;
    }

    void stop_workers() {
        if (!running)
            return;
        stop = true;
        for (unsigned i = 0; i < 2; ++i)
            EXPECT_EQ(rte_eal_wait_lcore(1 + i), 0);
        running = false;
    }

    // A live session owned by `owner` with the peer's tunnel addresses routed to it.
    uint32_t make_session(uint16_t owner, KeypairRole role = KeypairRole::Current,
                          std::optional<Binding> binding = binding_a()) {
        auto slot = alloc_session(tables, 0x5e55, owner);
        EXPECT_TRUE(slot.ok());
        KeypairInit k;
        k.send_key = gw_send;
        k.recv_key = gw_recv;
        k.local_index = kLocalIndex;
        k.remote_index = kRemoteIndex;
        EXPECT_TRUE(install_keypair(tables, *slot, k, role).ok());
        if (binding) {
            EXPECT_TRUE(publish_binding(tables, *slot, *binding).ok());
        }
        EXPECT_TRUE(add_route(tables, 4, kTunnelIp, 32, *slot).ok());
        EXPECT_TRUE(add_route(tables, 6, kTunnelIp6, 128, *slot).ok());
        EXPECT_TRUE(set_session_flags(tables, *slot, kSessionLive).ok());
        return *slot;
    }

    static Binding binding_a() {
        Binding b{};
        b.family = 4;
        std::memcpy(b.addr, kPeerIpA, 4);
        b.port = 40000;
        b.l2_dst = kPeerMacA;
        return b;
    }
    static Binding binding_b6() {
        Binding b{};
        b.family = 6;
        std::memcpy(b.addr, kPeerIp6, 16);
        b.port = 50000;
        b.l2_dst = kPeerMacB;
        return b;
    }

    std::vector<rte_mbuf *> take_up(unsigned worker, size_t n, std::chrono::milliseconds l = 3s) {
        std::vector<rte_mbuf *> out;
        wait_for(
            [&] {
                void *m;
                while (out.size() < n && rte_ring_dequeue(up[worker], &m) == 0)
                    out.push_back(static_cast<rte_mbuf *>(m));
                return out.size() >= n;
            },
            l);
        return out;
    }

    Bytes data_frame(uint64_t counter, const Bytes &plaintext, const uint8_t *peer_ip = kPeerIpA,
                     uint16_t peer_port = 40000) {
        return outer_frame(transport(gw_recv, kLocalIndex, counter, plaintext), peer_ip, peer_port);
    }

    Tables tables{};
    rte_ring *up[2]{};
    rte_ring *down[2]{};
    rte_ring *handoff[2]{};
    std::unique_ptr<jg::crypto::IpsecMbAead> aead[2];
    std::unique_ptr<Worker> workers[2];
    FragmentTable fragments[2];
    std::atomic<bool> stop{false};
    bool running = false;
};

TEST_F(Pipeline, WorkerBeyondTheTablesRcuThreadsRefusesToRun) {
    Worker w;
    w.stop = &stop;
    w.tables = &tables;
    w.index = 2;  // the tables were made for 2 workers: ids 0 and 1
    w.n_workers = 3;
    w.up = up[0];
    w.aead = aead[0].get();
    EXPECT_EQ(worker_loop(&w), -EINVAL);
}

// ---- Handshakes ----

Bytes initiation_with_mac1(const jg::proto::Key &responder_public, uint8_t fill) {
    Bytes msg(jg::proto::kInitiationSize, fill);
    msg[0] = 1;
    msg[1] = msg[2] = msg[3] = 0;
    jg::proto::CookieJar jar(responder_public);
    jar.add_macs(msg, 0);
    return msg;
}

TEST_F(Pipeline, HandshakeInitiationWithValidMac1GoesUpWithHeadersStripped) {
    launch();
    const Bytes msg = initiation_with_mac1(gw_public, 0x33);
    inject(outer_port().rx[0], outer_frame(msg));
    auto got = take_up(0, 1);
    ASSERT_EQ(got.size(), 1u);
    const PacketMeta &meta = *packet_meta(got[0]);
    EXPECT_EQ(meta.kind, MetaKind::HandshakeInitiation);
    EXPECT_EQ(meta.family, 4);
    EXPECT_EQ(meta.src_port, 40000);
    EXPECT_EQ(std::memcmp(meta.src_addr, kPeerIpA, 4), 0);
    EXPECT_TRUE(rte_is_same_ether_addr(&meta.src_mac, &kPeerMacA));
    EXPECT_EQ(meta.worker, 0);
    EXPECT_EQ(bytes_of(got[0]), msg);
    rte_pktmbuf_free(got[0]);
}

TEST_F(Pipeline, HandshakeWithBadMac1IsDroppedOnTheWorker) {
    launch();
    Bytes msg = initiation_with_mac1(key_of(0x99), 0x33);  // mac1 for another gateway
    inject(outer_port().rx[0], outer_frame(msg));
    Bytes flipped = initiation_with_mac1(gw_public, 0x33);
    flipped[20] ^= 1;
    inject(outer_port().rx[0], outer_frame(flipped));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::bad_mac1) == 2; }));
    EXPECT_EQ(rte_ring_count(up[0]), 0u);
}

// Initiations above their source's rate go up marked, for the control core to answer only
// with a valid mac2 (else with a cookie): dropped here, a flood spoofing a victim's address
// would lock the victim out. Responses over the rate are dropped.
TEST_F(Pipeline, HandshakesOverTheSourceBudgetGoUpMarkedAndResponsesAreDropped) {
    workers[0]->handshake_limit = {1, 5};  // 5 at once, then 1 per second
    launch();
    const Bytes msg = initiation_with_mac1(gw_public, 0x21);
    for (int i = 0; i < 8; ++i)
        inject(outer_port().rx[0], outer_frame(msg));
    inject(outer_port().rx[0], outer_frame(msg, kPeerIpB, 40001));  // another source
    auto got = take_up(0, 9);
    ASSERT_EQ(got.size(), 9u);
    int marked_a = 0, marked_b = 0;
    for (auto *m : got) {
        const PacketMeta &meta = *packet_meta(m);
        EXPECT_EQ(meta.kind, MetaKind::HandshakeInitiation);
        const bool from_b = std::memcmp(meta.src_addr, kPeerIpB, 4) == 0;
        if (meta.flags & kMetaOverSourceRate)
            ++(from_b ? marked_b : marked_a);
        rte_pktmbuf_free(m);
    }
    EXPECT_EQ(marked_a, 3);
    EXPECT_EQ(marked_b, 0);

    Bytes response(jg::proto::kResponseSize, 0x22);
    response[0] = 2;
    response[1] = response[2] = response[3] = 0;
    jg::proto::CookieJar(gw_public).add_macs(response, 0);
    inject(outer_port().rx[0], outer_frame(response));
    ASSERT_TRUE(
        wait_for([&] { return drops(*workers[0], DropReason::handshake_rate_limited) == 1; }));
    EXPECT_EQ(rte_ring_count(up[0]), 0u);
}

TEST_F(Pipeline, HandshakesOverTheWorkerBudgetAreDroppedBeforeMac1WhateverTheirSource) {
    workers[0]->handshake_budget = {1, 3};  // 3 at once, then 1 per second, all sources
    launch();
    // Forged mac1s from five sources: the first three cost a mac1 check, the rest none.
    const Bytes forged = initiation_with_mac1(key_of(0x99), 0x21);
    for (uint16_t i = 0; i < 5; ++i)
        inject(outer_port().rx[0], outer_frame(forged, kPeerIpA, uint16_t(41000 + i)));
    ASSERT_TRUE(wait_for([&] {
        return drops(*workers[0], DropReason::bad_mac1) == 3 &&
               drops(*workers[0], DropReason::handshake_overload) == 2;
    }));
    // A genuine initiation inside the same second finds the budget spent as well.
    inject(outer_port().rx[0], outer_frame(initiation_with_mac1(gw_public, 0x22), kPeerIpB));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::handshake_overload) == 3; }));
    EXPECT_EQ(rte_ring_count(up[0]), 0u);
    // Data is not part of the budget.
    EXPECT_EQ(drops(*workers[0], DropReason::handshake_rate_limited), 0u);
}

TEST_F(Pipeline, MalformedWireGuardMessagesAreDropped) {
    launch();
    Bytes wrong_size(100, 0);
    wrong_size[0] = 1;
    inject(outer_port().rx[0], outer_frame(wrong_size));
    Bytes short_transport(20, 0);
    short_transport[0] = 4;
    inject(outer_port().rx[0], outer_frame(short_transport));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::wg_malformed) == 2; }));
}

// ---- Decap ----

TEST_F(Pipeline, DecapDeliversTheInnerPacketToItsNeighborOnTheInnerPort) {
    const uint32_t slot = make_session(0);
    launch();
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 100);
    inject(outer_port().rx[0], data_frame(0, pkt));
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV4, pkt));
    const SessionEntry &se = tables.sessions[slot];
    EXPECT_EQ(se.rx_packets.load(), 1u);
    EXPECT_EQ(tables.sessions[slot].current.load()->recv_greatest.load(), 0u);
    EXPECT_EQ(rte_ring_count(up[0]), 0u) << "the source is the binding: nothing to report";
    EXPECT_EQ(total_drops(*workers[0]), 0u);
}

TEST(PacketPool, EveryFrameStartsOnACacheLine) {
    // The worker prefetches a frame's first line for its Ethernet, IP, UDP and WireGuard
    // headers; a frame starting part-way into a line would leave some on the next one.
    ASSERT_NE(pool(), nullptr);
    EXPECT_EQ(rte_pktmbuf_priv_size(pool()), kMbufPrivSize);
    rte_mbuf *m[64];
    ASSERT_EQ(rte_pktmbuf_alloc_bulk(pool(), m, 64), 0);
    for (rte_mbuf *b : m)
        EXPECT_EQ(reinterpret_cast<uintptr_t>(rte_pktmbuf_mtod(b, void *)) % RTE_CACHE_LINE_SIZE,
                  0u);
    rte_pktmbuf_free_bulk(m, 64);
}

TEST_F(Pipeline, EthernetPaddingIsCutOffBothWays) {
    make_session(0);
    launch();
    const Bytes trailer(24, 0xaa);
    // Decap: an outer frame with bytes after its IP packet.
    const Bytes in = inner_packet(kTunnelIp, kHostIp, 3);
    Bytes outer = data_frame(0, in);
    outer.insert(outer.end(), trailer.begin(), trailer.end());
    inject(outer_port().rx[0], outer);
    auto got = take(inner_port().tx[0], 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV4, in));
    // Encap: an inner frame padded the same way tunnels the IP packet alone.
    const Bytes pkt = inner_packet(kHostIp, kTunnelIp, 3);
    Bytes frame = ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, pkt);
    frame.insert(frame.end(), trailer.begin(), trailer.end());
    inject(inner_port().rx[0], frame);
    auto out = take(outer_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    uint64_t counter;
    auto plain = open_wg(gw_send, decode_outer(out[0]).payload, &counter);
    ASSERT_TRUE(plain.has_value());
    ASSERT_EQ(plain->size(), (pkt.size() + 15) / 16 * 16) << "padded to 16, trailer gone";
    EXPECT_EQ(Bytes(plain->begin(), plain->begin() + pkt.size()), pkt);
    for (size_t k = pkt.size(); k < plain->size(); ++k)
        EXPECT_EQ((*plain)[k], 0) << "byte " << k;
    EXPECT_EQ(total_drops(*workers[0]), 0u);
}

TEST_F(Pipeline, DecapDeliversIpv6InnerPacketsOverAnIpv6Outer) {
    make_session(0, KeypairRole::Current, binding_b6());
    launch();
    const Bytes pkt = ipv6(kTunnelIp6, kHostIp6, 17, udp(5, 6, Bytes(33, 0x42)));
    const Bytes wg = transport(gw_recv, kLocalIndex, 0, pkt);
    inject(outer_port().rx[0], ether(kOuterMac, kPeerMacB, RTE_ETHER_TYPE_IPV6,
                                     ipv6(kPeerIp6, kOuterIp6, 17, udp(50000, kListenPort, wg))));
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV6, pkt));
}

TEST_F(Pipeline, AnIpv6SourceDifferingFromTheBindingInItsLastByteIsReported) {
    const uint32_t slot = make_session(0, KeypairRole::Current, binding_b6());
    launch();
    const Bytes pkt = ipv6(kTunnelIp6, kHostIp6, 17, udp(5, 6, Bytes(20, 0x42)));
    auto frame_from = [&](const uint8_t *src, uint64_t counter) {
        const Bytes wg = transport(gw_recv, kLocalIndex, counter, pkt);
        return ether(kOuterMac, kPeerMacB, RTE_ETHER_TYPE_IPV6,
                     ipv6(src, kOuterIp6, 17, udp(50000, kListenPort, wg)));
    };
    inject(outer_port().rx[0], frame_from(kPeerIp6, 0));
    ASSERT_EQ(take(inner_port().tx[0], 1).size(), 1u);
    EXPECT_TRUE(take_up(0, 1, 200ms).empty()) << "the bound source is not news";
    EXPECT_NE(tables.sessions[slot].last_rx_tsc.load(), 0u) << "a packet on the binding is seen";

    uint8_t other[16];
    std::memcpy(other, kPeerIp6, 16);
    other[15] ^= 0x01;
    inject(outer_port().rx[0], frame_from(other, 1));
    ASSERT_EQ(take(inner_port().tx[0], 1).size(), 1u);
    auto got = take_up(0, 2, 300ms);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(packet_meta(got[0])->kind, MetaKind::SourceChanged);
    EXPECT_EQ(std::memcmp(packet_meta(got[0])->src_addr, other, 16), 0);
    rte_pktmbuf_free(got[0]);
}

// A foreign source is reported once, not per packet; rearm_source_report (the control core,
// after a refused switch) makes its next packet reported again.
TEST_F(Pipeline, AForeignSourceIsReportedOnceUntilTheReportIsRearmed) {
    const uint32_t slot = make_session(0, KeypairRole::Current, binding_b6());
    launch();
    const Bytes pkt = ipv6(kTunnelIp6, kHostIp6, 17, udp(5, 6, Bytes(20, 0x42)));
    uint8_t other[16];
    std::memcpy(other, kPeerIp6, 16);
    other[15] ^= 0x01;
    auto frame = [&](uint64_t counter) {
        const Bytes wg = transport(gw_recv, kLocalIndex, counter, pkt);
        return ether(kOuterMac, kPeerMacB, RTE_ETHER_TYPE_IPV6,
                     ipv6(other, kOuterIp6, 17, udp(50000, kListenPort, wg)));
    };
    inject(outer_port().rx[0], frame(0));
    ASSERT_EQ(take(inner_port().tx[0], 1).size(), 1u);
    auto got = take_up(0, 2, 300ms);
    ASSERT_EQ(got.size(), 1u);
    rte_pktmbuf_free(got[0]);

    inject(outer_port().rx[0], frame(1));
    ASSERT_EQ(take(inner_port().tx[0], 1).size(), 1u);
    EXPECT_TRUE(take_up(0, 1, 200ms).empty()) << "the same source again is not news";

    ASSERT_TRUE(rearm_source_report(tables, slot).ok());
    inject(outer_port().rx[0], frame(2));
    ASSERT_EQ(take(inner_port().tx[0], 1).size(), 1u);
    got = take_up(0, 2, 300ms);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(packet_meta(got[0])->kind, MetaKind::SourceChanged);
    EXPECT_EQ(std::memcmp(packet_meta(got[0])->src_addr, other, 16), 0);
    rte_pktmbuf_free(got[0]);
    EXPECT_FALSE(rearm_source_report(tables, 1u << 20).ok()) << "a slot out of range is refused";
}

TEST_F(Pipeline, BadTagsReplaysAndTooOldCountersAreDroppedByReason) {
    const uint32_t slot = make_session(0);
    launch();
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 40);
    // Wrong key.
    inject(outer_port().rx[0], outer_frame(transport(key_of(0x99), kLocalIndex, 1, pkt)));
    // Flipped ciphertext bit.
    Bytes flipped = transport(gw_recv, kLocalIndex, 2, pkt);
    flipped[20] ^= 0x01;
    inject(outer_port().rx[0], outer_frame(flipped));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::auth_failed) == 2; }));
    // A failed tag must not move the window: counters 1 and 2 are still fresh.
    inject(outer_port().rx[0], data_frame(3000, pkt));
    inject(outer_port().rx[0], data_frame(3000, pkt));  // replay
    inject(outer_port().rx[0], data_frame(900, pkt));   // 2100 below the greatest: too old
    inject(outer_port().rx[0], data_frame(1000, pkt));  // inside the window: delivered
    inject(outer_port().rx[0], data_frame(1000, pkt));  // replay
    auto out = take(inner_port().tx[0], 2);
    EXPECT_EQ(out.size(), 2u);
    ASSERT_TRUE(wait_for([&] {
        return drops(*workers[0], DropReason::replay_duplicate) == 2 &&
               drops(*workers[0], DropReason::replay_too_old) == 1;
    }));
    // Unknown receiver index.
    inject(outer_port().rx[0], outer_frame(transport(gw_recv, 0xdead, 0, pkt)));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::unknown_index) == 1; }));
    const SessionEntry &se = tables.sessions[slot];
    EXPECT_EQ(se.auth_failures.load(), 2u);
    EXPECT_EQ(se.replay_drops.load(), 3u);
    EXPECT_EQ(se.rx_packets.load(), 2u);
    EXPECT_EQ(se.counter_gaps.load(), 2999u)
        << "0..2999 were skipped when 3000 came, and 1000 filled one of them";
}

// Reordering is not loss: a late packet takes back the gap its absence counted, so a path that
// delivers everything out of order (two paths under one keypair) reports no net gaps.
TEST_F(Pipeline, ReorderedCountersLeaveNoNetGap) {
    const uint32_t slot = make_session(0);
    launch();
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 40);
    const SessionEntry &se = tables.sessions[slot];
    for (const uint64_t counter : {1, 0, 3, 2, 5, 4})
        inject(outer_port().rx[0], data_frame(counter, pkt));
    EXPECT_EQ(take(inner_port().tx[0], 6).size(), 6u);
    ASSERT_TRUE(wait_for([&] { return se.rx_packets.load() == 6; }));
    EXPECT_EQ(se.counter_gaps.load(), 0u);
    // A real loss stays counted: 6 and 7 never come.
    inject(outer_port().rx[0], data_frame(8, pkt));
    ASSERT_TRUE(wait_for([&] { return se.rx_packets.load() == 7; }));
    EXPECT_EQ(se.counter_gaps.load(), 2u);
}

TEST_F(Pipeline, InnerSourceOutsideAllowedIpsIsDropped) {
    make_session(0);
    launch();
    const uint8_t spoofed[4] = {10, 9, 0, 99};
    inject(outer_port().rx[0], data_frame(0, inner_packet(spoofed, kHostIp, 20)));
    ASSERT_TRUE(
        wait_for([&] { return drops(*workers[0], DropReason::allowed_ips_mismatch) == 1; }));
    EXPECT_EQ(rte_ring_count(inner_port().tx[0]), 0u);
}

TEST_F(Pipeline, UnknownNeighborIsDroppedAndAskedForByArpOncePerSecond) {
    make_session(0);
    launch();
    const uint8_t stranger[4] = {10, 0, 0, 77};
    for (uint64_t c = 0; c < 3; ++c)
        inject(outer_port().rx[0], data_frame(c, inner_packet(kTunnelIp, stranger, 20)));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::neighbor_unknown) == 3; }));
    auto arp = take(inner_port().tx[0], 2, 300ms);
    ASSERT_EQ(arp.size(), 1u) << "one ARP request, not one per packet";
    const auto *eth = reinterpret_cast<const rte_ether_hdr *>(arp[0].data());
    EXPECT_EQ(rte_be_to_cpu_16(eth->ether_type), RTE_ETHER_TYPE_ARP);
    EXPECT_TRUE(rte_is_broadcast_ether_addr(&eth->dst_addr));
    const auto *a = reinterpret_cast<const rte_arp_hdr *>(eth + 1);
    EXPECT_EQ(rte_be_to_cpu_16(a->arp_opcode), RTE_ARP_OP_REQUEST);
    EXPECT_EQ(a->arp_data.arp_tip, be32(stranger));
    EXPECT_EQ(a->arp_data.arp_sip, be32(kInnerIp4));
}

// Decrypted packets to the gateway's own inner address, to 0.0.0.0, to the inner subnet's
// broadcast or to a multicast group are dropped, not ARPed for (the gateway asking the LAN
// for its own address) or fanned out.
TEST_F(Pipeline, DecryptedPacketsToUsOrToAGroupAreDroppedWithoutAnArp) {
    make_session(0);
    launch();
    const uint8_t zero[4] = {0, 0, 0, 0};
    const uint8_t broadcast[4] = {10, 0, 0, 255};
    const uint8_t group[4] = {224, 0, 0, 251};
    inject(outer_port().rx[0], data_frame(0, inner_packet(kTunnelIp, kInnerIp4, 20)));
    inject(outer_port().rx[0], data_frame(1, inner_packet(kTunnelIp, zero, 20)));
    inject(outer_port().rx[0], data_frame(2, inner_packet(kTunnelIp, broadcast, 20)));
    inject(outer_port().rx[0], data_frame(3, inner_packet(kTunnelIp, group, 20)));
    ASSERT_TRUE(wait_for([&] {
        return drops(*workers[0], DropReason::local_unhandled) == 2 &&
               drops(*workers[0], DropReason::multicast) == 2;
    }));
    EXPECT_TRUE(take(inner_port().tx[0], 1, 200ms).empty()) << "no ARP, nothing forwarded";
    EXPECT_EQ(drops(*workers[0], DropReason::neighbor_unknown), 0u);
}

TEST_F(Pipeline, DecryptedIpv6PacketsToUsOrToAGroupAreDroppedWithoutASolicitation) {
    make_session(0);
    launch();
    const uint8_t unspecified[16] = {};
    const uint8_t group[16] = {0xff, 0x05, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb};
    const Bytes payload = udp(5, 6, Bytes(8, 1));
    inject(outer_port().rx[0], data_frame(0, ipv6(kTunnelIp6, kInnerIp6, 17, payload)));
    inject(outer_port().rx[0], data_frame(1, ipv6(kTunnelIp6, unspecified, 17, payload)));
    inject(outer_port().rx[0], data_frame(2, ipv6(kTunnelIp6, group, 17, payload)));
    ASSERT_TRUE(wait_for([&] {
        return drops(*workers[0], DropReason::local_unhandled) == 2 &&
               drops(*workers[0], DropReason::multicast) == 1;
    }));
    EXPECT_TRUE(take(inner_port().tx[0], 1, 200ms).empty()) << "no solicitation, nothing forwarded";
    EXPECT_EQ(drops(*workers[0], DropReason::neighbor_unknown), 0u);
}

TEST_F(Pipeline, UnknownIpv6NeighborIsAskedForByNeighborSolicitation) {
    make_session(0);
    launch();
    const uint8_t stranger[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0xef};
    for (uint64_t c = 0; c < 2; ++c)
        inject(outer_port().rx[0],
               data_frame(c, ipv6(kTunnelIp6, stranger, 17, udp(5, 6, Bytes(8, 1)))));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::neighbor_unknown) == 2; }));
    auto ns = take(inner_port().tx[0], 2, 300ms);
    ASSERT_EQ(ns.size(), 1u) << "one solicitation, not one per packet";
    const auto *eth = reinterpret_cast<const rte_ether_hdr *>(ns[0].data());
    const rte_ether_addr mcast{{0x33, 0x33, 0xff, 0xab, 0xcd, 0xef}};
    EXPECT_TRUE(rte_is_same_ether_addr(&eth->dst_addr, &mcast));
    const auto *ip = reinterpret_cast<const rte_ipv6_hdr *>(eth + 1);
    const uint8_t solicited[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xab, 0xcd, 0xef};
    EXPECT_EQ(std::memcmp(ip->dst_addr, solicited, 16), 0);
    EXPECT_EQ(std::memcmp(ip->src_addr, kInnerIp6, 16), 0);
    EXPECT_EQ(ip->hop_limits, 255);
    const uint8_t *icmp = ns[0].data() + 54;
    EXPECT_EQ(icmp[0], 135);
    EXPECT_EQ(std::memcmp(icmp + 8, stranger, 16), 0);
    EXPECT_TRUE(ipv6_l4_checksum_ok(ip, icmp));
}

TEST_F(Pipeline, KeepalivesAreConsumedAndControlMessagesGoUp) {
    const uint32_t slot = make_session(0);
    launch();
    inject(outer_port().rx[0], data_frame(0, {}));
    const Bytes challenge = {0x06, 1, 2, 3, 4, 5, 6, 7, 8};
    inject(outer_port().rx[0], data_frame(1, challenge));
    auto got = take_up(0, 1);
    ASSERT_EQ(got.size(), 1u);
    const PacketMeta &meta = *packet_meta(got[0]);
    EXPECT_EQ(meta.kind, MetaKind::ControlMessage);
    EXPECT_EQ(meta.session_slot, slot);
    EXPECT_EQ(meta.counter, 1u);
    EXPECT_EQ(meta.local_index, kLocalIndex);
    EXPECT_EQ(bytes_of(got[0]), challenge) << "padding stripped";
    rte_pktmbuf_free(got[0]);
    EXPECT_TRUE(wait_for([&] { return workers[0]->counters.keepalives.load() == 1; }));
    EXPECT_EQ(total_drops(*workers[0]), 0u);
}

TEST_F(Pipeline, NewSourceIsReportedOnceWhilePacketsAreStillDelivered) {
    const uint32_t slot = make_session(0);
    launch();
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 60);
    for (uint64_t c = 0; c < 5; ++c)
        inject(outer_port().rx[0], data_frame(c, pkt, kPeerIpB, 41000));
    auto out = take(inner_port().tx[0], 5);
    EXPECT_EQ(out.size(), 5u) << "roaming delivers at once";
    auto got = take_up(0, 2, 300ms);
    ASSERT_EQ(got.size(), 1u) << "reported once per new source";
    const PacketMeta &meta = *packet_meta(got[0]);
    EXPECT_EQ(meta.kind, MetaKind::SourceChanged);
    EXPECT_EQ(meta.session_slot, slot);
    EXPECT_EQ(meta.src_port, 41000);
    EXPECT_EQ(std::memcmp(meta.src_addr, kPeerIpB, 4), 0);
    EXPECT_EQ(rte_pktmbuf_data_len(got[0]), 0u);
    rte_pktmbuf_free(got[0]);

    // The control core moves the binding; the old address is now the foreign one.
    Binding b = binding_a();
    std::memcpy(b.addr, kPeerIpB, 4);
    b.port = 41000;
    ASSERT_TRUE(publish_binding(tables, slot, b).ok());
    for (uint64_t c = 5; c < 8; ++c)
        inject(outer_port().rx[0], data_frame(c, pkt, kPeerIpB, 41000));
    inject(outer_port().rx[0], data_frame(8, pkt, kPeerIpA, 40000));
    inject(outer_port().rx[0], data_frame(9, pkt, kPeerIpA, 40000));
    EXPECT_EQ(take(inner_port().tx[0], 5).size(), 5u);
    got = take_up(0, 2, 300ms);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(std::memcmp(packet_meta(got[0])->src_addr, kPeerIpA, 4), 0);
    rte_pktmbuf_free(got[0]);
}

TEST_F(Pipeline, FirstPacketUnderTheNextKeypairIsReportedOnceAsConfirmed) {
    const uint32_t slot = make_session(0, KeypairRole::Next);
    launch();
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 10);
    for (uint64_t c = 0; c < 4; ++c)
        inject(outer_port().rx[0], data_frame(c, pkt));
    EXPECT_EQ(take(inner_port().tx[0], 4).size(), 4u);
    auto got = take_up(0, 2, 300ms);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(packet_meta(got[0])->kind, MetaKind::KeypairConfirmed);
    EXPECT_EQ(packet_meta(got[0])->local_index, kLocalIndex);
    EXPECT_EQ(packet_meta(got[0])->session_slot, slot);
    rte_pktmbuf_free(got[0]);
}

// ---- Encap ----

TEST_F(Pipeline, EncapSealsInnerPacketsToTheBindingWithConsecutiveCounters) {
    const uint32_t slot = make_session(0);
    launch();
    std::vector<Bytes> pkts;
    for (int i = 0; i < 3; ++i) {
        pkts.push_back(inner_packet(kHostIp, kTunnelIp, 17 + 30 * i, uint8_t(i)));
        inject(inner_port().rx[0], ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, pkts.back()));
    }
    auto out = take(outer_port().tx[0], 3);
    ASSERT_EQ(out.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        const OuterOut o = decode_outer(out[i]);
        EXPECT_EQ(o.family, 4);
        EXPECT_TRUE(o.checksum_ok);
        EXPECT_EQ(o.dst_addr, Bytes(kPeerIpA, kPeerIpA + 4));
        EXPECT_EQ(o.dst_port, 40000);
        EXPECT_EQ(o.src_port, kListenPort);
        EXPECT_TRUE(rte_is_same_ether_addr(&o.dst_mac, &kPeerMacA));
        EXPECT_EQ(jg::proto::load_le32(o.payload.data() + 4), kRemoteIndex);
        EXPECT_EQ(o.payload.size() % 16, 0u) << "padded to 16";
        uint64_t counter = 99;
        auto plain = open_wg(gw_send, o.payload, &counter);
        ASSERT_TRUE(plain.has_value()) << "libsodium opens what ipsec-mb sealed";
        EXPECT_EQ(counter, uint64_t(i));
        EXPECT_EQ(Bytes(plain->begin(), plain->begin() + pkts[i].size()), pkts[i]);
        for (size_t k = pkts[i].size(); k < plain->size(); ++k)
            EXPECT_EQ((*plain)[k], 0);
    }
    EXPECT_EQ(tables.sessions[slot].tx_packets.load(), 3u);
    EXPECT_EQ(tables.sessions[slot].current.load()->send_counter.load(), 3u);
}

TEST(Ipv4Header, StoredFieldsAndChecksumAgreeWithDpdkAtAnyAlignment) {
    std::mt19937 rng(7);
    alignas(8) uint8_t buf[40];
    for (int n = 0; n < 20000; ++n) {
        for (auto &b : buf)
            b = uint8_t(rng());
        uint8_t *at = buf + n % 8;
        const Bytes before(buf, buf + sizeof(buf));
        // Every third header has all-ones fields: sums that carry.
        const bool ones = n % 3 == 0;
        const auto total = uint16_t(ones ? 0xffff : rng());
        const auto id = uint16_t(ones ? 0xffff : rng());
        const auto ttl = uint8_t(ones ? 0xff : rng());
        const auto proto = uint8_t(ones ? 0xff : rng());
        const uint32_t src = ones ? 0xffffffffu : uint32_t(rng());
        const uint32_t dst = ones ? 0xffffffffu : uint32_t(rng());
        jg::dp::store_ipv4_header(at, total, id, ttl, proto, src, dst);
        rte_ipv4_hdr ip;
        std::memcpy(&ip, at, sizeof(ip));
        ASSERT_EQ(ip.version_ihl, RTE_IPV4_VHL_DEF) << "header " << n;
        ASSERT_EQ(ip.type_of_service, 0) << "header " << n;
        ASSERT_EQ(rte_be_to_cpu_16(ip.total_length), total) << "header " << n;
        ASSERT_EQ(rte_be_to_cpu_16(ip.packet_id), id) << "header " << n;
        ASSERT_EQ(ip.fragment_offset, 0) << "header " << n;
        ASSERT_EQ(ip.time_to_live, ttl) << "header " << n;
        ASSERT_EQ(ip.next_proto_id, proto) << "header " << n;
        ASSERT_EQ(ip.src_addr, src) << "header " << n;
        ASSERT_EQ(ip.dst_addr, dst) << "header " << n;
        const uint16_t stored = ip.hdr_checksum;
        ip.hdr_checksum = 0;
        ASSERT_EQ(stored, rte_ipv4_cksum(&ip)) << "header " << n;
        // Nothing outside the 20 bytes is written.
        const size_t off = size_t(at - buf);
        ASSERT_TRUE(std::equal(buf, at, before.begin())) << "header " << n;
        ASSERT_TRUE(std::equal(at + 20, buf + sizeof(buf), before.begin() + off + 20))
            << "header " << n;
    }
}

// The inner port is promiscuous: a frame for another host's MAC, or sent as link-layer
// broadcast, is not tunnelled although its IP destination routes into the tunnel.
TEST_F(Pipeline, InnerFramesNotAddressedToOurMacAreNotTunnelled) {
    make_session(0);
    launch();
    const rte_ether_addr someone_else{{0x02, 0xaa, 0, 0, 0, 0x01}};
    const rte_ether_addr broadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    const Bytes pkt = inner_packet(kHostIp, kTunnelIp, 10);
    inject(inner_port().rx[0], ether(someone_else, kHostMac, RTE_ETHER_TYPE_IPV4, pkt));
    inject(inner_port().rx[0], ether(broadcast, kHostMac, RTE_ETHER_TYPE_IPV4, pkt));
    const Bytes v6 = ipv6(kHostIp6, kTunnelIp6, 17, udp(7, 8, Bytes(10, 1)));
    inject(inner_port().rx[0], ether(someone_else, kHostMac, RTE_ETHER_TYPE_IPV6, v6));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::not_for_us) == 3; }));
    EXPECT_TRUE(take(outer_port().tx[0], 1, 100ms).empty());
    inject(inner_port().rx[0], ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, pkt));
    EXPECT_EQ(take(outer_port().tx[0], 1).size(), 1u) << "ours is tunnelled";
}

TEST_F(Pipeline, EncapTunnelsAnAddressEndingInAllOnesOutsideTheInnerSubnet) {
    const uint32_t slot = make_session(0);
    const uint8_t peer_net[4] = {10, 9, 1, 0};
    ASSERT_TRUE(add_route(tables, 4, peer_net, 24, slot).ok());
    launch();
    const uint8_t last_in_24[4] = {10, 9, 1, 255};  // not the inner subnet's broadcast
    inject(inner_port().rx[0],
           ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, inner_packet(kHostIp, last_in_24, 10)));
    const uint8_t inner_broadcast[4] = {10, 0, 0, 255};
    inject(inner_port().rx[0], ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4,
                                     inner_packet(kHostIp, inner_broadcast, 10)));
    auto out = take(outer_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    uint64_t counter;
    auto plain = open_wg(gw_send, decode_outer(out[0]).payload, &counter);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(std::memcmp(plain->data() + 16, last_in_24, 4), 0);
    EXPECT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::multicast) == 1; }));
}

TEST_F(Pipeline, EncapOverIpv6CarriesAValidUdpChecksumAndStopsPaddingAtTheMtu) {
    make_session(0, KeypairRole::Current, binding_b6());
    workers[0]->outer.mtu = 1500;
    launch();
    // 1500 - 40 - 8 - 32 = 1420 bytes of plaintext fit; 1420 is not a multiple of 16.
    const Bytes big = inner_packet(kHostIp, kTunnelIp, 1420 - 28);
    inject(inner_port().rx[0], ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, big));
    const Bytes v6 = ipv6(kHostIp6, kTunnelIp6, 17, udp(7, 8, Bytes(10, 1)));
    inject(inner_port().rx[0], ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV6, v6));
    auto out = take(outer_port().tx[0], 2);
    ASSERT_EQ(out.size(), 2u);
    const OuterOut a = decode_outer(out[0]);
    EXPECT_EQ(a.family, 6);
    EXPECT_TRUE(a.checksum_ok) << "IPv6 needs a real UDP checksum";
    EXPECT_EQ(a.payload.size(), 16u + 1420 + 16) << "no padding past the MTU";
    uint64_t counter;
    auto plain = open_wg(gw_send, a.payload, &counter);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(*plain, big);
    const OuterOut b = decode_outer(out[1]);
    EXPECT_TRUE(b.checksum_ok);
    plain = open_wg(gw_send, b.payload, &counter);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(counter, 1u);
    EXPECT_EQ(Bytes(plain->begin(), plain->begin() + v6.size()), v6);
    // One byte more does not fit.
    const Bytes too_big = inner_packet(kHostIp, kTunnelIp, 1421 - 28);
    inject(inner_port().rx[0], ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, too_big));
    EXPECT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::too_big) == 1; }));
}

// An inner packet too big for the tunnel is answered with ICMP "fragmentation needed" (DF
// set) or ICMPv6 "packet too big" naming the largest packet that fits, so its sender's path
// MTU discovery works instead of the packet vanishing.
TEST_F(Pipeline, TooBigInnerPacketsAreAnsweredWithPacketTooBig) {
    make_session(0);
    workers[0]->outer.mtu = 1500;
    launch();
    // 1500 - 20 - 8 - 32 = 1440 bytes fit over the IPv4 outer binding.
    Bytes v4 = inner_packet(kHostIp, kTunnelIp, 1441 - 28);
    auto *h = reinterpret_cast<rte_ipv4_hdr *>(v4.data());
    h->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    h->hdr_checksum = 0;
    h->hdr_checksum = rte_ipv4_cksum(h);
    inject(inner_port().rx[0], ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, v4));
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    {
        const auto *eth = reinterpret_cast<const rte_ether_hdr *>(out[0].data());
        EXPECT_TRUE(rte_is_same_ether_addr(&eth->dst_addr, &kHostMac));
        EXPECT_TRUE(rte_is_same_ether_addr(&eth->src_addr, &kInnerMac));
        ASSERT_EQ(rte_be_to_cpu_16(eth->ether_type), RTE_ETHER_TYPE_IPV4);
        const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(eth + 1);
        EXPECT_EQ(rte_ipv4_cksum(ip), 0) << "a valid header sums to zero";
        EXPECT_EQ(ip->next_proto_id, 1);
        EXPECT_EQ(ip->src_addr, be32(kInnerIp4));
        EXPECT_EQ(ip->dst_addr, be32(kHostIp));
        ASSERT_EQ(rte_be_to_cpu_16(ip->total_length), 576u) << "quoted up to the minimum MTU";
        ASSERT_EQ(out[0].size(), sizeof(rte_ether_hdr) + 576);
        const uint8_t *icmp = reinterpret_cast<const uint8_t *>(ip + 1);
        EXPECT_EQ(icmp[0], 3);
        EXPECT_EQ(icmp[1], 4);
        EXPECT_EQ(icmp[6] << 8 | icmp[7], 1440);
        EXPECT_EQ(uint16_t(~rte_raw_cksum(icmp, 576 - 20)), 0);
        EXPECT_TRUE(std::equal(icmp + 8, icmp + 8 + 548, v4.begin())) << "the packet, quoted";
    }

    // Without DF a router would fragment; a tunnel drops it as before, with no error.
    const Bytes no_df = inner_packet(kHostIp, kTunnelIp, 1441 - 28, 7);
    inject(inner_port().rx[0], ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, no_df));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::too_big) == 2; }));
    EXPECT_TRUE(take(inner_port().tx[0], 1, 200ms).empty());

    const Bytes v6 = ipv6(kHostIp6, kTunnelIp6, 17, udp(7, 8, Bytes(1441 - 48, 3)));
    inject(inner_port().rx[0], ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV6, v6));
    out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    const auto *eth = reinterpret_cast<const rte_ether_hdr *>(out[0].data());
    EXPECT_TRUE(rte_is_same_ether_addr(&eth->dst_addr, &kHostMac));
    ASSERT_EQ(rte_be_to_cpu_16(eth->ether_type), RTE_ETHER_TYPE_IPV6);
    const auto *ip6 = reinterpret_cast<const rte_ipv6_hdr *>(eth + 1);
    EXPECT_EQ(ip6->proto, 58);
    EXPECT_EQ(std::memcmp(ip6->src_addr, kInnerIp6, 16), 0);
    EXPECT_EQ(std::memcmp(ip6->dst_addr, kHostIp6, 16), 0);
    ASSERT_EQ(rte_be_to_cpu_16(ip6->payload_len), 1280u - 40) << "quoted up to 1280 bytes";
    const uint8_t *icmp = reinterpret_cast<const uint8_t *>(ip6 + 1);
    EXPECT_EQ(icmp[0], 2);
    EXPECT_EQ(icmp[1], 0);
    EXPECT_EQ(icmp[6] << 8 | icmp[7], 1440);
    Bytes copy(out[0].begin(), out[0].end());  // the checksum, recomputed over a copy
    auto *copy6 = reinterpret_cast<rte_ipv6_hdr *>(copy.data() + sizeof(rte_ether_hdr));
    uint8_t *copy_icmp = reinterpret_cast<uint8_t *>(copy6 + 1);
    copy_icmp[2] = copy_icmp[3] = 0;
    const uint16_t ck = rte_ipv6_udptcp_cksum(copy6, copy_icmp);
    EXPECT_EQ(std::memcmp(&ck, icmp + 2, 2), 0);
    EXPECT_TRUE(std::equal(icmp + 8, icmp + 8 + 1232, v6.begin()));
    EXPECT_EQ(drops(*workers[0], DropReason::too_big), 3u);
    EXPECT_TRUE(take(outer_port().tx[0], 1, 100ms).empty()) << "nothing tunnelled";
}

TEST_F(Pipeline, EncapWithoutRouteKeypairOrBindingIsDroppedByReason) {
    const uint32_t slot = make_session(0, KeypairRole::Next, std::nullopt);
    launch();
    const uint8_t nowhere[4] = {172, 16, 0, 1};
    inject(inner_port().rx[0],
           ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, inner_packet(kHostIp, nowhere, 10)));
    inject(inner_port().rx[0],
           ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, inner_packet(kHostIp, kTunnelIp, 10)));
    ASSERT_TRUE(wait_for([&] {
        return drops(*workers[0], DropReason::no_route) == 1 &&
               drops(*workers[0], DropReason::no_keypair) == 1;
    }));
    ASSERT_TRUE(confirm_next_keypair(tables, slot).ok());
    inject(inner_port().rx[0],
           ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, inner_packet(kHostIp, kTunnelIp, 10)));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::no_binding) == 1; }));
}

TEST_F(Pipeline, BindingChangesWhileTheOwnerTransmitsNeverTearAHeader) {
    const uint32_t slot = make_session(1);
    launch();
    const Bytes frame =
        ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, inner_packet(kHostIp, kTunnelIp, 64));
    const Binding a = binding_a();
    const Binding b = binding_b6();
    constexpr int kPackets = 6000;
    int sent = 0, flips = 0, seen_a = 0, seen_b = 0, torn = 0;
    std::vector<Bytes> out;
    uint64_t last_counter = 0;
    bool counters_in_order = true;
    while (sent < kPackets) {
        for (int i = 0; i < 200 && sent < kPackets; ++i, ++sent)
            inject(inner_port().rx[1], frame);
        // Flip while the worker is in the middle of the burst.
        for (int i = 0; i < 4; ++i) {
            ASSERT_TRUE(publish_binding(tables, slot, (flips++ % 2) ? a : b).ok());
            reclaim(tables);
            std::this_thread::sleep_for(50us);
        }
        auto got = take(outer_port().tx[1], 200, 50ms);
        out.insert(out.end(), got.begin(), got.end());
    }
    auto rest = take(outer_port().tx[1], size_t(kPackets) - out.size());
    out.insert(out.end(), rest.begin(), rest.end());
    ASSERT_EQ(out.size(), size_t(kPackets));
    for (size_t i = 0; i < out.size(); ++i) {
        const OuterOut o = decode_outer(out[i]);
        const bool is_a = o.family == 4 && o.dst_addr == Bytes(kPeerIpA, kPeerIpA + 4) &&
                          o.dst_port == a.port && rte_is_same_ether_addr(&o.dst_mac, &a.l2_dst);
        const bool is_b = o.family == 6 && o.dst_addr == Bytes(kPeerIp6, kPeerIp6 + 16) &&
                          o.dst_port == b.port && rte_is_same_ether_addr(&o.dst_mac, &b.l2_dst) &&
                          o.checksum_ok;
        seen_a += is_a;
        seen_b += is_b;
        torn += !(is_a || is_b);
        const uint64_t c = jg::proto::load_le64(o.payload.data() + 8);
        if (i > 0 && c != last_counter + 1)
            counters_in_order = false;
        last_counter = c;
    }
    EXPECT_EQ(torn, 0);
    EXPECT_GT(seen_a, 0);
    EXPECT_GT(seen_b, 0);
    EXPECT_TRUE(counters_in_order) << "one sender: counters strictly consecutive";
    EXPECT_EQ(total_drops(*workers[1]), 0u);
    stop_workers();
    reclaim(tables);
    EXPECT_EQ(pending_reclaim(tables), 0u) << "every old binding freed once the workers left";
}

TEST_F(Pipeline, RotationUnderTrafficMovesSealingToTheNewKeypair) {
    const uint32_t slot = make_session(0);
    launch();
    const jg::proto::Key new_send = key_of(0x90);
    const Bytes frame =
        ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, inner_packet(kHostIp, kTunnelIp, 40));
    constexpr int kPackets = 3000;
    std::vector<Bytes> out;
    for (int i = 0; i < kPackets; ++i) {
        inject(inner_port().rx[0], frame);
        if (i == kPackets / 2) {
            KeypairInit k;
            k.send_key = new_send;
            k.recv_key = key_of(0xa0);
            k.local_index = kLocalIndex + 1;
            k.remote_index = kRemoteIndex + 1;
            k.key_epoch = 1;
            ASSERT_TRUE(install_keypair(tables, slot, k, KeypairRole::Current).ok());
        }
        if (i % 500 == 499) {
            auto got = take(outer_port().tx[0], 1, 1ms);
            out.insert(out.end(), got.begin(), got.end());
        }
    }
    auto rest = take(outer_port().tx[0], kPackets - out.size());
    out.insert(out.end(), rest.begin(), rest.end());
    ASSERT_EQ(out.size(), size_t(kPackets));
    uint64_t old_next = 0, new_next = 0;
    bool switched = false, order_ok = true;
    for (const Bytes &f : out) {
        const OuterOut o = decode_outer(f);
        uint64_t c;
        const uint32_t receiver = jg::proto::load_le32(o.payload.data() + 4);
        if (receiver == kRemoteIndex) {
            order_ok &= !switched && open_wg(gw_send, o.payload, &c).has_value() && c == old_next;
            ++old_next;
        } else {
            switched = true;
            order_ok &= receiver == kRemoteIndex + 1 &&
                        open_wg(new_send, o.payload, &c).has_value() && c == new_next;
            ++new_next;
        }
    }
    EXPECT_TRUE(order_ok) << "old keypair first, then the new one from counter 0, never mixed";
    EXPECT_GT(old_next, 0u);
    EXPECT_GT(new_next, 0u);
    EXPECT_EQ(old_next + new_next, uint64_t(kPackets));
}

TEST_F(Pipeline, RetiringASessionUnderTrafficDropsItsPacketsCleanly) {
    const uint32_t slot = make_session(0);
    launch();
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 30);
    constexpr uint64_t kPackets = 3000;
    for (uint64_t c = 0; c < kPackets; ++c) {
        inject(outer_port().rx[0], data_frame(c, pkt));
        if (c == kPackets / 2) {
            ASSERT_TRUE(retire_session(tables, slot).ok());
        }
        if (c % 256 == 0)
            drain(inner_port().tx[0]);
    }
    const Worker &w = *workers[0];
    ASSERT_TRUE(wait_for([&] {
        drain(inner_port().tx[0]);
        return w.counters.decrypted.load() + drops(w, DropReason::unknown_index) +
                   drops(w, DropReason::session_dead) ==
               kPackets;
    })) << "every packet delivered or dropped by reason";
    EXPECT_GT(drops(w, DropReason::unknown_index), 0u);
    EXPECT_TRUE(wait_for([&] {
        reclaim(tables);
        return pending_reclaim(tables) == 0;
    })) << "the workers' quiescent states let the control core free everything";
    auto again = alloc_session(tables, 0x77, 1);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, slot) << "the slot is reusable after the grace period";
}

// ---- Two workers, one owner ----

TEST_F(Pipeline, PacketsOfOneSessionOnTwoWorkersAreHandedToTheOwner) {
    const uint32_t slot = make_session(1);
    launch();
    constexpr uint64_t kPackets = 2000;
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 48);
    std::vector<Bytes> out;
    for (uint64_t c = 0; c < kPackets; ++c) {
        inject(outer_port().rx[c % 3 == 0 ? 1 : 0], data_frame(c, pkt));
        if (c % 256 == 255) {
            auto got = take(inner_port().tx[1], 1, 1ms);
            out.insert(out.end(), got.begin(), got.end());
        }
    }
    auto rest = take(inner_port().tx[1], kPackets - out.size());
    out.insert(out.end(), rest.begin(), rest.end());
    EXPECT_EQ(out.size(), kPackets);
    EXPECT_EQ(rte_ring_count(inner_port().tx[0]), 0u) << "only the owner transmits";
    EXPECT_GT(workers[0]->counters.handoffs.load(), kPackets / 2);
    EXPECT_EQ(workers[0]->counters.decrypted.load(), 0u);
    EXPECT_EQ(workers[1]->counters.decrypted.load(), kPackets);
    EXPECT_EQ(tables.sessions[slot].rx_packets.load(), kPackets);
    EXPECT_EQ(tables.sessions[slot].replay_drops.load(), 0u);
    EXPECT_EQ(total_drops(*workers[0]) + total_drops(*workers[1]), 0u);
}

TEST_F(Pipeline, InnerPacketsOnTheWrongWorkerAreSealedByTheOwner) {
    make_session(1);
    launch();
    for (int i = 0; i < 50; ++i)
        inject(inner_port().rx[0], ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4,
                                         inner_packet(kHostIp, kTunnelIp, 20)));
    auto out = take(outer_port().tx[1], 50);
    ASSERT_EQ(out.size(), 50u);
    for (size_t i = 0; i < out.size(); ++i)
        EXPECT_EQ(jg::proto::load_le64(decode_outer(out[i]).payload.data() + 8), i);
    EXPECT_EQ(workers[0]->counters.handoffs.load(), 50u);
}

// ---- Down ring ----

TEST_F(Pipeline, DownRingSendsRawPayloadsAndSealsControlMessages) {
    const uint32_t slot = make_session(0);
    launch();
    const Bytes response(jg::proto::kResponseSize, 0x5a);
    rte_mbuf *raw = to_mbuf(response);
    PacketMeta *meta = packet_meta(raw);
    std::memset(meta, 0, sizeof(*meta));
    meta->kind = MetaKind::SendRaw;
    meta->family = 4;
    std::memcpy(meta->src_addr, kPeerIpB, 4);
    meta->src_port = 41000;
    meta->src_mac = kPeerMacB;
    ASSERT_EQ(rte_ring_enqueue(down[0], raw), 0);

    const Bytes challenge = {0x06, 9, 8, 7, 6, 5, 4, 3, 2};
    rte_mbuf *ctl = to_mbuf(challenge);
    meta = packet_meta(ctl);
    std::memset(meta, 0, sizeof(*meta));
    meta->kind = MetaKind::SendControl;
    meta->family = 6;
    std::memcpy(meta->src_addr, kPeerIp6, 16);
    meta->src_port = 50001;
    meta->src_mac = kPeerMacB;
    meta->session_slot = slot;
    ASSERT_EQ(rte_ring_enqueue(down[0], ctl), 0);

    auto out = take(outer_port().tx[0], 2);
    ASSERT_EQ(out.size(), 2u);
    const OuterOut r = decode_outer(out[0]);
    EXPECT_EQ(r.payload, response);
    EXPECT_EQ(r.dst_addr, Bytes(kPeerIpB, kPeerIpB + 4));
    EXPECT_EQ(r.dst_port, 41000);
    const OuterOut c = decode_outer(out[1]);
    EXPECT_EQ(c.family, 6);
    EXPECT_EQ(c.dst_port, 50001);
    EXPECT_TRUE(c.checksum_ok);
    uint64_t counter;
    auto plain = open_wg(gw_send, c.payload, &counter);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(counter, 0u);
    EXPECT_EQ(Bytes(plain->begin(), plain->begin() + challenge.size()), challenge);
}

TEST_F(Pipeline, SendControlOnANonOwnerIsRefused) {
    const uint32_t slot = make_session(1);
    launch();
    rte_mbuf *ctl = to_mbuf({0x06, 1, 2, 3, 4, 5, 6, 7, 8});
    PacketMeta *meta = packet_meta(ctl);
    std::memset(meta, 0, sizeof(*meta));
    meta->kind = MetaKind::SendControl;
    meta->family = 4;
    meta->session_slot = slot;
    ASSERT_EQ(rte_ring_enqueue(down[0], ctl), 0);
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::not_owner) == 1; }));
}

// ---- Our own addresses ----

Bytes arp_request(const rte_ether_addr &sha, const uint8_t sip[4], const uint8_t tip[4]) {
    Bytes b(sizeof(rte_arp_hdr));
    auto *a = reinterpret_cast<rte_arp_hdr *>(b.data());
    a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    a->arp_hlen = 6;
    a->arp_plen = 4;
    a->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    a->arp_data.arp_sha = sha;
    a->arp_data.arp_sip = be32(sip);
    a->arp_data.arp_tip = be32(tip);
    rte_ether_addr bcast;
    std::memset(&bcast, 0xff, sizeof(bcast));
    return ether(bcast, sha, RTE_ETHER_TYPE_ARP, b);
}

TEST_F(Pipeline, ArpRequestForOurAddressIsAnsweredAndInnerArpIsReportedUp) {
    launch();
    inject(outer_port().rx[0], arp_request(kPeerMacA, kPeerIpA, kOuterIp4));
    auto out = take(outer_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    const auto *eth = reinterpret_cast<const rte_ether_hdr *>(out[0].data());
    const auto *a = reinterpret_cast<const rte_arp_hdr *>(eth + 1);
    EXPECT_TRUE(rte_is_same_ether_addr(&eth->dst_addr, &kPeerMacA));
    EXPECT_TRUE(rte_is_same_ether_addr(&eth->src_addr, &kOuterMac));
    EXPECT_EQ(rte_be_to_cpu_16(a->arp_opcode), RTE_ARP_OP_REPLY);
    rte_ether_addr sha = a->arp_data.arp_sha;
    EXPECT_TRUE(rte_is_same_ether_addr(&sha, &kOuterMac));
    EXPECT_EQ(a->arp_data.arp_sip, be32(kOuterIp4));
    EXPECT_EQ(a->arp_data.arp_tip, be32(kPeerIpA));
    EXPECT_EQ(rte_ring_count(up[0]), 0u) << "outer ARP teaches the control core nothing";

    inject(inner_port().rx[0], arp_request(kHostMac, kHostIp, kInnerIp4));
    EXPECT_EQ(take(inner_port().tx[0], 1).size(), 1u);
    auto got = take_up(0, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(packet_meta(got[0])->kind, MetaKind::NeighborLearned);
    EXPECT_EQ(std::memcmp(packet_meta(got[0])->src_addr, kHostIp, 4), 0);
    EXPECT_TRUE(rte_is_same_ether_addr(&packet_meta(got[0])->src_mac, &kHostMac));
    rte_pktmbuf_free(got[0]);

    const uint8_t other[4] = {192, 0, 2, 99};
    inject(outer_port().rx[0], arp_request(kPeerMacA, kPeerIpA, other));
    EXPECT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::arp_ignored) == 1; }));

    // Senders the inner port does not reach directly (outside its subnet, its broadcast, our
    // own address) teach nothing: they would fill the neighbor table for good.
    const uint8_t elsewhere[4] = {172, 16, 0, 9};
    const uint8_t subnet_broadcast[4] = {10, 0, 0, 255};
    inject(inner_port().rx[0], arp_request(kHostMac, elsewhere, other));
    inject(inner_port().rx[0], arp_request(kHostMac, subnet_broadcast, other));
    inject(inner_port().rx[0], arp_request(kHostMac, kInnerIp4, other));
    EXPECT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::arp_ignored) == 4; }));
    EXPECT_EQ(rte_ring_count(up[0]), 0u);
}

TEST_F(Pipeline, EchoRequestsToOurAddressesAreAnswered) {
    launch();
    Bytes icmp(8 + 24, 0x77);
    auto *h = reinterpret_cast<rte_icmp_hdr *>(icmp.data());
    h->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
    h->icmp_code = 0;
    h->icmp_cksum = 0;
    h->icmp_cksum = uint16_t(~rte_raw_cksum(icmp.data(), icmp.size()));
    inject(inner_port().rx[0],
           ether(kInnerMac, kHostMac, RTE_ETHER_TYPE_IPV4, ipv4(kHostIp, kInnerIp4, 1, icmp)));
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    const auto *eth = reinterpret_cast<const rte_ether_hdr *>(out[0].data());
    const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(eth + 1);
    EXPECT_TRUE(rte_is_same_ether_addr(&eth->dst_addr, &kHostMac));
    EXPECT_EQ(ip->src_addr, be32(kInnerIp4));
    EXPECT_EQ(ip->dst_addr, be32(kHostIp));
    EXPECT_EQ(rte_raw_cksum(ip, 20), 0xffff) << "valid IPv4 header checksum";
    const auto *reply = reinterpret_cast<const uint8_t *>(ip) + 20;
    EXPECT_EQ(reply[0], RTE_IP_ICMP_ECHO_REPLY);
    EXPECT_EQ(rte_raw_cksum(reply, icmp.size()), 0xffff) << "valid ICMP checksum";
    EXPECT_EQ(Bytes(reply + 8, reply + icmp.size()), Bytes(24, 0x77));

    Bytes icmp6(8 + 16, 0x31);
    icmp6[0] = 128;
    icmp6[1] = 0;
    inject(outer_port().rx[0],
           ether(kOuterMac, kPeerMacB, RTE_ETHER_TYPE_IPV6, ipv6(kPeerIp6, kOuterIp6, 58, icmp6)));
    out = take(outer_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    const auto *ip6 = reinterpret_cast<const rte_ipv6_hdr *>(out[0].data() + 14);
    EXPECT_EQ(std::memcmp(ip6->dst_addr, kPeerIp6, 16), 0);
    EXPECT_EQ(std::memcmp(ip6->src_addr, kOuterIp6, 16), 0);
    EXPECT_EQ(out[0][54], 129);
    EXPECT_TRUE(ipv6_l4_checksum_ok(ip6, out[0].data() + 54));
}

// A neighbor solicitation from `source` for `target` (to the target's solicited-node group),
// or an advertisement of `target` (to all nodes), as a host on the inner port sends it: hop
// limit 255, link-layer address option, valid checksum.
Bytes inner_nd(uint8_t type, const uint8_t source[16], const uint8_t target[16]) {
    Bytes nd(24 + 8, 0);
    nd[0] = type;
    std::memcpy(nd.data() + 8, target, 16);
    nd[24] = type == 135 ? 1 : 2;  // source / target link-layer address option
    nd[25] = 1;
    std::memcpy(nd.data() + 26, kHostMac.addr_bytes, 6);
    uint8_t group[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (type == 135) {
        group[11] = 1;
        group[12] = 0xff;
        std::memcpy(group + 13, target + 13, 3);
    }
    Bytes ip = ipv6(source, group, 58, nd, 255);
    auto *h = reinterpret_cast<rte_ipv6_hdr *>(ip.data());
    const uint16_t ck = rte_ipv6_udptcp_cksum(h, ip.data() + 40);
    std::memcpy(ip.data() + 42, &ck, 2);
    const rte_ether_addr mcast{{0x33, 0x33, group[12], group[13], group[14], group[15]}};
    return ether(mcast, kHostMac, RTE_ETHER_TYPE_IPV6, ip);
}

TEST_F(Pipeline, NeighborSolicitationForOurAddressIsAdvertised) {
    launch();
    inject(inner_port().rx[0], inner_nd(135, kHostIp6, kInnerIp6));
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    const auto *na6 = reinterpret_cast<const rte_ipv6_hdr *>(out[0].data() + 14);
    const uint8_t *na = out[0].data() + 54;
    EXPECT_EQ(na[0], 136);
    EXPECT_EQ(na[4] & 0x40, 0x40) << "solicited flag";
    EXPECT_EQ(std::memcmp(na + 8, kInnerIp6, 16), 0);
    EXPECT_EQ(std::memcmp(na + 26, kInnerMac.addr_bytes, 6), 0) << "target link-layer option";
    EXPECT_EQ(std::memcmp(na6->dst_addr, kHostIp6, 16), 0);
    EXPECT_EQ(na6->hop_limits, 255);
    EXPECT_TRUE(ipv6_l4_checksum_ok(na6, na));
    auto got = take_up(0, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(packet_meta(got[0])->family, 6);
    EXPECT_EQ(std::memcmp(packet_meta(got[0])->src_addr, kHostIp6, 16), 0);
    rte_pktmbuf_free(got[0]);
}

TEST_F(Pipeline, NeighborDiscoveryTeachesOnlyNeighborsOnTheInnerSubnet) {
    launch();
    // Outside fd00::/64, multicast, or our own address: none of these may take a place in the
    // bounded neighbor table, whatever a host on the link claims.
    const uint8_t elsewhere[16] = {0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9};
    const uint8_t far_away[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    const uint8_t group[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    const uint8_t unrelated_target[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42};
    inject(inner_port().rx[0], inner_nd(135, elsewhere, unrelated_target));
    inject(inner_port().rx[0], inner_nd(135, far_away, unrelated_target));
    inject(inner_port().rx[0], inner_nd(136, kHostIp6, far_away));
    inject(inner_port().rx[0], inner_nd(136, kHostIp6, group));
    inject(inner_port().rx[0], inner_nd(136, kHostIp6, kInnerIp6));
    // Then one that does teach: a neighbor inside the subnet. The worker handles its ring in
    // order, so if this is the only report, none of the ones before it was reported.
    const uint8_t neighbor[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x33};
    inject(inner_port().rx[0], inner_nd(136, kHostIp6, neighbor));
    auto got = take_up(0, 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(packet_meta(got[0])->kind, MetaKind::NeighborLearned);
    EXPECT_EQ(packet_meta(got[0])->family, 6);
    EXPECT_EQ(std::memcmp(packet_meta(got[0])->src_addr, neighbor, 16), 0);
    rte_pktmbuf_free(got[0]);
    EXPECT_EQ(rte_ring_count(up[0]), 0u);
}

// Fragmented outer datagrams, as a path with a smaller MTU delivers a full-size packet.
TEST_F(Pipeline, FragmentedTransportPacketsAreReassembledInAnyOrder) {
    const uint32_t slot = make_session(0);
    enable_reassembly();
    launch();
    const Bytes first = inner_packet(kTunnelIp, kHostIp, 1300, 1);
    for (const Bytes &f : fragment4(data_frame(0, first), 512, 7))
        inject(outer_port().rx[0], f);
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV4, first));
    // Last fragment first, then the rest backwards.
    const Bytes second = inner_packet(kTunnelIp, kHostIp, 1000, 2);
    auto frags = fragment4(data_frame(1, second), 256, 8);
    ASSERT_EQ(frags.size(), 5u);
    for (auto it = frags.rbegin(); it != frags.rend(); ++it)
        inject(outer_port().rx[0], *it);
    out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV4, second));
    EXPECT_EQ(workers[0]->counters.reassembled.load(), 2u);
    EXPECT_EQ(tables.sessions[slot].rx_packets.load(), 2u);
    EXPECT_EQ(total_drops(*workers[0]), 0u);
}

TEST_F(Pipeline, FragmentedTransportPacketsOverIpv6AreReassembled) {
    make_session(0, KeypairRole::Current, binding_b6());
    enable_reassembly();
    launch();
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 1200, 3);
    const Bytes wg = transport(gw_recv, kLocalIndex, 0, pkt);
    const Bytes frame = ether(kOuterMac, kPeerMacB, RTE_ETHER_TYPE_IPV6,
                              ipv6(kPeerIp6, kOuterIp6, 17, udp(50000, kListenPort, wg)));
    auto frags = fragment6(frame, 600);
    ASSERT_EQ(frags.size(), 3u);
    inject(outer_port().rx[0], frags[1]);
    inject(outer_port().rx[0], frags[0]);
    inject(outer_port().rx[0], frags[2]);
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV4, pkt));
    EXPECT_EQ(workers[0]->counters.reassembled.load(), 1u);
    EXPECT_EQ(total_drops(*workers[0]), 0u);
}

TEST_F(Pipeline, ADatagramMissingAFragmentIsDroppedAtItsTimeoutAndGivesItsMbufsBack) {
    make_session(0);
    enable_reassembly(50);
    launch();
    const unsigned in_use = rte_mempool_in_use_count(pool());
    auto frags = fragment4(data_frame(0, inner_packet(kTunnelIp, kHostIp, 1300)), 512);
    ASSERT_EQ(frags.size(), 3u);
    inject(outer_port().rx[0], frags[0]);
    inject(outer_port().rx[0], frags[2]);
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::fragment) == 2; }))
        << "the two fragments held are dropped once the datagram times out";
    EXPECT_TRUE(wait_for([&] { return rte_mempool_in_use_count(pool()) <= in_use; }));
    EXPECT_EQ(rte_ring_count(inner_port().tx[0]), 0u);
    // The datagram's missing fragment alone, after the timeout, starts a new datagram that
    // never completes: nothing is delivered from the old one's parts.
    inject(outer_port().rx[0], frags[1]);
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::fragment) == 3; }));
    EXPECT_EQ(rte_ring_count(inner_port().tx[0]), 0u);
    EXPECT_EQ(workers[0]->counters.reassembled.load(), 0u);
}

TEST_F(Pipeline, AFragmentFloodFillsOnlyTheReassemblyTableAndDrainsAtTheTimeout) {
    make_session(0);
    enable_reassembly(1500);  // room for 64 datagrams per worker
    launch();
    const unsigned in_use = rte_mempool_in_use_count(pool());
    // First fragments of 80 datagrams that never complete: more than the table holds.
    const Bytes frame = data_frame(0, inner_packet(kTunnelIp, kHostIp, 1300));
    for (uint16_t id = 0; id < 80; ++id)
        inject(outer_port().rx[0], fragment4(frame, 512, uint16_t(0x1000 + id))[0]);
    // Once the worker has taken them all, every fragment is either held (its mbuf still in
    // use) or already dropped as beyond the table's room, long before the timeout.
    ASSERT_TRUE(wait_for([&] { return rte_ring_count(outer_port().rx[0]) == 0; }));
    std::this_thread::sleep_for(50ms);  // the last burst through classify
    auto held = [&] { return rte_mempool_in_use_count(pool()) - in_use; };
    ASSERT_EQ(drops(*workers[0], DropReason::fragment) + held(), 80u);
    const uint64_t early = drops(*workers[0], DropReason::fragment);
    EXPECT_GE(early, 16u) << "at most 64 datagrams are held";
    EXPECT_LE(held(), 64u);
    // Unfragmented traffic never touches the table.
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 100);
    inject(outer_port().rx[0], data_frame(1, pkt));
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV4, pkt));
    EXPECT_EQ(drops(*workers[0], DropReason::fragment), early) << "nothing timed out yet";
    // At the timeout every held fragment is dropped and its mbuf given back; the table then
    // reassembles again.
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::fragment) == 80; }));
    EXPECT_TRUE(wait_for([&] { return rte_mempool_in_use_count(pool()) <= in_use; }));
    const Bytes later = inner_packet(kTunnelIp, kHostIp, 1300, 9);
    for (const Bytes &f : fragment4(data_frame(2, later), 512, 0x2000))
        inject(outer_port().rx[0], f);
    out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV4, later));
    EXPECT_EQ(workers[0]->counters.reassembled.load(), 1u);
}

// Fragments hashed to another worker's queue are reassembled there and handed to the owner.
TEST_F(Pipeline, ADatagramReassembledOnAnotherWorkerIsHandedToTheOwner) {
    const uint32_t slot = make_session(0);
    enable_reassembly();
    launch();
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 1300, 4);
    for (const Bytes &f : fragment4(data_frame(0, pkt), 512))
        inject(outer_port().rx[1], f);
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u) << "the owner (worker 0) sends it";
    EXPECT_EQ(out[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV4, pkt));
    EXPECT_EQ(workers[1]->counters.reassembled.load(), 1u);
    EXPECT_EQ(workers[1]->counters.handoffs.load(), 1u);
    EXPECT_EQ(tables.sessions[slot].rx_packets.load(), 1u);
}

// IPv6: an atomic fragment (offset 0, no more) is the whole packet; a fragment of anything but
// UDP is not held.
TEST_F(Pipeline, Ipv6AtomicFragmentsAreTakenAsTheyAreAndNonUdpFragmentsDropped) {
    make_session(0, KeypairRole::Current, binding_b6());
    enable_reassembly();
    launch();
    const Bytes pkt = inner_packet(kTunnelIp, kHostIp, 200, 5);
    const Bytes frame =
        ether(kOuterMac, kPeerMacB, RTE_ETHER_TYPE_IPV6,
              ipv6(kPeerIp6, kOuterIp6, 17,
                   udp(50000, kListenPort, transport(gw_recv, kLocalIndex, 0, pkt))));
    auto atomic = fragment6(frame, 4096);
    ASSERT_EQ(atomic.size(), 1u);
    inject(outer_port().rx[0], atomic[0]);
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV4, pkt));
    EXPECT_EQ(workers[0]->counters.reassembled.load(), 0u) << "nothing to reassemble";
    const Bytes tcp = ether(kOuterMac, kPeerMacB, RTE_ETHER_TYPE_IPV6,
                            ipv6(kPeerIp6, kOuterIp6, 6, Bytes(1200, 0x33)));
    const auto tcp_frags = fragment6(tcp, 600);
    for (const Bytes &f : tcp_frags)
        inject(outer_port().rx[0], f);
    ASSERT_TRUE(
        wait_for([&] { return drops(*workers[0], DropReason::fragment) == tcp_frags.size(); }));
}

// A reassembled datagram can carry more than the inner port's MTU; the gateway does not
// fragment, so it is dropped.
TEST_F(Pipeline, ADecryptedPacketLargerThanTheInnerMtuIsDropped) {
    make_session(0);
    enable_reassembly();
    workers[0]->inner.mtu = 1000;
    launch();
    for (const Bytes &f : fragment4(data_frame(0, inner_packet(kTunnelIp, kHostIp, 1300)), 512))
        inject(outer_port().rx[0], f);
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::too_big) == 1; }));
    EXPECT_EQ(workers[0]->counters.reassembled.load(), 1u);
    const Bytes small = inner_packet(kTunnelIp, kHostIp, 900);
    inject(outer_port().rx[0], data_frame(1, small));
    auto out = take(inner_port().tx[0], 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0], ether(kHostMac, kInnerMac, RTE_ETHER_TYPE_IPV4, small));
}

TEST_F(Pipeline, FragmentsAreDroppedWhenReassemblyIsOffNotUdpOrTooBigForOneMbuf) {
    make_session(0);
    launch();  // no table: reassembly off
    uint64_t sent = 0;
    auto send_all = [&](const std::vector<Bytes> &frags) {
        for (const Bytes &f : frags)
            inject(outer_port().rx[0], f);
        sent += frags.size();
    };
    send_all(fragment4(data_frame(0, inner_packet(kTunnelIp, kHostIp, 600)), 512));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::fragment) == sent; }));
    stop_workers();

    enable_reassembly();
    launch();
    // ICMP fragments to us are not worth holding mbufs for.
    const Bytes icmp = ether(kOuterMac, kPeerMacA, RTE_ETHER_TYPE_IPV4,
                             ipv4(kPeerIpA, kOuterIp4, 1, Bytes(1200, 0x08)));
    send_all(fragment4(icmp, 512));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::fragment) == sent; }));
    // A datagram larger than one mbuf's buffer: each of its fragments is dropped.
    const Bytes big = data_frame(1, inner_packet(kTunnelIp, kHostIp, 2100));
    ASSERT_GT(big.size(), 2048u);
    send_all(fragment4(big, 600));
    ASSERT_TRUE(wait_for([&] { return drops(*workers[0], DropReason::fragment) == sent; }));
    EXPECT_EQ(workers[0]->counters.reassembled.load(), 0u);
    EXPECT_EQ(rte_ring_count(inner_port().tx[0]), 0u);
}

TEST_F(Pipeline, TrafficNotForUsOnTheOuterPortIsDropped) {
    launch();
    const uint8_t elsewhere[4] = {192, 0, 2, 200};
    inject(outer_port().rx[0], ether(kOuterMac, kPeerMacA, RTE_ETHER_TYPE_IPV4,
                                     ipv4(kPeerIpA, elsewhere, 17, udp(1, kListenPort, {1}))));
    inject(outer_port().rx[0], ether(kOuterMac, kPeerMacA, RTE_ETHER_TYPE_IPV4,
                                     ipv4(kPeerIpA, kOuterIp4, 17, udp(1, 53, {1}))));
    inject(outer_port().rx[0], ether(kOuterMac, kPeerMacA, 0x88cc, Bytes(50, 0)));
    ASSERT_TRUE(wait_for([&] {
        return drops(*workers[0], DropReason::not_for_us) == 2 &&
               drops(*workers[0], DropReason::unclassified) == 1;
    }));
}

}  // namespace
