// Configuration text: parse_gateway_config and parse_policy_file answer every input with a
// Result (never a throw or a crash), and whatever they accept renders to YAML that loads back
// to the same value.
#include <cstdio>
#include <string>
#include <string_view>

#include "config/gateway_config.hpp"
#include "config/policy_file.hpp"
#include "fuzz_check.hpp"

namespace {

void check_gateway(std::string_view text) {
    const auto config = jg::parse_gateway_config(text, "fuzz.yaml");
    if (!config.ok()) {
        FUZZ_REQUIRE(!config.error().message().empty());
        return;
    }
    const std::string rendered = jg::render_gateway_config(config.value());
    const auto again = jg::parse_gateway_config(rendered, "rendered.yaml");
    if (!again.ok())
        std::fprintf(stderr, "%s\n---\n%s\n", again.error().message().c_str(), rendered.c_str());
    FUZZ_REQUIRE(again.ok());
    if (!(again.value() == config.value()))
        std::fprintf(stderr, "first render:\n%s\n---\nsecond render:\n%s\n", rendered.c_str(),
                     jg::render_gateway_config(again.value()).c_str());
    FUZZ_REQUIRE(again.value() == config.value());
    const auto args = jg::eal_arguments(config.value(), "jumpgate");
    FUZZ_REQUIRE(!args.empty() && args[0] == "jumpgate");
}

void check_policies(std::string_view text) {
    const auto set = jg::parse_policy_file(text, "fuzz.yaml");
    if (!set.ok()) {
        FUZZ_REQUIRE(!set.error().message().empty());
        return;
    }
    const std::string rendered = jg::render_policy_file(set.value());
    const auto again = jg::parse_policy_file(rendered, "rendered.yaml");
    if (!again.ok())
        std::fprintf(stderr, "%s\n---\n%s\n", again.error().message().c_str(), rendered.c_str());
    FUZZ_REQUIRE(again.ok());
    FUZZ_REQUIRE(jg::same_policies(again.value(), set.value()));
}

}  // namespace

// Exceptions are deliberately not caught: an escaping one terminates at its throw site, which
// is the stack a finding needs.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    check_gateway(text);
    check_policies(text);
    return 0;
}
