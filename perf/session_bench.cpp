// session_bench: cost of one session FSM step (a realistic control-core event mix and its
// common cases) and of one health sample. Target: < 1 us each on the control lcore.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "session/health.hpp"
#include "session/state_machine.hpp"

namespace {

using namespace jg;

const TransportAddr kHome = *parse_transport("198.51.100.7:51820");
const TransportAddr kLte = *parse_transport("203.0.113.9:40000");

Policy bench_policy() {
    Policy p;
    p.session.max_lifetime_ms = INT64_C(1) << 50;  // a bench session never ages out
    p.session.transport_lost_ttl_ms = INT64_C(1) << 40;
    p.switching.max_switches_per_min = 64;
    p.switching.switch_cooldown_ms = 0;
    return p;
}

SessionRecord attached_session(const Policy &p, int64_t now) {
    SessionRecord s = make_session(0xbeef);
    (void)step(s, HandshakeCompleted{kHome, "cGVlcg==", 1}, p, now);
    (void)step(s, HelloReceived{}, p, now);
    return s;
}

// What a control core sees per session, in proportion: mostly heartbeats and timer ticks,
// some health samples, and every ~200 events a volatility episode that ends in a reattach to
// the other path (address change, challenge, response), so transitions, switches and audit
// events are in the mix too.
struct EventMix {
    std::vector<SessionEvent> events;
    explicit EventMix(size_t n) {
        std::mt19937_64 g(42);
        uint64_t seq = 0;
        uint64_t candidate = 0;
        for (size_t i = 0; i < n; ++i) {
            const size_t phase = i % 200;
            if (phase == 100) {
                events.push_back(HealthSample{0.4, 80, 30, 0});  // -> VOLATILE
            } else if (phase == 101) {
                ReattachRequest r;
                r.candidate = (++candidate % 2) ? kLte : kHome;
                r.challenge = {1, 2, 3, 4, 5, 6, 7, 8};
                events.push_back(r);  // -> RECOVERING
            } else if (phase == 102) {
                events.push_back(PathResponse{});  // filled in from the pending challenge
            } else {
                const auto k = g() % 10;
                if (k < 6)
                    events.push_back(HeartbeatReceived{++seq, 20.0 + double(g() % 10), 16, 0});
                else if (k < 8)
                    events.push_back(TimerTick{});
                else
                    events.push_back(HealthSample{0.01, 22, 2, 0});
            }
        }
    }
};

void BM_FsmStepMix(benchmark::State &state) {
    const Policy p = bench_policy();
    const EventMix mix(20'000);
    int64_t now = 1'000;
    SessionRecord s = attached_session(p, now);
    size_t i = 0;
    uint64_t audit = 0;
    uint64_t nonce = 0;
    for (auto _ : state) {
        now += 10;
        const SessionEvent *e = &mix.events[i];
        SessionEvent answer;
        if (std::holds_alternative<PathResponse>(*e)) {
            answer = PathResponse{s.pending.candidate, s.pending.challenge};
            e = &answer;
        } else if (const auto *r = std::get_if<ReattachRequest>(e)) {
            ReattachRequest fresh = *r;
            fresh.client_time_ms = now;
            fresh.nonce = ++nonce;  // the mix repeats; nonces must not
            if (fresh.candidate == s.binding)
                fresh.candidate = s.binding == kHome ? kLte : kHome;
            answer = fresh;
            e = &answer;
        }
        StepResult res = step(s, *e, p, now);
        audit += res.audit.size();
        benchmark::DoNotOptimize(res);
        if (++i == mix.events.size())
            i = 0;
    }
    state.counters["audit_events_per_step"] =
        benchmark::Counter(static_cast<double>(audit), benchmark::Counter::kAvgIterations);
    state.counters["switches"] = s.counters.total_switches;
}
BENCHMARK(BM_FsmStepMix);

void BM_FsmStepHeartbeat(benchmark::State &state) {
    const Policy p = bench_policy();
    int64_t now = 1'000;
    SessionRecord s = attached_session(p, now);
    uint64_t seq = 0;
    for (auto _ : state) {
        now += 10;
        StepResult res = step(s, HeartbeatReceived{++seq, 21.5, 16, 0}, p, now);
        benchmark::DoNotOptimize(res);
    }
}
BENCHMARK(BM_FsmStepHeartbeat);

void BM_FsmStepTick(benchmark::State &state) {
    const Policy p = bench_policy();
    int64_t now = 1'000;
    SessionRecord s = attached_session(p, now);
    uint64_t seq = 0;
    for (auto _ : state) {
        now += 10;
        if ((seq++ & 31) == 0)  // keep the path alive
            (void)step(s, HeartbeatReceived{seq, 20, 16, 0}, p, now);
        StepResult res = step(s, TimerTick{}, p, now);
        benchmark::DoNotOptimize(res);
    }
}
BENCHMARK(BM_FsmStepTick);

// One transition with its audit event: ATTACHED -> VOLATILE and back, alternating.
void BM_FsmStepTransition(benchmark::State &state) {
    Policy p = bench_policy();
    p.volatility.stability_window_ms = 1;
    int64_t now = 1'000;
    SessionRecord s = attached_session(p, now);
    bool bad = true;
    for (auto _ : state) {
        now += 10;
        StepResult res = step(s, HealthSample{bad ? 0.5 : 0.0, 20, 1, 0}, p, now);
        if (!bad)
            res = step(s, HealthSample{0.0, 20, 1, 0}, p, now + 5);
        bad = !bad;
        benchmark::DoNotOptimize(res);
    }
}
BENCHMARK(BM_FsmStepTransition);

// One health sample: a heartbeat with an RTT sample and a receive report into the
// estimators, then the snapshot the FSM judges.
void BM_HealthSample(benchmark::State &state) {
    PathHealth h(2'000);
    int64_t now = 0;
    uint64_t seq = 0;
    double rtt = 20.0;
    for (auto _ : state) {
        now += 7;
        rtt = rtt > 60.0 ? 20.0 : rtt + 0.37;
        h.on_heartbeat(now, ++seq, rtt);
        h.on_rx(now, 16, seq % 13 == 0 ? 1 : 0);
        HealthSnapshot snap = h.snapshot(now);
        benchmark::DoNotOptimize(snap);
    }
}
BENCHMARK(BM_HealthSample);

void BM_PathScore(benchmark::State &state) {
    HealthSnapshot h{0.02, 35.0, 4.0, 0};
    for (auto _ : state) {
        h.rtt_ms += 0.001;
        double score = path_score(h);
        benchmark::DoNotOptimize(score);
    }
}
BENCHMARK(BM_PathScore);

}  // namespace

BENCHMARK_MAIN();
