// Writes the handshake target's seed corpus: real initiations built with the fixed identities
// of fuzz_check.hpp, each prefixed with its flag byte. Usage: make_handshake_seeds OUTDIR
#include <sodium.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/noise.hpp"

namespace {

using namespace jg;
using namespace jg::proto;

std::array<uint8_t, kInitiationSize> initiation_from(const Key &initiator_private) {
    auto initiator = StaticIdentity::from_private_key(initiator_private);
    FUZZ_REQUIRE(initiator.ok());
    const Key responder_public = x25519_public_key(fuzz::responder_private());
    CookieJar jar(responder_public);
    std::array<uint8_t, kInitiationSize> msg{};
    auto hs = InitiatorHandshake::create_initiation_with_ephemeral(
        initiator.value(), responder_public, Key{}, 0x11111111, fuzz::kSeedUnixNs, fuzz::kNowNs,
        jar, msg, fuzz::seed_ephemeral_private());
    FUZZ_REQUIRE(hs.ok());
    return msg;
}

void write_seed(const std::string &dir, const std::string &name, uint8_t flags,
                std::span<const uint8_t> packet) {
    std::ofstream out(dir + "/" + name, std::ios::binary);
    out.put(static_cast<char>(flags));
    out.write(reinterpret_cast<const char *>(packet.data()), std::streamsize(packet.size()));
    FUZZ_REQUIRE(out.good());
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2 || sodium_init() < 0) {
        std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    const auto known = initiation_from(fuzz::peer_private());
    write_seed(dir, "known_peer", 0, known);
    write_seed(dir, "known_peer_fix_mac1", fuzz::kFlagFixMac1, known);
    write_seed(dir, "known_peer_under_load", fuzz::kFlagUnderLoad, known);
    write_seed(dir, "stranger", 0, initiation_from(fuzz::stranger_private()));

    // A low-order ephemeral (all zero): refused before any decryption; mac1 is fixed up.
    auto low_order = known;
    std::fill(low_order.begin() + initiation_off::ephemeral,
              low_order.begin() + initiation_off::encrypted_static, 0);
    write_seed(dir, "zero_ephemeral", fuzz::kFlagFixMac1, low_order);

    auto truncated = std::vector<uint8_t>(known.begin(), known.begin() + kResponseSize);
    truncated[0] = static_cast<uint8_t>(MessageType::response);
    write_seed(dir, "response_sized", fuzz::kFlagUnderLoad, truncated);
    return 0;
}
