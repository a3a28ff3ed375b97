// Counters of the relay, one set per direction, and their JSON form. Written and read by the
// relay loop thread only (the control socket is served by the same loop).
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

namespace jg::relay {

// Why a packet was not forwarded; one list gives the enum and the JSON names.
#define JG_RELAY_DROP_CAUSES(X) \
    X(blackhole)                \
    X(loss)                     \
    X(no_client)                \
    X(send_error)               \
    X(queue_full)               \
    X(targeted)

enum class DropCause : uint8_t {
#define JG_RELAY_ENUM(name) name,
    JG_RELAY_DROP_CAUSES(JG_RELAY_ENUM)
#undef JG_RELAY_ENUM
        count
};

std::string_view drop_cause_name(DropCause c);

struct DirectionCounters {
    uint64_t received = 0;      // datagrams that arrived for this direction
    uint64_t forwarded = 0;     // datagrams sent on, duplicate copies included, replays not
    uint64_t duplicated = 0;    // extra copies sent
    uint64_t reordered = 0;     // packets sent after a later packet that overtook them
    uint64_t delayed = 0;       // packets held in the delay queue (delay or jitter > 0)
    uint64_t replayed = 0;      // captured packets sent again by 'replay'
    uint64_t recorded = 0;      // packets captured while recording was on
    uint64_t not_recorded = 0;  // arrived while recording, but the capture was full
    std::array<uint64_t, static_cast<size_t>(DropCause::count)> dropped{};

    void drop(DropCause c) { ++dropped[static_cast<size_t>(c)]; }
    uint64_t dropped_by(DropCause c) const { return dropped[static_cast<size_t>(c)]; }
};

nlohmann::json to_json(const DirectionCounters &c);

}  // namespace jg::relay
