// Handshake admission on the worker: mac1, per-source token bucket, then up to the control
// core, so a flood of forged or excessive initiations never reaches X25519. Hot path.
#include <rte_hash_crc.h>

#include <cstring>

#include "dataplane/packet_meta.hpp"
#include "dataplane/pipeline.hpp"
#include "proto/blake2s.hpp"

namespace jg::dp {
namespace {

bool mac_equal(const uint8_t *a, const uint8_t *b) {
    // Constant time: the comparison must not tell a forger how many bytes matched.
    uint8_t diff = 0;
    for (size_t i = 0; i < proto::kMacSize; ++i)
        diff |= uint8_t(a[i] ^ b[i]);
    return diff == 0;
}

// WireGuard's ratelimiter keys IPv4 sources by address and IPv6 sources by /64, since one
// host owns a whole /64.
uint64_t source_key(const PeerAddr &src) {
    const uint32_t len = src.family == 4 ? 4 : 8;
    const uint32_t lo = rte_hash_crc(src.addr, len, src.family);
    const uint32_t hi = rte_hash_crc(src.addr, len, 0x9e3779b9u);
    return (uint64_t(hi) << 32 | lo) | 1;  // never 0: 0 marks an empty bucket
}

bool take_token(Worker &w, const PeerAddr &src, uint64_t now) {
    WorkerLocal &l = w.local;
    const uint64_t key = source_key(src);
    WorkerLocal::HandshakeBucket &b = l.buckets[key % kHandshakeBuckets];
    if (b.source != key) {
        // Direct-mapped: a colliding source takes the entry over with a full bucket.
        b.source = key;
        b.tokens = l.bucket_max_tsc;
        b.last_tsc = now;
    }
    return spend_tokens(b.tokens, b.last_tsc, now, l.bucket_max_tsc, l.bucket_cost_tsc);
}

// The worker-wide budget: one bucket for every source, since a flood spoofs its sources.
bool take_budget(Worker &w, uint64_t now) {
    WorkerLocal &l = w.local;
    return spend_tokens(l.budget_tokens, l.budget_last_tsc, now, l.budget_max_tsc,
                        l.budget_cost_tsc);
}

}  // namespace

void admit_handshake(Worker &w, rte_mbuf *m, uint8_t *payload, uint16_t len,
                     proto::MessageType type, const PeerAddr &src, uint64_t now) {
    if (!take_budget(w, now)) {
        drop(w, m, DropReason::handshake_overload);
        return;
    }
    if (type == proto::MessageType::initiation || type == proto::MessageType::response) {
        // mac1 covers everything before the two MACs.
        const size_t covered = len - 2 * proto::kMacSize;
        const proto::Mac mac =
            proto::blake2s_mac(w.mac1_key, std::span<const uint8_t>(payload, covered));
        if (!mac_equal(mac.data(), payload + covered)) {
            drop(w, m, DropReason::bad_mac1);
            return;
        }
    }
    bool over_rate = false;
    if (!take_token(w, src, now)) {
        // Initiations above their source's rate still go up, marked: the control core then
        // answers only one whose mac2 proves the sender owns the address, and sends the rest
        // a cookie. Dropping them would let a flood spoofing a victim's address spend the
        // victim's tokens, and the victim would never get the cookie to prove itself with.
        if (type != proto::MessageType::initiation) {
            drop(w, m, DropReason::handshake_rate_limited);
            return;
        }
        over_rate = true;
    }
    rte_pktmbuf_adj(m, uint16_t(payload - rte_pktmbuf_mtod(m, uint8_t *)));
    trim_segment(m, uint16_t(rte_pktmbuf_data_len(m) - len));
    PacketMeta *meta = packet_meta(m);
    std::memset(meta, 0, sizeof(*meta));
    switch (type) {
        case proto::MessageType::initiation:
            meta->kind = MetaKind::HandshakeInitiation;
            break;
        case proto::MessageType::response:
            meta->kind = MetaKind::HandshakeResponse;
            break;
        default:
            meta->kind = MetaKind::CookieReply;
            break;
    }
    meta->family = src.family;
    meta->worker = w.index;
    meta->port_id = m->port;
    meta->src_port = src.port;
    std::memcpy(meta->src_addr, src.addr, sizeof(meta->src_addr));
    meta->src_mac = src.mac;
    meta->flags = over_rate ? kMetaOverSourceRate : 0;
    meta->session_slot = kNoSession;
    meta->rx_tsc = now;
    send_up(w, m);
}

}  // namespace jg::dp
