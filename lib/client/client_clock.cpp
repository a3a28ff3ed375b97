#include "client/client_clock.hpp"

#include <time.h>

#include <utility>
#include <variant>

namespace jg::client {
namespace {

int64_t read_ns(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

ClientClock::ClientClock()
    : ClientClock([] { return read_ns(CLOCK_BOOTTIME); }, [] { return read_ns(CLOCK_REALTIME); }) {}

ClientClock::ClientClock(Source steady_ns, Source system_ns)
    : steady_(std::move(steady_ns)),
      system_(std::move(system_ns)),
      audit_([this] { return steady_() / 1'000; }, [this] { return system_() / 1'000; }) {}

StepResult step_at(const ClientClock &clock, SessionRecord &record, const SessionEvent &event,
                   const Policy &policy) {
    const int64_t now = clock.timer_ms();
    StepResult r = step(record, event, policy, now);
    const int64_t to_wall = clock.audit_ms() - now;
    for (audit::Event &ev : r.audit) {
        ev.ts_ms += to_wall;
        if (auto *a = std::get_if<audit::ReattachAttempt>(&ev.payload))
            a->recovery_deadline_ms += to_wall;
    }
    return r;
}

}  // namespace jg::client
