/* Driver for the Gluon hash coprocessor (slot 0, register map HASH), with the
 * software implementations as fallback.  See gluon/hash.h for the API and its
 * rules (DMA windows, word alignment, one streaming message at a time, wipes),
 * and docs/hash.md for the hardware.
 *
 * The hardware takes a message as chunks: every chunk but the last is a
 * non-zero multiple of the block size (CTRL.MORE), the last one any length
 * (padding and digest in hardware).  This driver turns arbitrary update()
 * sizes into such chunks: whole blocks go straight from the caller's memory
 * when it is word aligned, the rest through the context's block buffer.
 */
#include <stddef.h>
#include <stdint.h>

#include "gluon/regs.h"
#include "gluon/sdk.h"
#include "gluon/hash.h"

#define HASH_KIND (('H' << 8) | 'S')

struct mode_info {
    uint16_t block;         /* block (rate) bytes */
    uint8_t digest;         /* digest bytes; 0: SHAKE, the caller chooses */
};

static const struct mode_info MODES[] = {
    [GLUON_HASH_SHA256]    = {64, 32},
    [GLUON_HASH_SHA3_256]  = {136, 32},
    [GLUON_HASH_SHA3_512]  = {72, 64},
    [GLUON_HASH_KECCAK256] = {136, 32},
    [GLUON_HASH_SHAKE128]  = {168, 0},
    [GLUON_HASH_SHAKE256]  = {136, 0},
};
#define N_MODES (sizeof MODES / sizeof MODES[0])

static int force_software;
static gluon_hash_ctx *owner;       /* whose unfinished message the engine holds */
static uint32_t owner_epoch;        /* the slot's wipe count when `owner` was recorded */
static uint32_t last_cycles;

/* The engine forgets everything on a wipe (gluon_copro_wipe, a grant or revoke): the
 * message `owner` had in it is gone. */
static gluon_hash_ctx *engine_owner(void)
{
    if (owner && owner_epoch != gluon_copro_epoch(GLUON_HASH_SLOT))
        owner = NULL;
    return owner;
}

/* The hardware is used only while M-mode owns the slot: while it is lent to a U task,
 * M's work runs on the software implementations, so none of it enters a block the task
 * drives. */
static int hw_usable(void)
{
    return !force_software && gluon_hash_present() &&
           !(GLUON_COPROCTL_OWNER(GLUON_HASH_SLOT) & GLUON_COPROCTL_OWNER_U_MASK);
}

static inline void barrier(void)
{
    /* The DMA engine reads and writes RAM behind the compiler's back: make every store
     * reach memory before START and re-read memory after DONE. */
    __asm__ volatile("fence" ::: "memory");
}

static void copy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

int gluon_hash_present(void)
{
    if (!(GLUON_SYSINFO_COPROCS & GLUON_SYSINFO_COPROCS_HASH_MASK))
        return 0;           /* reading the slot would be an access fault */
    return (GLUON_HASH_ID & GLUON_HASH_ID_KIND_MASK) >> GLUON_HASH_ID_KIND_SHIFT == HASH_KIND;
}

void gluon_hash_force_software(int on)
{
    force_software = on;
}

uint32_t gluon_hash_last_cycles(void)
{
    return last_cycles;
}


int gluon_hash_window(unsigned win, const void *base, size_t size)
{
    /* no coprocessor (SYSINFO): no DMA window registers either (the 'small' SoC);
     * hash.h has no 'absent' code: E_ARG, as for a window that cannot be opened */
    if (!gluon_hash_present())
        return GLUON_HASH_E_ARG;
    return gluon_copro_window(GLUON_HASH_SLOT, win, base, size,
                              GLUON_COPRO_R | GLUON_COPRO_W) ? GLUON_HASH_E_ARG : GLUON_HASH_OK;
}

/* One hardware operation (START.OP `op`), to its end. */
static int hw_run(uint32_t op, uint32_t ctrl, const void *src, uint32_t len, void *dst,
                  uint32_t outlen)
{
    if (op != GLUON_HASH_START_OP_CONT)
        owner = NULL;       /* a fresh message replaces whatever the engine held */
    GLUON_HASH_CTRL = ctrl;
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)src;
    GLUON_HASH_LEN = len;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)dst;
    GLUON_HASH_OUTLEN = outlen;
    GLUON_HASH_STATUS = GLUON_HASH_STATUS_DONE_MASK | GLUON_HASH_STATUS_ERROR_MASK;
    barrier();
    GLUON_HASH_START = op << GLUON_HASH_START_OP_SHIFT;
    uint32_t s;
    while (!((s = GLUON_HASH_STATUS) & GLUON_HASH_STATUS_DONE_MASK))
        ;
    barrier();
    last_cycles = GLUON_HASH_CYCLES;
    if (s & GLUON_HASH_STATUS_ERROR_MASK)
        return (int)((s & GLUON_HASH_STATUS_CAUSE_MASK) >> GLUON_HASH_STATUS_CAUSE_SHIFT);
    return GLUON_HASH_OK;
}

static uint32_t ctrl_word(const gluon_hash_ctx *c, int more)
{
    uint32_t v = ((uint32_t)c->mode << GLUON_HASH_CTRL_MODE_SHIFT) & GLUON_HASH_CTRL_MODE_MASK;
    if (more)
        v |= GLUON_HASH_CTRL_MORE_MASK;
    return v;
}

static uint32_t op_of(const gluon_hash_ctx *c)
{
    return c->state == 1 ? GLUON_HASH_START_OP_CONT : GLUON_HASH_START_OP_HASH;
}

/* A non-final chunk: whole blocks, word aligned. */
static int hw_chunk(gluon_hash_ctx *c, const void *src, uint32_t len)
{
    int rc = hw_run(op_of(c), ctrl_word(c, 1), src, len, NULL, 0);
    if (rc) {
        c->state = 2;
        return rc;
    }
    c->state = 1;
    owner = c;
    owner_epoch = gluon_copro_epoch(GLUON_HASH_SLOT);
    return GLUON_HASH_OK;
}

int gluon_hash_init(gluon_hash_ctx *c, gluon_hash_mode mode)
{
    if (!c || (unsigned)mode >= N_MODES || MODES[mode].block == 0)
        return GLUON_HASH_E_ARG;
    c->mode = (uint8_t)mode;
    c->block = MODES[mode].block;
    c->used = 0;
    c->state = 0;
    c->last_cycles = 0;
    c->software = !hw_usable();
    if (c->software) {
        if (mode == GLUON_HASH_SHA256) {
            gluon_sha256_sw_init(&c->sw.sha);
        } else {
            uint8_t pad = mode == GLUON_HASH_KECCAK256 ? 0x01 :
                          (mode == GLUON_HASH_SHAKE128 || mode == GLUON_HASH_SHAKE256) ? 0x1F : 0x06;
            gluon_keccak_sw_init(&c->sw.kec, c->block, pad);
        }
    }
    return GLUON_HASH_OK;
}

static int check_live(gluon_hash_ctx *c)
{
    if (!c || c->block == 0 || c->state == 2)
        return GLUON_HASH_E_STATE;
    if (!c->software && c->state == 1 && engine_owner() != c) {
        c->state = 2;
        return GLUON_HASH_E_LOST;
    }
    return GLUON_HASH_OK;
}

int gluon_hash_update(gluon_hash_ctx *c, const void *data, size_t n)
{
    int rc = check_live(c);
    if (rc)
        return rc;
    if (c->software) {
        if (c->mode == GLUON_HASH_SHA256)
            gluon_sha256_sw_update(&c->sw.sha, data, n);
        else
            gluon_keccak_sw_update(&c->sw.kec, data, n);
        return GLUON_HASH_OK;
    }
    const uint8_t *p = data;
    uint8_t *buf = (uint8_t *)c->buf;
    while (n) {
        if (c->used == 0 && ((uintptr_t)p & 3) == 0 && n >= c->block) {
            size_t whole = n - n % c->block;
            if (whole > 0x40000000u)        /* keep SRC + LEN far from wrapping */
                whole = 0x40000000u - 0x40000000u % c->block;
            if ((rc = hw_chunk(c, p, (uint32_t)whole)))
                return rc;
            p += whole;
            n -= whole;
            continue;
        }
        size_t take = c->block - c->used;
        if (take > n)
            take = n;
        copy(buf + c->used, p, take);
        c->used += take;
        p += take;
        n -= take;
        if (c->used == c->block) {
            if ((rc = hw_chunk(c, buf, c->block)))
                return rc;
            c->used = 0;
        }
    }
    return GLUON_HASH_OK;
}

int gluon_hash_final(gluon_hash_ctx *c, void *out, size_t outlen)
{
    int rc = check_live(c);
    if (rc)
        return rc;
    uint32_t digest = MODES[c->mode].digest;
    if (digest) {
        if (outlen == 0)
            outlen = digest;
        if (outlen != digest)
            return GLUON_HASH_E_ARG;
    } else if (outlen == 0) {
        return GLUON_HASH_E_ARG;
    }
    if (!out)
        return GLUON_HASH_E_ARG;
    if (c->software) {
        c->state = 2;
        if (c->mode == GLUON_HASH_SHA256)
            gluon_sha256_sw_final(&c->sw.sha, out);
        else
            gluon_keccak_sw_squeeze(&c->sw.kec, out, outlen);
        return GLUON_HASH_OK;
    }
    int direct = ((uintptr_t)out & 3) == 0 && (outlen & 3) == 0;
    if (!direct && outlen > GLUON_HASH_MAX_BLOCK)
        return GLUON_HASH_E_ARG;
    /* The engine reads the whole last chunk before it writes the digest, so the block
     * buffer can be the source and the output bounce at once. */
    uint32_t words_out = (uint32_t)((outlen + 3) & ~(size_t)3);
    rc = hw_run(op_of(c), ctrl_word(c, 0), c->buf, c->used, direct ? out : (void *)c->buf,
                digest ? 0 : words_out);
    c->last_cycles = last_cycles;
    c->state = 2;
    if (rc)
        return rc;
    if (!direct)
        copy(out, c->buf, outlen);
    return GLUON_HASH_OK;
}

static int oneshot(gluon_hash_mode mode, const void *msg, size_t n, void *out, size_t outlen)
{
    uint32_t digest = MODES[mode].digest;
    if (digest)
        outlen = digest;
    if (outlen == 0)
        return GLUON_HASH_E_ARG;
    if (hw_usable() && ((uintptr_t)msg & 3) == 0 &&
        ((uintptr_t)out & 3) == 0 && (outlen & 3) == 0 && n <= 0x40000000u) {
        /* One operation, no copy: the message is read in place (whole words). */
        uint32_t ctrl = ((uint32_t)mode << GLUON_HASH_CTRL_MODE_SHIFT) & GLUON_HASH_CTRL_MODE_MASK;
        return hw_run(GLUON_HASH_START_OP_HASH, ctrl, msg, (uint32_t)n, out,
                      digest ? 0 : (uint32_t)outlen);
    }
    gluon_hash_ctx c;
    int rc = gluon_hash_init(&c, mode);
    if (!rc)
        rc = gluon_hash_update(&c, msg, n);
    if (!rc)
        rc = gluon_hash_final(&c, out, outlen);
    return rc;
}

int sha256(const void *msg, size_t n, uint8_t out[32])
{
    return oneshot(GLUON_HASH_SHA256, msg, n, out, 32);
}

int sha3_256(const void *msg, size_t n, uint8_t out[32])
{
    return oneshot(GLUON_HASH_SHA3_256, msg, n, out, 32);
}

int sha3_512(const void *msg, size_t n, uint8_t out[64])
{
    return oneshot(GLUON_HASH_SHA3_512, msg, n, out, 64);
}

int keccak256(const void *msg, size_t n, uint8_t out[32])
{
    return oneshot(GLUON_HASH_KECCAK256, msg, n, out, 32);
}

int shake128(const void *msg, size_t n, void *out, size_t outlen)
{
    return oneshot(GLUON_HASH_SHAKE128, msg, n, out, outlen);
}

int shake256(const void *msg, size_t n, void *out, size_t outlen)
{
    return oneshot(GLUON_HASH_SHAKE256, msg, n, out, outlen);
}
