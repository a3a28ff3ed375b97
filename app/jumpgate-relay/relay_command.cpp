#include "relay_command.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

namespace jg::relay {

namespace {

using Tokens = std::vector<std::string>;

Tokens split_words(std::string_view line) {
    Tokens out;
    std::istringstream in{std::string(line)};
    std::string w;
    while (in >> w) {
        out.push_back(w);
    }
    return out;
}

Error bad(const std::string &what) {
    return make_error("", what);
}

// Finite only: from_chars takes "nan" and "inf", and NaN fails every range comparison.
std::optional<double> to_number(std::string_view text) {
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

// "15%", "15", "2.5%": 0..100.
Result<double> parse_percent(const std::string &text, std::string_view verb) {
    std::string_view t = text;
    if (!t.empty() && t.back() == '%') {
        t.remove_suffix(1);
    }
    auto v = to_number(t);
    if (!v || *v < 0 || *v > 100) {
        return bad(std::string(verb) + ": '" + text + "' is not a percentage in 0..100");
    }
    return *v;
}

// "50ms", "50" (ms), "2s": whole milliseconds up to one hour.
Result<uint32_t> parse_ms(const std::string &text, std::string_view what) {
    std::string_view t = text;
    double scale = 1;
    if (t.ends_with("ms")) {
        t.remove_suffix(2);
    } else if (t.ends_with("s")) {
        t.remove_suffix(1);
        scale = 1000;
    }
    auto v = to_number(t);
    if (!v || *v < 0 || *v * scale > 3'600'000 || *v * scale != static_cast<uint32_t>(*v * scale)) {
        return bad(std::string(what) + ": '" + text +
                   "' is not a whole number of milliseconds in 0..3600000 (e.g. 50ms, 2s)");
    }
    return static_cast<uint32_t>(*v * scale);
}

Result<bool> parse_on_off(const Tokens &args, std::string_view verb) {
    if (args.size() != 1 || (args[0] != "on" && args[0] != "off")) {
        return bad(std::string(verb) + " takes 'on' or 'off'");
    }
    return args[0] == "on";
}

Result<Command> parse_percent_command(const Tokens &args, Target target, std::string_view verb) {
    if (args.size() != 1) {
        return bad(std::string(verb) + " takes one percentage (e.g. '" + std::string(verb) +
                   " 15%')");
    }
    auto p = parse_percent(args[0], verb);
    if (!p) {
        return p.error();
    }
    if (verb == "drop") {
        return Command{SetDrop{target, *p}};
    }
    return Command{SetDuplicate{target, *p}};
}

// delay MS [jitter MS] [uniform|normal]
Result<Command> parse_delay(const Tokens &args, Target target) {
    if (args.empty()) {
        return bad("delay takes MS [jitter MS] [uniform|normal]");
    }
    auto d = parse_ms(args[0], "delay");
    if (!d) {
        return d.error();
    }
    SetDelay c{target, *d, 0, JitterShape::uniform};
    for (size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "jitter") {
            if (i + 1 >= args.size()) {
                return bad("delay: 'jitter' needs a value in ms");
            }
            auto j = parse_ms(args[++i], "jitter");
            if (!j) {
                return j.error();
            }
            c.jitter_ms = *j;
        } else if (args[i] == "uniform") {
            c.shape = JitterShape::uniform;
        } else if (args[i] == "normal") {
            c.shape = JitterShape::normal;
        } else {
            return bad("delay: unexpected '" + args[i] +
                       "' (expected 'jitter MS', 'uniform' or 'normal')");
        }
    }
    return Command{c};
}

// reorder PERCENT [hold MS]
Result<Command> parse_reorder(const Tokens &args, Target target) {
    if (args.empty() || (args.size() != 1 && args.size() != 3) ||
        (args.size() == 3 && args[1] != "hold")) {
        return bad("reorder takes PERCENT [hold MS]");
    }
    auto p = parse_percent(args[0], "reorder");
    if (!p) {
        return p.error();
    }
    SetReorder c{target, *p, std::nullopt};
    if (args.size() == 3) {
        auto h = parse_ms(args[2], "reorder hold");
        if (!h) {
            return h.error();
        }
        if (*h == 0) {
            return bad("reorder hold: must be at least 1 ms");
        }
        c.hold_ms = *h;
    }
    return Command{c};
}

// The whole text as an unsigned number: from_chars stops at the first non-digit ("5x" reads as
// 5) and refuses a sign, so what is added is that every character was used.
template <class T>
std::optional<T> whole_number(const std::string &text) {
    T v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return v;
}

// limit PACKETS
Result<Command> parse_limit(const Tokens &args, Target target) {
    const uint32_t packets =
        args.size() == 1 ? whole_number<uint32_t>(args[0]).value_or(0) : uint32_t{0};
    if (packets == 0 || packets > kMaxQueueLimit) {
        return bad("limit takes one number of packets in 1.." + std::to_string(kMaxQueueLimit) +
                   (args.size() == 1 ? ", not '" + args[0] + "'" : std::string()));
    }
    return Command{SetQueueLimit{target, packets}};
}

// A whole number in lo..hi named `what` in the error.
Result<uint32_t> parse_count(const std::string &text, std::string_view what, uint32_t lo,
                             uint32_t hi) {
    const auto v = whole_number<uint32_t>(text);
    if (!v || *v < lo || *v > hi) {
        return bad(std::string(what) + ": '" + text + "' is not a whole number in " +
                   std::to_string(lo) + ".." + std::to_string(hi));
    }
    return *v;
}

// lose COUNT [size BYTES] [after SKIP] [following BYTES], the options in any order, each once.
Result<Command> parse_lose(const Tokens &args, Target target) {
    if (args.empty()) {
        return bad("lose takes COUNT [size BYTES] [after SKIP] [following BYTES]");
    }
    auto count = parse_count(args[0], "lose", 0, kMaxLoseCount);
    if (!count) {
        return count.error();
    }
    SetTargetedLoss c{target, *count, 0, 0, 0};
    std::vector<std::string> seen;
    for (size_t i = 1; i < args.size(); i += 2) {
        const std::string &key = args[i];
        if (key != "size" && key != "after" && key != "following") {
            return bad("lose: unexpected '" + key +
                       "' (expected 'size BYTES', 'after SKIP' or 'following BYTES')");
        }
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
            return bad("lose: '" + key + "' given twice");
        }
        seen.push_back(key);
        if (i + 1 >= args.size()) {
            return bad("lose: '" + key + "' needs a value");
        }
        const std::string &value = args[i + 1];
        if (key == "following" && target == Target::both) {
            return bad("lose following: give 'up' or 'down' (the other direction wakes it)");
        }
        auto v = key == "after" ? parse_count(value, "lose after", 0, kMaxLoseCount)
                                : parse_count(value, "lose " + key, 1, 65535);
        if (!v) {
            return v.error();
        }
        (key == "size" ? c.size : key == "after" ? c.skip : c.following) = *v;
    }
    return Command{c};
}

// replay INDEX [from ADDR[:PORT]]
Result<Command> parse_replay(const Tokens &args, std::optional<Target> target) {
    if (target == Target::both) {
        return bad("replay takes 'up' or 'down', not 'both'");
    }
    if (args.size() != 1 && !(args.size() == 3 && args[1] == "from")) {
        return bad("replay takes INDEX [from ADDR[:PORT]]");
    }
    const auto index = whole_number<uint64_t>(args[0]);
    if (!index) {
        return bad("replay: index '" + args[0] + "' is not a non-negative integer");
    }
    Replay c{target == Target::down ? Direction::down : Direction::up, *index, std::nullopt};
    if (args.size() == 3) {
        auto from = parse_address(args[2], "replay from");
        if (!from) {
            return from.error();
        }
        c.from = *from;
    }
    return Command{c};
}

Result<Command> parse_tokens(const Tokens &words) {
    if (words.empty()) {
        return bad("empty command");
    }
    std::optional<Target> target;
    size_t i = 0;
    if (words[0] == "up" || words[0] == "down" || words[0] == "both") {
        target = words[0] == "up" ? Target::up : words[0] == "down" ? Target::down : Target::both;
        ++i;
        if (i == words.size()) {
            return bad("'" + words[0] + "' must be followed by a command");
        }
    }
    const std::string &verb = words[i];
    Tokens args(words.begin() + static_cast<long>(i) + 1, words.end());
    Target t = target.value_or(Target::both);
    auto no_direction = [&]() -> std::optional<Error> {
        if (target) {
            return bad("'" + verb + "' takes no direction");
        }
        return std::nullopt;
    };
    auto no_args = [&]() -> std::optional<Error> {
        if (!args.empty()) {
            return bad("'" + verb + "' takes no arguments, got '" + args[0] + "'");
        }
        return std::nullopt;
    };

    if (verb == "drop" || verb == "duplicate") {
        return parse_percent_command(args, t, verb);
    }
    if (verb == "delay") {
        return parse_delay(args, t);
    }
    if (verb == "blackhole") {
        auto on = parse_on_off(args, verb);
        if (!on) {
            return on.error();
        }
        return Command{SetBlackhole{t, *on}};
    }
    if (verb == "reorder") {
        return parse_reorder(args, t);
    }
    if (verb == "limit") {
        return parse_limit(args, t);
    }
    if (verb == "lose") {
        return parse_lose(args, t);
    }
    if (verb == "clear") {
        if (auto e = no_args()) {
            return *e;
        }
        return Command{ClearImpairments{t}};
    }
    if (verb == "rebind-port") {
        if (auto e = no_direction(); e || (e = no_args())) {
            return *e;
        }
        return Command{RebindPort{}};
    }
    if (verb == "rebind-addr") {
        if (auto e = no_direction()) {
            return *e;
        }
        if (args.size() != 1) {
            return bad("rebind-addr takes one address (e.g. 'rebind-addr 127.0.0.2')");
        }
        auto a = parse_address(args[0], "rebind-addr");
        if (!a) {
            return a.error();
        }
        if (a->port() != 0) {
            return bad("rebind-addr: give an address without a port (the port is ephemeral)");
        }
        return Command{RebindAddr{*a}};
    }
    if (verb == "record") {
        if (auto e = no_direction()) {
            return *e;
        }
        if (args.size() != 1 || (args[0] != "on" && args[0] != "off" && args[0] != "clear")) {
            return bad("record takes 'on', 'off' or 'clear'");
        }
        return Command{SetRecord{args[0] == "on"    ? RecordMode::on
                                 : args[0] == "off" ? RecordMode::off
                                                    : RecordMode::clear}};
    }
    if (verb == "replay") {
        return parse_replay(args, target);
    }
    if (verb == "stats") {
        if (auto e = no_direction(); e || (e = no_args())) {
            return *e;
        }
        return Command{ShowStats{}};
    }
    if (verb == "captures") {
        if (auto e = no_args()) {
            return *e;
        }
        return Command{ShowCaptures{t}};
    }
    return bad("unknown command '" + verb +
               "' (known: drop, delay, blackhole, duplicate, reorder, limit, lose, clear, "
               "rebind-port, rebind-addr, record, replay, stats, captures)");
}

std::string json_scalar(const nlohmann::json &v) {
    if (v.is_string()) {
        return v.get<std::string>();
    }
    if (v.is_boolean()) {
        return v.get<bool>() ? "on" : "off";
    }
    if (v.is_number_unsigned() || v.is_number_integer()) {
        return std::to_string(v.get<int64_t>());
    }
    if (v.is_number_float()) {
        std::ostringstream o;
        o << v.get<double>();
        return o.str();
    }
    return v.dump();  // arrays/objects: rejected by the text parser with this text in the error
}

// {"cmd":..., "dir":..., ...}: turned into the words of the text form, so both forms share
// one validation.
Result<Command> parse_json(std::string_view line) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return bad("not a JSON object: " + std::string(line));
    }
    if (!j.contains("cmd") || !j["cmd"].is_string()) {
        return bad("JSON command needs a string field \"cmd\"");
    }
    const std::string cmd = j["cmd"].get<std::string>();
    // The fields each command accepts, in the order the text form wants them, with the
    // keyword that precedes the value in text (empty: none).
    struct Field {
        const char *key;
        const char *keyword;
    };
    std::vector<Field> fields;
    if (cmd == "drop" || cmd == "duplicate" || cmd == "reorder") {
        fields = {{"percent", ""}};
        if (cmd == "reorder") {
            fields.push_back({"hold_ms", "hold"});
        }
    } else if (cmd == "delay") {
        fields = {{"ms", ""}, {"jitter_ms", "jitter"}, {"shape", ""}};
    } else if (cmd == "blackhole" || cmd == "record") {
        fields = {{"on", ""}};
        if (cmd == "record") {
            fields = {{"mode", ""}, {"on", ""}};
        }
    } else if (cmd == "limit") {
        fields = {{"packets", ""}};
    } else if (cmd == "lose") {
        fields = {{"count", ""}, {"size", "size"}, {"after", "after"}, {"following", "following"}};
    } else if (cmd == "rebind-addr") {
        fields = {{"addr", ""}};
    } else if (cmd == "replay") {
        fields = {{"index", ""}, {"from", "from"}};
    }
    Tokens words;
    if (j.contains("dir")) {
        if (!j["dir"].is_string()) {
            return bad("JSON field \"dir\" must be \"up\", \"down\" or \"both\"");
        }
        words.push_back(j["dir"].get<std::string>());
        if (words[0] != "up" && words[0] != "down" && words[0] != "both") {
            return bad("JSON field \"dir\": '" + words[0] + "' is not up, down or both");
        }
    }
    words.push_back(cmd);
    for (auto &[key, value] : j.items()) {
        if (key == "cmd" || key == "dir") {
            continue;
        }
        bool known =
            std::any_of(fields.begin(), fields.end(), [&](const Field &f) { return key == f.key; });
        if (!known) {
            return bad("JSON field \"" + key + "\" is not known for \"" + cmd + "\"");
        }
    }
    for (const Field &f : fields) {
        if (!j.contains(f.key)) {
            continue;
        }
        if (*f.keyword) {
            words.push_back(f.keyword);
        }
        words.push_back(json_scalar(j[f.key]));
    }
    return parse_tokens(words);
}

}  // namespace

Result<Command> parse_command(std::string_view line) {
    auto first = line.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && line[first] == '{') {
        return parse_json(line.substr(first));
    }
    return parse_tokens(split_words(line));
}

Result<std::vector<ScriptStep>> parse_script(std::string_view text, std::string_view source) {
    std::vector<ScriptStep> steps;
    unsigned number = 0;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++number;
        if (auto hash = line.find('#'); hash != std::string_view::npos) {
            line = line.substr(0, hash);
        }
        Tokens words = split_words(line);
        if (words.empty()) {
            continue;
        }
        auto where = std::string(source) + ":" + std::to_string(number);
        if (words[0] != "at" || words.size() < 3) {
            return make_error(where,
                              "expected 'at <T>ms <command>', got '" + std::string(line) + "'");
        }
        auto at = parse_ms(words[1], "at");
        if (!at) {
            return make_error(where, at.error().what);
        }
        Tokens rest(words.begin() + 2, words.end());
        auto command = parse_tokens(rest);
        if (!command) {
            return make_error(where, command.error().what);
        }
        std::string joined;
        for (const auto &w : rest) {
            joined += (joined.empty() ? "" : " ") + w;
        }
        steps.push_back(ScriptStep{*at, *command, joined, number});
    }
    std::stable_sort(steps.begin(), steps.end(),
                     [](const ScriptStep &a, const ScriptStep &b) { return a.at_ms < b.at_ms; });
    return steps;
}

namespace {

template <class F>
void for_target(Target t, ImpairmentSettings &s, F &&f) {
    if (t != Target::down) {
        f(s.up);
    }
    if (t != Target::up) {
        f(s.down);
    }
}

}  // namespace

bool apply_impairment(const Command &command, ImpairmentSettings &settings) {
    return std::visit(
        [&](const auto &c) -> bool {
            using C = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<C, SetBlackhole>) {
                for_target(c.target, settings, [&](auto &d) { d.blackhole = c.on; });
            } else if constexpr (std::is_same_v<C, SetDrop>) {
                for_target(c.target, settings, [&](auto &d) { d.drop_percent = c.percent; });
            } else if constexpr (std::is_same_v<C, SetDelay>) {
                for_target(c.target, settings, [&](auto &d) {
                    d.delay_ms = c.delay_ms;
                    d.jitter_ms = c.jitter_ms;
                    d.jitter_shape = c.shape;
                });
            } else if constexpr (std::is_same_v<C, SetDuplicate>) {
                for_target(c.target, settings, [&](auto &d) { d.duplicate_percent = c.percent; });
            } else if constexpr (std::is_same_v<C, SetReorder>) {
                for_target(c.target, settings, [&](auto &d) {
                    d.reorder_percent = c.percent;
                    if (c.hold_ms) {
                        d.reorder_hold_ms = *c.hold_ms;
                    }
                });
            } else if constexpr (std::is_same_v<C, SetQueueLimit>) {
                for_target(c.target, settings, [&](auto &d) { d.queue_limit = c.packets; });
            } else if constexpr (std::is_same_v<C, SetTargetedLoss>) {
                for_target(c.target, settings, [&](auto &d) {
                    d.lose_count = c.count;
                    d.lose_size = c.size;
                    d.lose_skip = c.skip;
                    d.lose_following = c.following;
                });
            } else if constexpr (std::is_same_v<C, ClearImpairments>) {
                for_target(c.target, settings, [&](auto &d) {
                    const uint32_t limit = d.queue_limit;
                    d = DirectionImpairment{};
                    d.queue_limit = limit;
                });
            } else {
                return false;
            }
            return true;
        },
        command);
}

}  // namespace jg::relay
