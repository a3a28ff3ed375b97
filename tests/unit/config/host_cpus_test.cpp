// The "lcores exist on this machine" rule, fed explicit CPU lists so the outcome does not
// depend on the machine running the test, and the online-CPU list it is fed in production.
#include "config/host_cpus.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "config/gateway_config.hpp"
#include "config_test_yaml.hpp"

namespace jg {
namespace {

using test::ConfigYaml;

using Cpus = std::vector<uint32_t>;

std::string error_on(const ConfigYaml &y, const Cpus &cpus) {
    auto r = parse_gateway_config(y.text(), "t.yaml", cpus);
    return r ? "OK" : r.error().message();
}

TEST(HostCpus, TheOnlineCpusIncludeTheCpuThisThreadRunsOn) {
    auto cpus = available_cpus();
    ASSERT_TRUE(cpus) << cpus.error().message();
    ASSERT_FALSE(cpus->empty());
    EXPECT_TRUE(std::is_sorted(cpus->begin(), cpus->end()));
    EXPECT_EQ(std::adjacent_find(cpus->begin(), cpus->end()), cpus->end());
    EXPECT_EQ(cpus->size(), static_cast<size_t>(sysconf(_SC_NPROCESSORS_ONLN)));
    const int here = sched_getcpu();
    ASSERT_GE(here, 0);
    EXPECT_TRUE(std::binary_search(cpus->begin(), cpus->end(), static_cast<uint32_t>(here)));
}

TEST(HostCpus, TheKernelsCpuListFormatIsExpanded) {
    auto cpus = parse_cpu_list("0-3,6,8-9\n");
    ASSERT_TRUE(cpus) << cpus.error().message();
    EXPECT_EQ(*cpus, (Cpus{0, 1, 2, 3, 6, 8, 9}));
    cpus = parse_cpu_list("5");
    ASSERT_TRUE(cpus);
    EXPECT_EQ(*cpus, (Cpus{5}));
    for (const char *bad : {"", "3-1", "x", "1-", "0,-2", "0-99999"}) {
        auto r = parse_cpu_list(bad);
        EXPECT_FALSE(r) << "'" << bad << "' was accepted";
    }
    EXPECT_EQ(parse_cpu_list("3-1").error().message(),
              "/sys/devices/system/cpu/online: unexpected CPU list '3-1'");
}

TEST(HostCpus, ConfigWhoseLcoresAllExistIsAccepted) {
    const ConfigYaml y;  // lcores 0-2
    EXPECT_EQ(error_on(y, {0, 1, 2}), "OK");
    EXPECT_EQ(error_on(y, {0, 1, 2, 3, 64}), "OK");
}

TEST(HostCpus, WorkerOnAMissingCpuIsNamedWithTheAvailableOnes) {
    const ConfigYaml y;  // workers on lcores 1 and 2
    EXPECT_EQ(error_on(y, {0, 1}),
              "t.yaml: workers[1].lcore: lcore 2 is not available on this machine (available: "
              "0-1)");
    EXPECT_EQ(error_on(y, {0, 2, 5, 6, 7}),
              "t.yaml: workers[0].lcore: lcore 1 is not available on this machine (available: "
              "0,2,5-7)");
}

TEST(HostCpus, ControlLcoreOnAMissingCpuIsNamed) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"1-3\", no_huge: true, no_pci: true, vdevs: [net_tap0, net_tap1]}\n";
    y.control = "control_lcore: 3\n";
    EXPECT_EQ(error_on(y, {0, 1, 2}),
              "t.yaml: control_lcore: lcore 3 is not available on this machine (available: 0-2)");
}

TEST(HostCpus, UnusedEalLcoreOnAMissingCpuIsNamed) {
    ConfigYaml y;
    y.eal = "eal: {lcores: [0, 1, 2, 9], vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(error_on(y, {0, 1, 2, 3}),
              "t.yaml: eal.lcores: lcore 9 is not available on this machine (available: 0-3)");
}

TEST(HostCpus, AnEmptyMaskAcceptsNoLcore) {
    const ConfigYaml y;
    EXPECT_EQ(error_on(y, {}),
              "t.yaml: control_lcore: lcore 0 is not available on this machine (available: "
              "none)");
}

// A file written for a bigger machine still gets its own mistakes reported first.
TEST(HostCpus, RulesAboutTheFileItselfComeFirst) {
    ConfigYaml y;
    y.workers = R"(workers:
  - {lcore: 1, queues: [{port: outer, queue: 0}, {port: inner, queue: 0}, {port: outer, queue: 1}]}
  - {lcore: 2, queues: [{port: outer, queue: 0}]}
)";
    EXPECT_EQ(error_on(y, {0}),
              "t.yaml: workers[1].queues[0]: queue 0 of port outer is already polled by worker "
              "lcore 1 (workers[0])");
}

TEST(HostCpus, WithoutAMaskTheRuleIsSkipped) {
    ConfigYaml y;
    y.eal = "eal: {lcores: \"0-2,100\", vdevs: [net_tap0, net_tap1]}\n";
    EXPECT_EQ(test::error_of(y), "OK");
}

TEST(HostCpus, LoadingAFileAppliesTheRuleToo) {
    const std::string path = ::testing::TempDir() + "host_cpus_test.yaml";
    {
        std::ofstream out(path);
        out << ConfigYaml{}.text();
    }
    EXPECT_TRUE(load_gateway_config(path, Cpus{0, 1, 2}));
    auto c = load_gateway_config(path, Cpus{0, 1});
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().message(), path +
                                       ": workers[1].lcore: lcore 2 is not available on this "
                                       "machine (available: 0-1)");
    std::remove(path.c_str());
}

}  // namespace
}  // namespace jg
