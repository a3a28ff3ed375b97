// PathHealth: O(1), allocation-free estimators of one transport path (windowed loss, RTT,
// jitter, consecutive drops, heartbeat age) and the score that ranks candidate paths.
// Value types with one writer (the control core for the gateway, the client's own loop).
#pragma once

#include <array>
#include <cstdint>

namespace jg {

// Loss over the last `window_ms`, fed with receive counts and counter gaps. The window is a
// ring of kBuckets equal buckets, so it slides in steps of window_ms / kBuckets and a sample
// costs O(1) (advancing over idle time touches at most kBuckets buckets).
class LossWindow {
  public:
    static constexpr int kBuckets = 16;

    explicit LossWindow(int64_t window_ms = 2'000) { reset(window_ms); }

    // Forgets everything; a new window length takes effect from here.
    void reset(int64_t window_ms);
    int64_t window_ms() const { return window_ms_; }

    // `received` packets arrived and `lost` were inferred (counter gaps) at now_ms.
    void record(int64_t now_ms, uint32_t received, uint32_t lost);
    // A packet below the highest counter seen arrived late: one gap counted earlier in the
    // window was not a loss after all.
    void record_late(int64_t now_ms);
    // `n` gaps counted earlier were filled by late packets already counted as received; takes
    // back the newest gaps in the window first.
    void take_back(int64_t now_ms, uint32_t n);

    // lost / (received + lost) over the window; 0 when the window saw nothing.
    double loss_ratio(int64_t now_ms);
    uint64_t received_in_window(int64_t now_ms);
    uint64_t lost_in_window(int64_t now_ms);

  private:
    struct Bucket {
        uint32_t received = 0;
        uint32_t lost = 0;
    };
    void advance(int64_t now_ms);

    std::array<Bucket, kBuckets> buckets_{};
    int64_t window_ms_ = 0;
    int64_t bucket_ms_ = 1;
    int64_t head_epoch_ = 0;  // now_ms / bucket_ms_ of the newest bucket
    int head_ = 0;
    bool started_ = false;
    uint64_t sum_received_ = 0;
    uint64_t sum_lost_ = 0;
};

// Smoothed RTT (gain 1/8, RFC 6298) and jitter as the smoothed mean deviation of successive
// RTT samples (gain 1/16, the RFC 3550 A.8 interarrival-jitter filter). Milliseconds.
class RttEstimator {
  public:
    void sample(double rtt_ms);
    bool has_samples() const { return samples_ > 0; }
    double srtt_ms() const { return srtt_; }
    double jitter_ms() const { return jitter_; }
    double last_ms() const { return last_; }

  private:
    double srtt_ = 0.0;
    double jitter_ = 0.0;
    double last_ = 0.0;
    uint64_t samples_ = 0;
};

// What the FSM compares against the policy's thresholds.
struct HealthSnapshot {
    double loss_ratio = 0.0;  // 0..1 over volatility.loss_window_ms
    double rtt_ms = 0.0;
    double jitter_ms = 0.0;
    uint32_t consecutive_drops = 0;  // heartbeats missing right before the newest one
};

// The estimators of the active path together, fed by heartbeats and receive reports.
class PathHealth {
  public:
    explicit PathHealth(int64_t loss_window_ms = 2'000) : loss_(loss_window_ms) {}

    // A heartbeat with sequence number `seq` (> 0; 0 = none, e.g. a stock peer's keepalive)
    // and an optional RTT sample (< 0 = none).
    void on_heartbeat(int64_t now_ms, uint64_t seq, double rtt_ms);
    // Aggregated receive report: packets received and counters skipped since the last one,
    // and how many of those packets filled gaps reported before (reordering, not loss).
    void on_rx(int64_t now_ms, uint32_t received, uint32_t gaps, uint32_t filled = 0);
    // One received transport counter; gaps and late arrivals are inferred from it.
    void on_counter(int64_t now_ms, uint64_t counter);

    // Applies a new loss window length (policy reload); forgets loss history if it changed.
    void set_loss_window(int64_t window_ms);

    HealthSnapshot snapshot(int64_t now_ms);
    // ms since the last heartbeat; -1 before the first one.
    int64_t heartbeat_age_ms(int64_t now_ms) const {
        return last_heartbeat_ms_ < 0 ? -1 : now_ms - last_heartbeat_ms_;
    }
    const RttEstimator &rtt() const { return rtt_; }
    uint32_t consecutive_drops() const { return consecutive_drops_; }

  private:
    LossWindow loss_;
    RttEstimator rtt_;
    uint64_t last_seq_ = 0;
    uint64_t highest_counter_ = 0;
    bool have_counter_ = false;
    uint32_t consecutive_drops_ = 0;
    int64_t last_heartbeat_ms_ = -1;
};

// Path score, higher is better:
//   1000 / ((rtt + 4 * jitter + 1) * (1 + 10 * loss) * (1 + consecutive_drops))
// rtt + 4*jitter is the delay a path needs to be trusted with (the RTO shape of RFC 6298);
// each 1% of loss costs 10% of the score, and a run of drops divides it, because a path that
// is dropping heartbeats right now is worse than its averages say. The +1 keeps a 0 ms
// loopback path finite.
double path_score(const HealthSnapshot &h);

}  // namespace jg
