// Per-core ChaCha20-Poly1305 throughput of the crypto backends, through the same calls the
// data plane makes (IpsecMbAead::seal_burst/open_burst). Prints a table; Google Benchmark
// flags (--benchmark_out=FILE --benchmark_out_format=json) write JSON; --quick is a CI smoke.
#include <benchmark/benchmark.h>
#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crypto/ipsec_mb_aead.hpp"
#include "crypto/sodium_aead.hpp"

namespace {

using jg::crypto::AeadOp;
using jg::crypto::IpsecMbAead;
using jg::crypto::kAeadKeyBytes;
using jg::crypto::kAeadTagBytes;
using jg::crypto::SodiumAead;

constexpr uint16_t kBurst = 32;
constexpr uint32_t kSizes[] = {64, 256, 512, 1420};
// Index order matches the names in kBackends.
enum Backend { kIpsecMbBurst, kIpsecMbSingle, kIpsecMbDirect, kLibsodium };
const char *const kBackends[] = {"ipsec-mb-burst32", "ipsec-mb-single", "ipsec-mb-direct",
                                 "libsodium"};

// One burst of packets, each under its own key as a worker serving many sessions sees it.
struct BurstWorkload {
    uint32_t size;
    std::vector<uint8_t> buffers;  // kBurst * (size + tag), packed like mbuf payloads
    std::vector<uint8_t> sealed;   // the same after sealing, to restore before each open
    std::vector<uint8_t> keys;
    AeadOp ops[kBurst];

    explicit BurstWorkload(uint32_t payload)
        : size(payload), buffers(kBurst * (payload + kAeadTagBytes)), keys(kBurst * kAeadKeyBytes) {
        randombytes_buf(buffers.data(), buffers.size());
        randombytes_buf(keys.data(), keys.size());
        for (uint16_t i = 0; i < kBurst; ++i) {
            ops[i] = AeadOp{buffers.data() + i * (payload + kAeadTagBytes), payload,
                            keys.data() + i * kAeadKeyBytes, 1000u + i, 0};
        }
    }
    void restore() { std::memcpy(buffers.data(), sealed.data(), sealed.size()); }
    bool all_ok() const {
        for (const AeadOp &op : ops) {
            if (op.ok != 1) {
                return false;
            }
        }
        return true;
    }
};

struct Backends {
    IpsecMbAead ipsec_mb;
    SodiumAead sodium;
};
Backends *g_backends = nullptr;

void seal(Backend backend, BurstWorkload &w) {
    switch (backend) {
        case kIpsecMbBurst:
            g_backends->ipsec_mb.seal_burst(w.ops, kBurst);
            break;
        case kIpsecMbSingle:
            g_backends->ipsec_mb.seal_each(w.ops, kBurst);
            break;
        case kIpsecMbDirect:
            for (AeadOp &op : w.ops) {
                g_backends->ipsec_mb.seal_direct(op);
            }
            break;
        case kLibsodium:
            g_backends->sodium.seal_burst(w.ops, kBurst);
            break;
    }
}

void open(Backend backend, BurstWorkload &w) {
    switch (backend) {
        case kIpsecMbBurst:
            g_backends->ipsec_mb.open_burst(w.ops, kBurst);
            break;
        case kIpsecMbSingle:
            g_backends->ipsec_mb.open_each(w.ops, kBurst);
            break;
        case kIpsecMbDirect:
            for (AeadOp &op : w.ops) {
                g_backends->ipsec_mb.open_direct(op);
            }
            break;
        case kLibsodium:
            g_backends->sodium.open_burst(w.ops, kBurst);
            break;
    }
}

void set_rates(benchmark::State &state, uint32_t size) {
    const double packets = static_cast<double>(state.iterations()) * kBurst;
    state.SetItemsProcessed(static_cast<int64_t>(packets));
    state.SetBytesProcessed(static_cast<int64_t>(packets * size));
    state.counters["Mops"] = benchmark::Counter(packets / 1e6, benchmark::Counter::kIsRate);
    state.counters["Gbps"] =
        benchmark::Counter(packets * size * 8 / 1e9, benchmark::Counter::kIsRate);
}

void bench_seal(benchmark::State &state, Backend backend, uint32_t size) {
    BurstWorkload w(size);
    for (auto _ : state) {
        seal(backend, w);
        benchmark::DoNotOptimize(w.buffers.data());
    }
    if (!w.all_ok()) {
        state.SkipWithError("seal reported failure");
    }
    set_rates(state, size);
}

// Open decrypts in place, so every burst first restores the sealed bytes: a memcpy of
// 32 * (size + 16) bytes from L2, which stands in for fresh packets arriving.
void bench_open(benchmark::State &state, Backend backend, uint32_t size) {
    BurstWorkload w(size);
    g_backends->sodium.seal_burst(w.ops, kBurst);
    w.sealed = w.buffers;
    for (auto _ : state) {
        w.restore();
        open(backend, w);
        benchmark::DoNotOptimize(w.buffers.data());
    }
    if (!w.all_ok()) {
        state.SkipWithError("open rejected an authentic packet");
    }
    set_rates(state, size);
}

struct Cell {
    double mops = 0;
    double gbps = 0;
};

// Keeps Google Benchmark's console output and remembers each result for the summary table.
class TableReporter : public benchmark::ConsoleReporter {
  public:
    // Colour only on a terminal, so logs and CI output stay plain text.
    TableReporter() : ConsoleReporter(isatty(fileno(stdout)) ? OO_ColorTabular : OO_Tabular) {}

    void ReportRuns(const std::vector<Run> &runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run &run : runs) {
            if (run.error_occurred) {
                ++errors_;
                continue;
            }
            const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
            if (run.run_type == Run::RT_Aggregate && !median) {
                continue;
            }
            const std::string name = run.run_name.function_name;
            if (!median && cells_.count(name) != 0) {
                continue;
            }
            cells_[name] = Cell{run.counters.at("Mops").value, run.counters.at("Gbps").value};
        }
    }

    // Runs that failed their own check (a seal or open reported failure): the bench fails.
    size_t errors() const { return errors_; }

    void print_table(const char *arch) const {
        std::printf(
            "\nChaCha20-Poly1305 per core, bursts of %u, one key per packet; ipsec-mb arch: %s\n",
            kBurst, arch);
        std::printf("%-6s %-5s", "bytes", "op");
        for (const char *backend : kBackends) {
            std::printf(" | %-20s", backend);
        }
        std::printf("\n%-6s %-5s", "", "");
        for (size_t i = 0; i < std::size(kBackends); ++i) {
            std::printf(" | %8s %11s", "Mops/s", "Gbit/s");
        }
        std::printf("\n");
        for (uint32_t size : kSizes) {
            for (const char *op : {"seal", "open"}) {
                std::printf("%-6u %-5s", size, op);
                for (const char *backend : kBackends) {
                    const std::string name =
                        std::string(op) + "/" + backend + "/" + std::to_string(size);
                    const auto it = cells_.find(name);
                    if (it == cells_.end()) {
                        std::printf(" | %8s %11s", "-", "-");
                    } else {
                        std::printf(" | %8.3f %11.3f", it->second.mops, it->second.gbps);
                    }
                }
                std::printf("\n");
            }
        }
    }

  private:
    std::map<std::string, Cell> cells_;
    size_t errors_ = 0;
};

}  // namespace

int main(int argc, char **argv) {
    std::vector<char *> args;
    bool quick = false;
    for (int i = 0; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else {
            args.push_back(argv[i]);
        }
    }
    std::string quick_flag = "--benchmark_min_time=0.01";
    if (quick) {
        args.insert(args.begin() + 1, quick_flag.data());
    }
    int bench_argc = static_cast<int>(args.size());
    benchmark::Initialize(&bench_argc, args.data());
    if (benchmark::ReportUnrecognizedArguments(bench_argc, args.data())) {
        std::fprintf(stderr, "usage: crypto_bench [--quick] [--benchmark_* flags]\n");
        return 2;
    }

    auto ipsec_mb = IpsecMbAead::create();
    if (!ipsec_mb.ok()) {
        std::fprintf(stderr, "crypto_bench: %s\n", ipsec_mb.error().message().c_str());
        return 1;
    }
    auto sodium = SodiumAead::create();
    if (!sodium.ok()) {
        std::fprintf(stderr, "crypto_bench: %s\n", sodium.error().message().c_str());
        return 1;
    }
    auto backends = std::make_unique<Backends>(
        Backends{std::move(ipsec_mb).value(), std::move(sodium).value()});
    g_backends = backends.get();
    const char *arch = g_backends->ipsec_mb.arch_name();
    benchmark::AddCustomContext("ipsec_mb_arch", arch);
    benchmark::AddCustomContext("ipsec_mb_version", IpsecMbAead::library_version());
    benchmark::AddCustomContext("ipsec_mb_wipes_internal_state",
                                g_backends->ipsec_mb.wipes_internal_state() ? "yes" : "no");
    benchmark::AddCustomContext("libsodium_version", sodium_version_string());
    benchmark::AddCustomContext("burst", std::to_string(kBurst));

    for (uint32_t size : kSizes) {
        for (Backend backend : {kIpsecMbBurst, kIpsecMbSingle, kIpsecMbDirect, kLibsodium}) {
            const std::string suffix = std::string(kBackends[backend]) + "/" + std::to_string(size);
            benchmark::RegisterBenchmark(("seal/" + suffix).c_str(), bench_seal, backend, size);
            benchmark::RegisterBenchmark(("open/" + suffix).c_str(), bench_open, backend, size);
        }
    }

    TableReporter reporter;
    const size_t ran = benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
    reporter.print_table(arch);
    g_backends = nullptr;
    if (reporter.errors() != 0) {
        std::fprintf(stderr, "crypto_bench: %zu benchmark runs failed their check\n",
                     reporter.errors());
        return 1;
    }
    return ran > 0 ? 0 : 1;
}
