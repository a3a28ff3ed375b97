#include "relay.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

namespace jg::relay {

namespace {

// Captures per direction: enough for minutes of a test's handshake and control traffic. Bounded
// in bytes as well: a datagram may be 64 KiB, and a flood of those must not exhaust memory.
constexpr size_t kMaxCaptures = 100'000;
constexpr size_t kMaxCaptureBytes = size_t{64} << 20;
// The delay queue holds at most the direction's `limit` packets and at most this many bytes
// per direction, whatever the limit: a long delay at a high rate, or a flood, drops packets
// (queue_full) instead of growing the relay's memory.
constexpr size_t kMaxQueuedBytes = size_t{256} << 20;
// Entries 'captures' lists (the newest), so a reply stays one modest line.
constexpr size_t kListedCaptures = 1000;
// Datagrams read per socket per wake-up before the other sockets get a turn.
constexpr int kReadBudget = 256;
// Socket buffers (bytes): bursts of tens of thousands of packets/s survive a scheduling hiccup.
constexpr int kSocketBuffer = 4 << 20;
constexpr size_t kMaxControlLine = 64 * 1024;

enum class Kind : uint64_t { listen = 1, upstream, timer, signal, control, connection, replay };

uint64_t tag(Kind k, int fd) {
    return (static_cast<uint64_t>(k) << 32) | static_cast<uint32_t>(fd);
}
Kind kind_of(uint64_t tag) {
    return static_cast<Kind>(tag >> 32);
}
int fd_of(uint64_t tag) {
    return static_cast<int>(tag & 0xffffffffu);
}

uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

std::string errno_text() {
    return std::strerror(errno);
}

struct BoundSocket {
    UniqueFd fd;
    UdpEndpoint bound;
};

Result<UdpEndpoint> local_endpoint(int fd) {
    UdpEndpoint e;
    e.length = sizeof e.storage;
    if (getsockname(fd, e.addr(), &e.length) != 0) {
        return make_error("getsockname", errno_text());
    }
    return e;
}

Result<BoundSocket> open_udp(const UdpEndpoint &at, std::string_view what) {
    UniqueFd fd(socket(at.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        return make_error(std::string(what), "cannot create a UDP socket: " + errno_text());
    }
    // Root may exceed net.core.rmem_max; others get what the sysctl allows.
    int size = kSocketBuffer;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
        setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) {
        setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
    if (bind(fd.get(), at.addr(), at.length) != 0) {
        return make_error(std::string(what), "cannot bind " + at.to_string() + ": " + errno_text());
    }
    auto bound = local_endpoint(fd.get());
    if (!bound) {
        return make_error(std::string(what), bound.error().message());
    }
    return BoundSocket{std::move(fd), *bound};
}

Result<sockaddr_un> unix_address(const std::string &path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof a.sun_path) {
        return make_error("--control", "socket path '" + path + "' must be 1.." +
                                           std::to_string(sizeof a.sun_path - 1) + " bytes");
    }
    std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
    return a;
}

Result<UniqueFd> open_control(const std::string &path) {
    auto a = unix_address(path);
    if (!a) {
        return a.error();
    }
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return make_error("--control", path + " exists and is not a socket");
        }
        // A socket nobody answers on is left over from a relay that died: reuse its path.
        UniqueFd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (connect(probe.get(), reinterpret_cast<const sockaddr *>(&*a), sizeof *a) == 0) {
            return make_error("--control", "another process is listening on " + path);
        }
        unlink(path.c_str());
    }
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd || bind(fd.get(), reinterpret_cast<const sockaddr *>(&*a), sizeof *a) != 0 ||
        listen(fd.get(), 16) != 0) {
        return make_error("--control", "cannot listen on " + path + ": " + errno_text());
    }
    return fd;
}

nlohmann::json direction_settings_json(const DirectionImpairment &d) {
    return {{"blackhole", d.blackhole},
            {"drop_percent", d.drop_percent},
            {"delay_ms", d.delay_ms},
            {"jitter_ms", d.jitter_ms},
            {"jitter_shape", jitter_shape_name(d.jitter_shape)},
            {"duplicate_percent", d.duplicate_percent},
            {"reorder_percent", d.reorder_percent},
            {"reorder_hold_ms", d.reorder_hold_ms},
            {"limit", d.queue_limit},
            {"lose",
             {{"count", d.lose_count},
              {"after", d.lose_skip},
              {"size", d.lose_size},
              {"following", d.lose_following}}}};
}

}  // namespace

UniqueFd &UniqueFd::operator=(UniqueFd &&o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) {
            close(fd_);
        }
        fd_ = o.release();
    }
    return *this;
}

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) {
        close(fd_);
    }
}

int UniqueFd::release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
}

Relay::Relay(Token, RelayOptions options)
    : options_(std::move(options)),
      settings_(options_.initial),
      up_(direction_seed(options_.seed, Direction::up)),
      down_(direction_seed(options_.seed, Direction::down)),
      buffer_(65536) {}

Relay::~Relay() {
    if (control_fd_) {
        unlink(options_.control_path.c_str());
    }
}

Result<std::unique_ptr<Relay>> Relay::open(RelayOptions options) {
    if (options.bind_src && options.bind_src->family() != options.upstream.family()) {
        return make_error("--bind-src", options.bind_src->to_string() +
                                            " is not of the upstream's address family");
    }
    auto r = std::make_unique<Relay>(Token{}, std::move(options));
    r->epoll_ = UniqueFd(epoll_create1(EPOLL_CLOEXEC));
    r->timer_fd_ = UniqueFd(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!r->epoll_ || !r->timer_fd_) {
        return make_error("relay", "cannot create epoll/timerfd: " + errno_text());
    }
    auto listen = open_udp(r->options_.listen, "--listen");
    if (!listen) {
        return listen.error();
    }
    r->listen_fd_ = std::move(listen->fd);
    r->options_.listen = listen->bound;  // port 0 becomes the port the kernel chose
    UdpEndpoint source;
    if (r->options_.bind_src) {
        source = r->options_.bind_src->with_port(0);
    } else {
        auto any = parse_address(r->options_.upstream.family() == AF_INET ? "0.0.0.0" : "::", "");
        source = *any;
    }
    auto up = open_udp(source, "--bind-src");
    if (!up) {
        return up.error();
    }
    r->upstream_fd_ = std::move(up->fd);
    r->upstream_source_ = up->bound;
    if (!r->options_.control_path.empty()) {
        auto control = open_control(r->options_.control_path);
        if (!control) {
            return control.error();
        }
        r->control_fd_ = std::move(*control);
    }
    if (!r->options_.log_json_path.empty()) {
        r->log_.reset(std::fopen(r->options_.log_json_path.c_str(), "a"));
        if (!r->log_) {
            return make_error("--log-json",
                              "cannot open " + r->options_.log_json_path + ": " + errno_text());
        }
    }
    for (auto [fd, kind] : {std::pair{r->listen_fd_.get(), Kind::listen},
                            std::pair{r->upstream_fd_.get(), Kind::upstream},
                            std::pair{r->timer_fd_.get(), Kind::timer}}) {
        if (auto s = r->watch(fd, tag(kind, fd)); !s) {
            return s.error();
        }
    }
    if (r->control_fd_) {
        if (auto s = r->watch(r->control_fd_.get(), tag(Kind::control, r->control_fd_.get())); !s) {
            return s.error();
        }
    }
    return r;
}

Status Relay::watch(int fd, uint64_t t) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = t;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        return make_error("epoll", "cannot watch a descriptor: " + errno_text());
    }
    return Ok{};
}

uint64_t Relay::now_ms() const {
    return (monotonic_ns() - start_ns_) / 1'000'000;
}

void Relay::log_event(nlohmann::json event) {
    if (!log_) {
        return;
    }
    event["t_ms"] = now_ms();
    event["unix_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    std::string line = event.dump() + "\n";
    std::fputs(line.c_str(), log_.get());
    std::fflush(log_.get());
}

ssize_t Relay::receive(int fd, UdpEndpoint &from) {
    from.length = sizeof from.storage;
    return recvfrom(fd, buffer_.data(), buffer_.size(), 0, from.addr(), &from.length);
}

void Relay::drain_listen() {
    for (int i = 0; i < kReadBudget; ++i) {
        UdpEndpoint from;
        ssize_t n = receive(listen_fd_.get(), from);
        if (n < 0) {
            return;  // EAGAIN, or an ICMP error for an earlier send: nothing to forward
        }
        if (!client_ || !(*client_ == from)) {
            log_event({{"event", "client"},
                       {"previous", client_ ? client_->to_string() : "none"},
                       {"client", from.to_string()}});
            client_ = from;
        }
        on_packet(Direction::up, buffer_.data(), static_cast<size_t>(n));
    }
}

void Relay::drain_upstream() {
    for (int i = 0; i < kReadBudget; ++i) {
        UdpEndpoint from;
        ssize_t n = receive(upstream_fd_.get(), from);
        if (n < 0) {
            return;
        }
        if (!(from == options_.upstream)) {
            ++unknown_source_dropped_;
            continue;
        }
        on_packet(Direction::down, buffer_.data(), static_cast<size_t>(n));
    }
}

void Relay::drain_replay_source(int fd) {
    auto it = replay_sources_.find(fd);
    if (it == replay_sources_.end()) {
        return;
    }
    for (int i = 0; i < kReadBudget; ++i) {
        if (recv(fd, buffer_.data(), buffer_.size(), 0) < 0) {
            return;
        }
        ++it->second.received;
    }
}

void Relay::capture(DirectionState &st, const uint8_t *data, size_t len) {
    if (st.captures.size() >= kMaxCaptures || st.captured_bytes + len > kMaxCaptureBytes) {
        ++st.counters.not_recorded;
        return;
    }
    st.captures.push_back(Capture{now_ms(), std::vector<uint8_t>(data, data + len)});
    st.captured_bytes += len;
    ++st.counters.recorded;
}

void Relay::on_packet(Direction d, const uint8_t *data, size_t len) {
    DirectionState &st = state(d);
    ++st.counters.received;
    if (recording_) {
        capture(st, data, len);
    }
    PacketFate fate = st.model.decide(settings_.of(d));
    if (fate.verdict == Verdict::drop_blackhole) {
        st.counters.drop(DropCause::blackhole);
        return;
    }
    if (take_targeted_loss(settings_.of(d), len)) {
        st.counters.drop(DropCause::targeted);
        return;
    }
    if (fate.verdict == Verdict::drop_loss) {
        st.counters.drop(DropCause::loss);
        return;
    }
    if (fate.delay_us > 0) {
        if (st.queued >= settings_.of(d).queue_limit || st.queued_bytes + len > kMaxQueuedBytes) {
            st.counters.drop(DropCause::queue_full);
            return;
        }
        ++st.queued;
        st.queued_bytes += len;
        ++st.counters.delayed;
        delayed_.push(Scheduled{monotonic_ns() + fate.delay_us * 1000, sequence_++, d,
                                fate.duplicate, fate.hold_for_reorder,
                                std::vector<uint8_t>(data, data + len)});
        carried(d, len);
        return;
    }
    carried(d, len);
    emit(d, data, len, fate.duplicate, fate.hold_for_reorder);
}

// Only a datagram past every drop on arrival wakes the other direction's 'lose ... following'
// rule: the reply it waits for is to a message the far end can have received.
void Relay::carried(Direction d, size_t len) {
    note_opposite_datagram(settings_.of(d == Direction::up ? Direction::down : Direction::up), len);
}

void Relay::emit(Direction d, const uint8_t *data, size_t len, bool duplicate, bool hold) {
    DirectionState &st = state(d);
    if (hold && !st.held) {
        uint64_t hold_ns = uint64_t{settings_.of(d).reorder_hold_ms} * 1'000'000;
        st.held =
            HeldPacket{std::vector<uint8_t>(data, data + len), duplicate, monotonic_ns() + hold_ns};
        return;
    }
    send(d, data, len);
    if (duplicate) {
        send(d, data, len);
        ++st.counters.duplicated;
    }
    if (st.held) {
        // The packet just sent overtook the held one: that is the reordering.
        ++st.counters.reordered;
        release_held(d);
    }
}

void Relay::release_held(Direction d) {
    DirectionState &st = state(d);
    HeldPacket h = std::move(*st.held);
    st.held.reset();
    send(d, h.bytes.data(), h.bytes.size());
    if (h.duplicate) {
        send(d, h.bytes.data(), h.bytes.size());
        ++st.counters.duplicated;
    }
}

// A packet leaves only through an open path: one that waited in the delay queue or the
// reorder hold while a blackhole came on is lost to it, as it would be on the wire.
bool Relay::blackholed(Direction d) {
    if (!settings_.of(d).blackhole) {
        return false;
    }
    state(d).counters.drop(DropCause::blackhole);
    return true;
}

void Relay::send(Direction d, const uint8_t *data, size_t len) {
    DirectionCounters &c = state(d).counters;
    int fd = upstream_fd_.get();
    const UdpEndpoint *to = &options_.upstream;
    if (d == Direction::down) {
        if (!client_) {
            c.drop(DropCause::no_client);
            return;
        }
        fd = listen_fd_.get();
        to = &*client_;
    }
    if (sendto(fd, data, len, 0, to->addr(), to->length) < 0) {
        c.drop(DropCause::send_error);
        return;
    }
    ++c.forwarded;
}

void Relay::run_due_script_steps() {
    uint64_t now = monotonic_ns();
    while (next_step_ < options_.script.size() &&
           start_ns_ + options_.script[next_step_].at_ms * 1'000'000 <= now) {
        const ScriptStep &step = options_.script[next_step_++];
        auto result = execute(step.command, "script");
        nlohmann::json event = {{"event", "script"},
                                {"line", step.line},
                                {"at_ms", step.at_ms},
                                {"command", step.text}};
        if (!result) {
            event["error"] = result.error().message();
            std::cerr << "jumpgate-relay: script line " << step.line << " (" << step.text
                      << "): " << result.error().message() << "\n";
        } else if (!result->is_null()) {
            std::cout << result->dump() << std::endl;  // 'stats' in a script reports here
        }
        log_event(event);
    }
}

void Relay::on_timer() {
    uint64_t expirations = 0;
    while (read(timer_fd_.get(), &expirations, sizeof expirations) > 0) {
    }
    run_due_script_steps();
    uint64_t now = monotonic_ns();
    while (!delayed_.empty() && delayed_.top().due_ns <= now) {
        // pop() compares only the integer keys, which a move leaves intact.
        Scheduled s = std::move(const_cast<Scheduled &>(delayed_.top()));
        delayed_.pop();
        DirectionState &st = state(s.direction);
        --st.queued;
        st.queued_bytes -= s.bytes.size();
        if (!blackholed(s.direction)) {
            emit(s.direction, s.bytes.data(), s.bytes.size(), s.duplicate, s.hold_for_reorder);
        }
    }
    for (Direction d : kDirections) {
        DirectionState &st = state(d);
        if (st.held && st.held->deadline_ns <= now) {
            if (blackholed(d)) {
                st.held.reset();
            } else {
                release_held(d);  // nothing overtook it in time: sent in order after all
            }
        }
    }
}

void Relay::arm_timer() {
    uint64_t next = UINT64_MAX;
    if (!delayed_.empty()) {
        next = delayed_.top().due_ns;
    }
    for (Direction d : kDirections) {
        if (state(d).held) {
            next = std::min(next, state(d).held->deadline_ns);
        }
    }
    if (next_step_ < options_.script.size()) {
        next = std::min(next, start_ns_ + options_.script[next_step_].at_ms * 1'000'000);
    }
    itimerspec spec{};
    if (next != UINT64_MAX) {
        next = std::max<uint64_t>(next, 1);  // 0 would disarm
        spec.it_value.tv_sec = static_cast<time_t>(next / 1'000'000'000ULL);
        spec.it_value.tv_nsec = static_cast<long>(next % 1'000'000'000ULL);
    }
    timerfd_settime(timer_fd_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

void Relay::accept_control() {
    for (;;) {
        int fd = accept4(control_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        ControlConnection c{UniqueFd(fd), {}};
        if (!watch(fd, tag(Kind::connection, fd))) {
            continue;  // c closes it
        }
        control_connections_.emplace(fd, std::move(c));
    }
}

void Relay::read_control(int fd) {
    auto it = control_connections_.find(fd);
    if (it == control_connections_.end()) {
        return;
    }
    ControlConnection &c = it->second;
    bool closed = false;
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0) {
            c.input.append(chunk, static_cast<size_t>(n));
            continue;
        }
        closed = n == 0 || (errno != EAGAIN && errno != EINTR);
        break;
    }
    std::string replies;
    size_t nl;
    while ((nl = c.input.find('\n')) != std::string::npos) {
        std::string line = c.input.substr(0, nl);
        c.input.erase(0, nl + 1);
        replies += handle_control_line(line) + "\n";
    }
    if (c.input.size() > kMaxControlLine) {
        replies += "error: command longer than " + std::to_string(kMaxControlLine) + " bytes\n";
        c.input.clear();
        closed = true;
    }
    if (closed && c.input.find_first_not_of(" \t\r") != std::string::npos) {
        replies += handle_control_line(c.input) + "\n";  // last line without a newline
    }
    if (!replies.empty()) {
        // Replies are small next to a socket buffer; a peer that does not read loses them.
        if (write(fd, replies.data(), replies.size()) < 0) {
            closed = true;
        }
    }
    if (closed) {
        control_connections_.erase(it);  // closing the fd also removes it from epoll
    }
}

std::string Relay::handle_control_line(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
        line.remove_suffix(1);
    }
    auto first = line.find_first_not_of(" \t");
    bool json = first != std::string_view::npos && line[first] == '{';
    auto command = parse_command(line);
    Result<nlohmann::json> result =
        command ? execute(*command, "control") : Result<nlohmann::json>(command.error());
    nlohmann::json event = {{"event", "control"}, {"command", std::string(line)}};
    if (!result) {
        event["error"] = result.error().message();
    }
    log_event(event);
    if (json) {
        nlohmann::json reply = {{"ok", result.ok()}};
        if (!result) {
            reply["error"] = result.error().message();
        } else if (!result->is_null()) {
            reply["result"] = *result;
        }
        return reply.dump();
    }
    if (!result) {
        return "error: " + result.error().message();
    }
    return result->is_null() ? "ok" : result->dump();
}

Result<nlohmann::json> Relay::execute(const Command &command, std::string_view origin) {
    if (apply_impairment(command, settings_)) {
        log_event({{"event", "settings"}, {"origin", origin}, {"settings", settings_json()}});
        return nlohmann::json();
    }
    if (const auto *c = std::get_if<RebindPort>(&command)) {
        (void)c;
        return rebind(upstream_source_.with_port(0));
    }
    if (const auto *c = std::get_if<RebindAddr>(&command)) {
        if (c->address.family() != options_.upstream.family()) {
            return make_error("rebind-addr",
                              c->address.to_string() + " is not of the upstream's address family");
        }
        return rebind(c->address);
    }
    if (const auto *c = std::get_if<SetRecord>(&command)) {
        if (c->mode == RecordMode::clear) {
            for (DirectionState *st : {&up_, &down_}) {
                st->captures.clear();
                st->captured_bytes = 0;
            }
        } else {
            recording_ = c->mode == RecordMode::on;
        }
        return nlohmann::json();
    }
    if (const auto *c = std::get_if<Replay>(&command)) {
        return replay(*c);
    }
    if (std::holds_alternative<ShowStats>(command)) {
        return stats();
    }
    if (const auto *c = std::get_if<ShowCaptures>(&command)) {
        return captures(c->target);
    }
    return make_error("command", "not handled by the relay");
}

Result<nlohmann::json> Relay::rebind(const UdpEndpoint &source) {
    // The new socket is bound while the old one still holds its port, so the kernel must
    // pick another: that is the NAT rebinding the gateway should see.
    auto fresh = open_udp(source, "rebind");
    if (!fresh) {
        return fresh.error();
    }
    if (auto s = watch(fresh->fd.get(), tag(Kind::upstream, fresh->fd.get())); !s) {
        return s.error();
    }
    UdpEndpoint previous = upstream_source_;
    upstream_fd_ = std::move(fresh->fd);
    upstream_source_ = fresh->bound;
    log_event({{"event", "rebind"},
               {"previous", previous.to_string()},
               {"source", upstream_source_.to_string()}});
    return nlohmann::json{{"previous", previous.to_string()},
                          {"source", upstream_source_.to_string()}};
}

Result<Relay::ReplaySource *> Relay::replay_source(const UdpEndpoint &from) {
    for (auto &[fd, src] : replay_sources_) {
        if (from.port() == 0 ? src.bound.with_port(0) == from : src.bound == from) {
            return &src;
        }
    }
    auto bound = open_udp(from, "replay from");
    if (!bound) {
        return bound.error();
    }
    int fd = bound->fd.get();
    if (auto s = watch(fd, tag(Kind::replay, fd)); !s) {
        return s.error();
    }
    auto [it, inserted] =
        replay_sources_.emplace(fd, ReplaySource{std::move(bound->fd), bound->bound, 0});
    return &it->second;
}

Result<nlohmann::json> Relay::replay(const Replay &r) {
    DirectionState &st = state(r.direction);
    std::string dir(direction_name(r.direction));
    if (r.index >= st.captures.size()) {
        return make_error("replay", "no captured " + dir + " packet with index " +
                                        std::to_string(r.index) + " (" +
                                        std::to_string(st.captures.size()) +
                                        " captured; 'record on' starts capturing)");
    }
    const UdpEndpoint *to = &options_.upstream;
    if (r.direction == Direction::down) {
        if (!client_) {
            return make_error("replay", "no client address seen yet to replay towards");
        }
        to = &*client_;
    }
    if (r.from && r.from->family() != to->family()) {
        return make_error("replay", "from " + r.from->to_string() +
                                        " is not of the destination's address family");
    }
    int fd = r.direction == Direction::up ? upstream_fd_.get() : listen_fd_.get();
    UdpEndpoint source = r.direction == Direction::up ? upstream_source_ : options_.listen;
    if (r.from) {
        auto src = replay_source(*r.from);
        if (!src) {
            return src.error();
        }
        fd = (*src)->fd.get();
        source = (*src)->bound;
    }
    const std::vector<uint8_t> &bytes = st.captures[r.index].bytes;
    if (sendto(fd, bytes.data(), bytes.size(), 0, to->addr(), to->length) < 0) {
        return make_error("replay", "send to " + to->to_string() + " failed: " + errno_text());
    }
    ++st.counters.replayed;
    nlohmann::json done = {{"direction", dir},
                           {"index", r.index},
                           {"bytes", bytes.size()},
                           {"from", source.to_string()},
                           {"to", to->to_string()}};
    nlohmann::json event = done;
    event["event"] = "replay";
    log_event(event);
    return done;
}

nlohmann::json Relay::captures(Target t) const {
    nlohmann::json out = nlohmann::json::object();
    for (Direction d : kDirections) {
        if ((t == Target::up && d != Direction::up) ||
            (t == Target::down && d != Direction::down)) {
            continue;
        }
        const auto &caps = state(d).captures;
        nlohmann::json list = nlohmann::json::array();
        size_t first = caps.size() > kListedCaptures ? caps.size() - kListedCaptures : 0;
        for (size_t i = first; i < caps.size(); ++i) {
            const Capture &c = caps[i];
            list.push_back({{"index", i},
                            {"at_ms", c.at_ms},
                            {"bytes", c.bytes.size()},
                            {"type", c.bytes.empty() ? -1 : int{c.bytes[0]}}});
        }
        out[std::string(direction_name(d))] = {{"total", caps.size()}, {"packets", list}};
    }
    return out;
}

nlohmann::json Relay::settings_json() const {
    return {{"up", direction_settings_json(settings_.up)},
            {"down", direction_settings_json(settings_.down)}};
}

nlohmann::json Relay::stats() const {
    nlohmann::json sources = nlohmann::json::array();
    for (const auto &[fd, src] : replay_sources_) {
        sources.push_back({{"address", src.bound.to_string()}, {"received", src.received}});
    }
    nlohmann::json out = {{"uptime_ms", now_ms()},
                          {"listen", options_.listen.to_string()},
                          {"upstream", options_.upstream.to_string()},
                          {"upstream_source", upstream_source_.to_string()},
                          {"client", client_ ? nlohmann::json(client_->to_string()) : nullptr},
                          {"recording", recording_},
                          {"seed", options_.seed},
                          {"delay_queue", delayed_.size()},
                          {"unknown_source_dropped", unknown_source_dropped_},
                          {"replay_sources", sources},
                          {"settings", settings_json()}};
    for (Direction d : kDirections) {
        const DirectionState &st = state(d);
        nlohmann::json c = to_json(st.counters);
        c["captured"] = st.captures.size();
        c["captured_bytes"] = st.captured_bytes;
        c["delay_queue"] = st.queued;
        out[std::string(direction_name(d))] = c;
    }
    return out;
}

int Relay::run(int signal_fd) {
    if (!watch(signal_fd, tag(Kind::signal, signal_fd))) {
        return 1;
    }
    start_ns_ = monotonic_ns();
    nlohmann::json ready = {{"event", "ready"},
                            {"listen", options_.listen.to_string()},
                            {"upstream", options_.upstream.to_string()},
                            {"upstream_source", upstream_source_.to_string()},
                            {"control", options_.control_path},
                            {"seed", options_.seed},
                            {"script_steps", options_.script.size()},
                            {"settings", settings_json()}};
    log_event(ready);
    std::cout << ready.dump() << std::endl;
    run_due_script_steps();
    arm_timer();
    epoll_event events[64];
    bool stop = false;
    while (!stop) {
        int n = epoll_wait(epoll_.get(), events, 64, -1);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            std::cerr << "jumpgate-relay: epoll_wait: " << errno_text() << "\n";
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            uint64_t t = events[i].data.u64;
            switch (kind_of(t)) {
                case Kind::listen:
                    drain_listen();
                    break;
                case Kind::upstream:
                    if (fd_of(t) == upstream_fd_.get()) {
                        drain_upstream();
                    }
                    break;
                case Kind::timer:
                    on_timer();
                    break;
                case Kind::signal: {
                    signalfd_siginfo info{};
                    if (read(signal_fd, &info, sizeof info) > 0) {
                        log_event({{"event", "signal"}, {"signal", info.ssi_signo}});
                    }
                    stop = true;
                    break;
                }
                case Kind::control:
                    accept_control();
                    break;
                case Kind::connection:
                    read_control(fd_of(t));
                    break;
                case Kind::replay:
                    drain_replay_source(fd_of(t));
                    break;
            }
        }
        arm_timer();
    }
    nlohmann::json final_stats = stats();
    log_event({{"event", "stop"}, {"stats", final_stats}});
    std::cout << final_stats.dump() << std::endl;
    return 0;
}

Result<std::string> send_control_line(const std::string &socket_path, const std::string &line) {
    auto a = unix_address(socket_path);
    if (!a) {
        return a.error();
    }
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval timeout{5, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (connect(fd.get(), reinterpret_cast<const sockaddr *>(&*a), sizeof *a) != 0) {
        return make_error(socket_path, "cannot connect: " + errno_text());
    }
    std::string out = line + "\n";
    if (write(fd.get(), out.data(), out.size()) != static_cast<ssize_t>(out.size())) {
        return make_error(socket_path, "cannot send the command: " + errno_text());
    }
    shutdown(fd.get(), SHUT_WR);
    std::string reply;
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd.get(), chunk, sizeof chunk);
        if (n < 0) {
            return make_error(socket_path, "no reply: " + errno_text());
        }
        if (n == 0) {
            break;
        }
        reply.append(chunk, static_cast<size_t>(n));
    }
    while (!reply.empty() && reply.back() == '\n') {
        reply.pop_back();
    }
    if (reply.empty()) {
        return make_error(socket_path, "the relay closed the connection without a reply");
    }
    return reply;
}

}  // namespace jg::relay
