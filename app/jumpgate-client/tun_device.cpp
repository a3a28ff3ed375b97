#include "tun_device.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

extern char **environ;

namespace jg::client {
namespace {

// Runs `ip ARGS...` without a shell (interface names and addresses never reach one).
Status run_ip(std::vector<std::string> args) {
    args.insert(args.begin(), "ip");
    std::vector<char *> argv;
    for (std::string &a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawnp(&pid, "ip", nullptr, nullptr, argv.data(), environ) != 0)
        return make_error("ip", "cannot run the ip command");
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string cmd;
        for (const std::string &a : args)
            cmd += (cmd.empty() ? "" : " ") + a;
        return make_error("ip", "'" + cmd + "' failed");
    }
    return Ok{};
}

}  // namespace

Result<TunDevice> TunDevice::open(const std::string &name, const std::vector<uint32_t> &addresses,
                                  int mtu) {
    const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return make_error("/dev/net/tun", std::strerror(errno));
    TunDevice dev(fd);
    ifreq ifr{};
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) != 0)
        return make_error("--tun " + name, std::string("TUNSETIFF: ") + std::strerror(errno));
    for (uint32_t a : addresses) {
        const in_addr ia{htonl(a)};
        char text[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &ia, text, sizeof text);
        if (auto st = run_ip({"addr", "replace", std::string(text) + "/32", "dev", name}); !st)
            return st.error();
    }
    if (auto st = run_ip({"link", "set", name, "mtu", std::to_string(mtu), "up"}); !st)
        return st.error();
    return dev;
}

TunDevice::TunDevice(TunDevice &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

TunDevice::~TunDevice() {
    if (fd_ >= 0)
        close(fd_);
}

}  // namespace jg::client
