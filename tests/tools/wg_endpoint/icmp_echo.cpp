#include "icmp_echo.hpp"

#include <cstring>

namespace jg::interop {
namespace {

constexpr std::size_t kIpv4HeaderBytes = 20;
constexpr std::size_t kIcmpHeaderBytes = 8;
constexpr std::uint8_t kProtocolIcmp = 1;
constexpr std::uint8_t kDefaultTtl = 64;

void put_be16(std::uint8_t *at, std::uint16_t value) {
    at[0] = static_cast<std::uint8_t>(value >> 8);
    at[1] = static_cast<std::uint8_t>(value);
}

std::uint16_t get_be16(const std::uint8_t *at) {
    return static_cast<std::uint16_t>((at[0] << 8) | at[1]);
}

std::vector<std::uint8_t> build_echo(in_addr_t source, in_addr_t destination, std::uint8_t type,
                                     std::uint16_t identifier, std::uint16_t sequence,
                                     std::span<const std::uint8_t> payload) {
    const std::size_t total = kIpv4HeaderBytes + kIcmpHeaderBytes + payload.size();
    std::vector<std::uint8_t> packet(total, 0);
    std::uint8_t *ip = packet.data();
    ip[0] = 0x45;  // version 4, 5 words of header
    put_be16(ip + 2, static_cast<std::uint16_t>(total));
    put_be16(ip + 4, sequence);  // any id will do; the sequence keeps it varying
    put_be16(ip + 6, 0x4000);    // don't fragment, as ping sets it
    ip[8] = kDefaultTtl;
    ip[9] = kProtocolIcmp;
    std::memcpy(ip + 12, &source, 4);
    std::memcpy(ip + 16, &destination, 4);
    put_be16(ip + 10, internet_checksum({ip, kIpv4HeaderBytes}));

    std::uint8_t *icmp = ip + kIpv4HeaderBytes;
    icmp[0] = type;
    put_be16(icmp + 4, identifier);
    put_be16(icmp + 6, sequence);
    if (!payload.empty()) {
        std::memcpy(icmp + kIcmpHeaderBytes, payload.data(), payload.size());
    }
    put_be16(icmp + 2, internet_checksum({icmp, kIcmpHeaderBytes + payload.size()}));
    return packet;
}

}  // namespace

std::uint16_t internet_checksum(std::span<const std::uint8_t> bytes) {
    std::uint32_t sum = 0;
    std::size_t i = 0;
    for (; i + 1 < bytes.size(); i += 2) {
        sum += static_cast<std::uint32_t>((bytes[i] << 8) | bytes[i + 1]);
    }
    if (i < bytes.size()) {
        sum += static_cast<std::uint32_t>(bytes[i] << 8);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(~sum);
}

std::vector<std::uint8_t> build_echo_request(in_addr_t source, in_addr_t destination,
                                             std::uint16_t identifier, std::uint16_t sequence,
                                             std::span<const std::uint8_t> payload) {
    return build_echo(source, destination, kIcmpEchoRequest, identifier, sequence, payload);
}

std::optional<EchoHeader> parse_echo(std::span<const std::uint8_t> packet) {
    if (packet.size() < kIpv4HeaderBytes + kIcmpHeaderBytes || (packet[0] >> 4) != 4) {
        return std::nullopt;
    }
    const std::size_t header_bytes = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
    const std::size_t total = get_be16(packet.data() + 2);
    // The tunnel pads plaintext to 16 bytes, so the IP total length, not the buffer,
    // says where the packet ends.
    if (header_bytes < kIpv4HeaderBytes || total > packet.size() ||
        total < header_bytes + kIcmpHeaderBytes || packet[9] != kProtocolIcmp) {
        return std::nullopt;
    }
    if (internet_checksum(packet.first(header_bytes)) != 0) {
        return std::nullopt;
    }
    const auto icmp = packet.subspan(header_bytes, total - header_bytes);
    if (internet_checksum(icmp) != 0 || icmp[1] != 0 ||
        (icmp[0] != kIcmpEchoRequest && icmp[0] != kIcmpEchoReply)) {
        return std::nullopt;
    }
    EchoHeader echo{};
    std::memcpy(&echo.source, packet.data() + 12, 4);
    std::memcpy(&echo.destination, packet.data() + 16, 4);
    echo.type = icmp[0];
    echo.identifier = get_be16(icmp.data() + 4);
    echo.sequence = get_be16(icmp.data() + 6);
    echo.payload = icmp.subspan(kIcmpHeaderBytes);
    return echo;
}

std::vector<std::uint8_t> build_echo_reply(const EchoHeader &request) {
    return build_echo(request.destination, request.source, kIcmpEchoReply, request.identifier,
                      request.sequence, request.payload);
}

}  // namespace jg::interop
