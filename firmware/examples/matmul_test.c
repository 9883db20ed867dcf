/* matmul_test.c: the matrix coprocessor against the pure-C reference.
 *
 * For each case (M, N, K, strides, options) A and B are filled from the LCG
 * x = 1664525 x + 1013904223 (mod 2^32), element (int8)(x >> 24), seed
 * 0x5EED0000 + case index, A row by row then B; the bias (when used) continues
 * the sequence with (int32)x >> 12.  The hardware result must equal the
 * software reference byte for byte, including the word-padding bytes of int8
 * rows (zero) and leaving the rest of each stride untouched.  Then misuse: a
 * buffer outside the DMA window must fail with GLUON_MATMUL_E_DMA.
 *
 * Output: one line per case, "case <i> MxNxK ...: ok|FAIL (<cycles> cycles)
 * fnv=<FNV-1a 32 of the M·ldc bytes of C>", then "matmul_test: <n> cases,
 * <f> failures".  Returns the failure count.  Built with
 * -DMATMUL_TEST_HW_ONLY the software reference is skipped (the host checks
 * the fnv values against numpy instead: tests/test_matmul.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/copro.h"
#include "gluon/matmul.h"

#define A_BYTES (96 * 72)
#define B_BYTES (72 * 136)
#define C_BYTES (96 * 80 * 4)

static struct {
    int8_t a[A_BYTES];
    int8_t b[B_BYTES];
    int32_t bias[136];
    int8_t c[C_BYTES];
} __attribute__((aligned(16))) dma;

#ifndef MATMUL_TEST_HW_ONLY
static int8_t ref[C_BYTES] __attribute__((aligned(4)));
#endif
static int8_t outside[64] __attribute__((aligned(4)));     /* never in a window */

struct test_case {
    int m, n, k, lda, ldb, ldc;     /* strides in bytes; 0: packed (rounded up to 4) */
    int int32;                      /* 1: raw int32 C */
    int bias, relu, shift, zp;
    int32_t multiplier;
};

static const struct test_case CASES[] = {
    {1, 1, 1, 0, 0, 0, 0, 0, 0, 7, 0, 1 << 30},
    {8, 8, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0},
    {5, 7, 3, 0, 0, 0, 0, 1, 1, 6, -3, 1518500250},
    {17, 13, 29, 40, 20, 16, 0, 1, 0, 9, 12, 1900000000},
    {64, 64, 64, 0, 0, 0, 0, 1, 1, 11, 0, 1200000000},
    {64, 64, 64, 0, 0, 0, 1, 1, 0, 0, 0, 0},
    {70, 130, 33, 36, 136, 132, 0, 0, 0, 10, -128, 2000000000},  /* several tiles */
    {96, 10, 72, 0, 0, 0, 1, 1, 0, 0, 0, 0},
    {3, 70, 65, 68, 72, 288, 1, 0, 0, 0, 0, 0},
};
#define N_CASES (int)(sizeof CASES / sizeof CASES[0])

static uint32_t lcg;
static uint32_t next(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return lcg;
}

static int round4(int x) { return (x + 3) & ~3; }

static uint32_t fnv1a(const void *p, int n)
{
    const uint8_t *b = p;
    uint32_t h = 2166136261u;
    for (int i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static int run_case(int idx, const struct test_case *t)
{
    int esize = t->int32 ? 4 : 1;
    int lda = t->lda ? t->lda : round4(t->k);
    int ldb = t->ldb ? t->ldb : round4(t->n);
    int ldc = t->ldc ? t->ldc : round4(t->n * esize);
    lcg = 0x5EED0000u + (uint32_t)idx;
    for (int i = 0; i < t->m; i++)
        for (int k = 0; k < t->k; k++)
            dma.a[i * lda + k] = (int8_t)(next() >> 24);
    for (int k = 0; k < t->k; k++)
        for (int j = 0; j < t->n; j++)
            dma.b[k * ldb + j] = (int8_t)(next() >> 24);
    for (int j = 0; j < t->n; j++)
        dma.bias[j] = (int32_t)next() >> 12;
    const int32_t *bias = t->bias ? dma.bias : NULL;
    gluon_requant rq = {t->multiplier, (uint8_t)t->shift, (int8_t)t->zp, (uint8_t)t->relu, bias};

    int bytes = t->m * ldc;
    memset(dma.c, 0x5A, (size_t)bytes);
#ifndef MATMUL_TEST_HW_ONLY
    memset(ref, 0x5A, (size_t)bytes);
#endif
    int err;
    if (t->int32)
        err = gluon_matmul_i8_i32(t->m, t->n, t->k, dma.a, lda, dma.b, ldb, (int32_t *)dma.c, ldc, bias);
    else
        err = gluon_matmul_i8(t->m, t->n, t->k, dma.a, lda, dma.b, ldb, dma.c, ldc, &rq);
    int ok = err == 0 && gluon_matmul_last_was_hw();
    uint32_t cycles = gluon_matmul_last_cycles();
#ifndef MATMUL_TEST_HW_ONLY
    if (t->int32) {
        gluon_matmul_i8_i32_sw(t->m, t->n, t->k, dma.a, lda, dma.b, ldb, (int32_t *)ref, ldc, bias);
    } else {
        gluon_matmul_i8_sw(t->m, t->n, t->k, dma.a, lda, dma.b, ldb, ref, ldc, &rq);
        /* The hardware writes whole words: the pad bytes of each row are zero. */
        for (int i = 0; i < t->m; i++)
            for (int j = t->n; j < round4(t->n); j++)
                ref[i * ldc + j] = 0;
    }
    ok = ok && memcmp(dma.c, ref, (size_t)bytes) == 0;
#endif
    printf("case %d %dx%dx%d lda %d ldb %d ldc %d %s%s%s: %s (%u cycles) fnv=0x%08x\n", idx,
           t->m, t->n, t->k, lda, ldb, ldc, t->int32 ? "int32" : "int8", t->bias ? " bias" : "",
           t->relu ? " relu" : "", ok ? "ok" : "FAIL", (unsigned)cycles,
           (unsigned)fnv1a(dma.c, bytes));
    if (!ok && err)
        printf("  error %d\n", err);
    return !ok;
}

int main(void)
{
    if (!gluon_matmul_present()) {
        printf("matmul_test: no matrix coprocessor in this SoC\n");
        return 1;
    }
    gluon_matmul_window(0, &dma, sizeof dma);
    int failures = 0;
    for (int i = 0; i < N_CASES; i++)
        failures += run_case(i, &CASES[i]);

    /* Misuse: C outside the window, then A outside; then a good call still works. */
    gluon_requant rq = {1 << 30, 0, 0, 0, NULL};
    int e1 = gluon_matmul_i8(4, 4, 4, dma.a, 4, dma.b, 4, outside, 4, &rq);
    int e2 = gluon_matmul_i8(4, 4, 4, outside, 4, dma.b, 4, dma.c, 4, &rq);
    int e3 = gluon_matmul_i8(4, 4, 4, dma.a, 4, dma.b, 4, dma.c, 4, &rq);
    int misuse_ok = e1 == GLUON_MATMUL_E_DMA && e2 == GLUON_MATMUL_E_DMA && e3 == 0;
    printf("misuse: outside the window -> %d, %d; then %d: %s\n", e1, e2, e3,
           misuse_ok ? "ok" : "FAIL");
    failures += !misuse_ok;

    /* Non-blocking calls: two can be started (the second is programmed while the
     * first runs and started by the first wait), a third start and a blocking call are
     * refused meanwhile, poll says running, the waits return 0 and the same C as a
     * blocking call; waiting again is an error; a call needing tiles runs inside the
     * start. */
    static int8_t blocking_c[24 * 24];
    int8_t *c2 = dma.c + sizeof blocking_c;
    gluon_requant rq2 = {1518500250, 6, 3, 1, dma.bias};
    int eb = gluon_matmul_i8(24, 24, 40, dma.a, 40, dma.b, 24, dma.c, 24, &rq2);
    memcpy(blocking_c, dma.c, sizeof blocking_c);
    memset(dma.c, 0x5A, 2 * sizeof blocking_c);
    int es = gluon_matmul_start_i8(24, 24, 40, dma.a, 40, dma.b, 24, dma.c, 24, &rq2);
    int es2 = gluon_matmul_start_i8(24, 24, 40, dma.a, 40, dma.b, 24, c2, 24, &rq2);
    int busy1 = gluon_matmul_start_i8(24, 24, 40, dma.a, 40, dma.b, 24, dma.c, 24, &rq2);
    int busy2 = gluon_matmul_i8_i32(4, 4, 4, dma.a, 4, dma.b, 4, (int32_t *)dma.c, 16, NULL);
    int polled = gluon_matmul_poll();
    int ew = gluon_matmul_wait();
    int ew2 = gluon_matmul_wait();
    int same = memcmp(blocking_c, dma.c, sizeof blocking_c) == 0
               && memcmp(blocking_c, c2, sizeof blocking_c) == 0;
    int again = gluon_matmul_wait();
    int et = gluon_matmul_start_i8_i32(70, 8, 8, dma.a, 8, dma.b, 8, (int32_t *)dma.c, 32, NULL);
    int tiled_poll = gluon_matmul_poll();
    int etw = gluon_matmul_wait();
    int nb_ok = eb == 0 && es == 0 && es2 == 0 && busy1 == GLUON_MATMUL_E_BUSY
                && busy2 == GLUON_MATMUL_E_BUSY && polled == 0 && ew == 0 && ew2 == 0 && same
                && again == GLUON_MATMUL_E_ARG && et == 0 && tiled_poll == 1 && etw == 0;
    printf("nonblocking: start %d %d, busy %d %d, poll %d, wait %d %d, same C %s, wait again "
           "%d, tiled %d %d %d: %s\n", es, es2, busy1, busy2, polled, ew, ew2,
           same ? "yes" : "NO", again, et, tiled_poll, etw, nb_ok ? "ok" : "FAIL");
    failures += !nb_ok;

    /* A wipe between two calls: the second is exact.  A wipe while a started call runs
     * and a second one is queued: the first returns E_WIPED, the second (its registers
     * cleared by the wipe) is programmed again and is exact. */
    memset(dma.c, 0x5A, 2 * sizeof blocking_c);
    int w1 = gluon_matmul_i8(24, 24, 40, dma.a, 40, dma.b, 24, dma.c, 24, &rq2);
    int wiped = gluon_copro_wipe(GLUON_MATMUL_SLOT);
    int zero_regs = GLUON_MATMUL_M == 0 && GLUON_MATMUL_A_ADDR == 0 && GLUON_MATMUL_QMUL == 0;
    int w2 = gluon_matmul_i8(24, 24, 40, dma.a, 40, dma.b, 24, c2, 24, &rq2);
    int same_w = memcmp(blocking_c, dma.c, sizeof blocking_c) == 0
                 && memcmp(blocking_c, c2, sizeof blocking_c) == 0;
    memset(dma.c, 0x5A, 2 * sizeof blocking_c);
    int s1 = gluon_matmul_start_i8(24, 24, 40, dma.a, 40, dma.b, 24, dma.c, 24, &rq2);
    int s2 = gluon_matmul_start_i8(24, 24, 40, dma.a, 40, dma.b, 24, c2, 24, &rq2);
    int wiped2 = gluon_copro_wipe(GLUON_MATMUL_SLOT);
    int sw1 = gluon_matmul_wait();
    int sw2 = gluon_matmul_wait();
    int same_q = memcmp(blocking_c, c2, sizeof blocking_c) == 0;
    int wipe_ok = w1 == 0 && wiped == 0 && zero_regs && w2 == 0 && same_w && s1 == 0
                  && s2 == 0 && wiped2 == 0 && sw1 == GLUON_MATMUL_E_WIPED && sw2 == 0 && same_q;
    printf("wipe: between calls %d %d %d, regs cleared %s, same C %s; queued %d %d, wipe %d, "
           "wait %d %d, same C %s: %s\n", w1, wiped, w2, zero_regs ? "yes" : "NO",
           same_w ? "yes" : "NO", s1, s2, wiped2, sw1, sw2, same_q ? "yes" : "NO",
           wipe_ok ? "ok" : "FAIL");
    failures += !wipe_ok;
    printf("matmul_test: %d cases, %d failures\n", N_CASES + 3, failures);
    return failures;
}
