#include "config/ip_prefix.hpp"

#include <gtest/gtest.h>

namespace jg {
namespace {

IpPrefix net(const char *s) {
    auto p = parse_ip_prefix(s, PrefixForm::Network);
    EXPECT_TRUE(p) << s << ": " << p.error().what;
    return p ? *p : IpPrefix{};
}

TEST(IpPrefix, ParsesAndFormatsBothFamilies) {
    EXPECT_EQ(net("10.0.0.0/8").to_string(), "10.0.0.0/8");
    EXPECT_EQ(net("2001:DB8::/32").to_string(), "2001:db8::/32");
    EXPECT_EQ(net("10.0.0.7").to_string(), "10.0.0.7/32");
    EXPECT_EQ(net("::1").to_string(), "::1/128");
}

TEST(IpPrefix, ContainmentIsByPrefixAndFamily) {
    EXPECT_TRUE(net("10.0.0.0/8").contains(net("10.255.0.0/16")));
    EXPECT_FALSE(net("10.255.0.0/16").contains(net("10.0.0.0/8")));
    EXPECT_TRUE(net("10.255.0.0/16").overlaps(net("10.0.0.0/8")));
    EXPECT_FALSE(net("10.0.0.0/25").overlaps(net("10.0.0.128/25")));
    EXPECT_TRUE(net("0.0.0.0/0").contains(net("192.0.2.1")));
    EXPECT_FALSE(net("::/0").contains(net("192.0.2.1")));
    EXPECT_TRUE(net("fc00::/7").contains(net("fdff::1")));
}

TEST(IpPrefix, InterfaceFormKeepsHostBitsAndNeedsALength) {
    auto p = parse_ip_prefix("192.0.2.1/24", PrefixForm::Interface);
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->is_network());
    EXPECT_EQ(p->to_string(), "192.0.2.1/24");
    EXPECT_FALSE(parse_ip_prefix("192.0.2.1", PrefixForm::Interface));
}

TEST(IpPrefix, MalformedTextIsRejected) {
    for (const char *bad : {"", "/", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/8/8", "300.0.0.0/8",
                            "::/129", "10.0.0.0/-1", "10.0.0.0/ 8"})
        EXPECT_FALSE(parse_ip_prefix(bad, PrefixForm::Network)) << bad;
}

}  // namespace
}  // namespace jg
