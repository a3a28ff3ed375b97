// Decrypted plaintexts: decode_control must accept exactly what encode_control writes back
// unchanged, and classify_plaintext must agree with the decoder on what a control message is.
#include <array>
#include <cstring>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/control_messages.hpp"

namespace {

using namespace jg::proto;

void check_decoded(std::span<const uint8_t> in) {
    const ControlDecoded d = decode_control(in);
    FUZZ_REQUIRE(!control_reject_name(d.reason).empty());
    if (!d.ok())
        return;

    const size_t size = control_encoded_size(d.message);
    FUZZ_REQUIRE(size == in.size());
    FUZZ_REQUIRE(static_cast<uint8_t>(control_type_of(d.message)) == in[0]);

    std::array<uint8_t, 64> buf{};
    FUZZ_REQUIRE(encode_control(d.message, std::span<uint8_t>(buf.data(), size - 1)) == 0);
    FUZZ_REQUIRE(encode_control(d.message, buf) == size);
    FUZZ_REQUIRE(std::memcmp(buf.data(), in.data(), size) == 0);

    const ControlDecoded again = decode_control(std::span<const uint8_t>(buf.data(), size));
    FUZZ_REQUIRE(again.ok());
    FUZZ_REQUIRE(again.message == d.message);

    // The same message as a worker sees it: zero padding up to a multiple of 16.
    std::vector<uint8_t> padded(in.begin(), in.end());
    padded.resize(padded_plaintext_size(size), 0);
    const PlaintextClass pc = classify_plaintext(padded);
    FUZZ_REQUIRE(pc.kind == PlaintextKind::control);
    FUZZ_REQUIRE(pc.length == size);
}

void check_classified(std::span<const uint8_t> in) {
    const PlaintextClass pc = classify_plaintext(in);
    FUZZ_REQUIRE(!plaintext_kind_name(pc.kind).empty());
    switch (pc.kind) {
        case PlaintextKind::keepalive:
            FUZZ_REQUIRE(in.empty());
            FUZZ_REQUIRE(pc.length == 0);
            break;
        case PlaintextKind::invalid:
            FUZZ_REQUIRE(!in.empty());
            FUZZ_REQUIRE(pc.length == 0);
            break;
        case PlaintextKind::ipv4:
            FUZZ_REQUIRE(in[0] >> 4 == 4);
            FUZZ_REQUIRE(pc.length >= 20 && pc.length <= in.size());
            break;
        case PlaintextKind::ipv6:
            FUZZ_REQUIRE(in[0] >> 4 == 6);
            FUZZ_REQUIRE(pc.length >= 40 && pc.length <= in.size());
            break;
        case PlaintextKind::control: {
            FUZZ_REQUIRE(in[0] >= kControlTypeFirst && in[0] <= kControlTypeLast);
            FUZZ_REQUIRE(pc.length >= 1 && pc.length <= in.size());
            // The classifier sized it; only the field values may still be refused.
            const ControlReject why = decode_control(in.first(pc.length)).reason;
            FUZZ_REQUIRE(why != ControlReject::empty && why != ControlReject::unknown_type &&
                         why != ControlReject::wrong_length &&
                         why != ControlReject::too_many_paths);
            break;
        }
    }
    if (decode_control(in).ok()) {
        FUZZ_REQUIRE(pc.kind == PlaintextKind::control);
        FUZZ_REQUIRE(pc.length == in.size());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::span<const uint8_t> in(data, size);
    check_decoded(in);
    check_classified(in);
    return 0;
}
