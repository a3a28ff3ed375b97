// gtest main for DPDK-tier tests: one EAL per test process, no hugepages, no PCI, vdevs
// only. Runs on 2 CPUs: extra lcores are mapped onto them with --lcores.
#include <rte_eal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

int main(int argc, char **argv) {
    testing::InitGoogleTest(&argc, argv);
    const std::string prefix = "jgtest" + std::to_string(getpid());
    std::vector<std::string> args = {
        argv[0],        "--no-huge",   "--no-pci",      "-m",   "256",         "--no-shconf",
        "--lcores",     "0@0,1@0,2@1", "--file-prefix", prefix, "--log-level", "lib.eal:error",
        "--main-lcore", "0",
    };
    std::vector<char *> cargs;
    for (auto &a : args)
        cargs.push_back(a.data());
    if (rte_eal_init(int(cargs.size()), cargs.data()) < 0) {
        fprintf(stderr, "EAL init failed\n");
        return 2;
    }
    const int rc = RUN_ALL_TESTS();
    rte_eal_cleanup();
    return rc;
}
