#include "control/admin_endpoint.hpp"

#include <rte_telemetry.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string_view>

#include "config/policy_file.hpp"
#include "control/admin_requests.hpp"
#include "control/control_clock.hpp"
#include "control/control_core.hpp"
#include "control/control_loop.hpp"
#include "telemetry/audit_json.hpp"

namespace jg::control {

// Shared by the endpoint (control lcore) and the command callbacks (telemetry threads).
struct AdminEndpointState {
    AdminSources sources;
    AdminRequestQueue requests;
    std::mutex snapshot_mutex;
    std::condition_variable snapshot_published;
    std::shared_ptr<const AdminSnapshot> snapshot;  // guarded by snapshot_mutex
    // Set by readers, cleared by the control lcore when it publishes: copying every session
    // costs the control lcore time, so it publishes only while someone reads.
    std::atomic<bool> wanted{true};
    // Set by a reader of the session list: the next snapshot copies the sessions too.
    std::atomic<bool> sessions_wanted{false};
    bool closing = false;  // guarded by snapshot_mutex: no more snapshots will come

    // A snapshot at most two publish intervals old (waiting for the control lcore to make
    // one if need be), with a session list at most `list_max_age_ms` old if that is given, or
    // nullptr if it made none within kAdminRequestTimeoutMs.
    std::shared_ptr<const AdminSnapshot> current(std::optional<int64_t> list_max_age_ms = {}) {
        const bool with_sessions = list_max_age_ms.has_value();
        const auto fresh = [&] {
            const int64_t now = control_clock().now_ms();
            return snapshot != nullptr &&
                   now - snapshot->taken_at_ms <= 2 * kAdminPublishIntervalMs &&
                   (!with_sessions || (snapshot->sessions != nullptr &&
                                       now - snapshot->sessions_taken_at_ms <= *list_max_age_ms));
        };
        const auto deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(kAdminRequestTimeoutMs);
        std::unique_lock lock(snapshot_mutex);
        // Asked again on every wake: another reader's publish may have used the request up.
        // Release: the control lcore, seeing `wanted`, sees `sessions_wanted` too.
        while (!closing && !fresh() && std::chrono::steady_clock::now() < deadline) {
            if (with_sessions)
                sessions_wanted.store(true, std::memory_order_release);
            wanted.store(true, std::memory_order_release);
            snapshot_published.wait_for(lock, std::chrono::milliseconds(100));
        }
        return fresh() ? snapshot : nullptr;
    }
};

namespace {

// rte_telemetry callbacks get no user pointer, so they find the endpoint here. Shared lock:
// a callback in flight (it may read worker counters the gateway frees after the endpoint);
// exclusive: installing or removing the endpoint.
std::shared_mutex g_endpoint_lifetime;
std::shared_ptr<AdminEndpointState> g_endpoint;  // guarded by g_endpoint_lifetime
std::once_flag g_commands_registered;

// Errors are a bare JSON string (successful replies are always objects): a dict value holds at
// most 127 bytes, too few for a policy file path and the field it names.
int error_reply(rte_tel_data *d, const std::string &message) {
    rte_tel_data_string(d, ("error: " + message).c_str());
    return 0;
}

void put(rte_tel_data *d, const char *name, std::string_view value) {
    const std::string v(utf8_prefix(value, RTE_TEL_MAX_STRING_LEN - 1));
    rte_tel_data_add_dict_string(d, name, v.c_str());
}
void put(rte_tel_data *d, const char *name, uint64_t value) {
    rte_tel_data_add_dict_u64(d, name, value);
}
void put(rte_tel_data *d, const char *name, double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", value);
    rte_tel_data_add_dict_string(d, name, buf);
}

// Adds `child` under `name`, which takes ownership; frees it if the reply is full.
void put_child(rte_tel_data *d, const std::string &name, rte_tel_data *child) {
    if (rte_tel_data_add_dict_container(d, name.c_str(), child, 0) != 0)
        rte_tel_data_free(child);
}

uint64_t age_s(int64_t created_at_ms, int64_t now_ms) {
    return created_at_ms <= 0 || now_ms < created_at_ms
               ? 0
               : static_cast<uint64_t>(now_ms - created_at_ms) / 1000;
}

std::string transport_text(const TransportAddr &a) {
    return a.valid() ? a.to_string() : std::string("-");
}

void put_session_fields(rte_tel_data *d, const SessionSummary &s, int64_t now_ms) {
    put(d, "session_id", audit::format_session_id(s.session_id));
    put(d, "peer", s.peer);
    put(d, "peer_name", s.peer_name);
    put(d, "state", state_name(s.state));
    put(d, "state_version", s.state_version);
    put(d, "transport", transport_text(s.binding));
    put(d, "age_s", age_s(s.created_at_ms, now_ms));
    put(d, "switches", uint64_t{s.counters.total_switches});
    put(d, "jumpgate_client", uint64_t{s.jumpgate_client});
    put(d, "key_epoch", s.key_epoch);
}

// Runs `body` with the live endpoint, or answers that none is running.
template <class F>
int with_endpoint(rte_tel_data *d, F &&body) {
    std::shared_lock lock(g_endpoint_lifetime);
    if (!g_endpoint)
        return error_reply(d, "no gateway is running in this process");
    return body(*g_endpoint);
}

Result<uint64_t> session_id_param(const char *params) {
    const std::string_view text = params != nullptr ? params : "";
    if (text.empty())
        return make_error("session id", "missing (expected 1..16 hex digits after a comma)");
    auto id = audit::parse_session_id(text);
    if (!id)
        return make_error("session id", "\"" + std::string(text) + "\" is not 1..16 hex digits");
    return *id;
}

// Pages are keyed by session id, not position: the list is re-read between pages, and a
// session created or dropped meanwhile must not shift the rest into duplicates or gaps.
int cmd_sessions(const char *, const char *params, rte_tel_data *d) {
    std::optional<uint64_t> after;
    if (params != nullptr && *params != '\0') {
        after = audit::parse_session_id(params);
        if (!after)
            return error_reply(
                d, "after: \"" + std::string(params) + "\" is not a session id (1..16 hex digits)");
    }
    return with_endpoint(d, [&](AdminEndpointState &ep) {
        // A listing starts on a fresh list; its later pages may share one up to
        // kAdminSessionListMaxAgeMs old rather than have every page copy every session.
        auto snap = ep.current(after ? kAdminSessionListMaxAgeMs : 2 * kAdminPublishIntervalMs);
        if (!snap)
            return error_reply(d, "the control core published no state within 2 s; retry");
        const int64_t now = control_clock().now_ms();
        const auto &all = *snap->sessions;
        const auto page = sessions_page(all, after, kAdminSessionsPerPage);
        const bool more = page.data() + page.size() != all.data() + all.size();
        rte_tel_data_start_dict(d);
        put(d, "total", uint64_t{all.size()});
        put(d, "count", uint64_t{page.size()});
        // Where the next page starts; empty on the last page.
        put(d, "next_after",
            more ? audit::format_session_id(page.back().session_id) : std::string());
        put(d, "snapshot_age_ms",
            static_cast<uint64_t>(std::max<int64_t>(0, now - snap->sessions_taken_at_ms)));
        for (const SessionSummary &s : page) {
            rte_tel_data *row = rte_tel_data_alloc();
            if (row == nullptr)
                return -ENOMEM;
            rte_tel_data_start_dict(row);
            put_session_fields(row, s, now);
            put_child(d, "s" + audit::format_session_id(s.session_id), row);
        }
        return 0;
    });
}

int cmd_session(const char *, const char *params, rte_tel_data *d) {
    const auto id = session_id_param(params);
    if (!id)
        return error_reply(d, id.error().message());
    return with_endpoint(d, [&](AdminEndpointState &ep) {
        auto reply = ep.requests.submit(SessionDetailRequest{*id}, kAdminRequestTimeoutMs);
        if (!reply)
            return error_reply(d, reply.error().message());
        const SessionDetail &detail = *reply->detail;
        const SessionSummary &s = detail.summary;
        rte_tel_data_start_dict(d);
        put_session_fields(d, s, control_clock().now_ms());
        put(d, "created_at_ms", static_cast<uint64_t>(std::max<int64_t>(0, s.created_at_ms)));
        put(d, "worker", uint64_t{s.owner});
        put(d, "transitions", uint64_t{s.counters.transitions});
        put(d, "switches_denied", uint64_t{s.counters.switches_denied});
        put(d, "reattach_requests", uint64_t{s.counters.reattach_requests});
        put(d, "reattach_accepted", uint64_t{s.counters.reattach_accepted});
        put(d, "reattach_denied", uint64_t{s.counters.reattach_denied});
        put(d, "security_events", uint64_t{s.counters.security_events});
        put(d, "key_rotations", uint64_t{s.counters.key_rotations});
        put(d, "rx_packets", s.traffic.rx_packets);
        put(d, "rx_bytes", s.traffic.rx_bytes);
        put(d, "tx_packets", s.traffic.tx_packets);
        put(d, "tx_bytes", s.traffic.tx_bytes);
        put(d, "replay_drops", s.traffic.replay_drops);
        put(d, "auth_failures", s.traffic.auth_failures);
        put(d, "recent_transitions", uint64_t{detail.transitions.size()});
        for (size_t i = 0; i < detail.transitions.size(); ++i) {
            const TransitionNote &t = detail.transitions[i];
            rte_tel_data *row = rte_tel_data_alloc();
            if (row == nullptr)
                return -ENOMEM;
            rte_tel_data_start_dict(row);
            put(row, "ts_ms", static_cast<uint64_t>(std::max<int64_t>(0, t.ts_ms)));
            put(row, "state_version", t.state_version);
            put(row, "kind", t.binding_switch ? "transport_switch" : "state_change");
            put(row, "from",
                t.binding_switch ? transport_text(t.from_transport)
                                 : std::string(state_name(t.from_state)));
            put(row, "to",
                t.binding_switch ? transport_text(t.to_transport)
                                 : std::string(state_name(t.to_state)));
            put(row, "reason", reason_name(t.reason));
            put_child(d, "transition_" + std::to_string(i), row);
        }
        return 0;
    });
}

int cmd_terminate(const char *, const char *params, rte_tel_data *d) {
    const auto id = session_id_param(params);
    if (!id)
        return error_reply(d, id.error().message());
    return with_endpoint(d, [&](AdminEndpointState &ep) {
        auto reply = ep.requests.submit(TerminateRequest{*id}, kAdminRequestTimeoutMs);
        if (!reply)
            return error_reply(d, reply.error().message());
        rte_tel_data_start_dict(d);
        put(d, "session_id", audit::format_session_id(*id));
        put(d, "state", state_name(SessionState::Terminated));
        put(d, "reason", reason_name(Reason::explicit_termination));
        return 0;
    });
}

void put_policy(rte_tel_data *d, const Policy &p) {
    put(d, "name", p.name);
    put(d, "version", p.version);
    put(d, "session/max_lifetime_ms", static_cast<uint64_t>(p.session.max_lifetime_ms));
    put(d, "session/transport_lost_ttl_ms", static_cast<uint64_t>(p.session.transport_lost_ttl_ms));
    put(d, "volatility/heartbeat_interval_ms",
        static_cast<uint64_t>(p.volatility.heartbeat_interval_ms));
    put(d, "volatility/loss_volatile_threshold", p.volatility.loss_volatile_threshold);
    put(d, "volatility/volatile_to_degraded_ms",
        static_cast<uint64_t>(p.volatility.volatile_to_degraded_ms));
    put(d, "switching/max_switches_per_min", uint64_t{p.switching.max_switches_per_min});
    put(d, "switching/switch_cooldown_ms", static_cast<uint64_t>(p.switching.switch_cooldown_ms));
    put(d, "switching/recovery_window_ms", static_cast<uint64_t>(p.switching.recovery_window_ms));
    put(d, "security/reattach_proof_max_age_ms",
        static_cast<uint64_t>(p.security.reattach_proof_max_age_ms));
    put(d, "transport/legacy_roaming",
        p.transport.legacy_roaming == LegacyRoaming::Allow ? "allow" : "deny");
}

// Pages by position: a reader holds the pages together by `generation` (a reload in between
// changes it, and the reader starts over).
int cmd_policy(const char *, const char *params, rte_tel_data *d) {
    size_t first = 0;
    if (params != nullptr && *params != '\0') {
        const std::string_view p(params);
        const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), first);
        if (ec != std::errc{} || end != p.data() + p.size())
            return error_reply(
                d, "first: \"" + std::string(p) + "\" is not a profile position (0, 1, ...)");
    }
    return with_endpoint(d, [&](AdminEndpointState &ep) {
        auto snap = ep.current();
        if (!snap || !snap->policies)
            return error_reply(d, "the control core published no state within 2 s; retry");
        const auto names = snap->policies->names();
        if (first > names.size())
            return error_reply(d, "first: " + std::to_string(first) + " is past the " +
                                      std::to_string(names.size()) + " profiles");
        const size_t end = std::min(names.size(), first + kAdminPolicyProfilesPerPage);
        rte_tel_data_start_dict(d);
        put(d, "generation", snap->policy_generation);
        put(d, "default_profile", snap->policies->default_name());
        put(d, "profiles", uint64_t{names.size()});
        // Where the next page starts; 0 on the last page.
        put(d, "next_first", uint64_t{end < names.size() ? end : 0});
        for (size_t i = first; i < end; ++i) {
            rte_tel_data *row = rte_tel_data_alloc();
            if (row == nullptr)
                return -ENOMEM;
            rte_tel_data_start_dict(row);
            put_policy(row, *snap->policies->find(names[i]));
            put_child(d, "profile_" + std::to_string(i), row);
        }
        return 0;
    });
}

int cmd_policy_reload(const char *, const char *params, rte_tel_data *d) {
    const std::string path = params != nullptr ? params : "";
    if (path.empty())
        return error_reply(d, "policy file: missing (expected a path after a comma)");
    // Read and validated here, off the control lcore: file I/O must not stall it.
    auto set = load_policy_file(path);
    if (!set)
        return error_reply(d, "refused, running policy unchanged: " + set.error().message());
    auto shared = std::make_shared<const PolicySet>(std::move(*set));
    return with_endpoint(d, [&](AdminEndpointState &ep) {
        if (Status st = check_peer_profiles_kept(*shared, ep.sources.peer_profiles); !st)
            return error_reply(d, "refused, running policy unchanged: " + st.error().message());
        auto reply = ep.requests.submit(PolicyReloadRequest{shared}, kAdminRequestTimeoutMs);
        if (!reply)
            return error_reply(d, reply.error().message());
        rte_tel_data_start_dict(d);
        put(d, "generation", reply->policy_generation);
        put(d, "default_profile", shared->default_name());
        put(d, "version", shared->default_policy().version);
        put(d, "profiles", uint64_t{shared->size()});
        return 0;
    });
}

int cmd_stats(const char *, const char *, rte_tel_data *d) {
    return with_endpoint(d, [&](AdminEndpointState &ep) {
        auto snap = ep.current();
        if (!snap)
            return error_reply(d, "the control core published no state within 2 s; retry");
        rte_tel_data_start_dict(d);
        put(d, "live_sessions", uint64_t{snap->live_sessions});
        const auto &by_state = snap->sessions_by_state;
        for (size_t i = 0; i < by_state.size(); ++i) {
            std::string name = "state_";
            for (char c : state_name(static_cast<SessionState>(i)))
                name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            put(d, name.c_str(), by_state[i]);
        }
        const DirectoryStats &ds = snap->directory;
        put(d, "sessions_created", ds.sessions_created);
        put(d, "sessions_terminated", ds.sessions_terminated);
        put(d, "key_rotations", ds.key_rotations);
        put(d, "control_messages", ds.control_messages);
        put(d, "control_rejected", ds.control_rejected);
        put(d, "stale_events", ds.stale_events);
        put(d, "dataplane_errors", ds.dataplane_errors);
        put(d, "frames_lost", ds.frames_lost);
        put(d, "keepalives_sent", ds.keepalives_sent);
        put(d, "audit_dropped", ds.audit_dropped);
        // A full disk or a failed reopen loses audit lines after the queue: shown here too,
        // not only in the metrics, since it is what an operator checks first after an incident.
        if (const AuditWriter *a = ep.sources.audit) {
            put(d, "audit_write_errors", a->stats().write_errors);
            if (const std::string e = a->last_write_error(); !e.empty())
                put(d, "audit_last_write_error", e);
        }
        put(d, "slots_exhausted", ds.slots_exhausted);
        put(d, "reattach_flood", ds.reattach_flood);
        put(d, "malformed_events", snap->malformed_events);
        const HandshakeStats &hs = snap->handshakes;
        put(d, "handshake_initiations", hs.initiations);
        put(d, "handshake_accepted", hs.accepted);
        put(d, "handshake_cookie_replies", hs.cookie_replies);
        uint64_t refused = 0;
        for (uint64_t r : hs.refused)
            refused += r;
        put(d, "handshake_refused", refused);
        put(d, "policy_generation", snap->policy_generation);
        put(d, "snapshot_age_ms",
            static_cast<uint64_t>(
                std::max<int64_t>(0, control_clock().now_ms() - snap->taken_at_ms)));
        for (size_t i = 0; i < ep.sources.workers.size(); ++i) {
            const dp::Worker *w = ep.sources.workers[i];
            const WorkerTotals t = sum_workers(std::span<const dp::Worker *const>(&w, 1));
            const uint64_t total = w->counters.total_cycles.load(std::memory_order_relaxed);
            const uint64_t busy = w->counters.busy_cycles.load(std::memory_order_relaxed);
            rte_tel_data *row = rte_tel_data_alloc();
            if (row == nullptr)
                return -ENOMEM;
            rte_tel_data_start_dict(row);
            put(row, "lcore", uint64_t{w->config.lcore});
            put(row, "rx_packets", t.rx_packets);
            put(row, "rx_bytes", t.rx_bytes);
            put(row, "tx_packets", t.tx_packets);
            put(row, "drops", t.drops);
            put(row, "reassembled", w->counters.reassembled.load(std::memory_order_relaxed));
            // Cumulative cycles: busy * 1000 passes 2^64 after about 85 days of a busy worker.
            put(row, "busy_permille",
                total ? static_cast<uint64_t>(static_cast<unsigned __int128>(busy) * 1000 / total)
                      : uint64_t{0});
            put_child(d, "worker_" + std::to_string(i), row);
        }
        return 0;
    });
}

struct AdminCommand {
    const char *name;
    telemetry_cb handler;
    std::string_view help;
};
constexpr std::array kAdminCommands{
    AdminCommand{"/jumpgate/sessions", cmd_sessions,
                 "Sessions (id, peer, state, version, transport, age, switches), 24 a reply. "
                 "Parameter: session id to list after"},
    AdminCommand{"/jumpgate/session", cmd_session,
                 "One session with its last transitions. Parameter: session id"},
    AdminCommand{"/jumpgate/policy", cmd_policy,
                 "The running policy profiles and their generation, 16 a reply. "
                 "Parameter: position to start at (default 0)"},
    AdminCommand{"/jumpgate/stats", cmd_stats,
                 "Session directory, handshake and per-worker counters"},
    AdminCommand{"/jumpgate/terminate", cmd_terminate,
                 "Terminates a session (explicit_termination, audited). Parameter: session id"},
    AdminCommand{"/jumpgate/policy_reload", cmd_policy_reload,
                 "Loads, validates and applies a policy file. Parameter: path"},
};
// DPDK refuses a command whose help text does not fit, and the command is then simply absent.
static_assert(std::all_of(kAdminCommands.begin(), kAdminCommands.end(), [](const AdminCommand &c) {
    return c.help.size() < RTE_TEL_MAX_STRING_LEN;
}));

Status g_registration = Ok{};

void register_commands() {
    for (const AdminCommand &c : kAdminCommands)
        if (const int rc = rte_telemetry_register_cmd(c.name, c.handler, c.help.data()); rc != 0) {
            g_registration =
                make_error("admin endpoint", std::string(c.name) + ": DPDK telemetry refused it (" +
                                                 std::strerror(-rc) + ")");
            return;
        }
}

}  // namespace

Result<std::unique_ptr<AdminEndpoint>> AdminEndpoint::start(AdminSources sources) {
    std::call_once(g_commands_registered, register_commands);
    if (!g_registration)
        return g_registration.error();
    auto state = std::make_shared<AdminEndpointState>();
    state->sources = std::move(sources);
    {
        std::unique_lock lock(g_endpoint_lifetime);
        if (g_endpoint)
            return make_error("admin endpoint", "another one is already serving this process");
        g_endpoint = state;
    }
    return std::make_unique<AdminEndpoint>(std::move(state));
}

AdminEndpoint::AdminEndpoint(std::shared_ptr<AdminEndpointState> state)
    : state_(std::move(state)) {}

AdminEndpoint::~AdminEndpoint() {
    state_->requests.close();
    {
        std::lock_guard lock(state_->snapshot_mutex);
        state_->closing = true;
    }
    state_->snapshot_published.notify_all();
    std::unique_lock lock(g_endpoint_lifetime);
    g_endpoint.reset();
}

void AdminEndpoint::on_tick(ControlCore &core, int64_t now_ms) {
    const size_t served = state_->requests.serve(
        [&](const AdminRequest &r) { return serve_admin_request(core.directory(), r, now_ms); });
    // After a change, at once (a reader right after a terminate sees it); otherwise on the
    // interval, and only while someone reads.
    if (served == 0 &&
        (now_ms < next_publish_ms_ || !state_->wanted.exchange(false, std::memory_order_acquire)))
        return;
    next_publish_ms_ = now_ms + kAdminPublishIntervalMs;
    const bool with_sessions = state_->sessions_wanted.exchange(false, std::memory_order_acquire);
    auto snap =
        take_admin_snapshot(core.directory(), core.malformed_events(), now_ms, with_sessions);
    std::unique_lock lock(state_->snapshot_mutex);
    // A list still young enough for a listing in progress goes on to the next snapshot, unless
    // an admin change was just applied (a reader right after a terminate must see it).
    if (!with_sessions && served == 0 && state_->snapshot != nullptr &&
        state_->snapshot->sessions != nullptr &&
        now_ms - state_->snapshot->sessions_taken_at_ms <= kAdminSessionListMaxAgeMs) {
        snap->sessions = state_->snapshot->sessions;
        snap->sessions_taken_at_ms = state_->snapshot->sessions_taken_at_ms;
    }
    state_->snapshot = std::move(snap);
    lock.unlock();
    state_->snapshot_published.notify_all();
}

}  // namespace jg::control
