#include "telemetry/gateway_metrics.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <prometheus/exposer.h>

#include <filesystem>
#include <memory>
#include <string>

#include "dataplane/worker.hpp"
#include "metrics_test_util.hpp"
#include "telemetry/audit_metrics.hpp"
#include "telemetry/audit_writer.hpp"
#include "telemetry/control_stats.hpp"

namespace jg {
namespace {

using testing::sample;

constexpr uint16_t kOuter = 0;
constexpr uint16_t kInner = 1;

std::unique_ptr<dp::Worker> worker(unsigned lcore, uint16_t queue) {
    auto w = std::make_unique<dp::Worker>();
    w->config.lcore = lcore;
    w->config.n_queues = 2;
    w->config.queues[0] = {kOuter, queue};
    w->config.queues[1] = {kInner, queue};
    return w;
}

GatewayMetricsSources sources(const std::vector<std::unique_ptr<dp::Worker>> &workers) {
    GatewayMetricsSources s;
    s.version = "9.8.7";
    for (const auto &w : workers)
        s.workers.push_back(w.get());
    // No EAL here: these are no DPDK ports, so only the labels come from them (the NIC
    // statistics are left out; the e2e test covers them).
    s.ports = {{kOuter, "outer"}, {kInner, "inner"}};
    return s;
}

TEST(GatewayMetrics, SumsQueueCountersPerPortAndQueueAcrossWorkers) {
    std::vector<std::unique_ptr<dp::Worker>> ws;
    ws.push_back(worker(1, 0));
    ws.push_back(worker(2, 1));
    dp::counter_add(ws[0]->queue_counters[0].rx_packets, 10);
    dp::counter_add(ws[0]->queue_counters[1].tx_packets, 7);
    dp::counter_add(ws[1]->queue_counters[0].rx_packets, 5);
    GatewayMetrics m(sources(ws));
    const auto f = m.Collect();
    EXPECT_EQ(sample(f, "jumpgate_rx_packets_total", {{"port", "outer"}, {"queue", "0"}}), 10.0);
    EXPECT_EQ(sample(f, "jumpgate_rx_packets_total", {{"port", "outer"}, {"queue", "1"}}), 5.0);
    EXPECT_EQ(sample(f, "jumpgate_rx_packets_total", {{"port", "inner"}, {"queue", "1"}}), 0.0);
    EXPECT_EQ(sample(f, "jumpgate_tx_packets_total", {{"port", "inner"}, {"queue", "0"}}), 7.0);
    EXPECT_EQ(sample(f, "jumpgate_build_info", {{"version", "9.8.7"}}), 1.0);
    // Not DPDK ports: their statistics are skipped, not reported as zero.
    EXPECT_TRUE(testing::find_family(f, "jumpgate_port_rx_packets_total")->metric.empty());
}

TEST(GatewayMetrics, LabelsAPortWithoutANameByItsId) {
    std::vector<std::unique_ptr<dp::Worker>> ws;
    ws.push_back(worker(1, 0));
    dp::counter_add(ws[0]->queue_counters[0].rx_packets, 2);
    auto src = sources(ws);
    src.ports.clear();
    const auto f = GatewayMetrics(std::move(src)).Collect();
    EXPECT_EQ(sample(f, "jumpgate_rx_packets_total", {{"port", "0"}, {"queue", "0"}}), 2.0);
}

TEST(GatewayMetrics, SumsDropsByReasonAndExportsEveryReason) {
    std::vector<std::unique_ptr<dp::Worker>> ws;
    ws.push_back(worker(1, 0));
    ws.push_back(worker(2, 1));
    dp::counter_add(ws[0]->counters.drops[static_cast<unsigned>(dp::DropReason::auth_failed)], 3);
    dp::counter_add(ws[1]->counters.drops[static_cast<unsigned>(dp::DropReason::auth_failed)], 4);
    const auto f = GatewayMetrics(sources(ws)).Collect();
    EXPECT_EQ(sample(f, "jumpgate_dropped_packets_total", {{"reason", "auth_failed"}}), 7.0);
    EXPECT_EQ(sample(f, "jumpgate_dropped_packets_total", {{"reason", "tx_full"}}), 0.0);
    EXPECT_EQ(testing::find_family(f, "jumpgate_dropped_packets_total")->metric.size(),
              dp::kDropReasonCount);
}

TEST(GatewayMetrics, ReassembledDatagramsAreSummedOverWorkers) {
    std::vector<std::unique_ptr<dp::Worker>> ws;
    ws.push_back(worker(1, 0));
    ws.push_back(worker(2, 1));
    EXPECT_EQ(
        sample(GatewayMetrics(sources(ws)).Collect(), "jumpgate_reassembled_datagrams_total", {}),
        0.0);
    dp::counter_add(ws[0]->counters.reassembled, 2);
    dp::counter_add(ws[1]->counters.reassembled, 5);
    EXPECT_EQ(
        sample(GatewayMetrics(sources(ws)).Collect(), "jumpgate_reassembled_datagrams_total", {}),
        7.0);
}

TEST(GatewayMetrics, BusyRatioCoversTheCyclesSinceThePreviousScrape) {
    std::vector<std::unique_ptr<dp::Worker>> ws;
    ws.push_back(worker(3, 0));
    auto src = sources(ws);
    src.ports.clear();
    GatewayMetrics m(std::move(src));
    dp::counter_set(ws[0]->counters.busy_cycles, 900);
    dp::counter_set(ws[0]->counters.total_cycles, 1000);
    EXPECT_DOUBLE_EQ(*sample(m.Collect(), "jumpgate_worker_busy_ratio", {{"lcore", "3"}}), 0.9);
    dp::counter_set(ws[0]->counters.busy_cycles, 1000);
    dp::counter_set(ws[0]->counters.total_cycles, 2000);
    EXPECT_DOUBLE_EQ(*sample(m.Collect(), "jumpgate_worker_busy_ratio", {{"lcore", "3"}}), 0.1);
    // Nothing ran since: idle, not a division by zero.
    EXPECT_DOUBLE_EQ(*sample(m.Collect(), "jumpgate_worker_busy_ratio", {{"lcore", "3"}}), 0.0);
}

TEST(GatewayMetrics, ControlMetricsAppearOnceTheControlCorePublished) {
    ControlStatsBoard board;
    GatewayMetricsSources src;
    src.version = "1";
    src.control = &board;
    GatewayMetrics m(std::move(src));
    EXPECT_EQ(testing::find_family(m.Collect(), "jumpgate_sessions"), nullptr);

    ControlStats s;
    s.sessions_by_state[static_cast<size_t>(SessionState::Attached)] = 2;
    s.sessions_by_state[static_cast<size_t>(SessionState::Degraded)] = 1;
    s.sessions_by_state[static_cast<size_t>(SessionState::Terminated)] = 5;  // retained, not live
    s.handshakes_by_result = {{"accepted", 3}, {"cookie_reply", 4}};
    s.cookie_replies = 4;
    s.keepalives_sent = 6;
    s.crypto_rx_bytes = 1000;
    s.crypto_tx_bytes = 2000;
    board.publish(s);
    const auto f = m.Collect();
    EXPECT_EQ(sample(f, "jumpgate_sessions", {{"state", "attached"}}), 2.0);
    EXPECT_EQ(sample(f, "jumpgate_sessions", {{"state", "degraded"}}), 1.0);
    EXPECT_EQ(sample(f, "jumpgate_sessions", {{"state", "volatile"}}), 0.0);
    EXPECT_FALSE(sample(f, "jumpgate_sessions", {{"state", "terminated"}}));
    EXPECT_EQ(sample(f, "jumpgate_handshakes_total", {{"result", "accepted"}}), 3.0);
    EXPECT_EQ(sample(f, "jumpgate_cookie_replies_total"), 4.0);
    EXPECT_EQ(sample(f, "jumpgate_keepalives_sent_total"), 6.0);
    EXPECT_EQ(sample(f, "jumpgate_crypto_bytes_total", {{"direction", "rx"}}), 1000.0);
    EXPECT_EQ(sample(f, "jumpgate_crypto_bytes_total", {{"direction", "tx"}}), 2000.0);
}

TEST(GatewayMetrics, AuditEventsTheLogCouldNotTakeCountAsDroppedForWriteErrors) {
    if (!std::filesystem::exists("/dev/full"))
        GTEST_SKIP() << "/dev/full not available";
    auto sink = AuditFileSink::open("/dev/full");
    ASSERT_TRUE(sink.ok());
    AuditWriter writer(std::shared_ptr<AuditSink>(std::move(*sink)), {.log = [](auto &) {}});
    GatewayMetricsSources src;
    src.version = "1";
    src.audit = &writer;
    GatewayMetrics m(std::move(src));
    const std::string name = "jumpgate_audit_events_dropped_total";
    EXPECT_EQ(sample(m.Collect(), name, {{"reason", "write_error"}}), 0.0);

    for (uint64_t i = 0; i < 3; ++i)
        ASSERT_TRUE(writer.try_push(
            audit::Event{1, 7, i, "p", audit::SecurityEvent{Reason::replay_detected, "x"}}));
    writer.close();
    const auto f = m.Collect();
    EXPECT_EQ(sample(f, name, {{"reason", "write_error"}}), 3.0);
    EXPECT_EQ(sample(f, name, {{"reason", "queue_full"}}), 0.0);
}

std::string http_get(int port, const std::string &path) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
        ::close(fd);
        return {};
    }
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    EXPECT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    std::string body;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
        body.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return body;
}

TEST(GatewayMetrics, ServedOverHttpInPrometheusTextFormat) {
    std::vector<std::unique_ptr<dp::Worker>> ws;
    ws.push_back(worker(1, 0));
    dp::counter_add(ws[0]->queue_counters[0].rx_packets, 42);
    auto src = sources(ws);
    src.ports.clear();
    auto gateway = std::make_shared<GatewayMetrics>(std::move(src));
    auto audit = std::make_shared<AuditMetrics>();
    audit->observe(
        audit::Event{1, 7, 1, "p", audit::SecurityEvent{Reason::replay_detected, "192.0.2.2:1"}});

    prometheus::Exposer exposer("127.0.0.1:0", 1);
    exposer.RegisterCollectable(gateway, "/metrics");
    exposer.RegisterCollectable(audit, "/metrics");
    ASSERT_EQ(exposer.GetListeningPorts().size(), 1u);
    const std::string text = http_get(exposer.GetListeningPorts()[0], "/metrics");
    EXPECT_NE(text.find("200 OK"), std::string::npos) << text;
    EXPECT_NE(text.find("# TYPE jumpgate_rx_packets_total counter"), std::string::npos) << text;
    EXPECT_NE(text.find("jumpgate_rx_packets_total{port=\"0\",queue=\"0\"} 42"), std::string::npos)
        << text;
    EXPECT_NE(text.find("jumpgate_security_events_total{violation=\"replay_detected\"} 1"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("jumpgate_recovery_duration_seconds_bucket{le=\"+Inf\"} 0"),
              std::string::npos)
        << text;
}

}  // namespace
}  // namespace jg
