// Admin replies as jumpgatectl shows them: the gateway's /jumpgate/... telemetry replies
// reshaped into plain JSON (lists instead of numbered keys, pages joined) and rendered as
// aligned tables. Pure functions; jumpgatectl's thread (and unit tests).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace jg::ctl {

// A command's reply value: objects pass; the gateway's "error: ..." strings become the Error
// (where = the command); null means the gateway has no such command (an older version).
Result<nlohmann::json> admin_reply(const nlohmann::json &value, std::string_view command);

// Moves the object members named <prefix><N> (N decimal) into a list ordered by N.
nlohmann::json take_numbered(nlohmann::json &object, std::string_view prefix);

// /jumpgate/sessions pages -> {"total": N, "sessions": [ {...}, ... ]} in page order.
nlohmann::json join_session_pages(const std::vector<nlohmann::json> &pages);
// /jumpgate/session reply -> the same object with "transitions": [ ... ] (oldest first).
nlohmann::json session_detail(nlohmann::json reply);
// /jumpgate/policy reply -> {"generation", "default_profile", "profiles": [ ... ]}.
nlohmann::json policy_listing(nlohmann::json reply);
// /jumpgate/stats reply -> counters plus "workers": [ ... ].
nlohmann::json stats_listing(nlohmann::json reply);

// Rows of cells, the first row the header; columns padded to their widest cell, two spaces
// apart, no trailing blanks.
std::string aligned_table(const std::vector<std::vector<std::string>> &rows);

std::string sessions_text(const nlohmann::json &joined);
std::string session_detail_text(const nlohmann::json &detail);
std::string policy_text(const nlohmann::json &listing);
std::string stats_text(const nlohmann::json &listing);

}  // namespace jg::ctl
