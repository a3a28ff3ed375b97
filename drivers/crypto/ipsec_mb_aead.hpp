// ChaCha20-Poly1305 bursts through Intel ipsec-mb's job API: the data plane's AEAD backend.
// One instance per worker lcore, created on that lcore; only that lcore may call it.
#pragma once

#include <cstdint>
#include <memory>

#include "base/result.hpp"
#include "crypto/aead_burst.hpp"

struct IMB_MGR;

namespace jg::crypto {

// Owns one IMB_MGR (allocated where create() runs, hence on the owning lcore's NUMA node).
// Movable, not copyable; not thread-safe.
class IpsecMbAead {
  public:
    // Allocates and initialises the manager for the best arch ipsec-mb finds on this CPU.
    // Control path (allocates); fails if ipsec-mb reports an error (e.g. missing CPU flags).
    static jg::Result<IpsecMbAead> create();

    IpsecMbAead(IpsecMbAead &&) noexcept;
    IpsecMbAead &operator=(IpsecMbAead &&) noexcept;
    IpsecMbAead(const IpsecMbAead &) = delete;
    IpsecMbAead &operator=(const IpsecMbAead &) = delete;
    ~IpsecMbAead();

    // Hot path. Submits every op of the burst to the manager, then flushes, so ipsec-mb can
    // fill its SIMD lanes where it has multi-buffer ChaCha20-Poly1305 (1.3 on AVX2 runs each
    // job inside submit; see docs/performance.md); each op's `ok` is set. No allocation; any n
    // (processed in rounds of kRoundOps). Returns how many ops have ok == 1 (sealed / authentic),
    // so the caller can count drops without a second pass. Each op's payload and tag are
    // prefetched two ops ahead of its submit, so callers need not prefetch them.
    uint16_t seal_burst(AeadOp *ops, uint16_t n) noexcept;
    uint16_t open_burst(AeadOp *ops, uint16_t n) noexcept;

    // Same job code, but submit + flush per op: the single-buffer baseline for the benchmark.
    uint16_t seal_each(AeadOp *ops, uint16_t n) noexcept;
    uint16_t open_each(AeadOp *ops, uint16_t n) noexcept;

    // One op through ipsec-mb's direct (init/update/finalize) API, for the benchmark.
    bool seal_direct(AeadOp &op) noexcept;
    bool open_direct(AeadOp &op) noexcept;

    // One op with explicit nonce and AAD through the same job-filling and completion code as
    // the bursts (RFC 8439 vectors prove the data-plane path with it). Returns ok.
    bool seal_explicit(const AeadExplicitOp &op) noexcept;
    bool open_explicit(const AeadExplicitOp &op) noexcept;

    // The code path ipsec-mb picked: "sse", "avx", "avx2", "avx512" or "no-aesni".
    const char *arch_name() const noexcept { return arch_; }
    // The ipsec-mb release linked at run time, e.g. "1.3.0".
    static const char *library_version() noexcept;
    // True when the library was built to wipe its internal copies of keys and keystream.
    bool wipes_internal_state() const noexcept;

    static constexpr uint16_t kRoundOps = 64;

  private:
    struct MgrFree {
        void operator()(IMB_MGR *mgr) const noexcept;
    };
    struct Scratch;
    struct ScratchFree {
        void operator()(Scratch *scratch) const noexcept;
    };

    IpsecMbAead(IMB_MGR *mgr, const char *arch, Scratch *scratch) noexcept;
    uint16_t run_round(AeadOp *ops, uint16_t n, bool open,
                       const AeadExplicitOp *explicit_op) noexcept;

    std::unique_ptr<IMB_MGR, MgrFree> mgr_;
    const char *arch_;
    // Per-round nonces and computed tags; must outlive the jobs that point into it.
    std::unique_ptr<Scratch, ScratchFree> scratch_;
};

static_assert(AeadBurstBackend<IpsecMbAead>);

}  // namespace jg::crypto
