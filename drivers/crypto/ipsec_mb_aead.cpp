#include "crypto/ipsec_mb_aead.hpp"

#include <intel-ipsec-mb.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

namespace jg::crypto {

struct IpsecMbAead::Scratch {
    struct Slot {
        uint8_t nonce[kAeadNonceBytes];
        // Open computes the expected tag here. It is a valid forgery for whatever
        // ciphertext was received, so it is wiped as soon as it has been compared.
        uint8_t tag[kAeadTagBytes];
    };
    alignas(64) Slot slots[kRoundOps];
};

namespace {

const char *arch_label(IMB_ARCH arch) {
    switch (arch) {
        case IMB_ARCH_NOAESNI:
            return "no-aesni";
        case IMB_ARCH_SSE:
            return "sse";
        case IMB_ARCH_AVX:
            return "avx";
        case IMB_ARCH_AVX2:
            return "avx2";
        case IMB_ARCH_AVX512:
            return "avx512";
        default:
            return "unknown";
    }
}

// The one place a ChaCha20-Poly1305 job is described; bursts, single-buffer mode and the
// explicit (test vector) entry all go through it.
void fill_job(IMB_JOB *job, uint8_t *data, uint32_t len, const uint8_t *key, const uint8_t *nonce,
              const uint8_t *aad, uint32_t aad_len, uint8_t *tag_out, bool open) {
    job->cipher_mode = IMB_CIPHER_CHACHA20_POLY1305;
    job->hash_alg = IMB_AUTH_CHACHA20_POLY1305;
    job->cipher_direction = open ? IMB_DIR_DECRYPT : IMB_DIR_ENCRYPT;
    // Poly1305 always runs over the ciphertext: after encrypting, before decrypting.
    job->chain_order = open ? IMB_ORDER_HASH_CIPHER : IMB_ORDER_CIPHER_HASH;
    job->enc_keys = key;
    job->dec_keys = key;
    job->key_len_in_bytes = kAeadKeyBytes;
    job->src = data;
    job->dst = data;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = len;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = len;
    job->iv = nonce;
    job->iv_len_in_bytes = kAeadNonceBytes;
    job->auth_tag_output = tag_out;
    job->auth_tag_output_len_in_bytes = kAeadTagBytes;
    job->u.CHACHA20_POLY1305.aad = aad;
    job->u.CHACHA20_POLY1305.aad_len_in_bytes = aad_len;
}

// Decides an op's outcome once ipsec-mb hands its job back.
void finish_job(IMB_JOB *job, bool open) {
    auto *op = static_cast<AeadOp *>(job->user_data);
    auto *tag = static_cast<uint8_t *>(job->user_data2);
    const bool ran = job->status == IMB_STATUS_COMPLETED;
    if (!open) {
        op->ok = ran ? 1 : 0;
        return;
    }
    const bool authentic = ran && crypto_verify_16(tag, op->data + op->len) == 0;
    sodium_memzero(tag, kAeadTagBytes);
    if (ran && !authentic) {
        sodium_memzero(op->data, op->len);
    }
    op->ok = authentic ? 1 : 0;
}

// Pulls an op's payload and tag into this core's L1. The bytes were written by a NIC or
// another core, so each line is a miss; fetched while the ops before it are processed, they
// arrive in time. Measured against prefetching the whole burst into L2 before the first job
// (what the data plane did before): see docs/performance.md.
void prefetch_op(const AeadOp &op) {
    constexpr uintptr_t kLine = 64;
    const uintptr_t first = reinterpret_cast<uintptr_t>(op.data) & ~(kLine - 1);
    const uintptr_t last = reinterpret_cast<uintptr_t>(op.data) + op.len + kAeadTagBytes - 1;
    for (uintptr_t line = first; line <= last; line += kLine) {
        __builtin_prefetch(reinterpret_cast<const void *>(line), 0, 3);
    }
}

// How many ops ahead of the one being submitted are prefetched: enough that a packet's misses
// overlap the AEADs of the ops before it, few enough that its lines are still in L1 when its
// job runs. That holds where ipsec-mb runs each job inside submit (1.3 on SSE/AVX/AVX2); a
// multi-buffer code path that holds jobs until its lanes fill sees the whole round fetched
// ahead instead. Write hints (prefetchw) measured no better here.
constexpr uint16_t kPrefetchAhead = 2;

}  // namespace

void IpsecMbAead::MgrFree::operator()(IMB_MGR *mgr) const noexcept {
    while (IMB_FLUSH_JOB(mgr) != nullptr) {
    }
    free_mb_mgr(mgr);
}

void IpsecMbAead::ScratchFree::operator()(Scratch *scratch) const noexcept {
    sodium_memzero(scratch, sizeof(*scratch));
    delete scratch;
}

jg::Result<IpsecMbAead> IpsecMbAead::create() {
    IMB_MGR *mgr = alloc_mb_mgr(0);
    if (mgr == nullptr) {
        return jg::make_error("ipsec-mb", "alloc_mb_mgr failed (out of memory)");
    }
    IMB_ARCH arch = IMB_ARCH_NONE;
    init_mb_mgr_auto(mgr, &arch);
    const int err = imb_get_errno(mgr);
    if (err != 0) {
        std::string what = std::string("init_mb_mgr_auto failed: ") + imb_get_strerror(err);
        free_mb_mgr(mgr);
        return jg::make_error("ipsec-mb", std::move(what));
    }
    if (arch == IMB_ARCH_NONE) {
        free_mb_mgr(mgr);
        return jg::make_error("ipsec-mb", "no code path for this CPU");
    }
    auto *scratch = new (std::nothrow) Scratch{};
    if (scratch == nullptr) {
        free_mb_mgr(mgr);
        return jg::make_error("ipsec-mb", "out of memory for job scratch");
    }
    return IpsecMbAead(mgr, arch_label(arch), scratch);
}

IpsecMbAead::IpsecMbAead(IMB_MGR *mgr, const char *arch, Scratch *scratch) noexcept
    : mgr_(mgr), arch_(arch), scratch_(scratch) {}

IpsecMbAead::IpsecMbAead(IpsecMbAead &&) noexcept = default;
IpsecMbAead &IpsecMbAead::operator=(IpsecMbAead &&) noexcept = default;
IpsecMbAead::~IpsecMbAead() = default;

const char *IpsecMbAead::library_version() noexcept {
    return imb_get_version_str();
}

bool IpsecMbAead::wipes_internal_state() const noexcept {
    return (mgr_->features & IMB_FEATURE_SAFE_DATA) != 0;
}

uint16_t IpsecMbAead::run_round(AeadOp *ops, uint16_t n, bool open,
                                const AeadExplicitOp *explicit_op) noexcept {
    IMB_MGR *mgr = mgr_.get();
    Scratch::Slot *slots = scratch_->slots;
    for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
        prefetch_op(ops[i]);
    }
    for (uint16_t i = 0; i < n; ++i) {
        if (i + kPrefetchAhead < n) {
            prefetch_op(ops[i + kPrefetchAhead]);
        }
        AeadOp &op = ops[i];
        Scratch::Slot &slot = slots[i];
        op.ok = 0;
        const uint8_t *aad = nullptr;
        uint32_t aad_len = 0;
        if (explicit_op != nullptr) {
            std::memcpy(slot.nonce, explicit_op->nonce, kAeadNonceBytes);
            aad = explicit_op->aad;
            aad_len = explicit_op->aad_len;
        } else {
            aead_nonce_from_counter(op.counter, slot.nonce);
        }
        uint8_t *tag_out = open ? slot.tag : op.data + op.len;
        IMB_JOB *job = IMB_GET_NEXT_JOB(mgr);
        fill_job(job, op.data, op.len, op.key, slot.nonce, aad, aad_len, tag_out, open);
        job->user_data = &op;
        job->user_data2 = slot.tag;
        // A full queue makes submit hand back finished jobs; take them now, since a job
        // handed back stops being valid at the next IMB_GET_NEXT_JOB.
        for (job = IMB_SUBMIT_JOB(mgr); job != nullptr; job = IMB_GET_COMPLETED_JOB(mgr)) {
            finish_job(job, open);
        }
    }
    for (IMB_JOB *job = IMB_FLUSH_JOB(mgr); job != nullptr; job = IMB_FLUSH_JOB(mgr)) {
        finish_job(job, open);
    }
    uint16_t ok = 0;
    for (uint16_t i = 0; i < n; ++i) {
        ok += ops[i].ok;
    }
    return ok;
}

uint16_t IpsecMbAead::seal_burst(AeadOp *ops, uint16_t n) noexcept {
    uint16_t ok = 0;
    for (uint16_t done = 0; done < n;) {
        const uint16_t round = std::min<uint16_t>(kRoundOps, n - done);
        ok += run_round(ops + done, round, false, nullptr);
        done += round;
    }
    return ok;
}

uint16_t IpsecMbAead::open_burst(AeadOp *ops, uint16_t n) noexcept {
    uint16_t ok = 0;
    for (uint16_t done = 0; done < n;) {
        const uint16_t round = std::min<uint16_t>(kRoundOps, n - done);
        ok += run_round(ops + done, round, true, nullptr);
        done += round;
    }
    return ok;
}

uint16_t IpsecMbAead::seal_each(AeadOp *ops, uint16_t n) noexcept {
    uint16_t ok = 0;
    for (uint16_t i = 0; i < n; ++i) {
        ok += run_round(ops + i, 1, false, nullptr);
    }
    return ok;
}

uint16_t IpsecMbAead::open_each(AeadOp *ops, uint16_t n) noexcept {
    uint16_t ok = 0;
    for (uint16_t i = 0; i < n; ++i) {
        ok += run_round(ops + i, 1, true, nullptr);
    }
    return ok;
}

bool IpsecMbAead::seal_explicit(const AeadExplicitOp &xop) noexcept {
    AeadOp op{xop.data, xop.len, xop.key, 0, 0};
    run_round(&op, 1, false, &xop);
    return op.ok == 1;
}

bool IpsecMbAead::open_explicit(const AeadExplicitOp &xop) noexcept {
    AeadOp op{xop.data, xop.len, xop.key, 0, 0};
    run_round(&op, 1, true, &xop);
    return op.ok == 1;
}

bool IpsecMbAead::seal_direct(AeadOp &op) noexcept {
    uint8_t nonce[kAeadNonceBytes];
    aead_nonce_from_counter(op.counter, nonce);
    chacha20_poly1305_context_data ctx;
    IMB_MGR *mgr = mgr_.get();
    IMB_CHACHA20_POLY1305_INIT(mgr, op.key, &ctx, nonce, nullptr, 0);
    IMB_CHACHA20_POLY1305_ENC_UPDATE(mgr, op.key, &ctx, op.data, op.data, op.len);
    IMB_CHACHA20_POLY1305_ENC_FINALIZE(mgr, &ctx, op.data + op.len, kAeadTagBytes);
    // The context holds the one-time Poly1305 key and keystream.
    sodium_memzero(&ctx, sizeof(ctx));
    op.ok = 1;
    return true;
}

bool IpsecMbAead::open_direct(AeadOp &op) noexcept {
    uint8_t nonce[kAeadNonceBytes];
    aead_nonce_from_counter(op.counter, nonce);
    chacha20_poly1305_context_data ctx;
    uint8_t tag[kAeadTagBytes];
    IMB_MGR *mgr = mgr_.get();
    IMB_CHACHA20_POLY1305_INIT(mgr, op.key, &ctx, nonce, nullptr, 0);
    IMB_CHACHA20_POLY1305_DEC_UPDATE(mgr, op.key, &ctx, op.data, op.data, op.len);
    IMB_CHACHA20_POLY1305_DEC_FINALIZE(mgr, &ctx, tag, kAeadTagBytes);
    sodium_memzero(&ctx, sizeof(ctx));
    const bool authentic = crypto_verify_16(tag, op.data + op.len) == 0;
    sodium_memzero(tag, sizeof(tag));
    if (!authentic) {
        sodium_memzero(op.data, op.len);
    }
    op.ok = authentic ? 1 : 0;
    return authentic;
}

}  // namespace jg::crypto
