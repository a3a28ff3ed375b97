// ClientLoop: one jumpgate client session end to end on a single thread: handshake and rekey
// as initiator, HELLO, heartbeats and health per path, the session state machine deciding
// switches (explicit REATTACH from the chosen path), path challenges, the app socket or TUN,
// the status socket and the JSON audit log. Everything runs on the thread calling run().
#pragma once

#include <atomic>
#include <memory>

#include "base/result.hpp"
#include "client/client_config.hpp"

namespace jg::client {

// Process exit codes (documented in docs/client.md).
enum class ExitCode : int {
    stopped = 0,             // SIGINT / SIGTERM
    config_error = 1,        // bad flags, files or sockets; nothing started
    handshake_failed = 2,    // no handshake within handshake_timeout_ms
    session_terminated = 3,  // TERMINATE from the gateway or a local terminal transition
    app_side_lost = 4,       // the TUN device went away (deleted, or its fd in error)
};

class ClientLoop {
  public:
    static Result<std::unique_ptr<ClientLoop>> create(ClientConfig config);
    virtual ~ClientLoop() = default;
    // Runs until `stop` becomes true or the session ends; returns the exit code.
    virtual ExitCode run(const std::atomic<bool> &stop) = 0;
};

}  // namespace jg::client
