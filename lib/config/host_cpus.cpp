#include "config/host_cpus.hpp"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace jg {

namespace {
constexpr const char *kOnlineCpus = "/sys/devices/system/cpu/online";
}  // namespace

Result<std::vector<uint32_t>> parse_cpu_list(const std::string &text) {
    std::vector<uint32_t> cpus;
    std::stringstream in(text);
    std::string item;
    auto number = [](const std::string &s, uint32_t &out) {
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return ec == std::errc() && end == s.data() + s.size() && !s.empty();
    };
    while (std::getline(in, item, ',')) {
        while (!item.empty() && (item.back() == '\n' || item.back() == ' '))
            item.pop_back();
        if (item.empty())
            continue;
        const auto dash = item.find('-');
        uint32_t first = 0, last = 0;
        const bool ok = dash == std::string::npos
                            ? number(item, first) && (last = first, true)
                            : number(item.substr(0, dash), first) &&
                                  number(item.substr(dash + 1), last) && first <= last;
        if (!ok || last >= 65536)
            return make_error(kOnlineCpus, "unexpected CPU list '" + text + "'");
        for (uint32_t c = first; c <= last; ++c)
            cpus.push_back(c);
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
