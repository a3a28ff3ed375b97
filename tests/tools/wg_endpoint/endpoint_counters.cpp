#include "endpoint_counters.hpp"

#include <nlohmann/json.hpp>

namespace jg::interop {

std::string EndpointCounters::to_json(const std::string &role, const std::string &error) const {
    nlohmann::json line = {
        {"role", role},
        {"result", error.empty() ? "ok" : "error"},
        {"handshakes", handshakes},
        {"initiations_sent", initiations_sent},
        {"flood_initiations_sent", flood_initiations_sent},
        {"initiations_rejected", initiations_rejected},
        {"responses_sent", responses_sent},
        {"cookie_replies", cookie_replies},
        {"cookie_replies_received", cookie_replies_received},
        {"flood_cookie_replies", flood_cookie_replies},
        {"mac2_verified", mac2_verified},
        {"packets_sent", packets_sent},
        {"packets_received", packets_received},
        {"echo_replies_sent", echo_replies_sent},
        {"echo_replies_received", echo_replies_received},
        {"dropped", dropped},
    };
    if (!error.empty()) {
        line["error"] = error;
    }
    return line.dump();
}

}  // namespace jg::interop
