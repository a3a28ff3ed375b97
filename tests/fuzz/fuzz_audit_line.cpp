// Audit logs as jumpgatectl reads them: parse_line answers every line with a Result, an
// accepted line renders to a line that parses to the same rendering, and audit_check reports
// consistent counts over any stream.
#include <sstream>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "telemetry/audit_check.hpp"
#include "telemetry/audit_json.hpp"

namespace {

void check_line(std::string_view line) {
    const auto record = jg::audit::parse_line(line);
    if (!record.ok()) {
        FUZZ_REQUIRE(!record.error().message().empty());
        return;
    }
    const std::string rendered = jg::audit::render_line(record->event, record->node_id);
    const auto again = jg::audit::parse_line(rendered);
    if (!again.ok())
        std::fprintf(stderr, "%s\n%s\n", again.error().message().c_str(), rendered.c_str());
    FUZZ_REQUIRE(again.ok());
    FUZZ_REQUIRE(again->node_id == record->node_id);
    FUZZ_REQUIRE(jg::audit::render_line(again->event, again->node_id) == rendered);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string text(reinterpret_cast<const char *>(data), size);
    std::string_view rest = text;
    while (!rest.empty()) {
        const size_t nl = rest.find('\n');
        check_line(rest.substr(0, nl));
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    }

    std::istringstream in(text);
    const jg::AuditCheckReport report = jg::audit_check(in, jg::AuditCheckLimits{});
    FUZZ_REQUIRE(report.events <= report.lines);
    FUZZ_REQUIRE(report.sessions <= report.events);
    for (const auto &v : report.violations) {
        FUZZ_REQUIRE(v.line >= 1 && v.line <= report.lines);
        FUZZ_REQUIRE(!v.message.empty());
    }
    FUZZ_REQUIRE(report.ok() == report.violations.empty());
    return 0;
}
