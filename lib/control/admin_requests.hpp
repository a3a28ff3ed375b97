// Admin requests: what the admin interface reads of the control core (AdminSnapshot, published
// by the control lcore) and what it asks the control lcore to do (AdminRequest, answered
// through AdminRequestQueue). The queue and snapshots are shared between the telemetry thread
// and the control lcore; serve_admin_request runs on the control lcore only.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "config/gateway_config.hpp"
#include "control/session_directory.hpp"
#include "session/policy_set.hpp"

namespace jg::control {

// The control core as the read-only admin commands see it: immutable once published.
struct AdminSnapshot {
    int64_t taken_at_ms = 0;  // control_clock() ms
    // Copied only when a reader asked for the session list (with a million sessions the copy
    // holds the control lcore for a while), then shared by the snapshots after it until it is
    // kAdminSessionListMaxAgeMs old: pages are keyed by id, so a listing tolerates its age.
    std::shared_ptr<const std::vector<SessionSummary>> sessions;  // by session id; or none
    int64_t sessions_taken_at_ms = 0;
    std::array<uint64_t, kSessionStateCount> sessions_by_state{};  // listed sessions
    std::shared_ptr<const PolicySet> policies;
    uint64_t policy_generation = 0;  // 1 = the configuration's set, +1 per reload
    DirectoryStats directory;
    HandshakeStats handshakes;
    size_t live_sessions = 0;
    uint64_t malformed_events = 0;
};

// How old a session list the admin commands may serve (ms).
inline constexpr int64_t kAdminSessionListMaxAgeMs = 5'000;

// Made on the control lcore from the directory it owns; the session list only if asked.
std::shared_ptr<AdminSnapshot> take_admin_snapshot(SessionDirectory &directory,
                                                   uint64_t malformed_events, int64_t now_ms,
                                                   bool with_sessions = true);

// At most `max_bytes` of `text`, cut at a character boundary: half a UTF-8 character (a long
// peer name cut to a telemetry value's 127 bytes) would make the whole reply invalid JSON.
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);

// The page of `sessions` (sorted by id) that follows session id `after` (none: the first
// page), at most `per_page` long. Keyed by id, not position: a list re-read between pages
// neither repeats nor skips a session that was listed throughout.
std::span<const SessionSummary> sessions_page(std::span<const SessionSummary> sessions,
                                              std::optional<uint64_t> after, size_t per_page);

// One session with its recent transitions (fresh from the directory, not from a snapshot).
struct SessionDetailRequest {
    uint64_t session_id = 0;
};
// Operator termination (audited as explicit_termination).
struct TerminateRequest {
    uint64_t session_id = 0;
};
// Swap in a policy set that was loaded and validated off the control lcore.
struct PolicyReloadRequest {
    std::shared_ptr<const PolicySet> policies;
};
using AdminRequest = std::variant<SessionDetailRequest, TerminateRequest, PolicyReloadRequest>;

// A configured peer and the policy profile it names.
struct PeerProfile {
    std::string peer;  // as errors name it: "peers[1] (alice)"
    std::string profile;
};
std::vector<PeerProfile> peer_profiles(const std::vector<PeerConfig> &peers);

// Start-up refuses a peer naming a missing profile, so a reload must not drop one either: the
// peer would run under the default profile (PolicySet::lookup) with nothing to say so.
// Errors name the first peer whose profile `next` lacks.
Status check_peer_profiles_kept(const PolicySet &next, std::span<const PeerProfile> peers);

struct SessionDetail {
    SessionSummary summary;
    std::vector<TransitionNote> transitions;  // oldest first
};

struct AdminReply {
    std::optional<SessionDetail> detail;  // SessionDetailRequest
    uint64_t policy_generation = 0;       // PolicyReloadRequest: the generation now in force
};

// Control lcore: carries out one request on the directory. Errors change nothing.
Result<AdminReply> serve_admin_request(SessionDirectory &directory, const AdminRequest &request,
                                       int64_t now_ms);

// Requests from the telemetry thread to the control lcore. Bounded, so a client that floods
// commands cannot make the control lcore's tick unbounded; a waiter that times out withdraws
// its request if the control lcore has not taken it yet, so a timeout means "not applied".
class AdminRequestQueue {
  public:
    using Handler = std::function<Result<AdminReply>(const AdminRequest &)>;

    explicit AdminRequestQueue(size_t capacity = 16) : capacity_(capacity) {}

    // Any thread but the control lcore: blocks until the control lcore answered, the request
    // timed out before it was taken (`timeout_ms`), the queue is full or closed.
    Result<AdminReply> submit(AdminRequest request, int64_t timeout_ms);

    // Control lcore: answers at most `max` queued requests with `handler`. Returns how many.
    size_t serve(const Handler &handler, size_t max = 4);

    // Fails every waiting and future request ("the gateway is stopping"); any thread.
    void close();

  private:
    struct Pending {
        AdminRequest request;
        enum class Stage { Queued, Taken, Done } stage = Stage::Queued;
        std::optional<Result<AdminReply>> reply;
    };

    std::mutex mutex_;
    std::condition_variable answered_;
    std::deque<std::shared_ptr<Pending>> queue_;
    size_t capacity_;
    bool closed_ = false;
};

}  // namespace jg::control
