// The relay: one UDP path between a client and the gateway with impairments, its control
// socket and script. Everything runs on the thread that calls run(); nothing is shared.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "endpoint.hpp"
#include "impairment.hpp"
#include "relay_command.hpp"
#include "relay_stats.hpp"

namespace jg::relay {

struct RelayOptions {
    UdpEndpoint listen;                   // client side
    UdpEndpoint upstream;                 // the gateway
    std::optional<UdpEndpoint> bind_src;  // source of the upstream socket (port 0: ephemeral)
    std::string control_path;             // Unix stream socket; empty: none
    std::vector<ScriptStep> script;
    uint64_t seed = 1;
    std::string log_json_path;  // empty: no event log
    ImpairmentSettings initial;
};

// Closes the descriptor it owns.
class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd &&o) noexcept : fd_(o.release()) {}
    UniqueFd &operator=(UniqueFd &&o) noexcept;
    ~UniqueFd();
    int get() const { return fd_; }
    int release();
    explicit operator bool() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

class Relay {
    struct Token {};  // only open() constructs, so no relay exists with unbound sockets

  public:
    Relay(Token, RelayOptions options);
    // Binds every socket (listen, upstream, control) or fails naming the one it could not.
    static Result<std::unique_ptr<Relay>> open(RelayOptions options);

    // Forwards until SIGINT or SIGTERM (blocked by the caller's thread before open()).
    // Returns the process exit code.
    int run(int signal_fd);

    nlohmann::json stats() const;
    // One line of the control protocol: a reply line without its newline.
    std::string handle_control_line(std::string_view line);

    ~Relay();

  private:
    struct Capture {
        uint64_t at_ms;
        std::vector<uint8_t> bytes;
    };
    struct HeldPacket {
        std::vector<uint8_t> bytes;
        bool duplicate;
        uint64_t deadline_ns;
    };
    struct DirectionState {
        explicit DirectionState(uint64_t seed) : model(seed) {}
        ImpairmentModel model;
        DirectionCounters counters;
        std::optional<HeldPacket> held;
        std::vector<Capture> captures;
        size_t captured_bytes = 0;
        size_t queued = 0;  // this direction's packets in delayed_, and their bytes
        size_t queued_bytes = 0;
    };
    struct Scheduled {
        uint64_t due_ns;
        uint64_t sequence;  // FIFO among equal due times
        Direction direction;
        bool duplicate;
        bool hold_for_reorder;
        std::vector<uint8_t> bytes;
        bool operator>(const Scheduled &o) const {
            return due_ns != o.due_ns ? due_ns > o.due_ns : sequence > o.sequence;
        }
    };
    struct ControlConnection {
        UniqueFd fd;
        std::string input;
    };
    struct ReplaySource {
        UniqueFd fd;
        UdpEndpoint bound;
        uint64_t received = 0;  // answers sent to this third address
    };

    DirectionState &state(Direction d) { return d == Direction::up ? up_ : down_; }
    const DirectionState &state(Direction d) const { return d == Direction::up ? up_ : down_; }
    uint64_t now_ms() const;

    Status watch(int fd, uint64_t tag);
    ssize_t receive(int fd, UdpEndpoint &from);  // into buffer_
    void drain_listen();
    void drain_upstream();
    void drain_replay_source(int fd);
    void on_packet(Direction d, const uint8_t *data, size_t len);
    void carried(Direction d, size_t len);  // past every drop on arrival: sent or queued
    void emit(Direction d, const uint8_t *data, size_t len, bool duplicate, bool hold);
    void send(Direction d, const uint8_t *data, size_t len);
    void release_held(Direction d);
    bool blackholed(Direction d);
    void capture(DirectionState &st, const uint8_t *data, size_t len);
    void on_timer();
    void arm_timer();
    void accept_control();
    void read_control(int fd);
    Result<nlohmann::json> execute(const Command &command, std::string_view origin);
    Result<nlohmann::json> rebind(const UdpEndpoint &source);
    Result<nlohmann::json> replay(const Replay &r);
    Result<ReplaySource *> replay_source(const UdpEndpoint &from);
    nlohmann::json captures(Target t) const;
    nlohmann::json settings_json() const;
    void log_event(nlohmann::json event);
    void run_due_script_steps();

    RelayOptions options_;
    ImpairmentSettings settings_;
    DirectionState up_;
    DirectionState down_;
    UniqueFd epoll_;
    UniqueFd listen_fd_;
    UniqueFd upstream_fd_;
    UdpEndpoint upstream_source_;  // what upstream_fd_ is bound to
    UniqueFd timer_fd_;
    UniqueFd control_fd_;
    std::map<int, ControlConnection> control_connections_;
    std::map<int, ReplaySource> replay_sources_;
    std::optional<UdpEndpoint> client_;
    std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> delayed_;
    uint64_t sequence_ = 0;
    size_t next_step_ = 0;
    bool recording_ = false;
    uint64_t unknown_source_dropped_ = 0;
    uint64_t start_ns_ = 0;
    std::unique_ptr<std::FILE, int (*)(std::FILE *)> log_{nullptr, &std::fclose};
    std::vector<uint8_t> buffer_;
};

// A client of the control socket: sends one line, returns the reply line.
Result<std::string> send_control_line(const std::string &socket_path, const std::string &line);

}  // namespace jg::relay
