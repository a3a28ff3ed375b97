# Sourced by the e2e, soak and perf scripts that need a TCP port on the host's loopback.

# free_port: prints a port on 127.0.0.1 that nothing is bound to now, picked by the kernel from
# its ephemeral range, so runs side by side do not meet on a fixed or random port. The probe
# socket is closed before the caller binds the port: callers check that their server came up
# on it (a port taken in between fails the run, it does not pass it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
