#include "client_loop.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "client/client_clock.hpp"
#include "client/follow_binding.hpp"
#include "client/heartbeat_ack.hpp"
#include "client/inner_packet.hpp"
#include "client/path_ranking.hpp"
#include "client/tunnel_keys.hpp"
#include "config/keys.hpp"
#include "path_socket.hpp"
#include "proto/control_messages.hpp"
#include "session/reattach.hpp"
#include "session/state_machine.hpp"
#include "session/switch_gate.hpp"
#include "status_socket.hpp"
#include "telemetry/audit_json.hpp"
#include "telemetry/audit_writer.hpp"
#include "tun_device.hpp"

namespace jg::client {
namespace {

// WireGuard's handshake timers (wireguard-go device/timers.go): an initiation unanswered for
// REKEY_TIMEOUT plus up to 333 ms of jitter is retransmitted (a fresh one), for at most
// REKEY_ATTEMPT_TIME. A shorter period would abandon every attempt whose round trip is longer.
constexpr int64_t kRekeyTimeoutMs = int64_t(proto::kRekeyTimeoutNs / proto::kNsPerMs);
constexpr uint32_t kRekeyTimeoutJitterMs = 334;  // exclusive bound
constexpr int64_t kRekeyAttemptTimeMs = int64_t(proto::kRekeyAttemptTimeNs / proto::kNsPerMs);
constexpr int64_t kTickMs = 10;            // FSM timer resolution: adds to failover time
constexpr int64_t kRxFeedIntervalMs = 50;  // data packets prove the path alive at most this often
constexpr int kTunMtu = 1420;
constexpr size_t kBufferBytes = 65536 + 64;

uint64_t random_u64() {
    uint64_t v = 0;
    randombytes_buf(&v, sizeof v);
    return v;
}

void log_line(const std::string &text) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    gmtime_r(&ts.tv_sec, &t);
    std::fprintf(stderr, "%02d:%02d:%02d.%03ld jumpgate-client: %s\n", t.tm_hour, t.tm_min,
                 t.tm_sec, ts.tv_nsec / 1'000'000, text.c_str());
}

std::string_view wire_state_name(proto::WireState s) {
    switch (s) {
        case proto::WireState::attached:
            return "ATTACHED";
        case proto::WireState::volatile_:
            return "VOLATILE";
        case proto::WireState::recovering:
            return "RECOVERING";
        case proto::WireState::degraded:
            return "DEGRADED";
        case proto::WireState::terminated:
            return "TERMINATED";
    }
    return "?";
}

std::string reason_text(uint16_t code) {
    if (code < kReasonCount)
        return std::string(reason_name(static_cast<Reason>(code)));
    return "reason#" + std::to_string(code);
}

struct Path {
    Path(PathSpec s, PathSocket sock, TransportAddr ep, int64_t loss_window_ms)
        : spec(std::move(s)), socket(std::move(sock)), endpoint(ep), health(loss_window_ms) {
        heartbeat.path_id = spec.id;
    }

    PathSpec spec;
    PathSocket socket;
    TransportAddr endpoint;  // where this path sends (gateway or relay)
    PathHealth health;
    bool has_health = false;
    bool can_send = true;
    std::string last_error;
    HeartbeatSequence heartbeat;
    int64_t last_rx_ms = kNeverHeard;         // timer ms
    int64_t last_challenge_ms = kNeverHeard;  // a PATH_CHALLENGE last answered here (timer ms)
    int64_t last_heartbeat_ms = 0;            // timer ms
    uint64_t tx_packets = 0;
    uint64_t rx_packets = 0;
    uint64_t send_errors = 0;
    uint64_t send_dropped = 0;  // datagrams the socket refused alone (buffer full, too large)
};

// A REATTACH_REQUEST sent and not yet answered.
struct PendingReattach {
    size_t path = 0;
    uint64_t nonce = 0;
    int64_t sent_ms = 0;
};

class Loop final : public ClientLoop {
  public:
    Loop(ClientConfig config, std::vector<Path> paths, std::unique_ptr<AuditWriter> audit,
         std::optional<StatusListener> status, int app_fd, std::optional<TunDevice> tun)
        : c_(std::move(config)),
          paths_(std::move(paths)),
          keys_(*c_.identity, c_.gateway_public, c_.psk),
          audit_(std::move(audit)),
          status_(std::move(status)),
          app_fd_(app_fd),
          tun_(std::move(tun)),
          policy_(c_.policy),
          buf_(kBufferBytes),
          plain_(kBufferBytes) {}

    ~Loop() override {
        if (audit_)
            audit_->close();
        if (app_fd_ >= 0)
            close(app_fd_);
    }

    ExitCode run(const std::atomic<bool> &stop) override;

  private:
    // ---- sending ----
    bool send_raw(size_t path, std::span<const uint8_t> bytes, const TransportAddr &to);
    bool send_sealed(size_t path, std::span<const uint8_t> plaintext, const TransportAddr &to);
    bool send_sealed(size_t path, std::span<const uint8_t> plaintext) {
        return send_sealed(path, plaintext, paths_[path].endpoint);
    }
    bool send_control(size_t path, const proto::ControlMessage &m, const TransportAddr &to);
    bool send_control(size_t path, const proto::ControlMessage &m) {
        return send_control(path, m, paths_[path].endpoint);
    }
    // Traffic goes where a pending reattach asks to go only while the active path is silent:
    // an active path that answers again is where the gateway still binds the session, and a
    // candidate that never answered may be as dead as the active path was.
    size_t send_path() const { return reattach_ && active_silent() ? reattach_->path : active_; }

    // ---- the handshake ----
    void start_handshake(size_t path, const char *why, bool retransmit);
    void retransmit_handshake(size_t path);
    void on_handshake_reply(size_t path, std::span<const uint8_t> bytes);

    // ---- receiving ----
    void drain_path(size_t path);
    void on_transport(size_t path, const TransportAddr &from, std::span<const uint8_t> bytes);
    void on_control(size_t path, const TransportAddr &from, std::span<const uint8_t> bytes);
    void note_gateway_state(proto::WireState state, uint64_t version);
    void on_hello_ack(const proto::HelloAck &m);
    void on_heartbeat_ack(size_t path, const proto::HeartbeatAck &m);
    void on_reattach_result(size_t path, const proto::ReattachResult &m);
    void on_inner(std::span<const uint8_t> packet);
    void confirm_switch_by_traffic(size_t path);
    void follow_gateway(size_t path, const std::string &why);
    FollowInputs follow_inputs() const;
    void reconcile();
    bool active_silent() const;
    void drain_app();
    void drain_tun();
    void send_inner(std::span<const uint8_t> packet);

    // ---- the session ----
    void drive(const SessionEvent &e);
    void timers();
    void heartbeats();
    void consider_switch();
    void try_reattach(proto::ReattachReason why);
    std::optional<size_t> path_of(const TransportAddr &local) const;
    void terminate(Reason reason, const std::string &how);

    std::string status_json() const;

    ClientClock clock_;
    ClientConfig c_;
    std::vector<Path> paths_;
    TunnelKeys keys_;
    std::unique_ptr<AuditWriter> audit_;
    std::optional<StatusListener> status_;
    int app_fd_ = -1;
    std::optional<TunDevice> tun_;
    Policy policy_;  // the local policy with the gateway's HELLO_ACK hints applied

    std::vector<uint8_t> buf_;
    std::vector<uint8_t> plain_;

    size_t active_ = 0;
    size_t handshake_path_ = 0;
    int64_t retransmit_at_ms_ = 0;     // the attempt in flight is retransmitted then (timer ms)
    int64_t attempts_since_ms_ = 0;    // first initiation of the current attempts (timer ms)
    bool handshake_given_up_ = false;  // REKEY_ATTEMPT_TIME passed without a response
    int64_t first_handshake_ms_ = 0;
    bool hello_acked_ = false;
    int64_t hello_sent_ms_ = 0;
    std::optional<SessionRecord> record_;
    std::optional<PendingReattach> reattach_;
    int64_t next_reattach_ms_ = 0;
    size_t candidate_turn_ = 0;  // rotates retries through the ranking
    int64_t next_tick_ms_ = 0;
    int64_t last_rx_feed_ms_ = 0;

    // What the gateway last said.
    std::string gateway_state = "-";
    uint64_t gateway_state_version_ = 0;
    std::string last_hint_;
    uint64_t path_challenges_answered_ = 0;
    uint64_t reattach_sent_ = 0;
    uint64_t reattach_accepted_ = 0;
    uint64_t reattach_denied_ = 0;

    // Application side.
    TransportAddr app_peer_;
    uint16_t ip_id_ = 0;
    uint64_t app_sent_ = 0;      // inner packets into the tunnel
    uint64_t app_received_ = 0;  // inner packets out of the tunnel
    uint64_t app_dropped_ = 0;   // no keys, not deliverable, or not wrappable

    std::optional<ExitCode> exit_;
};

// ---- sending ----

bool Loop::send_raw(size_t path, std::span<const uint8_t> bytes, const TransportAddr &to) {
    Path &p = paths_[path];
    const auto sent = p.socket.send_to(bytes, to);
    if (sent && !*sent) {
        ++p.send_dropped;  // this datagram only: the path still sends
        return false;
    }
    if (!sent) {
        ++p.send_errors;
        if (p.can_send || p.last_error != sent.error().message())
            log_line(sent.error().message());
        p.can_send = false;
        p.last_error = sent.error().message();
        return false;
    }
    if (!p.can_send)
        log_line("path " + p.spec.name + " sends again");
    p.can_send = true;
    ++p.tx_packets;
    return true;
}

bool Loop::send_sealed(size_t path, std::span<const uint8_t> plaintext, const TransportAddr &to) {
    const std::vector<uint8_t> msg = keys_.seal(plaintext);
    if (msg.empty())
        return false;
    return send_raw(path, msg, to);
}

bool Loop::send_control(size_t path, const proto::ControlMessage &m, const TransportAddr &to) {
    std::array<uint8_t, 64> out{};
    const size_t n = proto::encode_control(m, out);
    return n != 0 && send_sealed(path, std::span<const uint8_t>(out.data(), n), to);
}

// ---- the handshake ----

void Loop::start_handshake(size_t path, const char *why, bool retransmit) {
    const int64_t now = clock_.timer_ms();
    if (!retransmit) {
        attempts_since_ms_ = now;
        handshake_given_up_ = false;
    }
    // Also after a failure to build one, so a persistent error is not retried every tick.
    retransmit_at_ms_ = now + kRekeyTimeoutMs + randombytes_uniform(kRekeyTimeoutJitterMs);
    auto init = keys_.start_handshake(clock_.wall_ns(), clock_.timer_ns(), path);
    if (!init) {
        log_line(init.error().message());
        return;
    }
    handshake_path_ = path;
    send_raw(path, *init, paths_[path].endpoint);
    log_line(std::string("handshake initiation (") + why + ") on path " + paths_[path].spec.name);
}

void Loop::retransmit_handshake(size_t path) {
    const int64_t now = clock_.timer_ms();
    if (handshake_given_up_ || now < retransmit_at_ms_)
        return;
    if (now - attempts_since_ms_ >= kRekeyAttemptTimeMs) {
        log_line("no handshake response within " + std::to_string(kRekeyAttemptTimeMs) +
                 " ms (REKEY_ATTEMPT_TIME): no more retransmits");
        handshake_given_up_ = true;
        return;
    }
    start_handshake(path, "retransmit", true);
}

void Loop::on_handshake_reply(size_t path, std::span<const uint8_t> bytes) {
    const bool first = !keys_.has_keys();
    switch (keys_.consume_reply(bytes, clock_.timer_ns(), path)) {
        case ReplyOutcome::ignored:
            return;
        case ReplyOutcome::cookie_stored:
            // The attempt in flight stays pending: its response may still come.
            log_line("cookie reply on path " + paths_[path].spec.name +
                     ": the gateway is under load; the next initiation there carries mac2");
            return;
        case ReplyOutcome::completed:
            break;
    }
    log_line("handshake complete on path " + paths_[path].spec.name + " (key epoch " +
             std::to_string(keys_.completed_handshakes() - 1) + ")");
    if (first) {
        active_ = path;
        // HELLO doubles as the key confirmation the responder waits for.
        proto::Hello hello;
        hello.n_paths = static_cast<uint8_t>(paths_.size());
        for (size_t i = 0; i < paths_.size(); ++i)
            hello.path_ids[i] = paths_[i].spec.id;
        send_control(active_, hello);
        hello_sent_ms_ = clock_.timer_ms();
        return;
    }
    // Rekey: confirm the new keypair at once so the gateway starts using it.
    send_sealed(path, {});
    if (record_)
        drive(HandshakeCompleted{paths_[active_].socket.local(), encode_key(c_.gateway_public),
                                 keys_.completed_handshakes() - 1});
}

// ---- receiving ----

void Loop::drain_path(size_t path) {
    for (int budget = 0; budget < 256; ++budget) {
        auto got = paths_[path].socket.receive(buf_);
        if (!got) {
            log_line(got.error().message());
            return;
        }
        if (!got->has_value())
            return;
        const ReceivedDatagram d = **got;
        const std::span<const uint8_t> bytes(buf_.data(), d.length);
        const auto kind = proto::classify_outer_payload(bytes);
        if (!kind.ok())
            continue;
        if (kind.type == proto::MessageType::transport)
            on_transport(path, d.from, bytes);
        else if (kind.type == proto::MessageType::response ||
                 kind.type == proto::MessageType::cookie_reply)
            on_handshake_reply(path, bytes);
    }
}

void Loop::on_transport(size_t path, const TransportAddr &from, std::span<const uint8_t> bytes) {
    auto opened = keys_.open(bytes, clock_.timer_ns());
    if (!opened)
        return;
    Path &p = paths_[path];
    const int64_t now = clock_.timer_ms();
    p.last_rx_ms = now;
    ++p.rx_packets;
    const proto::PlaintextClass cls = proto::classify_plaintext(opened->plaintext);
    const std::span<const uint8_t> content(opened->plaintext.data(), cls.length);
    switch (cls.kind) {
        case proto::PlaintextKind::control:
            on_control(path, from, content);
            break;
        case proto::PlaintextKind::ipv4:
        case proto::PlaintextKind::ipv6:
            on_inner(content);
            [[fallthrough]];
        case proto::PlaintextKind::keepalive:
            confirm_switch_by_traffic(path);
            // Traffic on the active path proves it alive, as the gateway counts it.
            if (record_ && path == active_ && now - last_rx_feed_ms_ >= kRxFeedIntervalMs) {
                last_rx_feed_ms_ = now;
                drive(HeartbeatReceived{0, -1.0, 0, 0});
            }
            break;
        case proto::PlaintextKind::invalid:
            break;
    }
}

void Loop::on_control(size_t path, const TransportAddr &from, std::span<const uint8_t> bytes) {
    const proto::ControlDecoded dec = proto::decode_control(bytes);
    if (!dec.ok())
        return;
    std::visit(
        [&](const auto &m) {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, proto::HelloAck>) {
                on_hello_ack(m);
            } else if constexpr (std::is_same_v<M, proto::HeartbeatAck>) {
                on_heartbeat_ack(path, m);
            } else if constexpr (std::is_same_v<M, proto::PathChallenge>) {
                // Answered from the path it reached, to whoever sent it: the gateway is
                // validating exactly this address (a reattach or a NAT rebinding).
                send_control(path, proto::PathResponse{m.data}, from);
                ++path_challenges_answered_;
                paths_[path].last_challenge_ms = clock_.timer_ms();
                log_line("path challenge on " + paths_[path].spec.name + " answered");
            } else if constexpr (std::is_same_v<M, proto::ReattachResult>) {
                on_reattach_result(path, m);
            } else if constexpr (std::is_same_v<M, proto::StateHint>) {
                gateway_state_version_ = std::max(gateway_state_version_, m.state_version);
                last_hint_ = std::string(m.state == proto::HintState::volatile_  ? "VOLATILE"
                                         : m.state == proto::HintState::degraded ? "DEGRADED"
                                                                                 : "TERMINATING") +
                             " (" + reason_text(m.reason) + ")";
                log_line("gateway state hint: " + last_hint_);
            } else if constexpr (std::is_same_v<M, proto::Terminate>) {
                Reason r = m.reason < kReasonCount ? static_cast<Reason>(m.reason)
                                                   : Reason::explicit_termination;
                if (!is_terminal_reason(r))
                    r = Reason::explicit_termination;
                terminate(r, "terminated by the gateway");
            }
            // HELLO, HEARTBEAT, REATTACH_REQUEST and PATH_RESPONSE only flow the other way.
        },
        dec.message);
}

// state_version only grows: a message older than what the gateway told us since speaks of a
// state it has left.
void Loop::note_gateway_state(proto::WireState state, uint64_t version) {
    if (version < gateway_state_version_)
        return;
    gateway_state = std::string(wire_state_name(state));
    gateway_state_version_ = version;
}

void Loop::on_hello_ack(const proto::HelloAck &m) {
    note_gateway_state(m.state, m.state_version);
    // The gateway's timing is authoritative for the exchange both sides time: heartbeats,
    // loss threshold, proof age. Switching limits stay the local policy's.
    Policy hinted = policy_;
    if (m.heartbeat_interval_ms != 0)
        hinted.volatility.heartbeat_interval_ms = m.heartbeat_interval_ms;
    if (m.heartbeat_volatile_ms != 0)
        hinted.volatility.heartbeat_volatile_ms = m.heartbeat_volatile_ms;
    if (m.loss_volatile_permille != 0)
        hinted.volatility.loss_volatile_threshold = m.loss_volatile_permille / 1000.0;
    if (m.reattach_proof_max_age_ms != 0)
        hinted.security.reattach_proof_max_age_ms = m.reattach_proof_max_age_ms;
    if (validate_policy(hinted))
        policy_ = hinted;
    if (hello_acked_)
        return;
    hello_acked_ = true;
    record_ = make_session(m.session_id, policy_.name);
    log_line("attached: session " + audit::format_session_id(m.session_id) + " on path " +
             paths_[active_].spec.name + ", heartbeat every " +
             std::to_string(policy_.volatility.heartbeat_interval_ms) + " ms");
    drive(HandshakeCompleted{paths_[active_].socket.local(), encode_key(c_.gateway_public),
                             keys_.completed_handshakes() - 1});
    // Both ends speak the extensions: the machine times our silence like the gateway's.
    drive(HelloReceived{});
}

void Loop::on_heartbeat_ack(size_t path, const proto::HeartbeatAck &m) {
    Path &p = paths_[path];
    const int64_t now = clock_.timer_ms();
    const auto sample = take_heartbeat_ack(m, p.heartbeat, now, policy_.volatility.loss_window_ms);
    if (!sample) {
        log_line("heartbeat ack on path " + p.spec.name + " answers no heartbeat sent there");
        return;
    }
    note_gateway_state(m.state, m.state_version);
    p.health.set_loss_window(policy_.volatility.loss_window_ms);
    p.health.on_heartbeat(now, sample->seq, sample->rtt_ms);
    p.health.on_rx(now, 1, sample->lost);
    p.has_health = true;
    if (record_ && path == active_)
        drive(HeartbeatReceived{sample->seq, sample->rtt_ms, 1, sample->lost});
}

bool Loop::active_silent() const {
    const Path &active = paths_[active_];
    return active.last_rx_ms == kNeverHeard ||
           clock_.timer_ms() - active.last_rx_ms >= policy_.volatility.heartbeat_volatile_ms;
}

// The gateway sends inner traffic and keepalives only to its binding: arriving on another path
// they prove the gateway moved there, even if REATTACH_RESULT was lost (a retried request
// would only be refused, the gateway being ATTACHED there already). While the active path
// still hears the gateway they are stragglers sent before its last move.
void Loop::confirm_switch_by_traffic(size_t path) {
    if (!record_ || path == active_)
        return;
    const bool awaited = record_->state == SessionState::Recovering && record_->pending.active &&
                         record_->pending.candidate == paths_[path].socket.local();
    if (!awaited && !active_silent())
        return;
    follow_gateway(path, "gateway traffic arrives on path " + paths_[path].spec.name);
}

// Fresh challenge and nonce for the events that make our machine follow the gateway.
FollowInputs Loop::follow_inputs() const {
    FollowInputs in;
    randombytes_buf(in.challenge.data(), in.challenge.size());
    in.nonce = random_u64();
    in.now_ms = clock_.timer_ms();
    return in;
}

// The gateway has bound the session to `path`: our machine and our sending follow.
void Loop::follow_gateway(size_t path, const std::string &why) {
    if (!record_ || exit_)
        return;
    reattach_.reset();
    const TransportAddr local = paths_[path].socket.local();
    if (path == active_ && record_->binding == local)
        return;
    log_line(why + ": the gateway is bound there");
    const bool recorded = follow_binding(*record_, local, follow_inputs(),
                                         [this](const SessionEvent &e) { drive(e); });
    if (exit_ || path == active_)
        return;
    // Recorded, a SwitchBinding moved active_ already, unless the machine was bound there all
    // along (a reattach back to its binding while we sent elsewhere). Not recorded: our own
    // switching policy refused, but the gateway sends only there; reconcile_binding() records
    // it once that policy allows.
    log_line("active path " + paths_[active_].spec.name + " -> " + paths_[path].spec.name +
             (recorded ? "" : " (not recorded yet: local policy denied the switch)"));
    active_ = path;
    paths_[active_].last_rx_ms = clock_.timer_ms();
}

// The gateway is bound to the active path while our machine names another binding (its
// policy refused to record the move): recorded as soon as that policy allows, while the
// active path hears the gateway and no reattach of ours is under way.
void Loop::reconcile() {
    if (!record_ || exit_ || reattach_ || active_silent())
        return;
    const TransportAddr local = paths_[active_].socket.local();
    if (record_->binding == local)
        return;
    const std::string name = paths_[active_].spec.name;
    if (reconcile_binding(*record_, local, policy_, follow_inputs(),
                          [this](const SessionEvent &e) { drive(e); }))
        log_line("the move to path " + name + " is recorded");
}

void Loop::on_reattach_result(size_t path, const proto::ReattachResult &m) {
    // state_version only grows: a result older than what the gateway told us since speaks of
    // a binding it has left again.
    const bool current = m.state_version >= gateway_state_version_;
    gateway_state_version_ = std::max(gateway_state_version_, m.state_version);
    if (!m.accepted) {
        ++reattach_denied_;
        log_line("reattach on path " + paths_[path].spec.name +
                 " denied: " + reason_text(m.reason));
        if (reattach_ && reattach_->path == path)
            reattach_.reset();
        // Our active path is dead, yet the gateway is ATTACHED or calls this path no
        // candidate, and it validated this path (we answered its challenge here) after the
        // active path last heard it: a lost REATTACH_RESULT moved it here. A refusal alone
        // proves nothing (it may be ATTACHED elsewhere).
        std::vector<int64_t> challenged;
        for (const Path &p : paths_)
            challenged.push_back(p.last_challenge_ms);
        const bool bound_here =
            refusal_shows_binding(m.reason, path, challenged, paths_[active_].last_rx_ms);
        if (current && bound_here && path != active_ && active_silent())
            follow_gateway(path, "reattach on path " + paths_[path].spec.name + " refused");
        return;
    }
    ++reattach_accepted_;
    log_line("reattach on path " + paths_[path].spec.name + " accepted");
    if (!current) {
        log_line("(an old result: the gateway has moved since)");
        return;
    }
    // The gateway validated the path and switched: authoritative, whatever our machine
    // expected (another candidate, or none after its recovery window).
    follow_gateway(path, "reattach on path " + paths_[path].spec.name + " accepted");
}

// ---- the application side ----

void Loop::on_inner(std::span<const uint8_t> packet) {
    if (tun_) {
        if (write(tun_->fd(), packet.data(), packet.size()) < 0)
            ++app_dropped_;
        else
            ++app_received_;
        return;
    }
    if (!app_peer_.valid()) {
        ++app_dropped_;
        return;
    }
    std::span<const uint8_t> out = packet;
    if (c_.app_mode == AppMode::udp) {
        const auto udp = unwrap_udp(packet);
        if (!udp) {
            ++app_dropped_;
            return;
        }
        out = udp->payload;
    }
    const sockaddr_in to = to_sockaddr(app_peer_);
    if (sendto(app_fd_, out.data(), out.size(), 0, reinterpret_cast<const sockaddr *>(&to),
               sizeof to) < 0)
        ++app_dropped_;
    else
        ++app_received_;
}

void Loop::send_inner(std::span<const uint8_t> packet) {
    if (!keys_.has_keys() || !send_sealed(send_path(), packet))
        ++app_dropped_;
    else
        ++app_sent_;
}

void Loop::drain_app() {
    std::vector<uint8_t> packet(kBufferBytes);
    for (int budget = 0; budget < 256; ++budget) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n = recvfrom(app_fd_, buf_.data(), kMaxInnerPacketBytes, 0,
                                   reinterpret_cast<sockaddr *>(&from), &len);
        if (n < 0)
            return;
        app_peer_ = from_sockaddr(from);
        const std::span<const uint8_t> payload(buf_.data(), size_t(n));
        if (c_.app_mode == AppMode::ip) {
            const auto cls = proto::classify_plaintext(payload);
            if (cls.kind != proto::PlaintextKind::ipv4 && cls.kind != proto::PlaintextKind::ipv6) {
                ++app_dropped_;
                continue;
            }
            send_inner(payload.first(cls.length));
            continue;
        }
        UdpFlow flow;
        flow.src_addr = c_.tunnel_addresses.front();
        flow.src_port = c_.inner_source_port;
        uint32_t dst = 0;
        std::memcpy(&dst, c_.inner_destination.addr.data(), 4);
        flow.dst_addr = ntohl(dst);
        flow.dst_port = c_.inner_destination.port;
        const size_t len_out = wrap_udp(flow, ip_id_++, payload, packet);
        if (len_out == 0) {
            ++app_dropped_;
            continue;
        }
        send_inner({packet.data(), len_out});
    }
}

void Loop::drain_tun() {
    for (int budget = 0; budget < 256; ++budget) {
        const ssize_t n = read(tun_->fd(), buf_.data(), buf_.size());
        if (n <= 0)
            return;
        send_inner({buf_.data(), size_t(n)});
    }
}

// ---- the session ----

std::optional<size_t> Loop::path_of(const TransportAddr &local) const {
    for (size_t i = 0; i < paths_.size(); ++i)
        if (paths_[i].socket.local() == local)
            return i;
    return std::nullopt;
}

void Loop::drive(const SessionEvent &e) {
    if (!record_)
        return;
    StepResult r = step_at(clock_, *record_, e, policy_);
    for (audit::Event &ev : r.audit) {
        if (const auto *sc = std::get_if<audit::SessionStateChange>(&ev.payload))
            log_line(std::string("state ") + std::string(state_name(sc->previous_state)) + " -> " +
                     std::string(state_name(sc->new_state)) + " (" +
                     std::string(reason_name(sc->reason_code)) + ")");
        if (audit_)
            audit_->try_push(std::move(ev));
    }
    for (const Action &a : r.actions) {
        if (const auto *sw = std::get_if<SwitchBinding>(&a)) {
            if (auto idx = path_of(sw->to)) {
                log_line("active path " + paths_[active_].spec.name + " -> " +
                         paths_[*idx].spec.name);
                active_ = *idx;
                paths_[active_].last_rx_ms = clock_.timer_ms();
            }
        } else if (const auto *t = std::get_if<jg::Terminate>(&a)) {
            if (!exit_) {
                // Our own machine ended the session (lifetime, transport TTL, keys): tell the
                // gateway in case it still listens.
                send_control(active_, proto::Terminate{static_cast<uint16_t>(t->reason)});
                log_line("session terminated: " + std::string(reason_name(t->reason)));
                exit_ = ExitCode::session_terminated;
            }
        }
        // Path challenges, hints, HELLO_ACK and reattach results are the gateway's to send.
    }
}

void Loop::terminate(Reason reason, const std::string &how) {
    log_line(how + ": " + std::string(reason_name(reason)));
    if (record_ && record_->state != SessionState::Terminated) {
        StepResult r = step_at(clock_, *record_, TerminationRequested{reason}, policy_);
        for (audit::Event &ev : r.audit)
            if (audit_)
                audit_->try_push(std::move(ev));
    }
    exit_ = ExitCode::session_terminated;
}

void Loop::heartbeats() {
    const int64_t now = clock_.timer_ms();
    const int64_t interval = policy_.volatility.heartbeat_interval_ms;
    for (size_t i = 0; i < paths_.size(); ++i) {
        Path &p = paths_[i];
        const bool probe = i == active_ || c_.probe_standby;
        if (!probe || now - p.last_heartbeat_ms < interval)
            continue;
        p.last_heartbeat_ms = now;
        const HealthSnapshot h = p.health.snapshot(now);
        proto::Heartbeat hb;
        hb.seq = p.heartbeat.send(now);
        hb.path_id = p.spec.id;
        hb.send_ts_ms = uint64_t(now);
        hb.loss_permille = wire_permille(h.loss_ratio);
        hb.rtt_us = wire_us(h.rtt_ms);
        hb.jitter_us = wire_us(h.jitter_ms);
        send_control(i, hb);
    }
}

void Loop::try_reattach(proto::ReattachReason why) {
    const int64_t now = clock_.timer_ms();
    std::vector<PathStanding> standing;
    for (Path &p : paths_) {
        PathStanding s;
        s.id = p.spec.id;
        s.open = p.socket.local().valid();
        s.can_send = p.can_send;
        s.last_rx_ms = p.last_rx_ms;
        s.has_health = p.has_health;
        s.health = p.health.snapshot(now);
        standing.push_back(s);
    }
    const uint8_t active_id = paths_[active_].spec.id;
    const int64_t fresh_ms = policy_.volatility.heartbeat_volatile_ms;
    const auto ranked = rank_candidates(standing, active_id, now, fresh_ms);
    if (ranked.empty())
        return;
    // A retry moves down the ranking: a path that did not answer may be as dead as ours.
    const uint8_t id = ranked[candidate_turn_++ % ranked.size()];
    const size_t idx = size_t(id - 1);
    const TransportAddr candidate = paths_[idx].socket.local();
    // Only while our machine names another binding than the active path (the gateway moved
    // us there and our policy has not let us record it yet): the machine is bound to the
    // candidate already and has nothing to validate, while the gateway must be asked to move.
    const bool machine_there = candidate == record_->binding;
    if (const GateVerdict g = check_switch_gate(record_->switches, policy_, now);
        !g.allowed && !machine_there) {
        // Audited once (the step below records the denial); retried when the gate opens, the
        // rate window's as well as the cooldown's.
        const int64_t opens = switch_gate_opens_ms(record_->switches, policy_, now);
        next_reattach_ms_ = std::max<int64_t>(opens, now + 100);
    }
    PathChallenge challenge{};
    randombytes_buf(challenge.data(), challenge.size());
    ReattachRequest req;
    req.client_time_ms = now;  // our own machine judges freshness on its own time line
    req.nonce = random_u64();
    req.candidate = candidate;
    req.client_state_version = gateway_state_version_;
    req.challenge = challenge;
    if (!machine_there)
        drive(req);
    if (!machine_there &&
        (!record_ || record_->state != SessionState::Recovering || !record_->pending.active ||
         record_->pending.candidate != candidate || record_->pending.challenge != challenge)) {
        // Our own policy said no (cooldown, rate, window, candidate): not sent.
        if (next_reattach_ms_ <= now)
            next_reattach_ms_ = now + policy_.volatility.heartbeat_interval_ms;
        return;
    }
    proto::ReattachRequest m;
    m.session_id = record_->session_id;
    m.path_id = paths_[idx].spec.id;
    m.reason = why;
    // The gateway compares this with its own idea of wall time.
    m.client_time_ms = uint64_t(clock_.wall_ms());
    m.nonce = req.nonce;
    m.last_state_version = gateway_state_version_;
    if (send_control(idx, m)) {
        ++reattach_sent_;
        log_line("reattach request on path " + paths_[idx].spec.name + " (" +
                 (why == proto::ReattachReason::path_lost ? "path_lost" : "path_degraded") + ")");
    }
    reattach_ = PendingReattach{idx, m.nonce, now};
    next_reattach_ms_ = now + reattach_retry_ms(policy_.volatility.heartbeat_volatile_ms);
}

void Loop::consider_switch() {
    if (!record_ || exit_)
        return;
    const int64_t now = clock_.timer_ms();
    const SessionState s = record_->state;
    if (s == SessionState::Attached) {
        reattach_.reset();
        candidate_turn_ = 0;
        return;
    }
    if (now < next_reattach_ms_)
        return;
    const Path &active = paths_[active_];
    const bool silent = active.last_rx_ms == kNeverHeard ||
                        now - active.last_rx_ms >= policy_.volatility.heartbeat_volatile_ms;
    if (silent) {
        try_reattach(proto::ReattachReason::path_lost);
        return;
    }
    // Alive but unhealthy: move only to a measured candidate that is healthy and better by
    // the policy's improvement factor (the same rule the gateway applies).
    if (s != SessionState::Volatile && s != SessionState::Degraded)
        return;
    const HealthSnapshot mine = record_->health;
    for (size_t i = 0; i < paths_.size(); ++i) {
        Path &p = paths_[i];
        if (i == active_ || !p.has_health || p.last_rx_ms == kNeverHeard ||
            now - p.last_rx_ms >= policy_.volatility.heartbeat_volatile_ms)
            continue;
        const HealthSnapshot theirs = p.health.snapshot(now);
        if (theirs.loss_ratio > policy_.volatility.loss_volatile_threshold)
            continue;
        if (improvement_justifies_switch(path_score(mine), path_score(theirs), policy_)) {
            candidate_turn_ = 0;
            try_reattach(proto::ReattachReason::path_degraded);
            return;
        }
    }
}

void Loop::timers() {
    const int64_t now = clock_.timer_ms();
    if (!keys_.has_keys()) {
        if (now - first_handshake_ms_ >= c_.handshake_timeout_ms || handshake_given_up_) {
            log_line("no handshake with " + c_.gateway_endpoint.to_string() + " within " +
                     std::to_string(now - first_handshake_ms_) + " ms");
            exit_ = ExitCode::handshake_failed;
            return;
        }
        // Paths take turns: the first may be the broken one.
        retransmit_handshake((handshake_path_ + 1) % paths_.size());
        return;
    }
    if (keys_.needs_rekey(clock_.timer_ns())) {
        if (!keys_.handshake_in_flight())
            start_handshake(send_path(), "rekey", false);
        else
            retransmit_handshake(send_path());
    }
    if (keys_.expire(clock_.timer_ns())) {
        drive(KeyExpired{});
        if (!record_)
            exit_ = ExitCode::session_terminated;
        return;
    }
    if (!hello_acked_) {
        if (now - hello_sent_ms_ >= policy_.volatility.heartbeat_interval_ms) {
            proto::Hello hello;
            hello.n_paths = static_cast<uint8_t>(paths_.size());
            for (size_t i = 0; i < paths_.size(); ++i)
                hello.path_ids[i] = paths_[i].spec.id;
            send_control(active_, hello);
            hello_sent_ms_ = now;
        }
        return;
    }
    heartbeats();
    if (now >= next_tick_ms_) {
        next_tick_ms_ = now + kTickMs;
        drive(TimerTick{});
        reconcile();
        consider_switch();
    }
}

std::string Loop::status_json() const {
    using nlohmann::json;
    const int64_t now = clock_.timer_ms();
    json j;
    j["state"] = record_ ? std::string(state_name(record_->state))
                         : (keys_.has_keys() ? "HELLO" : "HANDSHAKE");
    j["session_id"] = record_ ? audit::format_session_id(record_->session_id) : "";
    j["state_version"] = record_ ? record_->state_version : 0;
    j["active_path"] = paths_[active_].spec.name;
    j["key_epoch"] = keys_.has_keys() ? keys_.completed_handshakes() - 1 : 0;
    j["gateway"] = {{"endpoint", c_.gateway_endpoint.to_string()},
                    {"state", gateway_state},
                    {"state_version", gateway_state_version_},
                    {"last_hint", last_hint_}};
    j["switches"] = record_ ? record_->counters.total_switches : 0;
    j["reattach"] = {{"sent", reattach_sent_},
                     {"accepted", reattach_accepted_},
                     {"denied", reattach_denied_},
                     {"pending", reattach_ ? paths_[reattach_->path].spec.name : ""}};
    j["path_challenges_answered"] = path_challenges_answered_;
    j["app"] = {{"sent", app_sent_}, {"received", app_received_}, {"dropped", app_dropped_}};
    json list = json::array();
    for (size_t i = 0; i < paths_.size(); ++i) {
        const Path &p = paths_[i];
        PathHealth h = p.health;
        const HealthSnapshot s = h.snapshot(now);
        list.push_back({{"name", p.spec.name},
                        {"id", p.spec.id},
                        {"local", p.socket.local().to_string()},
                        {"endpoint", p.endpoint.to_string()},
                        {"active", i == active_},
                        {"can_send", p.can_send},
                        {"last_error", p.last_error},
                        {"measured", p.has_health},
                        {"rtt_ms", s.rtt_ms},
                        {"jitter_ms", s.jitter_ms},
                        {"loss", s.loss_ratio},
                        {"last_rx_age_ms", p.last_rx_ms == kNeverHeard ? -1 : now - p.last_rx_ms},
                        {"tx_packets", p.tx_packets},
                        {"rx_packets", p.rx_packets},
                        {"send_errors", p.send_errors},
                        {"send_dropped", p.send_dropped}});
    }
    j["paths"] = list;
    return j.dump();
}

ExitCode Loop::run(const std::atomic<bool> &stop) {
    first_handshake_ms_ = clock_.timer_ms();
    start_handshake(0, "start", false);
    std::vector<pollfd> fds;
    while (!stop.load() && !exit_) {
        fds.clear();
        for (const Path &p : paths_)
            fds.push_back({p.socket.fd(), POLLIN, 0});
        const size_t extra = fds.size();
        if (app_fd_ >= 0)
            fds.push_back({app_fd_, POLLIN, 0});
        if (tun_)
            fds.push_back({tun_->fd(), POLLIN, 0});
        if (status_)
            fds.push_back({status_->fd(), POLLIN, 0});
        const int n = poll(fds.data(), fds.size(), 10);
        if (n > 0) {
            for (size_t i = 0; i < paths_.size(); ++i)
                if (fds[i].revents & POLLIN)
                    drain_path(i);
            size_t k = extra;
            if (app_fd_ >= 0 && (fds[k++].revents & POLLIN) && !exit_)
                drain_app();
            if (tun_) {
                const short ev = fds[k++].revents;
                // A deleted TUN device leaves its fd in error for good: poll would never wait
                // again, and there is no app side left to carry.
                if ((ev & (POLLERR | POLLHUP | POLLNVAL)) && !exit_) {
                    log_line("the TUN device " + c_.tun_name + " went away; exiting");
                    exit_ = ExitCode::app_side_lost;
                } else if ((ev & POLLIN) && !exit_) {
                    drain_tun();
                }
            }
            if (status_ && (fds[k++].revents & POLLIN))
                status_->serve(status_json());
        }
        if (!exit_)
            timers();
    }
    if (status_)
        status_->serve(status_json());
    if (audit_)
        audit_->close();
    return exit_.value_or(ExitCode::stopped);
}

}  // namespace

Result<std::unique_ptr<ClientLoop>> ClientLoop::create(ClientConfig config) {
    std::vector<Path> paths;
    for (const PathSpec &spec : config.paths) {
        // The kernel picks the port: judge the address alone, as the state machine will.
        TransportAddr probe = spec.source.value_or(TransportAddr{});
        probe.port = 1;
        if (spec.source && config.paths.size() > 1 && !transport_candidate_valid(probe, {}))
            log_line("warning: path " + spec.name +
                     " uses a loopback, unspecified or multicast source; the session state "
                     "machine refuses such switch candidates, so no switch to it will be made "
                     "(use a routable address, e.g. in a namespace)");
        auto sock = PathSocket::open(spec);
        if (!sock)
            return sock.error();
        paths.push_back(Path(spec, std::move(*sock),
                             spec.endpoint.value_or(config.gateway_endpoint),
                             config.policy.volatility.loss_window_ms));
    }
    std::unique_ptr<AuditWriter> audit;
    if (!config.log_json.empty()) {
        auto sink = AuditFileSink::open(config.log_json);
        if (!sink)
            return make_error("--log-json", sink.error().message());
        AuditWriterOptions opts;
        opts.node_id = config.node_id;
        opts.capacity = 4096;
        audit = std::make_unique<AuditWriter>(std::shared_ptr<AuditSink>(std::move(*sink)), opts);
    }
    std::optional<StatusListener> status;
    if (!config.status_socket.empty()) {
        auto l = StatusListener::listen(config.status_socket);
        if (!l)
            return make_error("--status-socket", l.error().message());
        status.emplace(std::move(*l));
    }
    int app_fd = -1;
    std::optional<TunDevice> tun;
    if (config.headless) {
        auto fd = open_udp_socket(config.app_socket);
        if (!fd)
            return make_error("--app-socket", fd.error().message());
        app_fd = *fd;
    } else {
        auto dev = TunDevice::open(config.tun_name, config.tunnel_addresses, kTunMtu);
        if (!dev)
            return dev.error();
        tun.emplace(std::move(*dev));
    }
    return std::unique_ptr<ClientLoop>(std::make_unique<Loop>(std::move(config), std::move(paths),
                                                              std::move(audit), std::move(status),
                                                              app_fd, std::move(tun)));
}

}  // namespace jg::client
