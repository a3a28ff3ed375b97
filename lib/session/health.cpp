#include "session/health.hpp"

#include <algorithm>
#include <cmath>

namespace jg {

void LossWindow::reset(int64_t window_ms) {
    window_ms_ = std::max<int64_t>(window_ms, 1);
    bucket_ms_ = std::max<int64_t>((window_ms_ + kBuckets - 1) / kBuckets, 1);
    buckets_ = {};
    head_ = 0;
    head_epoch_ = 0;
    started_ = false;
    sum_received_ = 0;
    sum_lost_ = 0;
}

void LossWindow::advance(int64_t now_ms) {
    const int64_t epoch = now_ms / bucket_ms_;
    if (!started_) {
        started_ = true;
        head_epoch_ = epoch;
        return;
    }
    // Time that runs backwards (a caller's clock step) lands in the newest bucket.
    if (epoch <= head_epoch_)
        return;
    const int64_t steps = std::min<int64_t>(epoch - head_epoch_, kBuckets);
    for (int64_t i = 0; i < steps; ++i) {
        head_ = (head_ + 1) % kBuckets;
        sum_received_ -= buckets_[head_].received;
        sum_lost_ -= buckets_[head_].lost;
        buckets_[head_] = {};
    }
    head_epoch_ = epoch;
}

void LossWindow::record(int64_t now_ms, uint32_t received, uint32_t lost) {
    advance(now_ms);
    buckets_[head_].received += received;
    buckets_[head_].lost += lost;
    sum_received_ += received;
    sum_lost_ += lost;
}

void LossWindow::record_late(int64_t now_ms) {
    take_back(now_ms, 1);
    buckets_[head_].received += 1;
    sum_received_ += 1;
}

void LossWindow::take_back(int64_t now_ms, uint32_t n) {
    advance(now_ms);
    // From the newest bucket that still holds gaps. Which gap a late packet fills is not
    // known here; a late packet comes within the replay window (2,048 counters) of the
    // newest, so its gap is almost always still in the window. If it left already, a newer
    // gap is taken back instead: the ratio errs towards no loss by at most that packet.
    for (int i = 0; i < kBuckets && n > 0; ++i) {
        Bucket &b = buckets_[(head_ - i + kBuckets) % kBuckets];
        const uint32_t k = std::min(b.lost, n);
        b.lost -= k;
        sum_lost_ -= k;
        n -= k;
    }
}

double LossWindow::loss_ratio(int64_t now_ms) {
    advance(now_ms);
    const uint64_t total = sum_received_ + sum_lost_;
    return total == 0 ? 0.0 : static_cast<double>(sum_lost_) / static_cast<double>(total);
}

uint64_t LossWindow::received_in_window(int64_t now_ms) {
    advance(now_ms);
    return sum_received_;
}

uint64_t LossWindow::lost_in_window(int64_t now_ms) {
    advance(now_ms);
    return sum_lost_;
}

void RttEstimator::sample(double rtt_ms) {
    if (samples_ == 0) {
        srtt_ = rtt_ms;
        jitter_ = 0.0;
    } else {
        srtt_ += (rtt_ms - srtt_) / 8.0;
        jitter_ += (std::fabs(rtt_ms - last_) - jitter_) / 16.0;
    }
    last_ = rtt_ms;
    ++samples_;
}

void PathHealth::on_heartbeat(int64_t now_ms, uint64_t seq, double rtt_ms) {
    last_heartbeat_ms_ = now_ms;
    if (seq != 0) {
        // Duplicates and reordered heartbeats say nothing about the current run of drops.
        if (seq > last_seq_) {
            const uint64_t gap = last_seq_ == 0 ? 0 : seq - last_seq_ - 1;
            consecutive_drops_ = static_cast<uint32_t>(std::min<uint64_t>(gap, UINT32_MAX));
            last_seq_ = seq;
        }
    }
    if (rtt_ms >= 0.0)
        rtt_.sample(rtt_ms);
}

void PathHealth::on_rx(int64_t now_ms, uint32_t received, uint32_t gaps, uint32_t filled) {
    loss_.record(now_ms, received, gaps);
    if (filled != 0)
        loss_.take_back(now_ms, filled);
}

void PathHealth::on_counter(int64_t now_ms, uint64_t counter) {
    if (!have_counter_) {
        have_counter_ = true;
        highest_counter_ = counter;
        loss_.record(now_ms, 1, 0);
        return;
    }
    if (counter > highest_counter_) {
        const uint64_t gap = counter - highest_counter_ - 1;
        loss_.record(now_ms, 1, static_cast<uint32_t>(std::min<uint64_t>(gap, UINT32_MAX)));
        highest_counter_ = counter;
    } else {
        loss_.record_late(now_ms);
    }
}

void PathHealth::set_loss_window(int64_t window_ms) {
    if (window_ms != loss_.window_ms())
        loss_.reset(window_ms);
}

HealthSnapshot PathHealth::snapshot(int64_t now_ms) {
    HealthSnapshot h;
    h.loss_ratio = loss_.loss_ratio(now_ms);
    h.rtt_ms = rtt_.srtt_ms();
    h.jitter_ms = rtt_.jitter_ms();
    h.consecutive_drops = consecutive_drops_;
    return h;
}

double path_score(const HealthSnapshot &h) {
    const double delay = h.rtt_ms + 4.0 * h.jitter_ms + 1.0;
    const double loss = 1.0 + 10.0 * h.loss_ratio;
    const double drops = 1.0 + static_cast<double>(h.consecutive_drops);
    return 1000.0 / (delay * loss * drops);
}

}  // namespace jg
