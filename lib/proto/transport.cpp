#include "proto/transport.hpp"

#include <sodium.h>

namespace jg::proto {

std::array<uint8_t, 12> transport_nonce(uint64_t counter) {
    std::array<uint8_t, 12> nonce{};
    store_le64(nonce.data() + 4, counter);
    return nonce;
}

size_t seal_transport(const Key &send_key, uint32_t receiver_index, uint64_t counter,
                      std::span<const uint8_t> plaintext, std::span<uint8_t> out, size_t mtu) {
    const size_t total = transport_message_size(plaintext.size(), mtu);
    if (out.size() < total) {
        return 0;
    }
    const size_t padded = total - kTransportMinSize;
    uint8_t *body = out.data() + transport_off::content;
    // memmove: callers may build the plaintext in place, at out + 16.
    if (!plaintext.empty()) {
        std::memmove(body, plaintext.data(), plaintext.size());
    }
    std::memset(body + plaintext.size(), 0, padded - plaintext.size());

    out[0] = static_cast<uint8_t>(MessageType::transport);
    out[1] = out[2] = out[3] = 0;
    store_le32(out.data() + transport_off::receiver, receiver_index);
    store_le64(out.data() + transport_off::counter, counter);
    const auto nonce = transport_nonce(counter);
    crypto_aead_chacha20poly1305_ietf_encrypt(body, nullptr, body, padded, nullptr, 0, nullptr,
                                              nonce.data(), send_key.data());
    return total;
}

Result<size_t> open_transport(const Key &recv_key, const TransportView &msg,
                              std::span<uint8_t> out) {
    const size_t padded = msg.padded_plaintext_size();
    if (out.size() < padded) {
        return make_error("transport data", "output buffer smaller than the plaintext");
    }
    const auto sealed = msg.sealed();
    const auto nonce = transport_nonce(msg.counter());
    if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), nullptr, nullptr, sealed.data(),
                                                  sealed.size(), nullptr, 0, nonce.data(),
                                                  recv_key.data()) != 0) {
        return make_error("transport data", "authentication tag mismatch");
    }
    return padded;
}

}  // namespace jg::proto
