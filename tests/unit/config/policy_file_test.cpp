#include "config/policy_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace jg {
namespace {

// Just the contract's required keys.
constexpr const char *kRequiredOnly = R"(
    session: {max_lifetime_ms: 3600000, transport_lost_ttl_ms: 10000}
    volatility: {loss_volatile_threshold: 0.25}
    switching: {max_switches_per_min: 6, recovery_window_ms: 5000}
    security: {reattach_proof_max_age_ms: 4000}
)";

std::string one_profile(const std::string &name, const std::string &body) {
    return "policies:\n  " + name + ":" + body;
}

std::string error_of(const std::string &text) {
    auto r = parse_policy_file(text, "p.yaml");
    return r ? "OK" : r.error().message();
}

TEST(PolicyFile, ProfileWithOnlyRequiredKeysTakesContractDefaultsForTheRest) {
    auto set = parse_policy_file(one_profile("mobile", kRequiredOnly), "p.yaml");
    ASSERT_TRUE(set) << set.error().message();
    const Policy *p = set->find("mobile");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->name, "mobile");
    EXPECT_EQ(p->session.max_lifetime_ms, 3'600'000);
    EXPECT_DOUBLE_EQ(p->volatility.loss_volatile_threshold, 0.25);
    EXPECT_EQ(p->volatility.heartbeat_interval_ms, 500);
    EXPECT_EQ(p->security.replay_window_size, 128u);
    EXPECT_FALSE(p->volatility.latency_volatile_threshold_ms.has_value());
}

TEST(PolicyFile, BuiltInDefaultProfileIsAlwaysPresent) {
    auto set = parse_policy_file(one_profile("mobile", kRequiredOnly), "p.yaml");
    ASSERT_TRUE(set);
    ASSERT_NE(set->find("default"), nullptr);
    EXPECT_EQ(set->find("default")->version, "builtin-1");
    EXPECT_EQ(set->default_name(), "default");
}

TEST(PolicyFile, ProfileNamedDefaultReplacesTheBuiltIn) {
    auto set = parse_policy_file(one_profile("default", kRequiredOnly), "p.yaml");
    ASSERT_TRUE(set) << set.error().message();
    EXPECT_EQ(set->size(), 1u);
    EXPECT_EQ(set->find("default")->session.max_lifetime_ms, 3'600'000);
}

TEST(PolicyFile, MissingRequiredFieldIsNamed) {
    EXPECT_EQ(error_of(one_profile("mobile", R"(
    session: {max_lifetime_ms: 3600000}
    volatility: {loss_volatile_threshold: 0.25}
    switching: {max_switches_per_min: 6, recovery_window_ms: 5000}
    security: {reattach_proof_max_age_ms: 4000}
)")),
              "p.yaml: policies.mobile.session.transport_lost_ttl_ms: required key is missing");
}

TEST(PolicyFile, MissingRequiredSectionNamesItsFirstKey) {
    EXPECT_EQ(
        error_of(one_profile("mobile", R"(
    session: {max_lifetime_ms: 3600000, transport_lost_ttl_ms: 10000}
    volatility: {loss_volatile_threshold: 0.25}
    switching: {max_switches_per_min: 6, recovery_window_ms: 5000}
)")),
        "p.yaml: policies.mobile.security.reattach_proof_max_age_ms: required key is missing");
}

TEST(PolicyFile, UnknownSectionIsRejected) {
    EXPECT_EQ(error_of(one_profile("mobile", std::string(kRequiredOnly) + "    timers: {}\n")),
              "p.yaml: policies.mobile.timers: unknown key");
}

TEST(PolicyFile, LossThresholdAboveOneViolatesTheContract) {
    EXPECT_EQ(error_of(one_profile("mobile", R"(
    session: {max_lifetime_ms: 3600000, transport_lost_ttl_ms: 10000}
    volatility: {loss_volatile_threshold: 1.5}
    switching: {max_switches_per_min: 6, recovery_window_ms: 5000}
    security: {reattach_proof_max_age_ms: 4000}
)")),
              "p.yaml: policies.mobile.volatility.loss_volatile_threshold: must be in (0, 1], got "
              "1.5");
}

TEST(PolicyFile, NegativeCountIsATypeError) {
    EXPECT_EQ(error_of(one_profile("mobile", R"(
    session: {max_lifetime_ms: 3600000, transport_lost_ttl_ms: 10000}
    volatility: {loss_volatile_threshold: 0.25}
    switching: {max_switches_per_min: -1, recovery_window_ms: 5000}
    security: {reattach_proof_max_age_ms: 4000}
)")),
              "p.yaml: policies.mobile.switching.max_switches_per_min: must be >= 0, got -1");
}

TEST(PolicyFile, ThresholdsAcceptOffOrMilliseconds) {
    auto set = parse_policy_file(one_profile("mobile", std::string(R"(
    session: {max_lifetime_ms: 3600000, transport_lost_ttl_ms: 10000}
    volatility: {loss_volatile_threshold: 0.25, latency_volatile_threshold_ms: 300,
                 jitter_volatile_threshold_ms: off}
    switching: {max_switches_per_min: 6, recovery_window_ms: 5000}
    security: {reattach_proof_max_age_ms: 4000}
)")),
                                 "p.yaml");
    ASSERT_TRUE(set) << set.error().message();
    EXPECT_EQ(set->find("mobile")->volatility.latency_volatile_threshold_ms, 300);
    EXPECT_FALSE(set->find("mobile")->volatility.jitter_volatile_threshold_ms.has_value());
}

TEST(PolicyFile, LegacyRoamingIsAllowOrDeny) {
    auto set = parse_policy_file(
        one_profile("site", std::string(kRequiredOnly) + "    transport: {legacy_roaming: deny}\n"),
        "p.yaml");
    ASSERT_TRUE(set) << set.error().message();
    EXPECT_EQ(set->find("site")->transport.legacy_roaming, LegacyRoaming::Deny);
    EXPECT_EQ(error_of(one_profile(
                  "site", std::string(kRequiredOnly) + "    transport: {legacy_roaming: maybe}\n")),
              "p.yaml: policies.site.transport.legacy_roaming: expected allow or deny, got "
              "\"maybe\"");
}

TEST(PolicyFile, ExplicitVersionIsKept) {
    auto set = parse_policy_file(
        one_profile("m", std::string(kRequiredOnly) + "    version: \"2026-11-27\"\n"), "p.yaml");
    ASSERT_TRUE(set) << set.error().message();
    EXPECT_EQ(set->find("m")->version, "2026-11-27");
}

TEST(PolicyFile, ImplicitVersionFollowsTheValues) {
    auto a = parse_policy_file(one_profile("m", kRequiredOnly), "p.yaml");
    auto same = parse_policy_file(one_profile("other", kRequiredOnly), "p.yaml");
    auto changed = parse_policy_file(
        one_profile("m", std::string(kRequiredOnly) + "    transport: {legacy_roaming: deny}\n"),
        "p.yaml");
    ASSERT_TRUE(a && same && changed);
    const auto &v = a->find("m")->version;
    EXPECT_EQ(v.rfind("auto-", 0), 0u) << v;
    EXPECT_EQ(v, same->find("other")->version);
    EXPECT_NE(v, changed->find("m")->version);
}

TEST(PolicyFile, ProfileNameMustBePlain) {
    EXPECT_EQ(error_of(one_profile("\"a b\"", kRequiredOnly)),
              "p.yaml: policies.a b: profile names use letters, digits, '-', '_' and '.'");
}

TEST(PolicyFile, FileNeedsThePoliciesKey) {
    EXPECT_EQ(error_of("profiles: {}\n"), "p.yaml: policies: required key is missing");
}

TEST(PolicyFile, RenderedSetLoadsBackEqual) {
    auto set = parse_policy_file(
        one_profile("m", std::string(kRequiredOnly) + "    volatility: {}\n"), "p.yaml");
    // A section given twice is a duplicate key, not a merge.
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().message(), "p.yaml: policies.m.volatility: duplicate key");

    set = parse_policy_file(one_profile("m", kRequiredOnly), "p.yaml");
    ASSERT_TRUE(set);
    auto again = parse_policy_file(render_policy_file(*set), "rendered.yaml");
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_TRUE(same_policies(*again, *set));
}

TEST(PolicyFile, LoadPolicyFileReadsFromDiskAndNamesTheFile) {
    char path[] = "/tmp/jg-policy-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << one_profile("m", "\n    session: {max_lifetime_ms: 1}\n");
    auto set = load_policy_file(path);
    std::remove(path);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().message(), std::string(path) +
                                         ": policies.m.session.transport_lost_ttl_ms: required "
                                         "key is missing");
    EXPECT_EQ(load_policy_file("/nonexistent/p.yaml").error().where, "/nonexistent/p.yaml");
}

}  // namespace
}  // namespace jg
