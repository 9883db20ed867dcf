/* hash_test.c: the hash coprocessor end to end, through the driver.
 *
 * Message bytes, for the host to recompute: x starts at SEED = 0x00C0FFEE;
 * for i = 0..MSG_LEN-1, x = (1664525 * x + 1013904223) mod 2^32 and
 * msg[i] = x >> 24.  The message of length n is msg[0..n).
 *
 * 1. For every mode and every length n = 0..MAX_LEN, the hardware digest of
 *    msg[0..n) (SHAKE: 64 output bytes) is computed; the output line
 *      agg <MODE> <count> <sha256 of the concatenated digests, hex>
 *    lets the host check all of them against hashlib (the aggregate is
 *    computed by the coprocessor too: any error shows up as a mismatch).
 * 2. Hardware against the software implementations at the block boundaries.
 * 3. Streaming: unaligned data fed in odd piece sizes, against the one-shot
 *    digest of an aligned copy.
 * 4. Misuse: a buffer outside the DMA window (E_DMA, no hang), a context
 *    whose message was displaced by another (E_LOST), bad arguments.
 * Output ends with "hash_test: PASS" or "hash_test: FAIL (<n> errors)";
 * returns the number of errors (0 = pass) -- the aggregates are the host's
 * to check.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/hash.h"
#include "gluon/sdk.h"

#define SEED 0x00C0FFEEu
#define MAX_LEN 300
#define MSG_LEN 2048
#define SHAKE_OUT 64

/* Everything the DMA may touch, in one window. */
static struct {
    uint8_t msg[MSG_LEN + 8];
    uint8_t digests[(MAX_LEN + 1) * 64];
    uint8_t copy[MSG_LEN];
    uint8_t out[256];
    uint8_t out2[256];
    gluon_hash_ctx ctx, ctx2;
} __attribute__((aligned(16))) dma_area;

/* Outside the window: the DMA must refuse it. */
static uint8_t outside[64] __attribute__((aligned(4)));

static int errors;

static const char *const NAMES[] = {
    "?", "SHA256", "SHA3_256", "SHA3_512", "KECCAK256", "SHAKE128", "SHAKE256",
};

static void fail(const char *what, int mode, int n, int rc)
{
    errors++;
    if (errors <= 20)
        printf("FAIL %s mode %s len %d rc %d\n", what, NAMES[mode], n, rc);
}

static size_t out_len(int mode)
{
    return mode == GLUON_HASH_SHA3_512 ? 64 :
           (mode == GLUON_HASH_SHAKE128 || mode == GLUON_HASH_SHAKE256) ? SHAKE_OUT : 32;
}

static int hw(int mode, const void *msg, size_t n, uint8_t *out)
{
    switch (mode) {
    case GLUON_HASH_SHA256:    return sha256(msg, n, out);
    case GLUON_HASH_SHA3_256:  return sha3_256(msg, n, out);
    case GLUON_HASH_SHA3_512:  return sha3_512(msg, n, out);
    case GLUON_HASH_KECCAK256: return keccak256(msg, n, out);
    case GLUON_HASH_SHAKE128:  return shake128(msg, n, out, SHAKE_OUT);
    default:                   return shake256(msg, n, out, SHAKE_OUT);
    }
}

static void sw(int mode, const void *msg, size_t n, uint8_t *out)
{
    switch (mode) {
    case GLUON_HASH_SHA256:    sha256_sw(msg, n, out); break;
    case GLUON_HASH_SHA3_256:  sha3_256_sw(msg, n, out); break;
    case GLUON_HASH_SHA3_512:  sha3_512_sw(msg, n, out); break;
    case GLUON_HASH_KECCAK256: keccak256_sw(msg, n, out); break;
    case GLUON_HASH_SHAKE128:  shake128_sw(msg, n, out, SHAKE_OUT); break;
    default:                   shake256_sw(msg, n, out, SHAKE_OUT); break;
    }
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

int main(void)
{
    uint32_t x = SEED;
    for (int i = 0; i < MSG_LEN; i++) {
        x = 1664525u * x + 1013904223u;
        dma_area.msg[i] = (uint8_t)(x >> 24);
    }
    if (!gluon_hash_present()) {
        printf("hash_test: no hash coprocessor\n");
        return 1;
    }
    printf("hash_test: ID %08x\n", (unsigned)GLUON_HASH_ID);
    if (gluon_hash_window(0, &dma_area, sizeof dma_area))
        fail("window", 0, 0, -1);

    /* 1. every length, every mode */
    for (int mode = GLUON_HASH_SHA256; mode <= GLUON_HASH_SHAKE256; mode++) {
        uint64_t t0 = gluon_rdcycle();
        for (int n = 0; n <= MAX_LEN; n++) {
            int rc = hw(mode, dma_area.msg, n, dma_area.digests + n * out_len(mode));
            if (rc)
                fail("hw", mode, n, rc);
        }
        uint32_t dt = (uint32_t)(gluon_rdcycle() - t0);
        int rc = sha256(dma_area.digests, (MAX_LEN + 1) * out_len(mode), dma_area.out);
        if (rc)
            fail("aggregate", mode, MAX_LEN, rc);
        printf("agg %s %d ", NAMES[mode], MAX_LEN + 1);
        print_hex(dma_area.out, 32);
        printf(" cycles %u\n", (unsigned)dt);
    }

    /* 2. hardware against software at the boundaries */
    static const int edges[] = {0, 1, 3, 55, 56, 63, 64, 65, 71, 72, 135, 136, 137, 167, 168, 169, 300};
    for (int mode = GLUON_HASH_SHA256; mode <= GLUON_HASH_SHAKE256; mode++) {
        for (unsigned k = 0; k < sizeof edges / sizeof edges[0]; k++) {
            int n = edges[k];
            hw(mode, dma_area.msg, n, dma_area.out);
            sw(mode, dma_area.msg, n, dma_area.out2);
            if (memcmp(dma_area.out, dma_area.out2, out_len(mode)))
                fail("hw!=sw", mode, n, 0);
        }
    }

    /* 3. streaming: unaligned source, odd pieces */
    static const int pieces[] = {1, 7, 13, 64, 100, 3, 136, 200, 5, 168, 71};
    for (int mode = GLUON_HASH_SHA256; mode <= GLUON_HASH_SHAKE256; mode++) {
        for (int n = 500; n <= 1500; n += 333) {
            const uint8_t *p = dma_area.msg + 1;      /* unaligned */
            int rc = gluon_hash_init(&dma_area.ctx, mode);
            size_t done = 0;
            for (unsigned k = 0; !rc && done < (size_t)n; k++) {
                size_t take = pieces[k % (sizeof pieces / sizeof pieces[0])];
                if (take > n - done)
                    take = n - done;
                rc = gluon_hash_update(&dma_area.ctx, p + done, take);
                done += take;
            }
            if (!rc)
                rc = gluon_hash_final(&dma_area.ctx, dma_area.out, out_len(mode));
            if (rc)
                fail("stream", mode, n, rc);
            memcpy(dma_area.copy, p, n);
            rc = hw(mode, dma_area.copy, n, dma_area.out2);
            if (rc || memcmp(dma_area.out, dma_area.out2, out_len(mode)))
                fail("stream!=one-shot", mode, n, rc);
        }
    }
    /* A long SHAKE256 output (several squeezes), written in place. */
    {
        static uint8_t big_sw[1000];
        int rc = gluon_hash_init(&dma_area.ctx, GLUON_HASH_SHAKE256);
        if (!rc)
            rc = gluon_hash_update(&dma_area.ctx, dma_area.msg, 777);
        if (!rc)
            rc = gluon_hash_final(&dma_area.ctx, dma_area.msg + 1024, 1000);
        shake256_sw(dma_area.msg, 777, big_sw, 1000);
        if (rc || memcmp(dma_area.msg + 1024, big_sw, 1000))
            fail("shake256 1000 out", GLUON_HASH_SHAKE256, 777, rc);
    }

    /* 4. misuse */
    int rc = sha256(outside, 16, dma_area.out);
    if (rc != GLUON_HASH_E_DMA)
        fail("src outside window", GLUON_HASH_SHA256, 16, rc);
    rc = sha3_256(dma_area.msg, 16, outside);
    if (rc != GLUON_HASH_E_DMA)
        fail("dst outside window", GLUON_HASH_SHA3_256, 16, rc);
    /* A second message displaces the first one's engine state. */
    gluon_hash_init(&dma_area.ctx, GLUON_HASH_SHA256);
    gluon_hash_update(&dma_area.ctx, dma_area.msg, 200);
    gluon_hash_init(&dma_area.ctx2, GLUON_HASH_SHA256);
    gluon_hash_update(&dma_area.ctx2, dma_area.msg, 200);
    rc = gluon_hash_final(&dma_area.ctx, dma_area.out, 32);
    if (rc != GLUON_HASH_E_LOST)
        fail("displaced context", GLUON_HASH_SHA256, 200, rc);
    rc = gluon_hash_final(&dma_area.ctx2, dma_area.out, 32);
    sha256_sw(dma_area.msg, 200, dma_area.out2);
    if (rc || memcmp(dma_area.out, dma_area.out2, 32))
        fail("displacing context", GLUON_HASH_SHA256, 200, rc);
    rc = gluon_hash_final(&dma_area.ctx2, dma_area.out, 32);
    if (rc != GLUON_HASH_E_STATE)
        fail("final twice", GLUON_HASH_SHA256, 200, rc);
    rc = shake128(dma_area.msg, 10, dma_area.out, 0);
    if (rc != GLUON_HASH_E_ARG)
        fail("shake outlen 0", GLUON_HASH_SHAKE128, 10, rc);
    /* A wipe empties the engine: the context with blocks in it is lost (the driver
     * drops what it knew), a CONT by registers finds nothing, the next call is right. */
    gluon_hash_init(&dma_area.ctx, GLUON_HASH_SHA3_256);
    gluon_hash_update(&dma_area.ctx, dma_area.msg, 300);
    uint64_t w0 = gluon_rdcycle();
    if (gluon_copro_wipe(GLUON_HASH_SLOT))
        fail("wipe", 0, 0, -1);
    printf("hash_test: wipe %u cycles\n", (unsigned)(gluon_rdcycle() - w0));
    rc = gluon_hash_final(&dma_area.ctx, dma_area.out, 32);
    if (rc != GLUON_HASH_E_LOST)
        fail("context after a wipe", GLUON_HASH_SHA3_256, 300, rc);
    GLUON_HASH_CTRL = GLUON_HASH_SHA3_256 << GLUON_HASH_CTRL_MODE_SHIFT;
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)dma_area.msg;
    GLUON_HASH_LEN = 0;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)dma_area.out;
    GLUON_HASH_STATUS = GLUON_HASH_STATUS_DONE_MASK | GLUON_HASH_STATUS_ERROR_MASK;
    GLUON_HASH_START = GLUON_HASH_START_OP_CONT << GLUON_HASH_START_OP_SHIFT;
    while (!(GLUON_HASH_STATUS & GLUON_HASH_STATUS_DONE_MASK))
        ;
    rc = (int)((GLUON_HASH_STATUS & GLUON_HASH_STATUS_CAUSE_MASK) >> GLUON_HASH_STATUS_CAUSE_SHIFT);
    if (rc != GLUON_HASH_E_SEQ)
        fail("CONT after a wipe", GLUON_HASH_SHA3_256, 0, rc);
    rc = sha3_256(dma_area.msg, 300, dma_area.out);
    sha3_256_sw(dma_area.msg, 300, dma_area.out2);
    if (rc || memcmp(dma_area.out, dma_area.out2, 32))
        fail("hash after a wipe", GLUON_HASH_SHA3_256, 300, rc);

    /* The engine still works after all that. */
    rc = keccak256(dma_area.msg, 0, dma_area.out);
    static const uint8_t keccak_empty[4] = {0xc5, 0xd2, 0x46, 0x01};
    if (rc || memcmp(dma_area.out, keccak_empty, 4))
        fail("keccak256(\"\")", GLUON_HASH_KECCAK256, 0, rc);

    if (errors)
        printf("hash_test: FAIL (%d errors)\n", errors);
    else
        printf("hash_test: PASS\n");
    return errors;
}
