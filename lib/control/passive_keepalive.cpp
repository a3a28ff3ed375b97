#include "control/passive_keepalive.hpp"

namespace jg::control {

KeepaliveStep keepalive_step(PassiveKeepalive timer, const TrafficDelta &d, int64_t now_ms,
                             int64_t timeout_ms) {
    if (d.tx_packets != 0)
        timer.due_ms = kNever;
    // Armed already: the first unanswered data packet keeps deciding when the peer hears back.
    if (received_data(d) && timer.due_ms == kNever)
        timer.due_ms = now_ms + timeout_ms;
    if (timer.due_ms == kNever || now_ms < timer.due_ms)
        return {timer, false};
    // Disarmed until new data arrives: the keepalive is the send that answers what came.
    return {PassiveKeepalive{}, true};
}

}  // namespace jg::control
