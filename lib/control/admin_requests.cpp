#include "control/admin_requests.hpp"

#include <algorithm>
#include <chrono>
#include <type_traits>

#include "telemetry/audit_json.hpp"

namespace jg::control {

std::shared_ptr<AdminSnapshot> take_admin_snapshot(SessionDirectory &directory,
                                                   uint64_t malformed_events, int64_t now_ms,
                                                   bool with_sessions) {
    auto s = std::make_shared<AdminSnapshot>();
    s->taken_at_ms = now_ms;
    if (with_sessions) {
        s->sessions =
            std::make_shared<const std::vector<SessionSummary>>(directory.sessions_snapshot());
        s->sessions_taken_at_ms = now_ms;
    }
    s->sessions_by_state = directory.sessions_by_state();
    s->policies = directory.policies().current();
    s->policy_generation = directory.policies().generation();
    s->directory = directory.stats();
    s->handshakes = directory.handshake_stats();
    s->live_sessions = directory.live_sessions();
    s->malformed_events = malformed_events;
    return s;
}

std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
    if (text.size() <= max_bytes)
        return text;
    size_t len = max_bytes;
    while (len > 0 && (static_cast<unsigned char>(text[len]) & 0xC0) == 0x80)  // continuation
        --len;
    return text.substr(0, len);
}

std::span<const SessionSummary> sessions_page(std::span<const SessionSummary> sessions,
                                              std::optional<uint64_t> after, size_t per_page) {
    const auto first = after ? std::upper_bound(sessions.begin(), sessions.end(), *after,
                                                [](uint64_t id, const SessionSummary &s) {
                                                    return id < s.session_id;
                                                })
                             : sessions.begin();
    const size_t n = std::min<size_t>(per_page, size_t(sessions.end() - first));
    return {first, n};
}

std::vector<PeerProfile> peer_profiles(const std::vector<PeerConfig> &peers) {
    std::vector<PeerProfile> out;
    out.reserve(peers.size());
    for (size_t i = 0; i < peers.size(); ++i) {
        std::string label = "peers[" + std::to_string(i) + "]";
        if (!peers[i].name.empty())
            label += " (" + peers[i].name + ")";
        out.push_back({std::move(label), peers[i].policy});
    }
    return out;
}

Status check_peer_profiles_kept(const PolicySet &next, std::span<const PeerProfile> peers) {
    for (const PeerProfile &p : peers) {
        if (!next.find(p.profile))
            return make_error("", p.peer + " uses policy profile \"" + p.profile +
                                      "\", which the new file does not define");
    }
    return Ok{};
}

Result<AdminReply> serve_admin_request(SessionDirectory &directory, const AdminRequest &request,
                                       int64_t now_ms) {
    return std::visit(
        [&](const auto &r) -> Result<AdminReply> {
            using R = std::decay_t<decltype(r)>;
            AdminReply reply;
            if constexpr (std::is_same_v<R, SessionDetailRequest>) {
                auto summary = directory.find_session(r.session_id);
                if (!summary)
                    return make_error("session " + audit::format_session_id(r.session_id),
                                      "no such session");
                reply.detail =
                    SessionDetail{std::move(*summary), directory.recent_transitions(r.session_id)};
            } else if constexpr (std::is_same_v<R, TerminateRequest>) {
                if (Status st = directory.terminate(r.session_id, now_ms); !st)
                    return st.error();
            } else {
                if (!r.policies)
                    return make_error("policy", "no policy set to load");
                directory.policies().reload(*r.policies);
                directory.sweep_all_by(now_ms);
                reply.policy_generation = directory.policies().generation();
            }
            return reply;
        },
        request);
}

Result<AdminReply> AdminRequestQueue::submit(AdminRequest request, int64_t timeout_ms) {
    auto p = std::make_shared<Pending>();
    p->request = std::move(request);
    std::unique_lock lock(mutex_);
    if (closed_)
        return make_error("gateway", "the gateway is stopping");
    if (queue_.size() >= capacity_)
        return make_error("gateway", "too many admin requests waiting; retry");
    queue_.push_back(p);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    // Once taken, the control lcore is carrying it out: wait for the outcome, whatever the
    // deadline, so the answer always says whether it was applied.
    answered_.wait_until(lock, deadline,
                         [&] { return p->stage != Pending::Stage::Queued || closed_; });
    if (p->stage == Pending::Stage::Queued) {
        queue_.erase(std::remove(queue_.begin(), queue_.end(), p), queue_.end());
        if (closed_)
            return make_error("gateway", "the gateway is stopping");
        return make_error("gateway", "the control core did not take the request within " +
                                         std::to_string(timeout_ms) + " ms; nothing was changed");
    }
    answered_.wait(lock, [&] { return p->stage == Pending::Stage::Done; });
    return std::move(*p->reply);
}

size_t AdminRequestQueue::serve(const Handler &handler, size_t max) {
    size_t n = 0;
    while (n < max) {
        std::shared_ptr<Pending> p;
        {
            std::lock_guard lock(mutex_);
            if (queue_.empty())
                break;
            p = queue_.front();
            queue_.pop_front();
            p->stage = Pending::Stage::Taken;
        }
        Result<AdminReply> r = handler(p->request);
        {
            std::lock_guard lock(mutex_);
            p->reply.emplace(std::move(r));
            p->stage = Pending::Stage::Done;
        }
        answered_.notify_all();
        ++n;
    }
    return n;
}

void AdminRequestQueue::close() {
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
    }
    answered_.notify_all();
}

}  // namespace jg::control
