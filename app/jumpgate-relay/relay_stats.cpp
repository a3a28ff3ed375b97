#include "relay_stats.hpp"

namespace jg::relay {

std::string_view drop_cause_name(DropCause c) {
    switch (c) {
#define JG_RELAY_NAME(name) \
    case DropCause::name:   \
        return #name;
        JG_RELAY_DROP_CAUSES(JG_RELAY_NAME)
#undef JG_RELAY_NAME
        case DropCause::count:
            break;
    }
    return "unknown";
}

nlohmann::json to_json(const DirectionCounters &c) {
    nlohmann::json dropped = nlohmann::json::object();
    uint64_t total = 0;
    for (size_t i = 0; i < c.dropped.size(); ++i) {
        dropped[std::string(drop_cause_name(static_cast<DropCause>(i)))] = c.dropped[i];
        total += c.dropped[i];
    }
    dropped["total"] = total;
    return {
        {"received", c.received},     {"forwarded", c.forwarded}, {"dropped", dropped},
        {"duplicated", c.duplicated}, {"reordered", c.reordered}, {"delayed", c.delayed},
        {"replayed", c.replayed},     {"recorded", c.recorded},   {"not_recorded", c.not_recorded}};
}

}  // namespace jg::relay
