// Shared by the control unit tests: a recording data plane, a WireGuard client built from
// lib/proto's initiator, and a directory wired to both under a fake clock.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "control/session_directory.hpp"
#include "proto/control_messages.hpp"
#include "proto/tai64n.hpp"
#include "telemetry/audit_check.hpp"
#include "telemetry/audit_json.hpp"
#include "telemetry/audit_writer.hpp"

namespace jg::control::test {

inline constexpr int64_t kStartMs = 1'700'000'000'000;  // wall clock, ms
inline const MacAddr kRouterMac{0x02, 0, 0, 0, 0, 0x01};
inline const MacAddr kOtherMac{0x02, 0, 0, 0, 0, 0x02};

inline TransportAddr addr(uint32_t a, uint16_t port) {
    return TransportAddr::v4(a, port);
}
inline const TransportAddr kClientAddr = TransportAddr::v4(0xC6336407, 40000);  // 198.51.100.7
inline const TransportAddr kRoamAddr = TransportAddr::v4(0xCB007101, 50000);    // 203.0.113.1
inline const TransportAddr kRoamAddr2 = TransportAddr::v4(0xCB007102, 50001);   // 203.0.113.2
inline const TransportAddr kRoamAddr3 = TransportAddr::v4(0xCB007103, 50002);   // 203.0.113.3

// Records every call; counters per slot are set by the test.
class RecordingDataplane final : public DataplaneLink {
  public:
    struct InstalledKeypair {
        uint32_t slot;
        KeypairRole role;
        proto::TransportKeypair keys;
        uint32_t key_epoch;
    };
    struct Frame {
        uint16_t worker;
        uint32_t slot;  // control frames only
        TransportAddr to;
        MacAddr next_hop;
        std::vector<uint8_t> bytes;
    };

    Result<uint32_t> alloc_session(uint64_t session_id, uint16_t owner) override {
        if (slots_left == 0)
            return make_error("sessions", "full");
        --slots_left;
        const uint32_t slot = next_slot++;
        owners[slot] = owner;
        session_ids[slot] = session_id;
        return slot;
    }
    Status install_keypair(uint32_t slot, KeypairRole role, const proto::TransportKeypair &keys,
                           uint32_t key_epoch, int64_t) override {
        keypairs.push_back({slot, role, keys, key_epoch});
        return Ok{};
    }
    Status confirm_next_keypair(uint32_t slot) override {
        confirmed.push_back(slot);
        return Ok{};
    }
    Status publish_binding(uint32_t slot, const TransportAddr &to, const MacAddr &mac) override {
        bindings[slot] = to;
        binding_macs[slot] = mac;
        ++binding_writes;
        return Ok{};
    }
    Status add_route(const IpPrefix &prefix, uint32_t slot) override {
        routes[prefix.to_string()] = slot;
        return Ok{};
    }
    Status retire_keypair(uint32_t slot, uint32_t local_index) override {
        keypairs_retired.emplace_back(slot, local_index);
        return Ok{};
    }
    Status set_session_flags(uint32_t slot, uint8_t f) override {
        flags[slot] = f;
        return Ok{};
    }
    Status rearm_source_report(uint32_t slot) override {
        rearmed.push_back(slot);
        return Ok{};
    }
    Status retire_session(uint32_t slot) override {
        retired.push_back(slot);
        flags[slot] = 0;
        bindings.erase(slot);
        std::erase_if(routes, [slot](const auto &r) { return r.second == slot; });
        return Ok{};
    }
    void reclaim() override { ++reclaims; }
    Status learn_neighbor(const TransportAddr &, const MacAddr &) override {
        ++neighbors;
        return Ok{};
    }
    SlotCounters counters(uint32_t slot) const override {
        const auto it = slot_counters.find(slot);
        return it == slot_counters.end() ? SlotCounters{} : it->second;
    }
    bool send_raw(uint16_t worker, const TransportAddr &to, const MacAddr &mac,
                  std::span<const uint8_t> payload) override {
        raw.push_back({worker, 0, to, mac, {payload.begin(), payload.end()}});
        return true;
    }
    bool send_control(uint16_t worker, uint32_t slot, const TransportAddr &to, const MacAddr &mac,
                      std::span<const uint8_t> plaintext) override {
        control.push_back({worker, slot, to, mac, {plaintext.begin(), plaintext.end()}});
        return true;
    }

    // The last control frame of type T, decoded.
    template <class T>
    std::optional<T> last_control(const Frame **frame = nullptr) const {
        for (auto it = control.rbegin(); it != control.rend(); ++it) {
            const auto d = proto::decode_control(it->bytes);
            if (d.ok() && std::holds_alternative<T>(d.message)) {
                if (frame)
                    *frame = &*it;
                return std::get<T>(d.message);
            }
        }
        return std::nullopt;
    }

    uint32_t next_slot = 0;
    uint32_t slots_left = 1000;
    std::map<uint32_t, uint16_t> owners;
    std::map<uint32_t, uint64_t> session_ids;
    std::vector<InstalledKeypair> keypairs;
    std::vector<uint32_t> confirmed;
    std::vector<std::pair<uint32_t, uint32_t>> keypairs_retired;  // (slot, local index)
    std::map<uint32_t, TransportAddr> bindings;
    std::map<uint32_t, MacAddr> binding_macs;
    int binding_writes = 0;
    std::map<std::string, uint32_t> routes;
    std::map<uint32_t, uint8_t> flags;
    std::vector<uint32_t> retired;
    std::vector<uint32_t> rearmed;  // rearm_source_report calls, in order
    int reclaims = 0;
    int neighbors = 0;
    std::map<uint32_t, SlotCounters> slot_counters;
    std::vector<Frame> raw;
    std::vector<Frame> control;
};

// A WireGuard peer speaking to the gateway with lib/proto's initiator.
struct Client {
    explicit Client(const proto::Key &gateway_public)
        : identity(proto::StaticIdentity::generate()),
          jar(gateway_public),
          gateway(gateway_public) {}

    // A fresh initiation stamped with `now_ms` (wall clock: TAI64N and the cookie's age).
    std::array<uint8_t, proto::kInitiationSize> initiate(int64_t now_ms, uint32_t sender = 0x1234) {
        std::array<uint8_t, proto::kInitiationSize> msg{};
        auto hs = proto::InitiatorHandshake::create_initiation(
            identity, gateway, psk, sender, uint64_t(now_ms) * proto::kNsPerMs,
            uint64_t(now_ms) * proto::kNsPerMs, jar, msg);
        EXPECT_TRUE(hs.ok());
        if (hs)
            pending.emplace(std::move(hs).value());
        return msg;
    }

    proto::StaticIdentity identity;
    proto::CookieJar jar;
    proto::Key gateway;
    proto::Key psk{};
    std::optional<proto::InitiatorHandshake> pending;
};

class ControlTest : public ::testing::Test {
  protected:
    ControlTest() : gateway(proto::StaticIdentity::generate()), client(gateway.public_key()) {}

    PeerSpec client_peer(const Client &c, std::string profile = "default") {
        PeerSpec p;
        p.name = "phone";
        p.public_key = c.identity.public_key();
        p.psk = c.psk;
        p.allowed_ips = {*parse_ip_prefix("10.8.0.2/32", PrefixForm::Network),
                         *parse_ip_prefix("fd00::2/128", PrefixForm::Network)};
        p.profile = std::move(profile);
        return p;
    }

    // Builds the directory; call once per test, after adjusting options/policies/peers.
    void start(std::vector<PeerSpec> peers = {}, PolicySet policies = PolicySet::builtin()) {
        if (peers.empty())
            peers.push_back(client_peer(client));
        sink = std::make_shared<AuditMemorySink>();
        AuditWriterOptions wo;
        wo.node_id = "gw-test";
        writer = std::make_unique<AuditWriter>(sink, wo);
        dir = std::make_unique<SessionDirectory>(
            gateway, std::move(peers), std::move(policies), options, dp, *writer,
            [this] { return ++random_counter * 0x9E3779B97F4A7C15ull; });
    }

    UpEvent initiation_event(const std::array<uint8_t, proto::kInitiationSize> &msg,
                             const TransportAddr &from = kClientAddr, uint16_t worker = 1) {
        UpEvent ev;
        ev.kind = UpKind::HandshakeInitiation;
        ev.worker = worker;
        ev.src = from;
        ev.src_mac = kRouterMac;
        ev.payload = msg;
        return ev;
    }

    // Runs a full handshake of `c` from `from`; returns the client's keypair.
    std::optional<proto::TransportKeypair> handshake(Client &c,
                                                     const TransportAddr &from = kClientAddr,
                                                     uint16_t worker = 1) {
        const size_t before = dp.raw.size();
        const auto msg = c.initiate(now);
        dir->handle(initiation_event(msg, from, worker), now);
        if (dp.raw.size() != before + 1 || dp.raw.back().bytes.size() != proto::kResponseSize)
            return std::nullopt;
        auto kp = c.pending->consume_response(dp.raw.back().bytes, uint64_t(now) * proto::kNsPerMs);
        if (!kp)
            return std::nullopt;
        return *kp;
    }

    // The gateway's local index of the newest keypair it installed.
    uint32_t gateway_index() const { return dp.keypairs.back().keys.local_index; }
    uint32_t slot() const { return dp.keypairs.back().slot; }

    UpEvent session_event(UpKind kind, const TransportAddr &from, const MacAddr &mac = kRouterMac) {
        UpEvent ev;
        ev.kind = kind;
        ev.worker = 1;
        ev.src = from;
        ev.src_mac = mac;
        ev.session_slot = slot();
        ev.local_index = gateway_index();
        return ev;
    }

    // Delivers a decrypted control message as the owner worker would.
    void control_from(const proto::ControlMessage &m, const TransportAddr &from,
                      const MacAddr &mac = kRouterMac) {
        std::array<uint8_t, 64> buf{};
        const size_t n = proto::encode_control(m, buf);
        ASSERT_GT(n, 0u);
        UpEvent ev = session_event(UpKind::ControlMessage, from, mac);
        ev.payload = std::span<const uint8_t>(buf.data(), n);
        dir->handle(ev, now);
    }

    void source_changed(const TransportAddr &from, const MacAddr &mac = kOtherMac) {
        dir->handle(session_event(UpKind::SourceChanged, from, mac), now);
    }

    // Traffic on the slot: the owner worker's counters move.
    void traffic(uint64_t packets, uint64_t gaps = 0) {
        auto &c = dp.slot_counters[slot()];
        c.rx_packets += packets;
        c.counter_gaps += gaps;
    }

    void advance(int64_t ms) { now += ms; }

    // Closes the writer and returns every audit line written.
    std::vector<std::string> audit_lines() {
        writer->close();
        return sink->lines();
    }
    std::vector<audit::Event> audit_events() {
        std::vector<audit::Event> out;
        for (const std::string &l : audit_lines()) {
            auto r = audit::parse_line(l);
            EXPECT_TRUE(r.ok()) << l;
            if (r)
                out.push_back(r->event);
        }
        return out;
    }
    std::vector<std::string> audit_types() {
        std::vector<std::string> out;
        for (const auto &e : audit_events())
            out.emplace_back(audit::event_type_name(e.payload));
        return out;
    }
    AuditCheckReport check_audit(const AuditCheckLimits &limits = {}) {
        std::string text;
        for (const std::string &l : audit_lines())
            text += l + "\n";
        std::istringstream in(text);
        return audit_check(in, limits);
    }

    proto::StaticIdentity gateway;
    Client client;
    DirectoryOptions options;
    RecordingDataplane dp;
    std::shared_ptr<AuditMemorySink> sink;
    std::unique_ptr<AuditWriter> writer;
    std::unique_ptr<SessionDirectory> dir;
    int64_t now = kStartMs;
    uint64_t random_counter = 0;
};

}  // namespace jg::control::test
