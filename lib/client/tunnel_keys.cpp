#include "client/tunnel_keys.hpp"

#include <sodium.h>

#include <algorithm>

#include "proto/transport.hpp"

namespace jg::client {
namespace {

// TAI64N keeps nanoseconds only to a multiple of 2^24 (lib/proto/tai64n.hpp): the smallest
// step that makes a timestamp later than another.
constexpr uint64_t kTimestampStepNs = uint64_t(1) << 24;

}  // namespace

TunnelKeys::TunnelKeys(proto::StaticIdentity local, const proto::Key &gateway_public,
                       const SecretKey &psk)
    : local_(std::move(local)), gateway_public_(gateway_public) {
    std::copy(psk.bytes().begin(), psk.bytes().end(), psk_.begin());
}

TunnelKeys::~TunnelKeys() {
    sodium_memzero(psk_.data(), psk_.size());
}

Result<std::array<uint8_t, proto::kInitiationSize>> TunnelKeys::start_handshake(uint64_t unix_ns,
                                                                                uint64_t now_ns,
                                                                                size_t path) {
    if (pending_) {
        indices_.release(pending_->sender_index());
        pending_.reset();
    }
    auto index = indices_.allocate(0);
    if (!index)
        return index.error();
    std::array<uint8_t, proto::kInitiationSize> out{};
    const uint64_t stamp = std::max(unix_ns, last_unix_ns_ + kTimestampStepNs);
    auto hs = proto::InitiatorHandshake::create_initiation(local_, gateway_public_, psk_, *index,
                                                           stamp, now_ns, jar(path), out);
    if (!hs) {
        indices_.release(*index);
        return make_error("handshake initiation", hs.error().message());
    }
    pending_.emplace(std::move(*hs));
    pending_started_ns_ = now_ns;
    last_unix_ns_ = stamp;
    return out;
}

ReplyOutcome TunnelKeys::consume_reply(std::span<const uint8_t> packet, uint64_t now_ns,
                                       size_t path) {
    const auto kind = proto::classify_outer_payload(packet);
    if (!kind.ok() || !pending_)
        return ReplyOutcome::ignored;
    if (kind.type == proto::MessageType::cookie_reply) {
        // Addressed to the initiation in flight, as a response must be; anyone who saw that
        // initiation can still forge one (mac1 and the cookie key are public), so a cookie
        // only adds mac2 to the next retransmit on this path and never cuts the attempt short.
        const auto reply = proto::parse_cookie_reply(packet);
        if (!reply.ok() || reply.view.receiver_index() != pending_->sender_index())
            return ReplyOutcome::ignored;
        return jar(path).consume_reply(packet, now_ns).ok() ? ReplyOutcome::cookie_stored
                                                            : ReplyOutcome::ignored;
    }
    if (kind.type != proto::MessageType::response)
        return ReplyOutcome::ignored;
    auto kp = pending_->consume_response(packet, now_ns);
    if (!kp)
        return ReplyOutcome::ignored;
    pending_.reset();
    release(slots_.install(*kp));
    windows_[kp->local_index] = proto::ReplayWindow{};
    windows_[kp->local_index].reset();
    proto::wipe(*kp);
    send_counter_ = 0;
    ++completed_;
    return ReplyOutcome::completed;
}

std::vector<uint8_t> TunnelKeys::seal(std::span<const uint8_t> plaintext) {
    const proto::TransportKeypair *kp = slots_.current();
    if (kp == nullptr)
        return {};
    std::vector<uint8_t> out(proto::transport_message_size(plaintext.size()));
    const size_t n =
        proto::seal_transport(kp->send_key, kp->remote_index, send_counter_++, plaintext, out);
    out.resize(n);
    return out;
}

std::optional<OpenedPacket> TunnelKeys::open(std::span<const uint8_t> message, uint64_t now_ns) {
    const auto parsed = proto::parse_transport(message);
    if (!parsed.ok())
        return std::nullopt;
    const uint32_t index = parsed.view.receiver_index();
    const proto::TransportKeypair *kp = slots_.find(index);
    const auto window = windows_.find(index);
    if (kp == nullptr || window == windows_.end())
        return std::nullopt;
    const uint64_t counter = parsed.view.counter();
    if (proto::keypair_expired(*kp, counter, now_ns) ||
        window->second.check(counter) != proto::ReplayVerdict::fresh)
        return std::nullopt;
    OpenedPacket out;
    out.plaintext.resize(parsed.view.padded_plaintext_size());
    const auto opened = proto::open_transport(kp->recv_key, parsed.view, out.plaintext);
    if (!opened)
        return std::nullopt;
    // Only an authenticated counter may move the window, or a forger could slide it.
    if (window->second.update(counter) != proto::ReplayVerdict::fresh)
        return std::nullopt;
    out.plaintext.resize(*opened);
    out.counter = counter;
    return out;
}

bool TunnelKeys::needs_rekey(uint64_t now_ns) const {
    const proto::TransportKeypair *kp = slots_.current();
    if (kp == nullptr)
        return false;
    return proto::keypair_needs_rekey_on_send(*kp, send_counter_, now_ns) ||
           proto::keypair_needs_rekey_on_receive(*kp, now_ns);
}

bool TunnelKeys::expire(uint64_t now_ns) {
    const bool had = slots_.current() != nullptr || slots_.previous() != nullptr;
    release(slots_.expire(now_ns));
    return had && slots_.current() == nullptr && slots_.previous() == nullptr &&
           slots_.next() == nullptr;
}

proto::CookieJar &TunnelKeys::jar(size_t path) {
    while (jars_.size() <= path)
        jars_.emplace_back(gateway_public_);
    return jars_[path];
}

void TunnelKeys::release(const std::vector<uint32_t> &dead) {
    for (uint32_t idx : dead) {
        indices_.release(idx);
        windows_.erase(idx);
    }
}

}  // namespace jg::client
