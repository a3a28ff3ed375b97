// TunnelKeys: the client's half of the WireGuard tunnel to one gateway: handshake attempts as
// initiator (with cookie replies), keypair rotation, the send counter and replay windows.
// The client's loop thread only. Times: `now_ns` monotonic, `unix_ns` wall clock. `path`: the
// index of the client path a handshake message leaves or arrives on.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "config/keys.hpp"
#include "proto/cookie.hpp"
#include "proto/index_table.hpp"
#include "proto/keypairs.hpp"
#include "proto/noise.hpp"
#include "proto/replay_window.hpp"

namespace jg::client {

enum class ReplyOutcome : uint8_t {
    completed,      // a response authenticated: a new keypair is current
    cookie_stored,  // the gateway is under load; the next initiation on the same path carries
                    // mac2 (the one in flight stays pending: a late response still completes)
    ignored,        // not for the handshake in flight (stale, forged or unexpected)
};

struct OpenedPacket {
    std::vector<uint8_t> plaintext;  // padded plaintext (empty: keepalive)
    uint64_t counter = 0;
};

class TunnelKeys {
  public:
    TunnelKeys(proto::StaticIdentity local, const proto::Key &gateway_public, const SecretKey &psk);
    TunnelKeys(const TunnelKeys &) = delete;
    TunnelKeys &operator=(const TunnelKeys &) = delete;
    ~TunnelKeys();  // wipes the pre-shared key

    // Message 1 of a new attempt (a first one or a retransmit: WireGuard sends a fresh
    // initiation each time), to be sent on `path`; any unanswered attempt is abandoned. Its
    // TAI64N timestamp is `unix_ns`, but later than the previous one (by its 2^24 ns
    // resolution at least): the gateway refuses a timestamp not above the greatest it has
    // seen, so after a backward step of the system clock it would refuse every handshake
    // until wall time caught up.
    Result<std::array<uint8_t, proto::kInitiationSize>> start_handshake(uint64_t unix_ns,
                                                                        uint64_t now_ns,
                                                                        size_t path = 0);
    bool handshake_in_flight() const { return pending_.has_value(); }
    uint64_t handshake_started_ns() const { return pending_started_ns_; }

    // A type-2 or type-3 message from the gateway, received on `path`; either must name the
    // pending initiation's sender index as its receiver.
    ReplyOutcome consume_reply(std::span<const uint8_t> packet, uint64_t now_ns, size_t path = 0);

    bool has_keys() const { return slots_.current() != nullptr; }
    // Handshakes completed so far (the key epoch).
    uint64_t completed_handshakes() const { return completed_; }

    // A type-4 message under the current keypair; empty when there is none.
    std::vector<uint8_t> seal(std::span<const uint8_t> plaintext);

    // Verifies a type-4 message under any live keypair and checks/updates its replay window;
    // nullopt for anything that does not authenticate or repeats a counter.
    std::optional<OpenedPacket> open(std::span<const uint8_t> message, uint64_t now_ns);

    // The initiator rekeys: the current keypair is REKEY_AFTER_TIME old (or close to
    // REJECT_AFTER_TIME on receive), or has sent REKEY_AFTER_MESSAGES.
    bool needs_rekey(uint64_t now_ns) const;
    // Drops keypairs past REJECT_AFTER_TIME; true when none is left but keys existed.
    bool expire(uint64_t now_ns);

  private:
    void release(const std::vector<uint32_t> &dead);
    proto::CookieJar &jar(size_t path);

    proto::StaticIdentity local_;
    proto::Key gateway_public_;
    proto::Key psk_;  // as lib/proto takes it; wiped by the destructor
    // One per path: the gateway binds a cookie to the IP:port it came from, so a cookie
    // learned on one path is no mac2 for another (it would only draw another cookie reply).
    std::vector<proto::CookieJar> jars_;
    proto::IndexTable indices_;
    std::optional<proto::InitiatorHandshake> pending_;
    uint64_t pending_started_ns_ = 0;
    uint64_t last_unix_ns_ = 0;  // the timestamp of the last initiation made
    proto::KeypairSlots slots_;
    std::map<uint32_t, proto::ReplayWindow> windows_;  // by local index
    uint64_t send_counter_ = 0;                        // of the current keypair
    uint64_t completed_ = 0;
};

}  // namespace jg::client
