#include "transport_channel.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "crypto/ipsec_mb_aead.hpp"
#include "proto/messages.hpp"
#include "proto/transport.hpp"

namespace jg::interop {

namespace {

// Transport data goes through the data plane's own ipsec-mb job-API driver, so the interop
// flows prove the gateway's fast-path AEAD (not only libsodium) against wireguard-go.
crypto::IpsecMbAead &fast_path_aead() {
    static crypto::IpsecMbAead aead = [] {
        auto made = crypto::IpsecMbAead::create();
        if (!made) {
            std::fprintf(stderr, "wg_endpoint: ipsec-mb: %s\n", made.error().message().c_str());
            std::exit(2);
        }
        return std::move(*made);
    }();
    return aead;
}

}  // namespace

TransportChannel::TransportChannel(const proto::TransportKeypair &keypair) : keypair_(keypair) {
    window_.reset();
}

TransportChannel::~TransportChannel() {
    proto::wipe(keypair_);
}

std::vector<std::uint8_t> TransportChannel::seal(std::span<const std::uint8_t> plaintext) {
    std::vector<std::uint8_t> message(proto::transport_message_size(plaintext.size()), 0);
    const std::uint64_t counter = send_counter_++;
    message[0] = static_cast<std::uint8_t>(proto::MessageType::transport);
    proto::store_le32(message.data() + proto::transport_off::receiver, keypair_.remote_index);
    proto::store_le64(message.data() + proto::transport_off::counter, counter);
    std::uint8_t *payload = message.data() + proto::kTransportHeaderSize;
    if (!plaintext.empty())
        std::memcpy(payload, plaintext.data(), plaintext.size());  // zero padding follows
    crypto::AeadOp op{payload,
                      static_cast<std::uint32_t>(message.size() - proto::kTransportMinSize),
                      keypair_.send_key.data(), counter, 0};
    fast_path_aead().seal_burst(&op, 1);
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
    std::vector<std::uint8_t> work(message.begin(), message.end());
    const std::size_t padded = parsed.view.padded_plaintext_size();
    crypto::AeadOp op{work.data() + proto::kTransportHeaderSize, static_cast<std::uint32_t>(padded),
                      keypair_.recv_key.data(), counter, 0};
    if (fast_path_aead().open_burst(&op, 1) != 1) {
        return std::nullopt;
    }
    // Only an authenticated counter may move the window, or a forger could slide it.
    if (window_.update(counter) != proto::ReplayVerdict::fresh) {
        return std::nullopt;
    }
    const auto first = work.begin() + proto::kTransportHeaderSize;
    return std::vector<std::uint8_t>(first, first + static_cast<std::ptrdiff_t>(padded));
}

}  // namespace jg::interop
