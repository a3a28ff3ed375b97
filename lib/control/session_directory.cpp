#include "control/session_directory.hpp"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "config/keys.hpp"
#include "session/switch_gate.hpp"
#include "telemetry/audit_json.hpp"

namespace jg::control {
namespace {

uint64_t csprng_u64() {
    uint64_t v = 0;
    randombytes_buf(&v, sizeof v);
    return v;
}

// The cookie binds to the sender's address and port; the encoding only has to be stable.
std::array<uint8_t, 18> cookie_source(const TransportAddr &a) {
    std::array<uint8_t, 18> out{};
    std::copy(a.addr.begin(), a.addr.end(), out.begin());
    out[16] = uint8_t(a.port >> 8);
    out[17] = uint8_t(a.port);
    return out;
}

proto::WireState wire_state(SessionState s) {
    switch (s) {
        case SessionState::Volatile:
            return proto::WireState::volatile_;
        case SessionState::Recovering:
            return proto::WireState::recovering;
        case SessionState::Degraded:
            return proto::WireState::degraded;
        case SessionState::Terminated:
            return proto::WireState::terminated;
        case SessionState::Birth:
        case SessionState::Attached:
            break;
    }
    return proto::WireState::attached;
}

proto::HintState hint_state(SessionState s) {
    switch (s) {
        case SessionState::Degraded:
            return proto::HintState::degraded;
        case SessionState::Terminated:
            return proto::HintState::terminating;
        default:
            return proto::HintState::volatile_;
    }
}

uint16_t wire_reason(Reason r) {
    return static_cast<uint16_t>(r);
}

uint32_t clamp_u32(uint64_t v) {
    return v > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(v);
}

// A session's net counter gaps (dataplane/tables.hpp) go down when late packets fill gaps
// reported before: the change since a mark is new gaps, or gaps taken back.
struct GapChange {
    uint64_t counted = 0;
    uint64_t filled = 0;
};
GapChange gap_change(uint64_t now, uint64_t mark) {
    const auto change = static_cast<int64_t>(now - mark);
    return change >= 0 ? GapChange{static_cast<uint64_t>(change), 0}
                       : GapChange{0, uint64_t{0} - static_cast<uint64_t>(change)};
}

uint32_t clamp_ms(int64_t v) {
    return v < 0 ? 0 : clamp_u32(static_cast<uint64_t>(v));
}

}  // namespace

Result<std::vector<PeerSpec>> SessionDirectory::peers_from_config(const GatewayConfig &config) {
    std::vector<PeerSpec> out;
    out.reserve(config.peers.size());
    for (size_t i = 0; i < config.peers.size(); ++i) {
        const PeerConfig &pc = config.peers[i];
        PeerSpec spec;
        spec.name = pc.name;
        spec.public_key = pc.public_key;
        spec.allowed_ips = pc.allowed_ips;
        spec.profile = pc.policy;
        if (pc.preshared_key_file) {
            auto psk = read_secret_key_file(*pc.preshared_key_file);
            if (!psk)
                return make_error("peers[" + std::to_string(i) + "].preshared_key_file",
                                  psk.error().message());
            std::copy(psk->bytes().begin(), psk->bytes().end(), spec.psk.begin());
        }
        out.push_back(std::move(spec));
    }
    return out;
}

namespace {

std::vector<HandshakePeer> handshake_peers(const std::vector<PeerSpec> &peers) {
    std::vector<HandshakePeer> out;
    out.reserve(peers.size());
    for (const PeerSpec &p : peers)
        out.push_back({p.public_key, p.psk});
    return out;
}

}  // namespace

SessionDirectory::SessionDirectory(proto::StaticIdentity identity, std::vector<PeerSpec> peers,
                                   PolicySet policies, DirectoryOptions options,
                                   DataplaneLink &link, AuditWriter &audit, RandomSource random)
    : responder_(std::move(identity), handshake_peers(peers), options.handshake_rate_per_sec),
      policies_(std::move(policies)),
      options_(options),
      link_(link),
      audit_(audit),
      random_(random ? std::move(random) : RandomSource(csprng_u64)) {
    peers_.reserve(peers.size());
    for (PeerSpec &p : peers) {
        std::string b64 = encode_key(p.public_key);
        peers_.push_back(Peer{std::move(p), std::move(b64), std::nullopt});
    }
}

// ---- event intake ----

void SessionDirectory::handle(const UpEvent &ev, int64_t now_ms) {
    switch (ev.kind) {
        case UpKind::HandshakeInitiation:
            on_initiation(ev, now_ms);
            return;
        case UpKind::ControlMessage:
            on_control(ev, now_ms);
            return;
        case UpKind::SourceChanged:
            on_source_changed(ev, now_ms);
            return;
        case UpKind::KeypairConfirmed:
            on_keypair_confirmed(ev, now_ms);
            return;
        case UpKind::NeighborLearned:
            // ev.src is the neighbor's address itself (IPv4 or IPv6, port 0): pass it whole.
            // A brace list of its bytes would initialise TransportAddr::family from the first.
            check(link_.learn_neighbor(ev.src, ev.src_mac));
            return;
        case UpKind::HandshakeResponse:
        case UpKind::CookieReply:
            // The gateway never initiates (stock clients rekey themselves), so nothing waits
            // for these.
            ++stats_.stale_events;
            return;
    }
}

void SessionDirectory::on_initiation(const UpEvent &ev, int64_t now_ms) {
    const auto src = cookie_source(ev.src);
    Admission admission = responder_.admit(ev.payload, src, now_ms, ev.over_source_rate);
    const bool load = responder_.under_load(now_ms);
    if (load && !was_under_load_)
        security_event(nullptr, Reason::handshake_flood, ev.src, now_ms);
    was_under_load_ = load;

    if (const auto *refused = std::get_if<RefusedInitiation>(&admission)) {
        if (refused->reason == HandshakeRefusal::replayed_timestamp && refused->audit_due)
            security_event(nullptr, Reason::replay_detected, ev.src, now_ms);
        return;
    }
    if (const auto *cookie = std::get_if<CookieDemanded>(&admission)) {
        if (!link_.send_raw(ev.worker, ev.src, ev.src_mac, cookie->reply))
            ++stats_.frames_lost;
        return;
    }
    auto &admitted = std::get<AdmittedInitiation>(admission);
    Peer &peer = peers_[admitted.peer];
    Session *s = peer.session ? sessions_.at(*peer.session).get() : nullptr;
    const bool fresh = s == nullptr;
    // No room for a new session (a live one can still rekey): no response, a metric
    // (handshakes_total{result="session_table_full"}) and, once a second at most, a
    // PolicyEvent naming the limit that decided.
    const auto refuse_no_room = [&] {
        if (!responder_.refuse_admitted(HandshakeRefusal::session_table_full, now_ms))
            return;
        audit::Event e;
        e.ts_ms = now_ms;
        e.policy_version = policies_.current()->default_policy().version;
        e.payload = audit::PolicyEvent{"limits.max_sessions", double(options_.max_sessions),
                                       double(live_sessions())};
        push_audit(std::move(e));
    };
    if (fresh && live_sessions() >= options_.max_sessions) {
        ++stats_.slots_exhausted;
        refuse_no_room();
        return;
    }
    // The peer's previous session may still hold its routes while its TERMINATE goes out; the
    // peer is evidently listening again, so that slot goes now.
    if (fresh)
        retire_due(now_ms, admitted.peer);
    const uint64_t session_id = fresh ? fresh_session_id() : s->record.session_id;
    auto index = indices_.allocate(session_id);
    if (!index) {
        ++stats_.dataplane_errors;
        return;
    }
    // The slot before the response: a slot still held by a retiring session makes this a
    // refusal, which must not also count as an accepted handshake or cost the response's work.
    std::unique_ptr<Session> created;
    if (fresh) {
        created = create_session(admitted.peer, session_id, ev);
        if (!created) {
            indices_.release(*index);
            refuse_no_room();
            return;
        }
        s = created.get();
    }
    auto done = responder_.complete(admitted, *index, now_ms);
    if (!done) {
        indices_.release(*index);
        if (created)
            check(link_.retire_session(created->slot));
        return;
    }
    const uint32_t epoch = s->next_epoch++;
    release_indices(s->keypairs.install(done->keypair));
    check(link_.install_keypair(s->slot, KeypairRole::Next, done->keypair, epoch, now_ms));
    proto::wipe(done->keypair);
    if (fresh) {
        ++sessions_by_state_[static_cast<size_t>(s->record.state)];
        schedule_sweep(*s, now_ms);
        sessions_.emplace(session_id, std::move(created));
        by_slot_[s->slot] = session_id;
        peer.session = session_id;
        ++stats_.sessions_created;
        check(link_.publish_binding(s->slot, ev.src, ev.src_mac));
        for (const IpPrefix &prefix : peer.spec.allowed_ips)
            check(link_.add_route(prefix, s->slot));
        check(link_.set_session_flags(s->slot, kFlagLive));
    } else {
        ++stats_.key_rotations;
    }
    drive(*s, HandshakeCompleted{ev.src, peer.public_b64, epoch}, now_ms, ev.src_mac);
    if (!link_.send_raw(ev.worker, ev.src, ev.src_mac, done->response)) {
        ++stats_.frames_lost;
        return;
    }
    // The response is an authenticated packet to the peer, as a keepalive would be.
    s->keepalive = PassiveKeepalive{};
}

std::unique_ptr<SessionDirectory::Session> SessionDirectory::create_session(size_t peer,
                                                                            uint64_t session_id,
                                                                            const UpEvent &ev) {
    auto slot = link_.alloc_session(session_id, ev.worker);
    if (!slot) {
        ++stats_.slots_exhausted;
        return nullptr;
    }
    auto s = std::make_unique<Session>();
    s->record = make_session(session_id, peers_[peer].spec.profile);
    s->peer = peer;
    s->slot = *slot;
    s->owner = ev.worker;
    s->binding_mac = ev.src_mac;
    s->sampled = link_.counters(*slot);
    s->heartbeat_mark = s->sampled;
    return s;
}

SessionDirectory::Session *SessionDirectory::session_for(const UpEvent &ev) {
    const auto it = by_slot_.find(ev.session_slot);
    if (it == by_slot_.end()) {
        ++stats_.stale_events;
        return nullptr;
    }
    // A slot is reused only after its session retired; the keypair's owner tells a late
    // report about the old session from one about the new.
    const auto owner = indices_.owner(ev.local_index);
    if (!owner || *owner != it->second) {
        ++stats_.stale_events;
        return nullptr;
    }
    return sessions_.at(it->second).get();
}

void SessionDirectory::on_control(const UpEvent &ev, int64_t now_ms) {
    Session *s = session_for(ev);
    if (s == nullptr)
        return;
    const proto::PlaintextClass cls = proto::classify_plaintext(ev.payload);
    if (cls.kind != proto::PlaintextKind::control) {
        ++stats_.control_rejected;
        return;
    }
    const proto::ControlDecoded dec = proto::decode_control(ev.payload.first(cls.length));
    if (!dec.ok()) {
        ++stats_.control_rejected;
        return;
    }
    ++stats_.control_messages;
    const bool client = s->record.jumpgate_client;
    std::visit(
        [&](const auto &m) {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, proto::Hello>) {
                drive(*s, HelloReceived{}, now_ms, ev.src_mac);
                sweep_no_later_than(*s, now_ms);  // heartbeats promised: a deadline of its own
            } else if constexpr (std::is_same_v<M, proto::Heartbeat>) {
                if (!client) {
                    ++stats_.control_rejected;
                    return;
                }
                if (ev.src == s->record.binding)
                    drive(*s,
                          HeartbeatReceived{m.seq, m.rtt_us != 0 ? m.rtt_us / 1000.0 : -1.0, 0, 0},
                          now_ms, ev.src_mac);
                const SlotCounters c = link_.counters(s->slot);
                proto::HeartbeatAck ack;
                ack.seq = m.seq;
                ack.path_id = m.path_id;
                ack.echo_ts_ms = m.send_ts_ms;
                ack.rx_packets = clamp_u32(c.rx_packets - s->heartbeat_mark.rx_packets);
                ack.counter_gaps =
                    clamp_u32(gap_change(c.counter_gaps, s->heartbeat_mark.counter_gaps).counted);
                ack.state = wire_state(s->record.state);
                ack.state_version = s->record.state_version;
                s->heartbeat_mark = c;
                send_control(*s, ev.src, ev.src_mac, ack);
            } else if constexpr (std::is_same_v<M, proto::ReattachRequest>) {
                if (!client) {
                    ++stats_.control_rejected;
                    return;
                }
                if (!admit_reattach(*s, ev.src, now_ms))
                    return;
                jg::ReattachRequest r;
                r.session_known = m.session_id == s->record.session_id;
                // The worker delivered it only after AEAD and the replay window passed.
                r.proof_ok = true;
                r.counter_in_window = true;
                // Into the control clock's time line: skew = system clock - client clock.
                // A wire time beyond the range saturates, and check_reattach finds it stale.
                if (__builtin_sub_overflow(static_cast<int64_t>(m.client_time_ms),
                                           system_clock_offset_ms_, &r.client_time_ms))
                    r.client_time_ms = system_clock_offset_ms_ > 0
                                           ? std::numeric_limits<int64_t>::min()
                                           : std::numeric_limits<int64_t>::max();
                r.nonce = m.nonce;
                r.candidate = ev.src;
                r.client_state_version = m.last_state_version;
                // The worker also reports the new source, which may already have started a
                // validation to this very address: one challenge, so either answer counts.
                const PendingValidation &pv = s->record.pending;
                r.challenge =
                    pv.active && pv.candidate == ev.src ? pv.challenge : fresh_challenge();
                drive(*s, r, now_ms, ev.src_mac);
            } else if constexpr (std::is_same_v<M, proto::PathResponse>) {
                drive(*s, jg::PathResponse{ev.src, m.data}, now_ms, ev.src_mac);
            } else if constexpr (std::is_same_v<M, proto::Terminate>) {
                drive(*s, TerminationRequested{Reason::explicit_termination}, now_ms, ev.src_mac);
            } else {
                // Gateway -> client types coming back up: a confused or hostile peer.
                ++stats_.control_rejected;
            }
        },
        dec.message);
}

void SessionDirectory::on_source_changed(const UpEvent &ev, int64_t now_ms) {
    Session *s = session_for(ev);
    if (s == nullptr)
        return;
    const bool recovering = s->record.state == SessionState::Recovering;
    const bool gate_closed = !check_switch_gate(s->record.switches, policy_of(*s), now_ms).allowed;
    drive(*s, AddressChangeObserved{ev.src, fresh_challenge()}, now_ms, ev.src_mac);
    const SessionRecord &r = s->record;
    const bool followed =
        r.binding == ev.src || (r.pending.active && r.pending.candidate == ev.src);
    // legacy_roaming: deny refuses for good (rearming would only repeat the denial).
    if (!followed && (recovering || gate_closed) && r.state != SessionState::Terminated) {
        s->source_deferred = true;
        sweep_no_later_than(*s, now_ms);
    }
}

void SessionDirectory::on_keypair_confirmed(const UpEvent &ev, int64_t now_ms) {
    (void)now_ms;
    Session *s = session_for(ev);
    if (s == nullptr)
        return;
    const proto::TransportKeypair *next = s->keypairs.next();
    if (next == nullptr || next->local_index != ev.local_index) {
        ++stats_.stale_events;
        return;
    }
    bool rotated = false;
    const auto dead = s->keypairs.confirm(ev.local_index, &rotated);
    if (dead)
        release_indices({*dead});
    if (rotated)
        check(link_.confirm_next_keypair(s->slot));
}

// ---- FSM driving ----

const Policy &SessionDirectory::policy_of(const Session &s) const {
    return policies_.lookup(s.record.profile);
}

void SessionDirectory::drive(Session &s, const SessionEvent &e, int64_t now_ms,
                             std::optional<MacAddr> event_mac) {
    const SessionState before = s.record.state;
    StepResult r = step(s.record, e, policy_of(s), now_ms);
    if (s.record.state != before) {
        --sessions_by_state_[static_cast<size_t>(before)];
        ++sessions_by_state_[static_cast<size_t>(s.record.state)];
    }
    for (audit::Event &ev : r.audit) {
        note_transition(s, ev);
        push_audit(std::move(ev));
    }
    for (const Action &a : r.actions)
        apply(s, a, now_ms, event_mac);
    // Leaving rest (or starting a path validation) brings the session's timers back to
    // every tick.
    if (!resting(s))
        sweep_no_later_than(s, now_ms);
}

MacAddr SessionDirectory::next_hop_for(const Session &s, const TransportAddr &to,
                                       std::optional<MacAddr> event_mac) const {
    if (to == s.record.binding)
        return s.binding_mac;
    if (event_mac)
        return *event_mac;
    return to == s.candidate ? s.candidate_mac : s.binding_mac;
}

void SessionDirectory::apply(Session &s, const Action &a, int64_t now_ms,
                             std::optional<MacAddr> event_mac) {
    std::visit(
        [&](const auto &act) {
            using A = std::decay_t<decltype(act)>;
            if constexpr (std::is_same_v<A, SendPathChallenge>) {
                const MacAddr mac = next_hop_for(s, act.to, event_mac);
                s.candidate = act.to;
                s.candidate_mac = mac;
                send_control(s, act.to, mac, proto::PathChallenge{act.data});
            } else if constexpr (std::is_same_v<A, SwitchBinding>) {
                // The event that completed the switch came from the new address.
                s.binding_mac = event_mac               ? *event_mac
                                : act.to == s.candidate ? s.candidate_mac
                                                        : s.binding_mac;
                check(link_.publish_binding(s.slot, act.to, s.binding_mac));
            } else if constexpr (std::is_same_v<A, SendStateHint>) {
                send_control(s, s.record.binding, s.binding_mac,
                             proto::StateHint{hint_state(act.state), wire_reason(act.reason),
                                              s.record.state_version});
            } else if constexpr (std::is_same_v<A, SendReattachResult>) {
                send_control(s, act.to, next_hop_for(s, act.to, event_mac),
                             proto::ReattachResult{act.accepted, wire_reason(act.reason),
                                                   act.state_version});
            } else if constexpr (std::is_same_v<A, jg::Terminate>) {
                send_control(s, s.record.binding, s.binding_mac,
                             proto::Terminate{wire_reason(act.reason)});
                terminate_in_dataplane(s, now_ms);
            } else if constexpr (std::is_same_v<A, SendHelloAck>) {
                check(link_.set_session_flags(s.slot, kFlagLive | kFlagExtensions));
                const Policy &p = policy_of(s);
                proto::HelloAck ack;
                ack.session_id = act.session_id;
                ack.state = wire_state(act.state);
                ack.state_version = act.state_version;
                ack.heartbeat_interval_ms = clamp_ms(p.volatility.heartbeat_interval_ms);
                ack.heartbeat_volatile_ms = clamp_ms(p.volatility.heartbeat_volatile_ms);
                ack.loss_volatile_permille =
                    static_cast<uint16_t>(std::lround(p.volatility.loss_volatile_threshold * 1000));
                ack.reattach_proof_max_age_ms = clamp_ms(p.security.reattach_proof_max_age_ms);
                send_control(s, s.record.binding, s.binding_mac, ack);
            }
        },
        a);
}

void SessionDirectory::send_control(Session &s, const TransportAddr &to, const MacAddr &mac,
                                    const proto::ControlMessage &m) {
    // Stock WireGuard peers would drop these anyway; a retired slot has no keys to seal with.
    if (!s.record.jumpgate_client || s.terminated_at_ms != kNever)
        return;
    std::array<uint8_t, 64> buf{};
    const size_t n = proto::encode_control(m, buf);
    if (n == 0)
        return;
    if (!link_.send_control(s.owner, s.slot, to, mac, std::span<const uint8_t>(buf.data(), n)))
        ++stats_.frames_lost;
}

void SessionDirectory::terminate_in_dataplane(Session &s, int64_t now_ms) {
    if (s.terminated_at_ms != kNever)
        return;
    Peer &peer = peers_[s.peer];
    // Data stops now. The slot keeps its keys a little longer: the TERMINATE just queued on
    // the owner's down ring must still be sealed, or the client never learns why it ended.
    check(link_.set_session_flags(s.slot, 0));
    // What the session carried since its last health sample is counted now or never.
    const SlotCounters last = link_.counters(s.slot);
    count_bytes(s, last);
    s.sampled.rx_bytes = last.rx_bytes;
    s.sampled.tx_bytes = last.tx_bytes;
    Retiring r{s.slot, s.peer, now_ms + kTerminateFlushMs, {}};
    for (const proto::TransportKeypair *kp :
         {s.keypairs.previous(), s.keypairs.current(), s.keypairs.next()})
        if (kp != nullptr)
            r.indices.push_back(kp->local_index);
    s.keypairs.clear();
    retiring_.push_back(std::move(r));
    by_slot_.erase(s.slot);
    if (peer.session == s.record.session_id)
        peer.session.reset();
    s.terminated_at_ms = now_ms;
    terminated_.emplace_back(now_ms, s.record.session_id);
    ++stats_.sessions_terminated;
}

void SessionDirectory::retire_due(int64_t now_ms, std::optional<size_t> peer) {
    std::erase_if(retiring_, [&](const Retiring &r) {
        if (r.retire_at_ms > now_ms && r.peer != peer)
            return false;
        check(link_.retire_session(r.slot));
        release_indices(r.indices);
        return true;
    });
}

void SessionDirectory::release_indices(const std::vector<uint32_t> &dead) {
    for (uint32_t idx : dead)
        indices_.release(idx);
}

// ---- timers ----

// Replayed and forged packets die in the workers (replay window, AEAD) before any control
// message exists, yet an operator must see them: at most one SecurityEvent per kind and
// second per session, from the slot's counters. The workers keep no source address for a
// rejected packet, so the event names none.
void SessionDirectory::report_rejections(Session &s, const SlotCounters &c, int64_t now_ms) {
    const auto report = [&](uint64_t now_count, uint64_t before, int64_t &last_ms, Reason why) {
        if (now_count <= before)
            return;
        if (last_ms != kNever && now_ms - last_ms < kRejectionReportIntervalMs)
            return;
        last_ms = now_ms;
        security_event(&s, why, TransportAddr{}, now_ms);
    };
    report(c.replay_drops, s.sampled.replay_drops, s.replay_reported_ms, Reason::replay_detected);
    report(c.auth_failures, s.sampled.auth_failures, s.forgery_reported_ms, Reason::bad_proof);
}

TrafficDelta SessionDirectory::sample_health(Session &s, int64_t now_ms) {
    const SlotCounters c = link_.counters(s.slot);
    report_rejections(s, c, now_ms);
    count_bytes(s, c);
    const TrafficDelta traffic{c.rx_packets - s.sampled.rx_packets, c.rx_bytes - s.sampled.rx_bytes,
                               c.tx_packets - s.sampled.tx_packets};
    const GapChange gaps = gap_change(c.counter_gaps, s.sampled.counter_gaps);
    s.sampled = c;
    if (traffic.rx_packets == 0 && gaps.counted == 0 && gaps.filled == 0)
        return traffic;
    // Gaps and packets feed the loss window; liveness is the binding's own last packet (the
    // worker stamps it), so traffic from elsewhere (a client's standby paths, a new address
    // the switch gate holds back) cannot keep a dead binding looking alive. Without a stamp
    // (a data plane that keeps none) the traffic is dated as it is noticed.
    const int64_t ago = c.rx_age_ms >= 0 ? c.rx_age_ms : 0;
    drive(s,
          HeartbeatReceived{0, -1.0, clamp_u32(traffic.rx_packets), clamp_u32(gaps.counted), ago,
                            clamp_u32(gaps.filled)},
          now_ms, std::nullopt);
    return traffic;
}

// Not audited: a keepalive changes no state, and one per idle peer every 10 s would drown the
// events an auditor reads the log for.
void SessionDirectory::keep_alive(Session &s, const TrafficDelta &traffic, int64_t now_ms) {
    const KeepaliveStep step = keepalive_step(s.keepalive, traffic, now_ms);
    s.keepalive = step.next;
    if (!step.send)
        return;
    // Unlike the control messages, stock peers get these too: an empty plaintext is WireGuard's
    // own keepalive. The owner seals it under the current keypair and send counter.
    if (link_.send_control(s.owner, s.slot, s.record.binding, s.binding_mac, {}))
        ++stats_.keepalives_sent;
    else
        ++stats_.frames_lost;
}

void SessionDirectory::expire_keypairs(Session &s, int64_t now_ms) {
    const uint64_t now_ns = static_cast<uint64_t>(now_ms) * proto::kNsPerMs;
    const auto dead = s.keypairs.expire(now_ns);
    if (dead.empty())
        return;
    // The data plane lets go of each expired keypair (and its index position) before the
    // index is free to be handed out again.
    for (uint32_t idx : dead)
        check(link_.retire_keypair(s.slot, idx));
    release_indices(dead);
    if (s.keypairs.current() == nullptr && s.keypairs.next() == nullptr)
        drive(s, KeyExpired{}, now_ms, std::nullopt);
}

// A session whose new source waits for the switch gate is not at rest: its report is rearmed
// on the first sweep after the gate opens, and until then the peer is sent to a dead address.
bool SessionDirectory::resting(const Session &s) {
    return s.record.state == SessionState::Attached && !s.record.pending.active &&
           !s.source_deferred;
}

void SessionDirectory::sweep_all_by(int64_t now_ms) {
    for (auto &[id, s] : sessions_)
        if (s->terminated_at_ms == kNever)
            sweep_no_later_than(*s, now_ms);
}

void SessionDirectory::sweep(Session &s, int64_t now_ms) {
    const TrafficDelta traffic = sample_health(s, now_ms);
    if (s.terminated_at_ms == kNever)
        expire_keypairs(s, now_ms);
    if (s.terminated_at_ms == kNever)
        drive(s, TimerTick{}, now_ms, std::nullopt);
    if (s.terminated_at_ms == kNever)
        keep_alive(s, traffic, now_ms);
    if (s.source_deferred && s.terminated_at_ms == kNever &&
        s.record.state != SessionState::Recovering &&
        check_switch_gate(s.record.switches, policy_of(s), now_ms).allowed) {
        s.source_deferred = false;
        check(link_.rearm_source_report(s.slot));
    }
    // A resting session (ATTACHED, no path validation running) has its nearest timer seconds
    // away (heartbeat_volatile_ms, KEEPALIVE_TIMEOUT, key and lifetime expiry), so it is swept
    // when one of those is due, and between them a few times per loss window for the loss
    // ratio, at most every kRestingSweepMs; any other session every tick. Sampling sessions at
    // rest every few ticks took the handshake responder's CPU with tens of thousands of them.
    // Packets and control messages are handled on arrival anyway, and a sample dates traffic
    // by the binding's last packet, so a sweep at the deadline judges silence on time.
    if (resting(s)) {
        const Policy &p = policy_of(s);
        const int64_t every =
            std::clamp<int64_t>(p.volatility.loss_window_ms / 4, 10, kRestingSweepMs);
        // Never later than a keypair's REJECT_AFTER_TIME or the session's lifetime: those must
        // end on time, not up to a sweep late.
        int64_t due = std::min(now_ms + every, s.record.created_at_ms + p.session.max_lifetime_ms);
        // A client that promised heartbeats goes VOLATILE once silent this long.
        if (s.record.jumpgate_client && s.record.last_rx_ms != kNever)
            due = std::min(due, s.record.last_rx_ms + p.volatility.heartbeat_volatile_ms);
        if (s.keepalive.due_ms != kNever)
            due = std::min(due, s.keepalive.due_ms);
        if (const auto expiry_ns = s.keypairs.next_expiry_ns())  // rounded up: expired by then
            due = std::min(due, int64_t((*expiry_ns + proto::kNsPerMs - 1) / proto::kNsPerMs));
        schedule_sweep(s, due);
    } else {
        schedule_sweep(s, now_ms);
    }
}

void SessionDirectory::schedule_sweep(Session &s, int64_t due) {
    s.next_sweep_ms = due;
    s.last_queued_ms = std::max(s.last_queued_ms, due);
    sweep_queue_.push(SweepDue{due, s.record.session_id, &s});
}

void SessionDirectory::sweep_no_later_than(Session &s, int64_t due) {
    if (due < s.next_sweep_ms)
        schedule_sweep(s, due);
}

void SessionDirectory::count_bytes(const Session &s, const SlotCounters &c) {
    rx_bytes_total_ += c.rx_bytes - s.sampled.rx_bytes;
    tx_bytes_total_ += c.tx_bytes - s.sampled.tx_bytes;
}

void SessionDirectory::tick(int64_t now_ms) {
    retire_due(now_ms, std::nullopt);
    // Everything due now is taken first: a sweep that leaves its session due again (not
    // resting) schedules it for this same time, and that is the next tick's work.
    std::vector<std::pair<uint64_t, Session *>> due;
    while (!sweep_queue_.empty() && sweep_queue_.top().due_ms <= now_ms) {
        due.emplace_back(sweep_queue_.top().session_id, sweep_queue_.top().session);
        sweep_queue_.pop();
    }
    // Ordered by session id, so the sweeps (and the events they emit) come in the same order
    // from run to run.
    std::sort(due.begin(), due.end());
    due.erase(std::unique(due.begin(), due.end()), due.end());
    // With many thousands of sessions due in one tick each sweep would wait on its session's
    // lines and then on its worker counters; fetched a couple of sessions ahead they arrive
    // while the sweeps before run (handshake_bench at 100,000 sessions: the tick's share of
    // the control core 0.15 -> 0.11 in rekeys, 0.08 -> 0.05 in new sessions).
    constexpr size_t kAhead = 2;
    // The whole session: a sweep reads fields all over it. (A stale entry, skipped on its
    // first line, has its lines fetched for nothing; they are few.)
    const auto fetch_session = [](const Session *s) {
        constexpr uintptr_t kLine = 64;
        const uintptr_t end = reinterpret_cast<uintptr_t>(s) + sizeof(Session);
        for (uintptr_t line = reinterpret_cast<uintptr_t>(s) & ~(kLine - 1); line < end;
             line += kLine)
            __builtin_prefetch(reinterpret_cast<const void *>(line));
    };
    for (size_t i = 0; i < due.size() && i < kAhead; ++i)
        fetch_session(due[i].second);
    for (size_t i = 0; i < due.size(); ++i) {
        if (i + kAhead < due.size())
            fetch_session(due[i + kAhead].second);
        if (i + 1 < due.size())
            link_.prefetch_counters(due[i + 1].second->slot);
        Session &s = *due[i].second;
        if (now_ms >= s.next_sweep_ms && s.terminated_at_ms == kNever)
            sweep(s, now_ms);
    }
    while (!terminated_.empty() &&
           now_ms - terminated_.front().first >= options_.terminated_retention_ms) {
        if (const auto it = sessions_.find(terminated_.front().second); it != sessions_.end()) {
            // Its last queue entries are at most a resting interval away; it goes on a later
            // tick, once they have been taken.
            if (it->second->last_queued_ms >= now_ms)
                break;
            --sessions_by_state_[static_cast<size_t>(it->second->record.state)];
            sessions_.erase(it);
        }
        terminated_.pop_front();
    }
    link_.reclaim();
}

// ---- queries ----

std::optional<SessionSummary> SessionDirectory::find_session(uint64_t session_id) const {
    const auto it = sessions_.find(session_id);
    if (it == sessions_.end())
        return std::nullopt;
    const Session &s = *it->second;
    const Peer &peer = peers_[s.peer];
    SessionSummary out;
    out.session_id = s.record.session_id;
    out.peer = peer.public_b64;
    out.peer_name = peer.spec.name;
    out.state = s.record.state;
    out.state_version = s.record.state_version;
    out.binding = s.record.binding;
    out.jumpgate_client = s.record.jumpgate_client;
    out.key_epoch = s.record.key_epoch;
    out.slot = s.slot;
    out.owner = s.owner;
    out.created_at_ms = s.record.created_at_ms;
    out.counters = s.record.counters;
    if (s.terminated_at_ms == kNever)
        out.traffic = link_.counters(s.slot);
    return out;
}

std::vector<SessionSummary> SessionDirectory::sessions_snapshot() const {
    std::vector<SessionSummary> out;
    out.reserve(sessions_.size());
    for (const auto &[id, s] : sessions_)
        if (auto summary = find_session(id))
            out.push_back(std::move(*summary));
    // Admin pages are cursors over session ids.
    std::sort(out.begin(), out.end(), [](const SessionSummary &a, const SessionSummary &b) {
        return a.session_id < b.session_id;
    });
    return out;
}

std::vector<TransitionNote> SessionDirectory::recent_transitions(uint64_t session_id) const {
    std::vector<TransitionNote> out;
    const auto it = sessions_.find(session_id);
    if (it == sessions_.end())
        return out;
    const Session &s = *it->second;
    for (uint32_t i = s.recent.size(); i > 0; --i)
        out.push_back(s.recent.newest(i - 1));
    return out;
}

Status SessionDirectory::terminate(uint64_t session_id, int64_t now_ms) {
    const auto it = sessions_.find(session_id);
    if (it == sessions_.end())
        return make_error("session " + audit::format_session_id(session_id), "no such session");
    Session &s = *it->second;
    if (s.terminated_at_ms != kNever || s.record.state == SessionState::Terminated)
        return make_error("session " + audit::format_session_id(session_id), "already terminated");
    drive(s, TerminationRequested{Reason::explicit_termination}, now_ms, std::nullopt);
    if (s.record.state != SessionState::Terminated)
        return make_error("session " + audit::format_session_id(session_id),
                          std::string("the session state machine refused the termination in ") +
                              std::string(state_name(s.record.state)));
    return Ok{};
}

size_t SessionDirectory::live_sessions() const {
    return by_slot_.size();
}

// ---- small pieces ----

void SessionDirectory::push_audit(audit::Event e) {
    if (!audit_.try_push(std::move(e)))
        ++stats_.audit_dropped;
}

void SessionDirectory::note_transition(Session &s, const audit::Event &e) {
    TransitionNote n;
    n.ts_ms = e.ts_ms;
    n.state_version = e.state_version;
    if (const auto *c = std::get_if<audit::SessionStateChange>(&e.payload)) {
        n.from_state = c->previous_state;
        n.to_state = c->new_state;
        n.reason = c->reason_code;
    } else if (const auto *t = std::get_if<audit::TransportSwitch>(&e.payload)) {
        n.binding_switch = true;
        n.from_state = n.to_state = s.record.state;
        n.from_transport = t->previous_transport;
        n.to_transport = t->new_transport;
        n.reason = t->reason_code;
    } else {
        return;
    }
    s.recent.push(n);
}

bool SessionDirectory::admit_reattach(Session &s, const TransportAddr &src, int64_t now_ms) {
    if (s.reattach_bucket.spend(now_ms))
        return true;
    ++stats_.reattach_flood;
    if (s.reattach_flood_reported_ms == kNever || now_ms - s.reattach_flood_reported_ms >= 1000) {
        s.reattach_flood_reported_ms = now_ms;
        security_event(&s, Reason::reattach_flood, src, now_ms);
    }
    return false;
}

void SessionDirectory::security_event(const Session *s, Reason violation, const TransportAddr &src,
                                      int64_t now_ms) {
    audit::Event e;
    e.ts_ms = now_ms;
    if (s != nullptr) {
        // About a live session: it carries that session's versions (audit-check holds it so).
        e.session_id = s->record.session_id;
        e.state_version = s->record.state_version;
        e.policy_version = policy_of(*s).version;
    } else {
        e.policy_version = policies_.current()->default_policy().version;
    }
    e.payload = audit::SecurityEvent{violation, src.to_string()};
    push_audit(std::move(e));
}

uint64_t SessionDirectory::fresh_session_id() {
    for (;;) {
        const uint64_t id = random_();
        if (id != 0 && sessions_.find(id) == sessions_.end())
            return id;
    }
}

PathChallenge SessionDirectory::fresh_challenge() {
    const uint64_t v = random_();
    PathChallenge c{};
    for (size_t i = 0; i < c.size(); ++i)
        c[i] = uint8_t(v >> (8 * i));
    return c;
}

void SessionDirectory::check(const Status &st) {
    if (!st)
        ++stats_.dataplane_errors;
}

}  // namespace jg::control
