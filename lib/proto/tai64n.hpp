// TAI64N timestamps carried (encrypted) in handshake initiations, built from an injected
// wall-clock value. Pure functions; any thread may call them.
#pragma once

#include <cstdint>

#include "proto/messages.hpp"

namespace jg::proto {

// `unix_ns`: nanoseconds since the Unix epoch (wall clock, supplied by the caller).
// Big-endian seconds + 2^62 + 10 (the TAI label WireGuard uses) followed by big-endian
// nanoseconds rounded down to a multiple of 2^24 ns, so the timestamp does not leak a
// fine-grained clock to observers of the responder's timing (as wireguard-go does).
Tai64n tai64n_from_unix_ns(uint64_t unix_ns);

// Strictly later, comparing the big-endian encoding (which orders like the time).
bool tai64n_after(const Tai64n &a, const Tai64n &b);

}  // namespace jg::proto
