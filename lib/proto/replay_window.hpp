// ReplayWindow: the per-keypair receive counter filter (RFC 6479 bitmap, 2048 counters).
// Hot path; one writer (the worker owning the keypair's session), no locks, no allocation.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "proto/messages.hpp"

namespace jg::proto {

#define JG_PROTO_REPLAY_VERDICTS(X)                                            \
    X(fresh)     /* not seen, inside or ahead of the window */                 \
    X(duplicate) /* already accepted */                                        \
    X(too_old)   /* more than kReplayWindowSize below the greatest accepted */ \
    X(exhausted) /* counter >= REJECT_AFTER_MESSAGES */

enum class ReplayVerdict : uint8_t {
#define JG_X(name) name,
    JG_PROTO_REPLAY_VERDICTS(JG_X)
#undef JG_X
};

inline constexpr std::string_view kReplayVerdictNames[] = {
#define JG_X(name) #name,
    JG_PROTO_REPLAY_VERDICTS(JG_X)
#undef JG_X
};
constexpr std::string_view replay_verdict_name(ReplayVerdict v) {
    return kReplayVerdictNames[static_cast<size_t>(v)];
}

// Counters accepted below the greatest one seen: greatest - kReplayWindowSize is still
// accepted once, anything lower is too_old.
inline constexpr uint64_t kReplayWindowSize = 2048;

struct ReplayWindow {
    // One spare block beyond the window so sliding forward never clears a block that
    // still holds in-window counters (RFC 6479 section 2).
    static constexpr uint64_t kBlockBits = 64;
    static constexpr uint64_t kBlocks = kReplayWindowSize / kBlockBits + 1;

    // `any` sits beside `greatest`: check() reads both for every packet, and a data plane
    // prefetches that one line (plus the block for the counter).
    uint64_t greatest = 0;  // greatest counter accepted so far (meaningless while !any)
    bool any = false;       // at least one counter accepted
    // All zero while !any: nothing sets a bit before the first counter is accepted.
    uint64_t blocks[kBlocks]{};

    void reset() { std::memset(this, 0, sizeof(*this)); }

    // Read-only pre-check, before spending an AEAD decryption on the packet.
    ReplayVerdict check(uint64_t counter) const {
        if (counter >= kRejectAfterMessages) {
            return ReplayVerdict::exhausted;
        }
        if (!any || counter > greatest) {
            return ReplayVerdict::fresh;
        }
        if (greatest - counter > kReplayWindowSize) {
            return ReplayVerdict::too_old;
        }
        const uint64_t bit = uint64_t(1) << (counter % kBlockBits);
        return (blocks[block_of(counter)] & bit) ? ReplayVerdict::duplicate : ReplayVerdict::fresh;
    }

    // Records `counter` once its tag verified. Re-checks, because another packet of the
    // same burst may have moved the window since check().
    ReplayVerdict update(uint64_t counter) {
        const ReplayVerdict v = check(counter);
        if (v != ReplayVerdict::fresh) {
            return v;
        }
        if (!any || counter > greatest) {
            slide_to(counter);
        }
        blocks[block_of(counter)] |= uint64_t(1) << (counter % kBlockBits);
        return ReplayVerdict::fresh;
    }

    // The word check/update of `counter` will read, so a data plane can prefetch it.
    const uint64_t *block_for(uint64_t counter) const { return &blocks[block_of(counter)]; }

  private:
    static uint64_t block_of(uint64_t counter) { return (counter / kBlockBits) % kBlocks; }

    // Clears the blocks the window enters (at most all of them) as `greatest` moves up.
    void slide_to(uint64_t counter) {
        const uint64_t new_block = counter / kBlockBits;
        // The first counter needs no clearing: the blocks are still all zero. Clearing them
        // anyway wrote the whole window (five lines) for every new keypair's first packet.
        if (any) {
            const uint64_t old_block = greatest / kBlockBits;
            uint64_t steps = new_block - old_block;
            if (steps > kBlocks) {
                steps = kBlocks;
            }
            for (uint64_t i = 1; i <= steps; ++i) {
                blocks[(old_block + i) % kBlocks] = 0;
            }
        }
        greatest = counter;
        any = true;
    }
};

}  // namespace jg::proto
