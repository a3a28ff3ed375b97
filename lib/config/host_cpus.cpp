#include "config/host_cpus.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace jg {

namespace {
constexpr const char *kOnlineCpus = "/sys/devices/system/cpu/online";
}  // namespace

namespace {
constexpr uint32_t kCpuIdLimit = 65536;
}  // namespace

std::optional<std::string> add_cpu_list_item(std::string_view item, uint32_t limit,
                                             std::vector<uint32_t> &out) {
    auto number = [](std::string_view s) -> std::optional<uint32_t> {
        uint32_t v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (s.empty() || ec != std::errc{} || end != s.data() + s.size())
            return std::nullopt;
        return v;
    };
    const auto dash = item.find('-');
    const auto first = number(item.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : number(item.substr(dash + 1));
    if (!first || !last || *first > *last)
        return "bad lcore list item \"" + std::string(item) + "\" (expected N or N-M)";
    if (*last >= limit)
        return "lcore " + std::to_string(*last) + " is beyond the last lcore DPDK supports (" +
               std::to_string(limit - 1) + ")";
    for (uint32_t c = *first; c <= *last; ++c) {
        if (std::find(out.begin(), out.end(), c) != out.end())
            return "lcore " + std::to_string(c) + " is listed twice";
        out.push_back(c);
    }
    return std::nullopt;
}

Result<std::vector<uint32_t>> parse_cpu_list(const std::string &text) {
    std::vector<uint32_t> cpus;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        while (!item.empty() && (item.back() == '\n' || item.back() == ' '))
            item.pop_back();
        if (item.empty())
            continue;
        if (add_cpu_list_item(item, kCpuIdLimit, cpus))
            return make_error(kOnlineCpus, "unexpected CPU list '" + text + "'");
    }
    if (cpus.empty())
        return make_error(kOnlineCpus, "lists no CPU");
    return cpus;
}

Result<std::vector<uint32_t>> available_cpus() {
    std::ifstream f(kOnlineCpus);
    std::string text;
    if (!f || !std::getline(f, text))
        return make_error(kOnlineCpus, "cannot read the online CPUs");
    return parse_cpu_list(text);
}

}  // namespace jg
