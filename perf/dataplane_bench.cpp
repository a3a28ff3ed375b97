// Data-plane benchmark: the gateway's own worker_loop on one lcore, fed through net_ring ports
// by a generator on the main lcore, against the ipsec-mb burst rate measured on the same lcore.
// A standalone program (EAL with --no-huge --no-pci); prints a table and writes JSON.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>
#include <rte_version.h>

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "config/gateway_config.hpp"
#include "crypto/ipsec_mb_aead.hpp"
#include "dataplane/fragments.hpp"
#include "dataplane/packet_meta.hpp"
#include "dataplane/tables.hpp"
#include "dataplane/worker.hpp"
#include "net/port.hpp"
#include "proto/cookie.hpp"
#include "proto/messages.hpp"

namespace {

using namespace jg::dp;
using json = nlohmann::json;

constexpr unsigned kWorkerLcore = 1;
constexpr uint16_t kListenPort = 51820;
constexpr uint16_t kPeerPort = 41000;
constexpr unsigned kRingSize = 4096;                           // entries of each port's RX ring
constexpr unsigned kTxRingSize = 16384;                        // TX rings: never the bottleneck
constexpr unsigned kMaxInFlight = kRingSize - 2 * kBurstSize;  // frames fed, not yet back
constexpr unsigned kPoolMbufs = 4 * kRingSize + 2 * kTxRingSize + 4096;
constexpr uint32_t kTunnelBase = RTE_IPV4(10, 64, 0, 0);  // session i owns 10.64.0.0 + i /32
constexpr uint32_t kPeerBase = RTE_IPV4(100, 64, 0, 0);   // session i's peer is 100.64.0.0 + i
constexpr uint32_t kMaxBenchSessions = 1u << 22;          // both /10 ranges above hold 4 M
const rte_ether_addr kOuterMac{{0x02, 0, 0, 0, 0, 0x01}};
const rte_ether_addr kInnerMac{{0x02, 0, 0, 0, 0, 0x02}};
const rte_ether_addr kPeerMac{{0x02, 0xaa, 0, 0, 0, 0x0a}};
const rte_ether_addr kHostMac{{0x02, 0xcc, 0, 0, 0, 0x05}};
constexpr uint32_t kOuterIp = RTE_IPV4(192, 0, 2, 1);
constexpr uint32_t kInnerIp = RTE_IPV4(10, 0, 0, 1);
constexpr uint32_t kHostIp = RTE_IPV4(10, 0, 0, 5);

enum class Direction { decap, encap, mixed };
const char *direction_name(Direction d) {
    return d == Direction::decap ? "decap" : d == Direction::encap ? "encap" : "mixed";
}

struct Options {
    std::vector<uint32_t> sizes{64, 512, 1420};
    std::vector<uint32_t> sessions{1, 1000, 100000, 1000000};
    std::vector<Direction> directions{Direction::decap, Direction::encap, Direction::mixed};
    uint32_t packets = 1u << 17;  // per pass
    unsigned passes = 6;
    unsigned ceiling_reps = 2;
    bool flood = true;
    uint32_t flood_pps = 1000000;
    uint32_t flood_sessions = 1000;
    uint32_t flood_size = 1420;
    std::string out = "dataplane_bench.json";
    bool quick = false;
    bool hugepages = false;
    bool demote_frames = false;
};

// ---- 2 MiB hugepages for the run (--hugepages) ----
// Production runs DPDK on hugepages (docs/operations.md); without them (--no-huge, the
// default here) the mbufs and a million sessions' tables miss the TLB on nearly every access.
// The run takes a lock (one lease at a time on a machine), raises nr_hugepages by what it
// needs, mounts a private hugetlbfs, and gives back what it added and the mount at exit, on a
// failed check (std::exit), on SIGINT/SIGTERM/SIGHUP and on a crash (re-raised afterwards).
// Only SIGKILL skips that: then write the old nr_hugepages back and `umount -l` the
// /tmp/dpbench-huge-* mount by hand. The state lives in fixed buffers so the signal handler
// only makes system calls.
constexpr const char *kNrHugepages = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
constexpr const char *kLeaseLock = "/run/lock/jumpgate-dpbench-hugepages";
constexpr int kExitNoHugepages = 77;  // what meson reports as a skipped test
struct HugepageLease {
    char mount_dir[64] = {};
    long added = 0;  // pages this run added to nr_hugepages; taken off again on release
};
HugepageLease g_lease;

// nr_hugepages through plain system calls (async-signal-safe); -1 when unreadable.
long read_nr_hugepages() {
    const int fd = open(kNrHugepages, O_RDONLY);
    if (fd < 0)
        return -1;
    char buf[24];
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    long v = 0;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i)
        v = v * 10 + (buf[i] - '0');
    return v;
}

bool write_nr_hugepages(long v) {
    char buf[24];
    size_t n = sizeof buf;
    buf[--n] = '\n';
    do {
        buf[--n] = char('0' + v % 10);
        v /= 10;
    } while (v > 0 && n > 0);
    const int fd = open(kNrHugepages, O_WRONLY);
    if (fd < 0)
        return false;
    const bool ok = write(fd, buf + n, sizeof buf - n) == ssize_t(sizeof buf - n);
    close(fd);
    return ok;
}

void release_hugepages() {
    if (g_lease.mount_dir[0] != 0) {
        umount2(g_lease.mount_dir, MNT_DETACH);  // lazily: DPDK may still map its pages
        rmdir(g_lease.mount_dir);
        g_lease.mount_dir[0] = 0;
    }
    if (g_lease.added != 0) {
        // Only what this run added, so a pool someone else raised meanwhile keeps its pages.
        // Pages still mapped become surplus and go back to the kernel when unmapped.
        const long now = read_nr_hugepages();
        if (now >= 0)
            write_nr_hugepages(now > g_lease.added ? now - g_lease.added : 0);
        g_lease.added = 0;
    }
}

void release_on_signal(int sig) {
    release_hugepages();
    std::signal(sig, SIG_DFL);  // then die of the signal: status and core dump as they were
    std::raise(sig);
}

// Reserves `pages` more 2 MiB pages and a hugetlbfs mount for them. Returns the mount
// directory, or an empty string after printing why not (nothing is left changed).
std::string lease_hugepages(long pages) {
    // Held until the process ends, however it ends: the kernel drops the lock with the fd.
    const int lock = open(kLeaseLock, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (lock < 0) {
        std::fprintf(stderr, "--hugepages: cannot open %s: %s\n", kLeaseLock, std::strerror(errno));
        return {};
    }
    if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
        std::fprintf(stderr, "--hugepages: another run holds %s; waiting for it\n", kLeaseLock);
        if (flock(lock, LOCK_EX) != 0) {
            std::fprintf(stderr, "--hugepages: lock: %s\n", std::strerror(errno));
            return {};
        }
    }
    const long before = read_nr_hugepages();
    if (before < 0) {
        std::fprintf(stderr, "--hugepages: cannot read %s (no 2 MiB hugepage support?)\n",
                     kNrHugepages);
        return {};
    }
    std::atexit(release_hugepages);
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE})
        std::signal(sig, release_on_signal);
    if (!write_nr_hugepages(before + pages)) {
        std::fprintf(stderr, "--hugepages: cannot write %s: %s (root needed)\n", kNrHugepages,
                     std::strerror(errno));
        return {};
    }
    const long after = read_nr_hugepages();
    g_lease.added = after > before ? after - before : 0;
    if (g_lease.added < pages) {
        std::fprintf(stderr,
                     "--hugepages: the kernel gave %ld of the %ld 2 MiB pages asked for (memory "
                     "short or fragmented); run without --hugepages\n",
                     g_lease.added, pages);
        release_hugepages();
        return {};
    }
    std::snprintf(g_lease.mount_dir, sizeof g_lease.mount_dir, "/tmp/dpbench-huge-XXXXXX");
    if (mkdtemp(g_lease.mount_dir) == nullptr) {
        std::fprintf(stderr, "--hugepages: mkdtemp: %s\n", std::strerror(errno));
        g_lease.mount_dir[0] = 0;
        release_hugepages();
        return {};
    }
    if (mount("nodev", g_lease.mount_dir, "hugetlbfs", 0, "pagesize=2M") != 0) {
        std::fprintf(stderr, "--hugepages: mounting hugetlbfs on %s: %s\n", g_lease.mount_dir,
                     std::strerror(errno));
        release_hugepages();  // its umount of the unmounted directory fails harmlessly
        return {};
    }
    std::printf("# hugepages: %ld x 2 MiB added to the kernel's pool, hugetlbfs on %s\n",
                g_lease.added, g_lease.mount_dir);
    return g_lease.mount_dir;
}

// ---- Deterministic per-session material ----
uint64_t splitmix(uint64_t &s) {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

std::array<uint8_t, 32> session_key(uint32_t session, uint32_t which) {
    uint64_t s = uint64_t(session) << 8 | which;
    std::array<uint8_t, 32> k;
    for (size_t i = 0; i < k.size(); i += 8) {
        const uint64_t v = splitmix(s);
        std::memcpy(k.data() + i, &v, 8);
    }
    return k;
}

// As the control core hands them out: a distinct by_index position per session (four
// positions per slot), scrambled high bits above it.
uint32_t local_index(uint32_t session, const Tables &t) {
    return ((session + 1) * 0x9e3779b1u & ~t.index_mask) | (session << 2 & t.index_mask);
}

uint32_t be32(uint32_t host) {
    return rte_cpu_to_be_32(host);
}

// ---- Frame writing ----
uint8_t *write_eth(uint8_t *p, const rte_ether_addr &dst, const rte_ether_addr &src) {
    auto *h = reinterpret_cast<rte_ether_hdr *>(p);
    h->dst_addr = dst;
    h->src_addr = src;
    h->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    return p + sizeof(*h);
}

// IPv4 + UDP headers for a datagram of `udp_payload` bytes; returns the UDP payload.
uint8_t *write_ip_udp(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                      uint32_t udp_payload) {
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(p);
    std::memset(ip, 0, sizeof(*ip));
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(uint16_t(sizeof(*ip) + 8 + udp_payload));
    ip->time_to_live = 64;
    ip->next_proto_id = 17;
    ip->src_addr = be32(src);
    ip->dst_addr = be32(dst);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);
    udp->src_port = rte_cpu_to_be_16(sport);
    udp->dst_port = rte_cpu_to_be_16(dport);
    udp->dgram_len = rte_cpu_to_be_16(uint16_t(8 + udp_payload));
    udp->dgram_cksum = 0;
    return reinterpret_cast<uint8_t *>(udp + 1);
}

// An inner IPv4/UDP packet of `total` bytes (IP header included) from src to dst.
void write_inner(uint8_t *p, uint32_t src, uint32_t dst, uint32_t total) {
    uint8_t *data = write_ip_udp(p, src, dst, 5000, 5001, total - 28);
    for (uint32_t i = 0; i < total - 28; ++i)
        data[i] = uint8_t(i);
}

uint32_t padded(uint32_t plaintext) {
    return (plaintext + 15) / 16 * 16;
}

// Frames prepared before timing: `count` frames of `len` bytes at `stride`.
struct FrameSet {
    std::vector<uint8_t> bytes;
    uint32_t stride = 0;
    uint16_t len = 0;
    uint32_t count = 0;
    const uint8_t *frame(uint32_t i) const { return bytes.data() + size_t(i) * stride; }
    uint8_t *frame(uint32_t i) { return bytes.data() + size_t(i) * stride; }
    void reset(uint32_t n, uint16_t frame_len) {
        count = n;
        len = frame_len;
        stride = (frame_len + 63u) & ~63u;
        bytes.assign(size_t(n) * stride, 0);
    }
};

// Which session each packet goes to: uniform random, so large tables miss the caches as
// traffic from many peers does.
std::vector<uint32_t> session_sequence(uint32_t packets, uint32_t sessions, uint64_t seed) {
    std::vector<uint32_t> seq(packets);
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<uint32_t> pick(0, sessions - 1);
    for (auto &s : seq)
        s = pick(rng);
    return seq;
}

// Transport-data frames from session peers to the gateway, counters in order per session,
// sealed with ipsec-mb on the main lcore (the worker opens them with the same library).
void build_decap(FrameSet &fs, const std::vector<uint32_t> &seq, uint32_t payload,
                 jg::crypto::IpsecMbAead &aead, const Tables &t) {
    const uint32_t pt = padded(payload);
    const uint32_t msg = uint32_t(jg::proto::kTransportHeaderSize + pt + jg::proto::kTagSize);
    fs.reset(uint32_t(seq.size()), uint16_t(14 + 28 + msg));
    std::vector<uint64_t> next_counter;
    std::vector<std::array<uint8_t, 32>> keys(kBurstSize);
    jg::crypto::AeadOp ops[kBurstSize];
    uint16_t n_ops = 0;
    std::unordered_map<uint32_t, uint64_t> counters;
    for (uint32_t i = 0; i < fs.count; ++i) {
        const uint32_t s = seq[i];
        const uint64_t counter = counters[s]++;
        uint8_t *p = write_eth(fs.frame(i), kOuterMac, kPeerMac);
        uint8_t *wg = write_ip_udp(p, kPeerBase + s, kOuterIp, kPeerPort, kListenPort, msg);
        wg[0] = uint8_t(jg::proto::MessageType::transport);
        jg::proto::store_le32(wg + jg::proto::transport_off::receiver, local_index(s, t));
        jg::proto::store_le64(wg + jg::proto::transport_off::counter, counter);
        uint8_t *content = wg + jg::proto::transport_off::content;
        write_inner(content, kTunnelBase + s, kHostIp, payload);
        keys[n_ops] = session_key(s, 1);
        ops[n_ops] = jg::crypto::AeadOp{content, pt, keys[n_ops].data(), counter, 0};
        if (++n_ops == kBurstSize || i + 1 == fs.count) {
            if (aead.seal_burst(ops, n_ops) != n_ops) {
                std::fprintf(stderr, "sealing the prepared packets failed\n");
                std::exit(1);
            }
            n_ops = 0;
        }
    }
}

// Inner IP packets from a host on the inner subnet to session i's allowed IP.
void build_encap(FrameSet &fs, const std::vector<uint32_t> &seq, uint32_t payload) {
    fs.reset(uint32_t(seq.size()), uint16_t(14 + payload));
    for (uint32_t i = 0; i < fs.count; ++i)
        write_inner(write_eth(fs.frame(i), kInnerMac, kHostMac), kHostIp, kTunnelBase + seq[i],
                    payload);
}

// Valid-looking initiations from random sources: even ones with a mac1 that verifies, odd
// ones with random bytes in its place.
void build_flood(FrameSet &fs, uint32_t count, const jg::proto::Key &gw_public) {
    fs.reset(count, uint16_t(14 + 28 + jg::proto::kInitiationSize));
    std::mt19937_64 rng(7);
    jg::proto::CookieJar jar(gw_public);
    for (uint32_t i = 0; i < count; ++i) {
        const uint32_t src = RTE_IPV4(198, 18, 0, 0) | uint32_t(rng() & 0x1ffff);
        uint8_t *p = write_eth(fs.frame(i), kOuterMac, kPeerMac);
        uint8_t *wg = write_ip_udp(p, src, kOuterIp, uint16_t(1024 + rng() % 60000), kListenPort,
                                   jg::proto::kInitiationSize);
        for (size_t b = 0; b < jg::proto::kInitiationSize; ++b)
            wg[b] = uint8_t(rng());
        wg[0] = uint8_t(jg::proto::MessageType::initiation);
        wg[1] = wg[2] = wg[3] = 0;
        if (i % 2 == 0)
            jar.add_macs(std::span<uint8_t>(wg, jg::proto::kInitiationSize), 0);
    }
}

// ---- Ports, pool, worker ----
struct RingPort {
    rte_ring *rx = nullptr;
    rte_ring *tx = nullptr;
    uint16_t port_id = 0;
};

rte_mempool *g_pool = nullptr;

RingPort make_port(const std::string &name) {
    RingPort p;
    p.rx = rte_ring_create((name + "_rx").c_str(), kRingSize, SOCKET_ID_ANY,
                           RING_F_SP_ENQ | RING_F_SC_DEQ);
    p.tx = rte_ring_create((name + "_tx").c_str(), kTxRingSize, SOCKET_ID_ANY,
                           RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (p.rx == nullptr || p.tx == nullptr) {
        std::fprintf(stderr, "ring %s: %s\n", name.c_str(), rte_strerror(rte_errno));
        std::exit(1);
    }
    const int port = rte_eth_from_rings(name.c_str(), &p.rx, 1, &p.tx, 1, SOCKET_ID_ANY);
    if (port < 0) {
        std::fprintf(stderr, "rte_eth_from_rings %s failed\n", name.c_str());
        std::exit(1);
    }
    char dev[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(uint16_t(port), dev);
    jg::net::PortSetup s;
    s.name = name;
    s.device = dev;
    auto st = jg::net::start_port(s, g_pool);
    if (!st) {
        std::fprintf(stderr, "%s\n", st.error().message().c_str());
        std::exit(1);
    }
    p.port_id = st->port_id;
    return p;
}

struct Rig {
    RingPort outer, inner;
    rte_ring *up = nullptr;
    std::unique_ptr<jg::crypto::IpsecMbAead> worker_aead;
    std::unique_ptr<jg::crypto::IpsecMbAead> main_aead;
    // The worker reassembles outer fragments as the gateway's does by default, so its loop
    // pays what the gateway's pays for that (the bench's frames are never fragmented).
    jg::dp::FragmentTable fragments;
    jg::proto::Key gw_public{};
    std::atomic<bool> stop{false};
    clockid_t worker_clock{};
};

void wire_worker(Worker &w, Rig &rig, Tables &t) {
    w.config.lcore = kWorkerLcore;
    w.config.n_queues = 2;
    w.config.queues[0] = {rig.outer.port_id, 0};
    w.config.queues[1] = {rig.inner.port_id, 0};
    w.config.idle_sleep_us = 0;
    w.stop = &rig.stop;
    w.index = 0;
    w.n_workers = 1;
    w.tables = &t;
    w.up = rig.up;
    w.aead = rig.worker_aead.get();
    w.fragments = rig.fragments.get();
    w.outer.port_id = rig.outer.port_id;
    w.outer.mac = kOuterMac;
    w.outer.ipv4 = be32(kOuterIp);
    w.inner.port_id = rig.inner.port_id;
    w.inner.mac = kInnerMac;
    w.inner.ipv4 = be32(kInnerIp);
    w.inner.subnet4 = be32(kInnerIp & 0xffffff00u);
    w.inner.subnet4_mask = be32(0xffffff00u);
    w.listen_port = kListenPort;
    const jg::proto::Hash k = jg::proto::mac1_key_for(rig.gw_public);
    std::copy(k.begin(), k.end(), w.mac1_key.begin());
}

size_t heap_allocated() {
    size_t total = 0;
    for (unsigned s = 0; s < rte_socket_count(); ++s) {
        rte_malloc_socket_stats st{};
        if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(s), &st) == 0)
            total += st.heap_allocsz_bytes;
    }
    return total;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---- What a table miss costs here (memory_probe) ----
// With many sessions the worker's per-packet cost above the 1,000-session figure is table
// lines fetched from DRAM. The probe measures that price on the memory the tables live in
// (DPDK memory: 2 MiB pages under --hugepages): a chase through a random cycle over every
// line of a buffer, one chain (the latency of a dependent miss) and several chains at once
// (the cost per line when misses overlap, as the worker's burst prefetches make them).

struct ProbeLine {
    ProbeLine *next;
    uint8_t pad[RTE_CACHE_LINE_SIZE - sizeof(ProbeLine *)];
};
static_assert(sizeof(ProbeLine) == RTE_CACHE_LINE_SIZE);
constexpr unsigned kProbeChains[] = {1, 4, 16, 32};  // ascending
constexpr unsigned kProbeChainsMax = kProbeChains[std::size(kProbeChains) - 1];

// Nanoseconds per line over `accesses` loads, `chains` independent chains advancing in turn.
double chase_ns_per_line(ProbeLine *const *starts, unsigned chains, uint64_t accesses) {
    ProbeLine *at[kProbeChainsMax];
    for (unsigned c = 0; c < chains; ++c)
        at[c] = starts[c];
    const uint64_t rounds = accesses / chains;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t r = 0; r < rounds; ++r)
        for (unsigned c = 0; c < chains; ++c)
            at[c] = at[c]->next;
    const double ns = seconds_since(t0) * 1e9;
    // Keeps the loads: the chains' ends feed an observable value.
    uintptr_t sink = 0;
    for (unsigned c = 0; c < chains; ++c)
        sink ^= reinterpret_cast<uintptr_t>(at[c]);
    asm volatile("" : : "r"(sink));
    return ns / double(rounds * chains);
}

json memory_probe(size_t bytes) {
    const size_t lines = bytes / sizeof(ProbeLine);
    auto *buf = static_cast<ProbeLine *>(
        rte_malloc("bench_probe", lines * sizeof(ProbeLine), RTE_CACHE_LINE_SIZE));
    if (buf == nullptr)
        return json{{"error", "rte_malloc of " + std::to_string(bytes) + " bytes failed"}};
    std::vector<uint32_t> order(lines);
    for (size_t i = 0; i < lines; ++i)
        order[i] = uint32_t(i);
    std::mt19937_64 rng(0x6a756d70);
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i = 0; i < lines; ++i)
        buf[order[i]].next = &buf[order[(i + 1) % lines]];
    json out{{"bytes", lines * sizeof(ProbeLine)}};
    json per = json::object();
    for (unsigned chains : kProbeChains) {
        ProbeLine *starts[kProbeChainsMax];
        for (unsigned c = 0; c < chains; ++c)
            starts[c] = &buf[order[c * (lines / chains)]];
        // About half a second for one chain, less for the overlapped ones.
        const double ns = chase_ns_per_line(starts, chains, chains == 1 ? 2000000 : 8000000);
        per[std::to_string(chains)] = ns;
    }
    out["ns_per_line_by_chains"] = per;
    rte_free(buf);
    return out;
}

// ---- Tables with N live sessions ----
struct SessionTables {
    Tables t{};
    uint32_t sessions = 0;
    json memory;
    double insert_per_s = 0;
};

json memory_json(const TablesMemory &m) {
    return json{{"sessions", m.sessions}, {"by_index", m.by_index}, {"routes4", m.routes4},
                {"routes6", m.routes6},   {"hosts", m.hosts},       {"neighbors", m.neighbors},
                {"other", m.other},       {"keypairs", m.keypairs}, {"bindings", m.bindings},
                {"total", m.total()}};
}

[[noreturn]] void fail(const std::string &what, const jg::Error &e) {
    std::fprintf(stderr, "%s: %s\n", what.c_str(), e.message().c_str());
    std::exit(1);
}

void make_session_tables(SessionTables &st, uint32_t n) {
    st.sessions = n;
    const size_t heap0 = heap_allocated();
    TablesConfig cfg;
    cfg.name = "bn" + std::to_string(n);
    cfg.max_sessions = n;
    cfg.max_hosts4 = n + 16;  // every session's allowed IP is a /32
    cfg.max_routes4 = 64;
    cfg.lpm4_tbl8s = 64;
    cfg.max_routes6 = 64;
    cfg.lpm6_tbl8s = 64;
    cfg.max_neighbors = 64;
    cfg.n_workers = 1;
    auto t = create_tables(cfg);
    if (!t)
        fail("create_tables", t.error());
    st.t = *t;
    const size_t heap1 = heap_allocated();
    if (auto s = learn_neighbor(st.t, be32(kHostIp), kHostMac); !s)
        fail("learn_neighbor", s.error());

    const auto t0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < n; ++i) {
        auto slot = alloc_session(st.t, i, 0);
        if (!slot)
            fail("alloc_session", slot.error());
        KeypairInit k;
        k.send_key = session_key(i, 2);
        k.recv_key = session_key(i, 1);
        k.local_index = local_index(i, st.t);
        k.remote_index = i + 1;
        if (auto s = install_keypair(st.t, *slot, k, KeypairRole::Current); !s)
            fail("install_keypair", s.error());
        Binding b{};
        b.family = 4;
        const uint32_t peer = be32(kPeerBase + i);
        std::memcpy(b.addr, &peer, 4);
        b.port = kPeerPort;
        b.l2_dst = kPeerMac;
        if (auto s = publish_binding(st.t, *slot, b); !s)
            fail("publish_binding", s.error());
        const uint32_t tunnel = be32(kTunnelBase + i);
        if (auto s = add_route(st.t, 4, reinterpret_cast<const uint8_t *>(&tunnel), 32, *slot); !s)
            fail("add_route", s.error());
        if (auto s = set_session_flags(st.t, *slot, kSessionLive); !s)
            fail("set_session_flags", s.error());
    }
    const double secs = seconds_since(t0);
    st.insert_per_s = n / secs;
    const size_t heap2 = heap_allocated();
    st.memory = json{
        {"sessions", n},
        {"tables_created_bytes", heap1 - heap0},
        {"sessions_installed_bytes", heap2 - heap1},
        {"total_bytes", heap2 - heap0},
        {"bytes_per_session", double(heap2 - heap0) / n},
        {"per_session_bytes_excluding_lpm_tbl24",
         (double(heap2 - heap0) - 2.0 * (1u << 24) * 4) / n},
        {"insert_sessions_per_s", st.insert_per_s},
        {"insert_seconds", secs},
        {"structures_bytes", memory_json(table_memory(st.t))},
        {"sizeof_session_entry", sizeof(SessionEntry)},
        {"sizeof_keypair", sizeof(Keypair)},
        {"sizeof_binding", sizeof(Binding)},
        {"bytes_per_session_formula", bytes_per_session()},
    };
}

// The worker is stopped: this core is the only one touching the tables. Packets of the next
// pass reuse the counters of the last one, so every receive window starts empty again.
void reset_replay_windows(SessionTables &st) {
    for (uint32_t i = 0; i < st.sessions; ++i)
        if (Keypair *kp = st.t.sessions[i].current.load(std::memory_order_relaxed))
            kp->replay.reset();
}

// ---- CPU time of the worker lcore's thread ----
double thread_cpu_seconds(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

int grab_cpu_clock(void *arg) {
    return pthread_getcpuclockid(pthread_self(), static_cast<clockid_t *>(arg));
}

// The worker lcore's CPU-time clock, readable from the main lcore while the worker runs.
clockid_t worker_cpu_clock() {
    clockid_t c{};
    if (rte_eal_remote_launch(grab_cpu_clock, &c, kWorkerLcore) != 0 ||
        rte_eal_wait_lcore(kWorkerLcore) != 0) {
        std::fprintf(stderr, "cannot read the worker lcore's CPU clock\n");
        std::exit(1);
    }
    return c;
}

double median(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const size_t mid = v.size() / 2;
    return v.size() % 2 != 0 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// A burst of ops on kBurstSize buffers `stride` bytes apart, one key each, counters 1000 + i:
// the ceiling's and the handoff probe's working set.
void fill_ops(jg::crypto::AeadOp *ops, uint8_t *buf, uint32_t stride, uint32_t len,
              const uint8_t *keys) {
    for (uint16_t i = 0; i < kBurstSize; ++i)
        ops[i] = jg::crypto::AeadOp{buf + size_t(i) * stride, len,
                                    keys + size_t(i) * jg::crypto::kAeadKeyBytes, 1000u + i, 0};
}

// ---- Crypto-only ceiling on the worker lcore ----
struct CeilingJob {
    jg::crypto::IpsecMbAead *aead = nullptr;
    uint32_t len = 0;
    bool open = false;
    unsigned reps = 1;
    double cycles_per_op = 0;  // best of reps
    std::vector<double> samples;
    bool ok = true;
};

int run_ceiling(void *arg) {
    auto &job = *static_cast<CeilingJob *>(arg);
    const uint32_t stride = job.len + jg::crypto::kAeadTagBytes;
    std::vector<uint8_t> buf(size_t(kBurstSize) * stride);
    std::vector<uint8_t> keys(size_t(kBurstSize) * jg::crypto::kAeadKeyBytes);
    randombytes_buf(buf.data(), buf.size());
    randombytes_buf(keys.data(), keys.size());
    jg::crypto::AeadOp ops[kBurstSize];
    auto fill = [&] { fill_ops(ops, buf.data(), stride, job.len, keys.data()); };
    fill();
    job.aead->seal_burst(ops, kBurstSize);
    const std::vector<uint8_t> sealed = buf;
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t window = hz / 25;  // 40 ms per repetition
    // Opening needs the sealed bytes back before each burst; that copy is timed on its own
    // and taken out, so the ceiling is the AEAD alone.
    double restore_cycles = 0;
    if (job.open) {
        const uint64_t t0 = rte_rdtsc();
        for (int i = 0; i < 256; ++i) {
            std::memcpy(buf.data(), sealed.data(), sealed.size());
            asm volatile("" ::: "memory");
        }
        restore_cycles = double(rte_rdtsc() - t0) / 256;
    }
    job.cycles_per_op = 1e30;
    for (unsigned r = 0; r < job.reps; ++r) {
        uint64_t bursts = 0;
        const uint64_t t0 = rte_rdtsc();
        const double cpu0 = thread_cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
        uint64_t now = t0;
        while (now - t0 < window) {
            fill();
            if (job.open) {
                std::memcpy(buf.data(), sealed.data(), sealed.size());
                if (job.aead->open_burst(ops, kBurstSize) != kBurstSize)
                    job.ok = false;
            } else {
                job.aead->seal_burst(ops, kBurstSize);
            }
            ++bursts;
            now = rte_rdtsc();
        }
        // CPU time, not TSC: on a shared machine the lcore is preempted, and time spent in
        // other processes is not the AEAD's.
        const double cpu_cycles = (thread_cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - cpu0) * double(hz);
        const double per_op =
            (cpu_cycles - restore_cycles * double(bursts)) / double(bursts * kBurstSize);
        job.samples.push_back(per_op);
        job.cycles_per_op = std::min(job.cycles_per_op, per_op);
    }
    return 0;
}

double ceiling_cycles(Rig &rig, uint32_t len, bool open, unsigned reps, json &out) {
    CeilingJob job;
    job.aead = rig.worker_aead.get();
    job.len = len;
    job.open = open;
    job.reps = reps;
    if (rte_eal_remote_launch(run_ceiling, &job, kWorkerLcore) != 0 ||
        rte_eal_wait_lcore(kWorkerLcore) != 0 || !job.ok) {
        std::fprintf(stderr, "crypto ceiling run failed\n");
        std::exit(1);
    }
    json &samples = out[open ? "open_cycles_samples" : "seal_cycles_samples"];
    for (double v : job.samples)
        samples.push_back(v);
    return job.cycles_per_op;
}

// ---- One pass: the worker runs, the generator feeds the prepared frames and sinks output ----
struct Feed {
    const FrameSet *frames = nullptr;
    rte_ring *ring = nullptr;
    uint32_t sent = 0;
};

struct PassResult {
    uint64_t busy_cycles = 0;
    uint64_t total_cycles = 0;
    uint64_t loops = 0;  // worker loop iterations, idle ones included
    uint64_t wall_cycles = 0;
    double worker_cpu_s = 0;  // CPU time the worker thread got during the pass
    uint64_t decrypted = 0;
    uint64_t encrypted = 0;
    uint64_t drops[kDropReasonCount]{};
    uint64_t fed = 0;
    uint64_t flood_fed = 0;
    uint64_t out = 0;
};

struct Snapshot {
    uint64_t busy, total, loops, decrypted, encrypted, drops[kDropReasonCount];
    explicit Snapshot(const Worker &w) {
        const WorkerCounters &c = w.counters;
        busy = c.busy_cycles.load();
        loops = c.loops.load();
        total = c.total_cycles.load();
        decrypted = c.decrypted.load();
        encrypted = c.encrypted.load();
        for (unsigned r = 0; r < kDropReasonCount; ++r)
            drops[r] = c.drops[r].load();
    }
};

// --demote-frames: after writing a frame the generator pushes its lines and its mbuf header
// out of its own core's caches into the shared one (CLDEMOTE, a no-op where unsupported),
// where a NIC's DMA into the last-level cache would leave them. Without it the worker takes
// every line from the generator core's private cache.
bool g_demote_frames = false;

void demote_lines(const uint8_t *d, size_t len) {
    for (size_t off = 0; off < len; off += RTE_CACHE_LINE_SIZE)
        asm volatile("cldemote %0" ::"m"(d[off]));
}

void demote_frame(const rte_mbuf *m, const uint8_t *d, uint32_t len) {
    demote_lines(d, len);
    demote_lines(reinterpret_cast<const uint8_t *>(m), 2 * RTE_CACHE_LINE_SIZE);
}

// ---- What the generator's hand-over costs the AEAD (handoff_probe) ----
// The ceiling seals and opens buffers its own core has just written; the worker's frames were
// written by the generator on the other core, so each of their lines is fetched from that
// core's cache. The probe times the same AEAD call on the worker lcore both ways, burst by
// burst, in blocks that alternate (and swap order every block) so both see the same machine:
// buffers the worker lcore wrote itself right before the burst (as the ceiling's), or buffers
// the main lcore wrote right before it (as the frames). Only the AEAD call is timed (TSC; the
// median over bursts, since a preempted burst is an outlier), and the main lcore writes only
// while the worker lcore waits for it, never during a timed burst.

// One line of its own: the main lcore spins on it while the worker lcore appends samples.
struct alignas(RTE_CACHE_LINE_SIZE) HandoffTurn {
    // kWanted: the worker lcore waits for a buffer; kWritten: the main lcore has written it;
    // kDone: the worker lcore has finished.
    static constexpr uint32_t kIdle = 0, kWanted = 1, kWritten = 2, kDone = 3;
    std::atomic<uint32_t> state{kIdle};
};

struct HandoffJob {
    jg::crypto::IpsecMbAead *aead = nullptr;  // the worker lcore's
    uint32_t aead_len = 0;                    // bytes sealed or opened per op (padded)
    uint32_t stride = 0;                      // bytes from one op's buffer to the next
    bool open = false;
    unsigned blocks = 0;
    unsigned bursts_per_block = 0;
    uint8_t *own_buf = nullptr;       // kBurstSize * stride bytes the worker lcore writes
    uint8_t *handed_buf = nullptr;    // the same size, written by the main lcore
    const uint8_t *source = nullptr;  // what is written: sealed bytes (open) or plaintext
    const uint8_t *keys = nullptr;    // kBurstSize keys
    size_t bytes = 0;
    HandoffTurn *turn = nullptr;
    // written: worker lcore; read: main lcore after rte_eal_wait_lcore
    std::vector<double> own, handed;  // TSC cycles per burst
    bool ok = true;                   // every open authenticated
};

int run_handoff(void *arg) {
    auto &job = *static_cast<HandoffJob *>(arg);
    jg::crypto::AeadOp ops[kBurstSize];
    job.own.reserve(size_t(job.blocks) * job.bursts_per_block);
    job.handed.reserve(size_t(job.blocks) * job.bursts_per_block);
    auto burst = [&](uint8_t *buf) -> double {
        fill_ops(ops, buf, job.stride, job.aead_len, job.keys);
        const uint64_t t0 = rte_rdtsc_precise();
        const uint16_t done = job.open ? job.aead->open_burst(ops, kBurstSize)
                                       : job.aead->seal_burst(ops, kBurstSize);
        const uint64_t t1 = rte_rdtsc_precise();
        if (job.open && done != kBurstSize)
            job.ok = false;
        return double(t1 - t0);
    };
    auto own_block = [&] {
        for (unsigned i = 0; i < job.bursts_per_block; ++i) {
            std::memcpy(job.own_buf, job.source, job.bytes);
            job.own.push_back(burst(job.own_buf));
        }
    };
    auto handed_block = [&] {
        for (unsigned i = 0; i < job.bursts_per_block; ++i) {
            job.turn->state.store(HandoffTurn::kWanted, std::memory_order_release);
            while (job.turn->state.load(std::memory_order_acquire) != HandoffTurn::kWritten)
                rte_pause();
            job.handed.push_back(burst(job.handed_buf));
        }
    };
    for (unsigned b = 0; b < job.blocks; ++b) {
        if (b % 2 == 0) {
            own_block();
            handed_block();
        } else {
            handed_block();
            own_block();
        }
    }
    job.turn->state.store(HandoffTurn::kDone, std::memory_order_release);
    return 0;
}

json handoff_probe(Rig &rig, const std::vector<uint32_t> &sizes, bool quick) {
    json out = json::array();
    std::vector<uint8_t> keys(size_t(kBurstSize) * jg::crypto::kAeadKeyBytes);
    randombytes_buf(keys.data(), keys.size());
    for (uint32_t size : sizes) {
        const uint32_t len = padded(size);
        const uint32_t stride = len + jg::crypto::kAeadTagBytes;
        // Each variant's buffers start on a line of their own.
        const size_t bytes = RTE_ALIGN_CEIL(size_t(kBurstSize) * stride, RTE_CACHE_LINE_SIZE);
        for (bool open : {false, true}) {
            auto *buf =
                static_cast<uint8_t *>(rte_malloc("bench_handoff", 2 * bytes, RTE_CACHE_LINE_SIZE));
            if (buf == nullptr) {
                std::fprintf(stderr, "handoff probe: rte_malloc of %zu bytes failed\n", 2 * bytes);
                std::exit(1);
            }
            std::vector<uint8_t> source(bytes);
            randombytes_buf(source.data(), source.size());
            if (open) {  // sealed bytes, so every open in the probe authenticates
                jg::crypto::AeadOp ops[kBurstSize];
                fill_ops(ops, source.data(), stride, len, keys.data());
                rig.main_aead->seal_burst(ops, kBurstSize);
            }
            HandoffTurn turn;
            HandoffJob job;
            job.aead = rig.worker_aead.get();
            job.aead_len = len;
            job.stride = stride;
            job.open = open;
            // 2,000 bursts each way (200 under --quick): enough for a stable median, and a
            // few seconds for the whole matrix even at 1420 B.
            job.blocks = 10;
            job.bursts_per_block = quick ? 20 : 200;
            job.handed_buf = buf;
            job.own_buf = buf + bytes;
            job.source = source.data();
            job.keys = keys.data();
            job.bytes = bytes;
            job.turn = &turn;
            if (rte_eal_remote_launch(run_handoff, &job, kWorkerLcore) != 0) {
                std::fprintf(stderr, "handoff probe launch failed\n");
                std::exit(1);
            }
            for (;;) {
                const uint32_t st = turn.state.load(std::memory_order_acquire);
                if (st == HandoffTurn::kDone)
                    break;
                if (st != HandoffTurn::kWanted) {
                    rte_pause();
                    continue;
                }
                std::memcpy(buf, source.data(), bytes);
                if (g_demote_frames)  // as the generator's frames under --demote-frames
                    demote_lines(buf, bytes);
                turn.state.store(HandoffTurn::kWritten, std::memory_order_release);
            }
            if (rte_eal_wait_lcore(kWorkerLcore) != 0 || !job.ok) {
                std::fprintf(stderr, "handoff probe failed (%u B %s, authentic %d)\n", size,
                             open ? "open" : "seal", int(job.ok));
                std::exit(1);
            }
            rte_free(buf);
            const double own = median(job.own) / kBurstSize;
            const double handed = median(job.handed) / kBurstSize;
            out.push_back(json{{"payload_bytes", size},
                               {"aead_bytes", len},
                               {"op", open ? "open" : "seal"},
                               {"own_core_cycles_per_op", own},
                               {"handed_over_cycles_per_op", handed},
                               {"own_over_handed_over", own / handed}});
        }
    }
    return out;
}

// Fills `ring` from `feed` with up to `limit` frames copied into fresh mbufs.
uint32_t feed_ring(Feed &f, uint32_t limit) {
    const uint32_t left = f.frames->count - f.sent;
    uint32_t n = std::min({limit, left, rte_ring_free_count(f.ring), uint32_t(kBurstSize)});
    if (n == 0)
        return 0;
    rte_mbuf *m[kBurstSize];
    if (rte_pktmbuf_alloc_bulk(g_pool, m, n) != 0)
        return 0;
    for (uint32_t i = 0; i < n; ++i) {
        uint8_t *d = rte_pktmbuf_mtod(m[i], uint8_t *);
        std::memcpy(d, f.frames->frame(f.sent + i), f.frames->len);
        m[i]->data_len = f.frames->len;
        m[i]->pkt_len = f.frames->len;
        if (g_demote_frames)
            demote_frame(m[i], d, f.frames->len);
    }
    const unsigned q = rte_ring_enqueue_burst(f.ring, reinterpret_cast<void **>(m), n, nullptr);
    if (q < n)
        rte_pktmbuf_free_bulk(m + q, n - q);
    f.sent += q;
    return q;
}

uint32_t sink(rte_ring *r) {
    rte_mbuf *m[64];
    const unsigned n = rte_ring_dequeue_burst(r, reinterpret_cast<void **>(m), 64, nullptr);
    if (n != 0)
        rte_pktmbuf_free_bulk(m, n);
    return n;
}

uint64_t drops_sum(const Worker &w) {
    return total_drops(w);
}

PassResult run_pass(Rig &rig, Worker &w, std::vector<Feed> feeds, Feed *flood, uint32_t flood_pps) {
    rig.stop = false;
    if (rte_eal_remote_launch(worker_loop, &w, kWorkerLcore) != 0) {
        std::fprintf(stderr, "cannot launch the worker\n");
        std::exit(1);
    }
    const Snapshot before(w);
    const uint64_t drops0 = drops_sum(w);
    uint64_t fed_total = 0, out_total = 0, up_total = 0, flood_sent = 0;
    for (const Feed &f : feeds)
        fed_total += f.frames->count;
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t t0 = rte_rdtsc();
    const double cpu0 = thread_cpu_seconds(rig.worker_clock);
    const uint64_t deadline = t0 + 60 * hz;
    uint64_t fed = 0;
    for (;;) {
        const uint64_t now = rte_rdtsc();
        if (now > deadline) {
            std::fprintf(stderr,
                         "pass did not finish in 60 s (fed %lu of %lu, out %lu, flood %lu, up "
                         "%lu, dropped %lu, in the RX rings %u)\n",
                         (unsigned long)fed, (unsigned long)fed_total, (unsigned long)out_total,
                         (unsigned long)flood_sent, (unsigned long)up_total,
                         (unsigned long)(drops_sum(w) - drops0),
                         rte_ring_count(rig.outer.rx) + rte_ring_count(rig.inner.rx));
            std::exit(1);
        }
        if (flood != nullptr && fed < fed_total) {
            // Paced by the worker's CPU time, not the wall clock: a preempted worker must not
            // face a denser flood than a worker owning its core would.
            const auto due =
                uint64_t((thread_cpu_seconds(rig.worker_clock) - cpu0) * double(flood_pps));
            while (flood_sent < due &&
                   fed + flood_sent - out_total - up_total - (drops_sum(w) - drops0) <
                       kMaxInFlight) {
                if (flood->sent == flood->frames->count)
                    flood->sent = 0;  // the sources repeat: their buckets refill meanwhile
                const uint32_t q =
                    feed_ring(*flood, uint32_t(std::min<uint64_t>(due - flood_sent, kBurstSize)));
                if (q == 0)
                    break;
                flood_sent += q;
            }
        }
        out_total += sink(rig.outer.tx) + sink(rig.inner.tx);
        up_total += sink(rig.up);
        // What the worker holds or has queued for TX stays below the TX rings' size, so a
        // preempted generator never makes the worker drop for want of TX room.
        const uint64_t in_flight =
            fed + flood_sent - out_total - up_total - (drops_sum(w) - drops0);
        // Under a flood, data keeps only half the room so initiations always find some.
        if (in_flight < (flood != nullptr ? kMaxInFlight / 2 : kMaxInFlight))
            for (Feed &f : feeds)
                for (int k = 0; k < 4; ++k)
                    fed += feed_ring(f, kBurstSize);
        if (fed == fed_total) {
            // Every frame is out on a port, up to the control core, or dropped and counted.
            if (out_total + up_total + drops_sum(w) - drops0 >= fed_total + flood_sent)
                break;
        }
    }
    const uint64_t t1 = rte_rdtsc();
    rig.stop = true;
    if (rte_eal_wait_lcore(kWorkerLcore) != 0) {
        std::fprintf(stderr, "worker_loop refused to run\n");
        std::exit(1);
    }
    const double cpu1 = thread_cpu_seconds(rig.worker_clock);
    while (sink(rig.outer.tx) + sink(rig.inner.tx) + sink(rig.up) != 0) {
    }
    const Snapshot after(w);
    PassResult r;
    r.busy_cycles = after.busy - before.busy;
    r.total_cycles = after.total - before.total;
    r.loops = after.loops - before.loops;
    r.wall_cycles = t1 - t0;
    r.worker_cpu_s = cpu1 - cpu0;
    r.decrypted = after.decrypted - before.decrypted;
    r.encrypted = after.encrypted - before.encrypted;
    for (unsigned i = 0; i < kDropReasonCount; ++i)
        r.drops[i] = after.drops[i] - before.drops[i];
    r.fed = fed_total;
    r.flood_fed = flood_sent;
    r.out = out_total;
    return r;
}

json drops_json(const uint64_t *drops) {
    json j = json::object();
    for (unsigned i = 0; i < kDropReasonCount; ++i)
        if (drops[i] != 0)
            j[std::string(drop_reason_name(DropReason(i)))] = drops[i];
    return j;
}

struct CaseSpec {
    uint32_t size;
    Direction dir;
    bool flood;
};

// One case: ceiling on the worker lcore, then `passes` passes of the worker over the frames.
json run_case(Rig &rig, SessionTables &st, Worker &w, const Options &opt, const CaseSpec &c,
              FrameSet &decap_frames, FrameSet &encap_frames, FrameSet &flood_frames) {
    const uint32_t pt = padded(c.size);
    json j;
    j["payload_bytes"] = c.size;
    j["aead_bytes"] = pt;
    j["sessions"] = st.sessions;
    j["direction"] = direction_name(c.dir);
    j["flood"] = c.flood;

    const uint32_t n_decap = c.dir == Direction::decap   ? opt.packets
                             : c.dir == Direction::mixed ? opt.packets / 2
                                                         : 0;
    const uint32_t n_encap = opt.packets - n_decap;
    const auto prep0 = std::chrono::steady_clock::now();
    if (n_decap != 0)
        build_decap(decap_frames, session_sequence(n_decap, st.sessions, 11), c.size,
                    *rig.main_aead, st.t);
    if (n_encap != 0)
        build_encap(encap_frames, session_sequence(n_encap, st.sessions, 13), c.size);
    j["prepare_seconds"] = seconds_since(prep0);

    // The ceiling is timed right before every pass, so each pass has a ceiling taken under
    // the same machine conditions: on a shared machine the speed of both drifts by 20 % and
    // more from second to second, and a ratio of two distant minima would carry that drift.
    json ceiling;
    auto ceiling_now = [&] {
        const double open_cyc =
            n_decap != 0 ? ceiling_cycles(rig, pt, true, opt.ceiling_reps, ceiling) : 0;
        const double seal_cyc =
            n_encap != 0 ? ceiling_cycles(rig, pt, false, opt.ceiling_reps, ceiling) : 0;
        return (open_cyc * n_decap + seal_cyc * n_encap) / double(n_decap + n_encap);
    };

    std::vector<double> cyc_samples, wall_samples, busy_share, cpu_share, ceiling_samples,
        efficiency_samples, per_loop;
    double worker_cpu_total = 0;
    PassResult last{};
    uint64_t drops[kDropReasonCount]{};
    uint64_t flood_fed = 0, data_done = 0, wall_total = 0;
    // One pass over the frames: its counters and the worker cycles per data packet.
    auto one_pass = [&](bool with_flood) {
        std::vector<Feed> feeds;
        if (n_decap != 0)
            feeds.push_back(Feed{&decap_frames, rig.outer.rx, 0});
        if (n_encap != 0)
            feeds.push_back(Feed{&encap_frames, rig.inner.rx, 0});
        Feed flood{&flood_frames, rig.outer.rx, 0};
        const PassResult r = run_pass(rig, w, feeds, with_flood ? &flood : nullptr, opt.flood_pps);
        if (n_decap != 0)
            reset_replay_windows(st);
        // The worker's CPU time, scaled by the share of its loop iterations (TSC-weighted)
        // that had packets: idle polls and time other processes took are left out.
        const double busy_cpu_cycles = r.worker_cpu_s * double(rte_get_tsc_hz()) *
                                       double(r.busy_cycles) / double(r.total_cycles);
        const uint64_t done = r.decrypted + r.encrypted;
        return std::pair{r, busy_cpu_cycles / double(std::max<uint64_t>(done, 1))};
    };
    // Under a flood, every pass is paired with an unloaded pass right before or after it
    // (the order alternates), so each pair's ratio sees the same machine conditions: the
    // flood costs the worker memory traffic more than crypto, and a ceiling timed between
    // passes does not track the drift of that.
    std::vector<double> unloaded_cyc_samples, pair_ratio_samples;
    uint64_t unloaded_done = 0, unloaded_drops = 0;
    auto unloaded_pass = [&] {
        const auto [r, cyc] = one_pass(false);
        unloaded_done += r.decrypted + r.encrypted;
        for (uint64_t d : r.drops)
            unloaded_drops += d;
        return cyc;
    };
    for (unsigned p = 0; p < opt.passes; ++p) {
        const bool unloaded_first = p % 2 == 0;
        double unloaded_cyc = 0;
        if (c.flood && unloaded_first)
            unloaded_cyc = unloaded_pass();
        ceiling_samples.push_back(ceiling_now());
        double pass_cyc = 0;
        std::tie(last, pass_cyc) = one_pass(c.flood);
        cyc_samples.push_back(pass_cyc);
        if (c.flood && !unloaded_first)
            unloaded_cyc = unloaded_pass();
        if (c.flood) {
            unloaded_cyc_samples.push_back(unloaded_cyc);
            pair_ratio_samples.push_back(unloaded_cyc / pass_cyc);
        }
        const uint64_t done = last.decrypted + last.encrypted;
        efficiency_samples.push_back(ceiling_samples.back() / cyc_samples.back());
        cpu_share.push_back(last.worker_cpu_s * double(rte_get_tsc_hz()) /
                            double(last.wall_cycles));
        wall_samples.push_back(double(done) * double(rte_get_tsc_hz()) / double(last.wall_cycles) /
                               1e6);
        busy_share.push_back(double(last.busy_cycles) / double(last.total_cycles));
        const unsigned ports_fed = (n_decap != 0 ? 1 : 0) + (n_encap != 0 ? 1 : 0);
        per_loop.push_back(double(done) / double(std::max<uint64_t>(last.loops, 1)) / ports_fed);
        worker_cpu_total += last.worker_cpu_s;
        for (unsigned i = 0; i < kDropReasonCount; ++i)
            drops[i] += last.drops[i];
        flood_fed += last.flood_fed;
        data_done += done;
        wall_total += last.wall_cycles;
    }
    const double hz = double(rte_get_tsc_hz());
    const double cyc = *std::min_element(cyc_samples.begin(), cyc_samples.end());
    const double mpps = hz / cyc / 1e6;
    const double ceiling_cyc = *std::min_element(ceiling_samples.begin(), ceiling_samples.end());
    const double ceiling_mpps = hz / ceiling_cyc / 1e6;
    j["packets_per_pass"] = opt.packets;
    j["passes"] = opt.passes;
    j["packets_done"] = data_done;
    j["worker_cycles_per_packet"] = cyc;
    j["worker_cycles_per_packet_median"] = median(cyc_samples);
    j["worker_cycles_per_packet_samples"] = cyc_samples;
    j["mpps"] = mpps;
    j["gbps_payload"] = mpps * c.size * 8 / 1e3;
    j["wall_mpps_samples"] = wall_samples;
    j["worker_busy_share_samples"] = busy_share;  // iterations with packets, TSC-weighted
    // Data packets per loop iteration and port fed (each iteration receives up to a burst from
    // each port): well below the burst size, the generator kept the worker's bursts short and
    // per-burst costs fell on fewer packets.
    j["packets_per_loop_samples"] = per_loop;
    j["worker_cpu_share_samples"] = cpu_share;  // CPU time the worker got / wall time
    j["ceiling_cycles_per_op"] = ceiling_cyc;
    j["ceiling_cycles_per_op_samples"] = ceiling_samples;  // one per pass, timed just before it
    j["ceiling_mpps"] = ceiling_mpps;
    j["ceiling_gbps_payload"] = ceiling_mpps * c.size * 8 / 1e3;
    j["ceiling"] = ceiling;
    // Median of the per-pass ratios (ceiling cycles / worker cycles, timed back to back).
    j["efficiency"] = median(efficiency_samples);
    j["efficiency_samples"] = efficiency_samples;
    j["efficiency_of_best_passes"] = mpps / ceiling_mpps;  // fastest pass / fastest ceiling
    j["drops"] = drops_json(drops);
    if (c.flood) {
        j["flood_packets"] = flood_fed;
        j["flood_pps_wall"] = double(flood_fed) * hz / double(wall_total);
        j["flood_pps_worker_cpu"] = double(flood_fed) / worker_cpu_total;
        j["flood_valid_mac1_share"] = 0.5;
        j["unloaded_cycles_per_packet_samples"] = unloaded_cyc_samples;
        j["unloaded_packets_done"] = unloaded_done;
        j["unloaded_drops"] = unloaded_drops;
        // Unloaded / loaded worker cycles per data packet, each pair back to back.
        j["interleaved_ratio_samples"] = pair_ratio_samples;
        j["throughput_vs_unloaded_interleaved"] = median(pair_ratio_samples);
    }
    return j;
}

std::string cpu_model() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0)
            return line.substr(line.find(':') + 2);
    return "unknown";
}

// The CPUs sharing a core with the worker's (CPU 1): with the generator's CPU among them, the
// handoff probe's lines never leave the shared caches and its ratio says nothing.
std::string worker_cpu_siblings() {
    std::ifstream f("/sys/devices/system/cpu/cpu1/topology/thread_siblings_list");
    std::string line;
    return std::getline(f, line) ? line : "unknown";
}

json cpu_flags() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("flags", 0) == 0)
            break;
    std::istringstream in(line.substr(line.find(':') + 1));
    std::vector<std::string> all{std::istream_iterator<std::string>(in), {}};
    json j = json::object();
    for (const char *want : {"avx2", "avx512f", "avx512vl", "avx512ifma", "vaes", "vpclmulqdq",
                             "sha_ni", "gfni", "aes"})
        j[want] = std::find(all.begin(), all.end(), want) != all.end();
    return j;
}

std::vector<uint32_t> parse_list(const std::string &s) {
    std::vector<uint32_t> v;
    std::stringstream in(s);
    std::string item;
    while (std::getline(in, item, ','))
        v.push_back(uint32_t(std::stoul(item)));
    return v;
}

const char *const kUsage =
    "usage: dataplane_bench [--quick] [--out FILE] [--sizes 64,512,1420]\n"
    "         [--sessions 1,1000,100000,1000000] [--dirs decap,encap,mixed]\n"
    "         [--packets N] [--passes N] [--no-flood] [--hugepages] [--demote-frames]\n"
    "  --hugepages  run on 2 MiB pages as production does (root; reserved and given back)\n"
    "  --demote-frames  the generator pushes each frame it writes to the shared cache\n";

bool parse_options(int argc, char **argv, Options &o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n%s", a.c_str(), kUsage);
                std::exit(2);
            }
            return argv[++i];
        };
        try {
            if (a == "--quick") {
                o.quick = true;
                o.sizes = {512};
                o.sessions = {1000};
                o.directions = {Direction::mixed};
                o.packets = 8192;
                o.passes = 2;
                o.ceiling_reps = 1;
                o.flood = true;
                o.flood_sessions = 1000;
                o.flood_size = 512;
            } else if (a == "--out") {
                o.out = value();
            } else if (a == "--sizes") {
                o.sizes = parse_list(value());
            } else if (a == "--sessions") {
                o.sessions = parse_list(value());
            } else if (a == "--packets") {
                o.packets = uint32_t(std::stoul(value()));
            } else if (a == "--passes") {
                o.passes = unsigned(std::stoul(value()));
            } else if (a == "--hugepages") {
                o.hugepages = true;
            } else if (a == "--demote-frames") {
                o.demote_frames = true;
            } else if (a == "--no-flood") {
                o.flood = false;
            } else if (a == "--dirs") {
                o.directions.clear();
                std::stringstream in(value());
                std::string d;
                while (std::getline(in, d, ',')) {
                    if (d == "decap")
                        o.directions.push_back(Direction::decap);
                    else if (d == "encap")
                        o.directions.push_back(Direction::encap);
                    else if (d == "mixed")
                        o.directions.push_back(Direction::mixed);
                    else
                        throw std::invalid_argument("direction " + d);
                }
            } else {
                std::fprintf(stderr, "unknown argument %s\n%s", a.c_str(), kUsage);
                return false;
            }
        } catch (const std::exception &e) {
            std::fprintf(stderr, "bad value for %s: %s\n%s", a.c_str(), e.what(), kUsage);
            return false;
        }
    }
    for (uint32_t s : o.sizes)
        if (s < 28 || s > 1440) {
            std::fprintf(stderr, "--sizes: %u is outside 28..1440 bytes\n", s);
            return false;
        }
    for (uint32_t n : o.sessions)
        if (n == 0 || n > kMaxBenchSessions) {
            std::fprintf(stderr, "--sessions: %u is outside 1..%u\n", n, kMaxBenchSessions);
            return false;
        }
    if (o.packets < kBurstSize || o.passes == 0) {
        std::fprintf(stderr, "--packets must be >= %u and --passes >= 1\n", kBurstSize);
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char **argv) {
    Options opt;
    if (!parse_options(argc, argv, opt))
        return 2;
    g_demote_frames = opt.demote_frames;
    const auto run0 = std::chrono::steady_clock::now();
    const std::string prefix = "dpbench" + std::to_string(getpid());
    uint32_t max_sessions = 0;
    for (uint32_t n : opt.sessions)
        max_sessions = std::max(max_sessions, n);
    // Tables for a million sessions take about 1.3 GB of DPDK memory.
    const uint64_t mem_mb = 512 + uint64_t(max_sessions) * 1400 / (1 << 20);
    const std::string mem = std::to_string(mem_mb);
    std::vector<std::string> eal = {"dataplane_bench",
                                    "--no-pci",
                                    "-m",
                                    mem,
                                    "--no-shconf",
                                    "--lcores",
                                    "0@0,1@1",
                                    "--file-prefix",
                                    prefix,
                                    "--log-level",
                                    "lib.eal:error",
                                    "--main-lcore",
                                    "0"};
    std::string hugepage_dir;
    if (opt.hugepages) {
        // -m is preallocated at start-up; the slack covers DPDK's own rounding per memseg list.
        hugepage_dir = lease_hugepages(long(mem_mb / 2 + 64));
        if (hugepage_dir.empty())
            return kExitNoHugepages;
        // Unlinked once mapped: nothing stays in the mount if the run dies.
        eal.insert(eal.begin() + 1, {"--huge-dir", hugepage_dir, "--huge-unlink"});
    } else {
        eal.insert(eal.begin() + 1, "--no-huge");
    }
    std::vector<char *> eal_argv;
    for (auto &a : eal)
        eal_argv.push_back(a.data());
    if (rte_eal_init(int(eal_argv.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    if (sodium_init() < 0)
        return 1;

    auto pool = jg::net::create_mbuf_pool("bench_pool", kPoolMbufs, SOCKET_ID_ANY, kMbufPrivSize);
    if (!pool)
        fail("mbuf pool", pool.error());
    g_pool = *pool;
    Rig rig;
    rig.outer = make_port("bench_outer");
    rig.inner = make_port("bench_inner");
    rig.up = rte_ring_create("bench_up", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    for (size_t i = 0; i < rig.gw_public.size(); ++i)
        rig.gw_public[i] = uint8_t(0x70 + i);
    {
        auto a = jg::crypto::IpsecMbAead::create();
        auto b = jg::crypto::IpsecMbAead::create();
        if (!a || !b)
            fail("ipsec-mb", a ? b.error() : a.error());
        rig.worker_aead = std::make_unique<jg::crypto::IpsecMbAead>(std::move(*a));
        rig.main_aead = std::make_unique<jg::crypto::IpsecMbAead>(std::move(*b));
        const jg::LimitsConfig gateway_defaults;
        auto f =
            jg::dp::create_fragment_table(gateway_defaults.reassembly_datagrams,
                                          gateway_defaults.reassembly_timeout_ms, SOCKET_ID_ANY);
        if (!f)
            fail("reassembly", f.error());
        rig.fragments = std::move(*f);
    }
    rig.worker_clock = worker_cpu_clock();

    json doc;
    doc["machine"] = json{
        {"cpu_model", cpu_model()},
        {"worker_cpu_siblings", worker_cpu_siblings()},
        {"cpu_flags", cpu_flags()},
        {"online_cpus", sysconf(_SC_NPROCESSORS_ONLN)},
        {"tsc_hz", rte_get_tsc_hz()},
        {"dpdk_version", rte_version()},
        {"ipsec_mb_version", jg::crypto::IpsecMbAead::library_version()},
        {"ipsec_mb_arch", rig.worker_aead->arch_name()},
    };
    {
        double load[3] = {};
        if (getloadavg(load, 3) == 3)
            doc["machine"]["loadavg_at_start"] = {load[0], load[1], load[2]};
        const std::time_t now = std::time(nullptr);
        char when[32];
        std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
        doc["started_utc"] = when;
    }
    doc["config"] = json{{"packets_per_pass", opt.packets},
                         {"passes", opt.passes},
                         {"burst", kBurstSize},
                         {"quick", opt.quick},
                         {"hugepages", opt.hugepages},
                         {"demote_frames", opt.demote_frames},
                         {"hugepage_mount", hugepage_dir},
                         {"worker_lcore", kWorkerLcore}};
    doc["cases"] = json::array();
    doc["tables"] = json::array();
    // Sized like the session and keypair lines of the largest case (512 B per session),
    // run before any table exists so it has the memory to itself.
    doc["memory_probe"] = memory_probe(size_t(max_sessions) * 512);
    const json &mp = doc["memory_probe"];
    if (mp.contains("error"))
        std::printf("# memory probe: %s\n", mp["error"].get<std::string>().c_str());
    else
        std::printf(
            "# memory probe (%zu MiB of DPDK memory): a random line costs %.0f ns "
            "alone, %.1f ns each with 16 in flight\n",
            mp["bytes"].get<size_t>() >> 20, mp["ns_per_line_by_chains"]["1"].get<double>(),
            mp["ns_per_line_by_chains"]["16"].get<double>());

    doc["handoff_probe"] = handoff_probe(rig, opt.sizes, opt.quick);
    for (const json &h : doc["handoff_probe"])
        std::printf(
            "# handoff probe, %u B %s: %.0f cycles per op on buffers its own core wrote, "
            "%.0f on buffers the generator's core wrote (%.2f)\n",
            h["payload_bytes"].get<uint32_t>(), h["op"].get<std::string>().c_str(),
            h["own_core_cycles_per_op"].get<double>(), h["handed_over_cycles_per_op"].get<double>(),
            h["own_over_handed_over"].get<double>());

    FrameSet decap_frames, encap_frames, flood_frames;
    build_flood(flood_frames, 65536, rig.gw_public);
    std::printf("%-6s %-9s %-6s %9s %7s %8s %9s %8s %6s  %s\n", "bytes", "sessions", "dir",
                "cyc/pkt", "Mpps", "Gbit/s", "ceil Mpps", "ceil cyc", "eff", "drops");

    std::vector<uint32_t> session_counts = opt.sessions;
    const bool flood_separate = opt.flood && std::find(session_counts.begin(), session_counts.end(),
                                                       opt.flood_sessions) == session_counts.end();
    if (flood_separate)
        session_counts.push_back(opt.flood_sessions);
    for (uint32_t n : session_counts) {
        SessionTables st;
        make_session_tables(st, n);
        doc["tables"].push_back(st.memory);
        std::printf(
            "# %u sessions: %.0f bytes per session (%.0f without the LPM tbl24s), "
            "%.0f sessions/s inserted\n",
            n, st.memory["bytes_per_session"].get<double>(),
            st.memory["per_session_bytes_excluding_lpm_tbl24"].get<double>(), st.insert_per_s);
        auto w = std::make_unique<Worker>();
        wire_worker(*w, rig, st.t);
        std::vector<CaseSpec> specs;
        if (std::find(opt.sessions.begin(), opt.sessions.end(), n) != opt.sessions.end())
            for (uint32_t size : opt.sizes)
                for (Direction d : opt.directions)
                    specs.push_back(CaseSpec{size, d, false});
        if (opt.flood && n == opt.flood_sessions) {
            specs.push_back(CaseSpec{opt.flood_size, Direction::decap, false});
            specs.push_back(CaseSpec{opt.flood_size, Direction::decap, true});
        }
        json unloaded;
        for (const CaseSpec &c : specs) {
            json j = run_case(rig, st, *w, opt, c, decap_frames, encap_frames, flood_frames);
            std::printf("%-6u %-9u %-6s %9.0f %7.3f %8.2f %9.3f %8.0f %6.3f  %s%s\n", c.size, n,
                        direction_name(c.dir), j["worker_cycles_per_packet"].get<double>(),
                        j["mpps"].get<double>(), j["gbps_payload"].get<double>(),
                        j["ceiling_mpps"].get<double>(), j["ceiling_cycles_per_op"].get<double>(),
                        j["efficiency"].get<double>(), j["drops"].dump().c_str(),
                        c.flood ? "  (initiation flood)" : "");
            std::fflush(stdout);
            if (c.flood) {
                const double ratio = j["mpps"].get<double>() / unloaded["mpps"].get<double>();
                // The same comparison with each case's passes held against their own ceilings
                // (median paired efficiencies), so the machine's drift between the two cases
                // drops out.
                const double paired =
                    j["efficiency"].get<double>() / unloaded["efficiency"].get<double>();
                j["throughput_vs_unloaded"] = ratio;
                j["efficiency_vs_unloaded"] = paired;
                const double interleaved = j["throughput_vs_unloaded_interleaved"].get<double>();
                doc["flood"] = json{{"sessions", n},
                                    {"payload_bytes", c.size},
                                    {"flood_pps_target", opt.flood_pps},
                                    {"flood_pps_wall", j["flood_pps_wall"]},
                                    {"flood_pps_worker_cpu", j["flood_pps_worker_cpu"]},
                                    {"unloaded_mpps", unloaded["mpps"]},
                                    {"loaded_mpps", j["mpps"]},
                                    {"throughput_vs_unloaded_interleaved", interleaved},
                                    {"throughput_vs_unloaded", ratio},
                                    {"efficiency_vs_unloaded", paired}};
                std::printf(
                    "# flood: data %.3f Mpps under %.0f initiations/s vs %.3f unloaded: "
                    "ratio %.3f (interleaved passes), %.3f (fastest passes), %.3f (paired "
                    "efficiencies)\n",
                    j["mpps"].get<double>(), j["flood_pps_worker_cpu"].get<double>(),
                    unloaded["mpps"].get<double>(), interleaved, ratio, paired);
            } else if (opt.flood && n == opt.flood_sessions && c.size == opt.flood_size &&
                       c.dir == Direction::decap) {
                unloaded = j;
            }
            const bool flood_baseline =
                !c.flood && opt.flood && n == opt.flood_sessions && &c == &specs[specs.size() - 2];
            if (c.flood)
                doc["flood_case"] = j;
            else if (flood_baseline)
                doc["flood_unloaded_case"] = j;
            else
                doc["cases"].push_back(j);
        }
        destroy_tables(st.t);
    }
    doc["mbufs_in_use_at_end"] = rte_mempool_in_use_count(g_pool);
    doc["run_seconds"] = seconds_since(run0);
    const std::string text = doc.dump(2);
    std::printf("%s\n", text.c_str());
    std::ofstream f(opt.out);
    f << text << "\n";
    if (!f) {
        std::fprintf(stderr, "cannot write %s\n", opt.out.c_str());
        return 1;
    }
    jg::net::stop_port(rig.outer.port_id);
    jg::net::stop_port(rig.inner.port_id);
    rig.fragments.reset();  // in EAL memory, which the cleanup releases
    rte_eal_cleanup();
    return 0;
}
