// Outer UDP payloads: the data plane's classifier and the four validating parsers must agree
// on every input, and an accepted message must be rebuilt byte for byte from its view.
#include <cstring>
#include <vector>

#include "fuzz_check.hpp"
#include "proto/messages.hpp"

namespace {

using namespace jg::proto;

void append(std::vector<uint8_t> &out, std::span<const uint8_t> bytes) {
    out.insert(out.end(), bytes.begin(), bytes.end());
}

std::vector<uint8_t> header_of(MessageType type) {
    return {static_cast<uint8_t>(type), 0, 0, 0};
}

std::vector<uint8_t> le32(uint32_t v) {
    std::vector<uint8_t> b(4);
    store_le32(b.data(), v);
    return b;
}

std::vector<uint8_t> rebuild(const InitiationView &v) {
    auto out = header_of(MessageType::initiation);
    append(out, le32(v.sender_index()));
    append(out, v.ephemeral());
    append(out, v.encrypted_static());
    append(out, v.encrypted_timestamp());
    append(out, v.mac1());
    append(out, v.mac2());
    return out;
}

std::vector<uint8_t> rebuild(const ResponseView &v) {
    auto out = header_of(MessageType::response);
    append(out, le32(v.sender_index()));
    append(out, le32(v.receiver_index()));
    append(out, v.ephemeral());
    append(out, v.encrypted_nothing());
    append(out, v.mac1());
    append(out, v.mac2());
    return out;
}

std::vector<uint8_t> rebuild(const CookieReplyView &v) {
    auto out = header_of(MessageType::cookie_reply);
    append(out, le32(v.receiver_index()));
    append(out, v.nonce());
    append(out, v.encrypted_cookie());
    return out;
}

std::vector<uint8_t> rebuild(const TransportView &v) {
    auto out = header_of(MessageType::transport);
    append(out, le32(v.receiver_index()));
    std::vector<uint8_t> counter(8);
    store_le64(counter.data(), v.counter());
    append(out, counter);
    append(out, v.sealed());
    return out;
}

template <class View>
void check_accepted(const Parsed<View> &p, std::span<const uint8_t> in) {
    if (!p.ok())
        return;
    const std::vector<uint8_t> again = rebuild(p.view);
    FUZZ_REQUIRE(again.size() == in.size());
    FUZZ_REQUIRE(std::memcmp(again.data(), in.data(), in.size()) == 0);
}

// What the parser for `want` must answer given the classifier's verdict on the same bytes.
ParseReason expected_reason(std::span<const uint8_t> in, const OuterClass &c, MessageType want) {
    if (in.size() < kHeaderSize || !is_message_type(in[0]))
        return c.reason;  // truncated or unknown_type, whichever parser asks
    if (in[0] != static_cast<uint8_t>(want))
        return ParseReason::wrong_type;
    return c.reason;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::span<const uint8_t> in(data, size);
    const OuterClass c = classify_outer_payload(in);
    FUZZ_REQUIRE(static_cast<size_t>(c.reason) < kParseReasonCount);
    FUZZ_REQUIRE(!parse_reason_name(c.reason).empty());

    const auto init = parse_initiation(in);
    const auto resp = parse_response(in);
    const auto cookie = parse_cookie_reply(in);
    const auto transport = parse_transport(in);

    FUZZ_REQUIRE(init.reason == expected_reason(in, c, MessageType::initiation));
    FUZZ_REQUIRE(resp.reason == expected_reason(in, c, MessageType::response));
    FUZZ_REQUIRE(cookie.reason == expected_reason(in, c, MessageType::cookie_reply));
    FUZZ_REQUIRE(transport.reason == expected_reason(in, c, MessageType::transport));

    const int accepted = int(init.ok()) + int(resp.ok()) + int(cookie.ok()) + int(transport.ok());
    FUZZ_REQUIRE(accepted == (c.ok() ? 1 : 0));
    if (c.ok()) {
        FUZZ_REQUIRE(static_cast<uint8_t>(c.type) == in[0]);
    }

    check_accepted(init, in);
    check_accepted(resp, in);
    check_accepted(cookie, in);
    check_accepted(transport, in);
    if (transport.ok()) {
        FUZZ_REQUIRE(transport.view.sealed().size() + kTransportHeaderSize == size);
        FUZZ_REQUIRE(transport.view.padded_plaintext_size() + kTransportMinSize == size);
    }
    return 0;
}
