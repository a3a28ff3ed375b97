// SessionDirectory: every session of the gateway and the logic that drives them (handshakes,
// the session FSM fed from worker reports and control messages, timers, keypair rotation and
// expiry, binding publication through DataplaneLink, audit). Control core only; no DPDK.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/bounded_ring.hpp"
#include "base/result.hpp"
#include "base/token_bucket.hpp"
#include "config/gateway_config.hpp"
#include "config/ip_prefix.hpp"
#include "control/dataplane_link.hpp"
#include "control/handshake_responder.hpp"
#include "control/passive_keepalive.hpp"
#include "proto/control_messages.hpp"
#include "proto/index_table.hpp"
#include "proto/keypairs.hpp"
#include "session/policy_set.hpp"
#include "session/session_record.hpp"
#include "session/state_machine.hpp"
#include "telemetry/audit_writer.hpp"

namespace jg::control {

// What a worker sent up, without the mbuf (see dataplane/packet_meta.hpp MetaKind).
enum class UpKind : uint8_t {
    HandshakeInitiation,
    HandshakeResponse,
    CookieReply,
    ControlMessage,
    SourceChanged,
    KeypairConfirmed,
    NeighborLearned,
};

struct UpEvent {
    UpKind kind = UpKind::HandshakeInitiation;
    uint16_t worker = 0;  // worker index that received it
    TransportAddr src;    // the packet's outer source
    MacAddr src_mac{};
    uint32_t session_slot = 0;         // ControlMessage, SourceChanged, KeypairConfirmed
    uint32_t local_index = 0;          // the keypair the packet was authenticated with
    uint64_t counter = 0;              // transport counter (ControlMessage)
    std::span<const uint8_t> payload;  // handshake message or control plaintext
    // HandshakeInitiation: the worker found its source above the per-source rate, so it is
    // answered only with a valid mac2 (HandshakeResponder::admit).
    bool over_source_rate = false;
};

// One configured peer as the directory needs it.
struct PeerSpec {
    std::string name;
    proto::Key public_key{};
    proto::Key psk{};  // all zero: none
    std::vector<IpPrefix> allowed_ips;
    std::string profile = "default";
};

struct DirectoryOptions {
    uint32_t max_sessions = 65536;
    uint32_t handshake_rate_per_sec = 1000;  // initiations per second before cookies
    // Low bits of our receiver indices that are the data plane's by_index position (its
    // index_mask's width); 0: indices drawn whole at random (no data plane array behind).
    unsigned index_position_bits = 0;
    // How long a terminated session stays listed (sessions_snapshot, late reattach denials).
    int64_t terminated_retention_ms = 60'000;
};

// Draws 64 random bits (session ids, PATH_CHALLENGE data). Tests inject a deterministic one.
using RandomSource = std::function<uint64_t()>;

// One session as admin commands list it.
struct SessionSummary {
    uint64_t session_id = 0;
    std::string peer;  // public key, base64
    std::string peer_name;
    SessionState state = SessionState::Birth;
    uint64_t state_version = 0;
    TransportAddr binding;
    bool jumpgate_client = false;
    uint64_t key_epoch = 0;
    uint32_t slot = 0;
    uint16_t owner = 0;
    int64_t created_at_ms = 0;
    SessionCounters counters;
    SlotCounters traffic;
};

// One audited change of a session's state or binding, kept for the admin commands' session
// detail (the audit log has the full history).
struct TransitionNote {
    int64_t ts_ms = 0;
    uint64_t state_version = 0;   // after the change
    bool binding_switch = false;  // a TransportSwitch (transports set) or a state change
    SessionState from_state = SessionState::Birth;
    SessionState to_state = SessionState::Birth;
    TransportAddr from_transport;
    TransportAddr to_transport;
    Reason reason = Reason::explicit_termination;
};

// Transitions remembered per session: enough to see a failover, bounded for 64k sessions.
inline constexpr size_t kRecentTransitions = 8;

struct DirectoryStats {
    uint64_t sessions_created = 0;
    uint64_t sessions_terminated = 0;
    uint64_t key_rotations = 0;
    uint64_t control_messages = 0;
    uint64_t control_rejected = 0;  // undecodable or not a client -> gateway type
    uint64_t stale_events = 0;      // for a slot or keypair no live session owns
    uint64_t dataplane_errors = 0;  // a table write the data plane refused
    uint64_t frames_lost = 0;       // down ring or pool full
    uint64_t audit_dropped = 0;     // AuditWriter queue full
    uint64_t slots_exhausted = 0;   // handshakes refused because max_sessions are live
    uint64_t keepalives_sent = 0;   // passive keepalives queued to the owner workers
    uint64_t reattach_flood = 0;    // REATTACH_REQUESTs over kReattachPerSecond, not handled
};

// REATTACH_REQUESTs one session's client may send a second, and at once. A client sends one
// per path and attempt; above this each would still cost a PATH_CHALLENGE and three audit
// lines, so the excess is dropped unhandled and audited once a second as reattach_flood.
inline constexpr int64_t kReattachPerSecond = 10;
inline constexpr int64_t kReattachBurst = 10;

class SessionDirectory {
  public:
    // `now_ms` everywhere: the control clock (control_clock.hpp), ms since the Unix epoch that
    // never step; what audit ts_ms carries. Timers and keypair lifetimes are differences of it.
    SessionDirectory(proto::StaticIdentity identity, std::vector<PeerSpec> peers,
                     PolicySet policies, DirectoryOptions options, DataplaneLink &link,
                     AuditWriter &audit, RandomSource random = {});
    SessionDirectory(const SessionDirectory &) = delete;
    SessionDirectory &operator=(const SessionDirectory &) = delete;

    // Peers from the configuration, PSK files read now (start-up, before the loop runs).
    static Result<std::vector<PeerSpec>> peers_from_config(const GatewayConfig &config);

    void handle(const UpEvent &ev, int64_t now_ms);
    // Timers: health sampling, FSM ticks, keypair expiry, reclamation of dead sessions.
    void tick(int64_t now_ms);
    // The system clock minus now_ms (ControlClock::system_offset_ms; 0 until the system clock
    // steps). jumpgate clients stamp REATTACH_REQUEST with their wall clock, so its freshness
    // is judged against the system clock, not against a control clock still slewing.
    void set_system_clock_offset(int64_t ms) { system_clock_offset_ms_ = ms; }

    // Every listed session (retained TERMINATED ones included), by ascending session id.
    std::vector<SessionSummary> sessions_snapshot() const;
    // What the metrics export every scrape, kept as sessions change rather than counted over
    // them: sessions listed in each state (retained TERMINATED ones included), and the bytes
    // every session ever carried (sampled with its health, and once more as it ends).
    const std::array<uint64_t, kSessionStateCount> &sessions_by_state() const {
        return sessions_by_state_;
    }
    uint64_t rx_bytes_total() const { return rx_bytes_total_; }
    uint64_t tx_bytes_total() const { return tx_bytes_total_; }
    std::optional<SessionSummary> find_session(uint64_t session_id) const;
    // The session's last kRecentTransitions transitions, oldest first (empty: unknown id).
    std::vector<TransitionNote> recent_transitions(uint64_t session_id) const;
    // An operator's termination: drives the FSM with explicit_termination, so it is audited
    // and torn down like a peer's TERMINATE. Errors (nothing changed): unknown or already
    // terminated session.
    Status terminate(uint64_t session_id, int64_t now_ms);
    size_t live_sessions() const;
    const DirectoryStats &stats() const { return stats_; }
    const HandshakeStats &handshake_stats() const { return responder_.stats(); }
    LivePolicies &policies() { return policies_; }
    // Brings every live session's next sweep to `now_ms`: after a policy reload, whose
    // intervals may put a deadline sooner than the one each session was scheduled for.
    void sweep_all_by(int64_t now_ms);

  private:
    struct Peer {
        PeerSpec spec;
        std::string public_b64;
        std::optional<uint64_t> session;  // the live (not terminated) session, if any
    };
    struct Session {
        // First, so the check that skips a stale queue entry reads one line of the session.
        int64_t next_sweep_ms = 0;  // see tick()
        // The latest time any sweep_queue_ entry names this session for: it is not freed
        // before then, since the entries point at it.
        int64_t last_queued_ms = 0;
        SessionRecord record;
        size_t peer = 0;
        uint32_t slot = 0;
        uint16_t owner = 0;
        MacAddr binding_mac{};
        // The address the last path validation ran to and its next hop: a result the recovery
        // window's expiry sends there on a timer tick has no event MAC of its own.
        TransportAddr candidate{};
        MacAddr candidate_mac{};
        // A new source the worker reported was left unfollowed by the switch gate (cooldown,
        // rate) or because a recovery was running. The worker reports an address once, and
        // a peer that moved sends nothing to the old one, so the sweep rearms its report as
        // soon as a switch could pass; else the binding would stay on a dead address.
        bool source_deferred = false;
        proto::KeypairSlots keypairs;
        uint32_t next_epoch = 0;
        SlotCounters sampled;         // counters at the last health sample
        SlotCounters heartbeat_mark;  // counters at the last HEARTBEAT_ACK
        int64_t terminated_at_ms = kNever;
        int64_t replay_reported_ms = kNever;   // last SecurityEvent for data-plane replays
        int64_t forgery_reported_ms = kNever;  // last SecurityEvent for failed AEAD tags
        TokenBucket reattach_bucket{kReattachPerSecond, kReattachBurst, 0};
        int64_t reattach_flood_reported_ms = kNever;
        PassiveKeepalive keepalive;
        // Grown as transitions happen: most sessions see two.
        BoundedRing<TransitionNote, kRecentTransitions> recent;
    };

    void on_initiation(const UpEvent &ev, int64_t now_ms);
    void on_control(const UpEvent &ev, int64_t now_ms);
    void on_source_changed(const UpEvent &ev, int64_t now_ms);
    void on_keypair_confirmed(const UpEvent &ev, int64_t now_ms);

    std::unique_ptr<Session> create_session(size_t peer, uint64_t session_id, const UpEvent &ev);
    Session *session_for(const UpEvent &ev);
    // `event_mac`: next hop of the address the event came from (where replies and a switched
    // binding must go); none for timer ticks and the directory's own events.
    void drive(Session &s, const SessionEvent &e, int64_t now_ms, std::optional<MacAddr> event_mac);
    void apply(Session &s, const Action &a, int64_t now_ms, std::optional<MacAddr> event_mac);
    // The next hop for a frame to `to`: the binding's; else the event's (it came from there);
    // else, for a frame a timer sends to the last validated candidate, the candidate's.
    MacAddr next_hop_for(const Session &s, const TransportAddr &to,
                         std::optional<MacAddr> event_mac) const;
    void send_control(Session &s, const TransportAddr &to, const MacAddr &mac,
                      const proto::ControlMessage &m);
    void terminate_in_dataplane(Session &s, int64_t now_ms);
    // Retires the slots whose flush time has come (and every slot of `peer`, if given).
    void retire_due(int64_t now_ms, std::optional<size_t> peer);
    void release_indices(const std::vector<uint32_t> &dead);
    // Returns what the session's counters grew by since the previous sample.
    TrafficDelta sample_health(Session &s, int64_t now_ms);
    // Adds what the slot's byte counters grew by since `s.sampled` to the totals.
    void count_bytes(const Session &s, const SlotCounters &c);
    void keep_alive(Session &s, const TrafficDelta &traffic, int64_t now_ms);
    void report_rejections(Session &s, const SlotCounters &c, int64_t now_ms);
    static constexpr int64_t kRejectionReportIntervalMs = 1'000;
    void expire_keypairs(Session &s, int64_t now_ms);
    // The health sampling, keypair expiry, FSM timers and keepalive of one session.
    void sweep(Session &s, int64_t now_ms);
    // Sets when the session is next swept / brings it forward to `due` if that is sooner.
    void schedule_sweep(Session &s, int64_t due);
    void sweep_no_later_than(Session &s, int64_t due);
    // Spends one REATTACH_REQUEST from the session's bucket; false (and, once a second, a
    // reattach_flood SecurityEvent from `src`) when it is empty.
    bool admit_reattach(Session &s, const TransportAddr &src, int64_t now_ms);
    static bool resting(const Session &s);
    static constexpr int64_t kRestingSweepMs = 500;
    void push_audit(audit::Event e);
    static void note_transition(Session &s, const audit::Event &e);
    // `s`: the session it concerns, or nullptr for traffic no session can be named for.
    void security_event(const Session *s, Reason violation, const TransportAddr &src,
                        int64_t now_ms);
    const Policy &policy_of(const Session &s) const;
    uint64_t fresh_session_id();
    PathChallenge fresh_challenge();
    void check(const Status &st);

    // A terminated session's slot, kept with its keys until the TERMINATE queued for the
    // owner worker has been sent (the worker drains its down ring every loop iteration).
    struct Retiring {
        uint32_t slot = 0;
        size_t peer = 0;
        int64_t retire_at_ms = 0;
        std::vector<uint32_t> indices;  // local indices released with the slot
    };
    static constexpr int64_t kTerminateFlushMs = 50;
    std::vector<Retiring> retiring_;

    HandshakeResponder responder_;
    std::vector<Peer> peers_;
    LivePolicies policies_;
    DirectoryOptions options_;
    DataplaneLink &link_;
    AuditWriter &audit_;
    RandomSource random_;
    proto::IndexTable indices_{options_.index_position_bits};  // owner: session_id
    // By session_id. Hashed, not ordered: a tick looks up every session it sweeps, and with
    // 100,000 sessions the ordered tree's pointer chase was most of the tick's time. Listings
    // sort their copy instead.
    std::unordered_map<uint64_t, std::unique_ptr<Session>> sessions_;
    std::unordered_map<uint32_t, uint64_t> by_slot_;  // live sessions only
    // (next sweep, session), soonest first, so a tick touches only the sessions due: with
    // many thousands a walk over all of them every tick took the responder's CPU. An entry
    // whose session has since been rescheduled is skipped when it comes up. Entries point at
    // the session rather than name its id: at 100,000 sessions looking each one up again was
    // half the tick. A session outlives its entries (Session::last_queued_ms).
    struct SweepDue {
        int64_t due_ms;
        uint64_t session_id;  // orders a tick's sweeps without touching the sessions
        Session *session;
        bool operator>(const SweepDue &o) const { return due_ms > o.due_ms; }
    };
    std::priority_queue<SweepDue, std::vector<SweepDue>, std::greater<>> sweep_queue_;
    // (terminated at, session id) in the order sessions ended: dropped from sessions_ once
    // terminated_retention_ms has passed and the session's queued sweeps have been taken
    // (at most a resting interval, kRestingSweepMs, later; the sessions behind it wait too).
    // A session ended in a sweep is queued for that tick's time, so it is kept until the next.
    std::deque<std::pair<int64_t, uint64_t>> terminated_;
    std::array<uint64_t, kSessionStateCount> sessions_by_state_{};
    uint64_t rx_bytes_total_ = 0;
    uint64_t tx_bytes_total_ = 0;
    bool was_under_load_ = false;
    DirectoryStats stats_;
    int64_t system_clock_offset_ms_ = 0;
};

}  // namespace jg::control
