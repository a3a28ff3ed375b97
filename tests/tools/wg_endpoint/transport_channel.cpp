#include "transport_channel.hpp"

#include "proto/transport.hpp"

namespace jg::interop {

TransportChannel::TransportChannel(const proto::TransportKeypair &keypair) : keypair_(keypair) {
    window_.reset();
}

TransportChannel::~TransportChannel() {
    proto::wipe(keypair_);
}

std::vector<std::uint8_t> TransportChannel::seal(std::span<const std::uint8_t> plaintext) {
    std::vector<std::uint8_t> message(proto::transport_message_size(plaintext.size()));
    const std::size_t written = proto::seal_transport(keypair_.send_key, keypair_.remote_index,
                                                      send_counter_++, plaintext, message);
    message.resize(written);
    return message;
}

std::optional<std::vector<std::uint8_t>> TransportChannel::open(
    std::span<const std::uint8_t> message) {
    const auto parsed = proto::parse_transport(message);
    if (!parsed.ok() || parsed.view.receiver_index() != keypair_.local_index) {
        return std::nullopt;
    }
    const std::uint64_t counter = parsed.view.counter();
    if (window_.check(counter) != proto::ReplayVerdict::fresh) {
        return std::nullopt;
    }
    std::vector<std::uint8_t> plaintext(parsed.view.padded_plaintext_size());
    const auto opened = proto::open_transport(keypair_.recv_key, parsed.view, plaintext);
    if (!opened.ok()) {
        return std::nullopt;
    }
    // Only an authenticated counter may move the window, or a forger could slide it.
    if (window_.update(counter) != proto::ReplayVerdict::fresh) {
        return std::nullopt;
    }
    plaintext.resize(*opened);
    return plaintext;
}

}  // namespace jg::interop
