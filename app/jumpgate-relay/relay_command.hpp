// Relay commands (one line of text or one JSON object) and time-stamped scripts of them:
// parsing, validation and their effect on the impairment settings. Relay loop thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "endpoint.hpp"
#include "impairment.hpp"

namespace jg::relay {

// Which directions an impairment command changes.
enum class Target : uint8_t { up, down, both };

struct SetBlackhole {
    Target target;
    bool on;
};
struct SetDrop {
    Target target;
    double percent;
};
struct SetDelay {
    Target target;
    uint32_t delay_ms;
    uint32_t jitter_ms;
    JitterShape shape;
};
struct SetDuplicate {
    Target target;
    double percent;
};
struct SetReorder {
    Target target;
    double percent;
    std::optional<uint32_t> hold_ms;  // unchanged when absent
};
struct SetQueueLimit {
    Target target;
    uint32_t packets;
};
// Drop exactly the next `count` packets (only those of `size` bytes when it is not 0), after
// letting `skip` of them pass, and only once the other direction has carried a datagram of
// `following` bytes when that is not 0; count 0 cancels a rule still pending.
struct SetTargetedLoss {
    Target target;
    uint32_t count;
    uint32_t size;
    uint32_t skip;
    uint32_t following;
};
struct ClearImpairments {
    Target target;
};
struct RebindPort {};
struct RebindAddr {
    UdpEndpoint address;  // port 0: ephemeral
};
enum class RecordMode : uint8_t { on, off, clear };
struct SetRecord {
    RecordMode mode;
};
struct Replay {
    Direction direction;
    uint64_t index;                   // position in that direction's capture, from 0
    std::optional<UdpEndpoint> from;  // a third source (ADDR[:PORT]); else the relay's socket
};
struct ShowStats {};
struct ShowCaptures {
    Target target;
};

using Command = std::variant<SetBlackhole, SetDrop, SetDelay, SetDuplicate, SetReorder,
                             SetQueueLimit, SetTargetedLoss, ClearImpairments, RebindPort,
                             RebindAddr, SetRecord, Replay, ShowStats, ShowCaptures>;

// A text command ("up drop 15%", "both blackhole on", "replay 3 from 127.0.0.3") or, when the
// line starts with '{', a JSON object ({"cmd":"drop","dir":"up","percent":15}).
Result<Command> parse_command(std::string_view line);

struct ScriptStep {
    uint64_t at_ms;  // since the relay started
    Command command;
    std::string text;  // the command as written, for logs
    unsigned line;
};

// Lines "at <T>ms <command>"; '#' starts a comment; blank lines are ignored. Steps come back
// ordered by time (stable for equal times). Errors name `source`:line.
Result<std::vector<ScriptStep>> parse_script(std::string_view text, std::string_view source);

struct ImpairmentSettings {
    DirectionImpairment up;
    DirectionImpairment down;

    DirectionImpairment &of(Direction d) { return d == Direction::up ? up : down; }
    const DirectionImpairment &of(Direction d) const { return d == Direction::up ? up : down; }
};

// Applies an impairment command (SetBlackhole .. ClearImpairments, the queue limit included)
// and returns true; any other command leaves the settings alone and returns false.
bool apply_impairment(const Command &command, ImpairmentSettings &settings);

}  // namespace jg::relay
