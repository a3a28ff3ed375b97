#include "admin_format.hpp"

#include <algorithm>
#include <charconv>
#include <map>

namespace jg::ctl {
namespace {

std::string cell(const nlohmann::json &v) {
    if (v.is_string())
        return v.get<std::string>();
    if (v.is_null())
        return "-";
    return v.dump();
}

std::string field(const nlohmann::json &o, const char *name) {
    const auto it = o.find(name);
    return it == o.end() ? std::string("-") : cell(*it);
}

std::string age_text(const nlohmann::json &o) {
    const auto it = o.find("age_s");
    if (it == o.end() || !it->is_number_integer())
        return "-";
    const uint64_t s = it->get<uint64_t>();
    if (s < 120)
        return std::to_string(s) + "s";
    if (s < 7200)
        return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
    return std::to_string(s / 3600) + "h" + std::to_string(s / 60 % 60) + "m";
}

// Scalars of an object as "key  value" rows, in the object's (sorted) order.
std::string key_values(const nlohmann::json &o) {
    std::vector<std::vector<std::string>> rows;
    for (const auto &[k, v] : o.items())
        if (!v.is_structured())
            rows.push_back({k, cell(v)});
    std::string out;
    size_t width = 0;
    for (const auto &r : rows)
        width = std::max(width, r[0].size());
    for (const auto &r : rows)
        out += r[0] + std::string(width - r[0].size() + 2, ' ') + r[1] + "\n";
    return out;
}

}  // namespace

Result<nlohmann::json> admin_reply(const nlohmann::json &value, std::string_view command) {
    if (value.is_object())
        return value;
    if (value.is_string()) {
        std::string text = value.get<std::string>();
        constexpr std::string_view kError = "error: ";
        if (text.rfind(kError, 0) == 0)
            text.erase(0, kError.size());
        return make_error(std::string(command), text);
    }
    if (value.is_null())
        return make_error(std::string(command),
                          "the gateway does not know this command (is it a jumpgate gateway of "
                          "this version?)");
    return make_error(std::string(command), "unexpected reply " + value.dump());
}

nlohmann::json take_numbered(nlohmann::json &object, std::string_view prefix) {
    std::map<uint64_t, nlohmann::json> found;
    std::vector<std::string> names;
    for (const auto &[k, v] : object.items()) {
        if (k.size() <= prefix.size() || k.compare(0, prefix.size(), prefix) != 0)
            continue;
        uint64_t n = 0;
        const char *first = k.data() + prefix.size();
        const auto [end, ec] = std::from_chars(first, k.data() + k.size(), n);
        if (ec != std::errc{} || end != k.data() + k.size())
            continue;
        found.emplace(n, v);
        names.push_back(k);
    }
    for (const auto &k : names)
        object.erase(k);
    nlohmann::json list = nlohmann::json::array();
    for (auto &[n, v] : found)
        list.push_back(std::move(v));
    return list;
}

nlohmann::json join_session_pages(const std::vector<nlohmann::json> &pages) {
    nlohmann::json out = {{"total", 0}, {"sessions", nlohmann::json::array()}};
    for (const nlohmann::json &page : pages) {
        if (const auto it = page.find("total"); it != page.end())
            out["total"] = *it;
        // Session rows are the object-valued members ("s" + id); the rest is paging.
        std::vector<std::pair<std::string, nlohmann::json>> rows;
        for (const auto &[k, v] : page.items())
            if (v.is_object())
                rows.emplace_back(k, v);
        std::sort(rows.begin(), rows.end(),
                  [](const auto &a, const auto &b) { return a.first < b.first; });
        for (auto &r : rows)
            out["sessions"].push_back(std::move(r.second));
    }
    return out;
}

nlohmann::json session_detail(nlohmann::json reply) {
    nlohmann::json transitions = take_numbered(reply, "transition_");
    reply.erase("recent_transitions");
    reply["transitions"] = std::move(transitions);
    return reply;
}

nlohmann::json policy_listing(nlohmann::json reply) {
    nlohmann::json profiles = take_numbered(reply, "profile_");
    reply["profiles"] = std::move(profiles);
    return reply;
}

nlohmann::json stats_listing(nlohmann::json reply) {
    nlohmann::json workers = take_numbered(reply, "worker_");
    reply["workers"] = std::move(workers);
    return reply;
}

std::string aligned_table(const std::vector<std::vector<std::string>> &rows) {
    std::vector<size_t> width;
    for (const auto &r : rows) {
        if (width.size() < r.size())
            width.resize(r.size(), 0);
        for (size_t i = 0; i < r.size(); ++i)
            width[i] = std::max(width[i], r[i].size());
    }
    std::string out;
    for (const auto &r : rows) {
        std::string line;
        for (size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size())
                line += std::string(width[i] - r[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + "\n";
    }
    return out;
}

std::string sessions_text(const nlohmann::json &joined) {
    std::vector<std::vector<std::string>> rows{
        {"SESSION", "PEER", "NAME", "STATE", "VERSION", "TRANSPORT", "AGE", "SWITCHES"}};
    for (const auto &s : joined.at("sessions"))
        rows.push_back({field(s, "session_id"), field(s, "peer"), field(s, "peer_name"),
                        field(s, "state"), field(s, "state_version"), field(s, "transport"),
                        age_text(s), field(s, "switches")});
    const size_t n = joined.at("sessions").size();
    return aligned_table(rows) + std::to_string(n) + (n == 1 ? " session\n" : " sessions\n");
}

std::string session_detail_text(const nlohmann::json &detail) {
    std::string out = key_values(detail);
    const auto &ts = detail.at("transitions");
    out += "\nlast " + std::to_string(ts.size()) + " transitions (oldest first):\n";
    std::vector<std::vector<std::string>> rows{
        {"TS_MS", "VERSION", "KIND", "FROM", "TO", "REASON"}};
    for (const auto &t : ts)
        rows.push_back({field(t, "ts_ms"), field(t, "state_version"), field(t, "kind"),
                        field(t, "from"), field(t, "to"), field(t, "reason")});
    return out + aligned_table(rows);
}

std::string policy_text(const nlohmann::json &listing) {
    std::string out = "policy generation " + field(listing, "generation") + ", default profile " +
                      field(listing, "default_profile") + "\n";
    // One column per profile, one row per key: profiles are compared side by side.
    std::vector<std::vector<std::string>> rows{{"KEY"}};
    std::vector<std::string> keys;
    for (const auto &p : listing.at("profiles")) {
        rows[0].push_back(field(p, "name"));
        for (const auto &[k, v] : p.items())
            if (k != "name" && std::find(keys.begin(), keys.end(), k) == keys.end())
                keys.push_back(k);
    }
    // version first, then the policy keys in their section/key order.
    std::stable_partition(keys.begin(), keys.end(), [](const auto &k) { return k == "version"; });
    for (const auto &k : keys) {
        std::vector<std::string> row{k};
        for (const auto &p : listing.at("profiles"))
            row.push_back(field(p, k.c_str()));
        rows.push_back(std::move(row));
    }
    return out + aligned_table(rows);
}

std::string stats_text(const nlohmann::json &listing) {
    std::string out = key_values(listing);
    std::vector<std::vector<std::string>> rows{{"WORKER", "LCORE", "RX_PACKETS", "RX_BYTES",
                                                "TX_PACKETS", "DROPS", "REASSEMBLED", "BUSY"}};
    size_t i = 0;
    for (const auto &w : listing.at("workers")) {
        std::string busy = "-";
        if (const auto it = w.find("busy_permille"); it != w.end() && it->is_number_integer()) {
            const uint64_t pm = it->get<uint64_t>();
            busy = std::to_string(pm / 10) + "." + std::to_string(pm % 10) + "%";
        }
        rows.push_back({std::to_string(i++), field(w, "lcore"), field(w, "rx_packets"),
                        field(w, "rx_bytes"), field(w, "tx_packets"), field(w, "drops"),
                        field(w, "reassembled"), busy});
    }
    return out + "\n" + aligned_table(rows);
}

}  // namespace jg::ctl
