#include "proto/messages.hpp"

namespace jg::proto {
namespace {

// Header checks shared by every parser: at least 4 bytes, the expected type, zero reserved.
ParseReason check_header(std::span<const uint8_t> in, MessageType want) {
    if (in.size() < kHeaderSize) {
        return ParseReason::truncated;
    }
    if (in[0] != static_cast<uint8_t>(want)) {
        return is_message_type(in[0]) ? ParseReason::wrong_type : ParseReason::unknown_type;
    }
    if ((in[1] | in[2] | in[3]) != 0) {
        return ParseReason::nonzero_reserved;
    }
    return ParseReason::ok;
}

template <class View>
Parsed<View> parse_fixed(std::span<const uint8_t> in, MessageType type, size_t size) {
    ParseReason r = check_header(in, type);
    if (r == ParseReason::ok && in.size() != size) {
        r = ParseReason::wrong_size;
    }
    return {View{r == ParseReason::ok ? in.data() : nullptr}, r};
}

// Transport length rule: at least header + tag. Any length above that is valid: senders pad
// to 16 but never past their MTU (WireGuard's rule), so a full-size packet's plaintext is
// not a multiple of 16, and padding is the sender's choice, not something to police.
ParseReason transport_length_reason(size_t len) {
    if (len < kTransportMinSize) {
        return ParseReason::truncated;
    }
    return ParseReason::ok;
}

}  // namespace

Parsed<InitiationView> parse_initiation(std::span<const uint8_t> in) {
    return parse_fixed<InitiationView>(in, MessageType::initiation, kInitiationSize);
}

Parsed<ResponseView> parse_response(std::span<const uint8_t> in) {
    return parse_fixed<ResponseView>(in, MessageType::response, kResponseSize);
}

Parsed<CookieReplyView> parse_cookie_reply(std::span<const uint8_t> in) {
    return parse_fixed<CookieReplyView>(in, MessageType::cookie_reply, kCookieReplySize);
}

Parsed<TransportView> parse_transport(std::span<const uint8_t> in) {
    if (in.size() < kHeaderSize) {
        return {TransportView{nullptr, 0}, ParseReason::truncated};
    }
    ParseReason r = ParseReason::ok;
    if (in[0] != static_cast<uint8_t>(MessageType::transport)) {
        r = is_message_type(in[0]) ? ParseReason::wrong_type : ParseReason::unknown_type;
    } else if ((in[1] | in[2] | in[3]) != 0) {
        r = ParseReason::nonzero_reserved;
    } else {
        r = transport_length_reason(in.size());
    }
    if (r != ParseReason::ok) {
        return {TransportView{nullptr, 0}, r};
    }
    return {TransportView{in.data(), in.size()}, r};
}

OuterClass classify_outer_payload(std::span<const uint8_t> in) {
    if (in.size() < kHeaderSize) {
        return {MessageType::transport, ParseReason::truncated};
    }
    const uint8_t t = in[0];
    if (!is_message_type(t)) {
        return {MessageType::transport, ParseReason::unknown_type};
    }
    if ((in[1] | in[2] | in[3]) != 0) {
        return {MessageType::transport, ParseReason::nonzero_reserved};
    }
    const auto type = static_cast<MessageType>(t);
    size_t exact = 0;
    switch (type) {
        case MessageType::transport:
            return {type, transport_length_reason(in.size())};
        case MessageType::initiation:
            exact = kInitiationSize;
            break;
        case MessageType::response:
            exact = kResponseSize;
            break;
        case MessageType::cookie_reply:
            exact = kCookieReplySize;
            break;
    }
    return {type, in.size() == exact ? ParseReason::ok : ParseReason::wrong_size};
}

}  // namespace jg::proto
