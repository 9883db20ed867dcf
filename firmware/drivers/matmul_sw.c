/* Pure-C reference of the matrix coprocessor: int8 × int8 → int32 products,
 * optional int32 bias, gemmlowp requantization to int8.  Bit-exact with the
 * hardware and with the numpy reference in sim/quantize_mlp.py.
 *
 * Written for a 32-bit core without caches: the inner loop walks a row of B
 * and a row of int32 accumulators (i-k-j order), 64 columns at a time.  No
 * branch or memory access depends on a value, so the timing depends only on
 * the sizes.
 */
#include <stdint.h>

#include "gluon/matmul.h"

/* Selects written with masks: clang turns ?: into branches on RV32, and a
 * branch's cost must not depend on a value. */
static int64_t select64(int64_t cond_mask, int64_t if_set, int64_t if_clear)
{
    return if_clear ^ ((if_clear ^ if_set) & cond_mask);
}

int32_t gluon_srdhm(int32_t a, int32_t b)
{
    /* gemmlowp fixedpoint.h, literally: 64-bit product, nudge, division that
     * truncates toward zero, saturation of INT32_MIN · INT32_MIN. */
    int64_t overflow = -(int64_t)((a == b) & (a == INT32_MIN));
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t negative = ab >> 63;                              /* 0 or -1 */
    int64_t nudge = select64(negative, 1 - (1 << 30), 1 << 30);
    int64_t high = (ab + nudge) / ((int64_t)1 << 31);         /* shifts, no call */
    return (int32_t)select64(overflow, INT32_MAX, high);
}

int32_t gluon_rdbpot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);   /* exponent <= 31 */
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0);
    return (x >> exponent) + (remainder > threshold);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    v = select64(-(int64_t)(v < lo), lo, v);
    return select64(-(int64_t)(v > hi), hi, v);
}

int8_t gluon_requantize(int32_t acc, const gluon_requant *rq)
{
    int64_t q = (int64_t)gluon_rdbpot(gluon_srdhm(acc, rq->multiplier), rq->shift)
                + rq->zero_point;
    return (int8_t)clamp64(q, rq->relu ? rq->zero_point : -128, 127);
}

#define BLOCK 64

/* acc[0..n) = row i of A·B over columns [j0, j0+n). */
static void row_block(int n, int K, const int8_t *a, const int8_t *B, int ldb, int j0,
                      int32_t acc[BLOCK])
{
    for (int j = 0; j < n; j++)
        acc[j] = 0;
    for (int k = 0; k < K; k++) {
        int32_t av = a[k];
        const int8_t *b = B + (long)k * ldb + j0;
        for (int j = 0; j < n; j++)
            acc[j] += av * b[j];
    }
}

static int32_t add_wrap(int32_t x, int32_t y)
{
    return (int32_t)((uint32_t)x + (uint32_t)y);      /* the hardware wraps mod 2^32 */
}

void gluon_matmul_i8_sw(int M, int N, int K, const int8_t *A, int lda,
                        const int8_t *B, int ldb, int8_t *C, int ldc,
                        const gluon_requant *rq)
{
    int32_t acc[BLOCK];
    for (int i = 0; i < M; i++) {
        for (int j0 = 0; j0 < N; j0 += BLOCK) {
            int n = N - j0 < BLOCK ? N - j0 : BLOCK;
            row_block(n, K, A + (long)i * lda, B, ldb, j0, acc);
            int8_t *c = C + (long)i * ldc + j0;
            for (int j = 0; j < n; j++) {
                int32_t x = rq->bias ? add_wrap(acc[j], rq->bias[j0 + j]) : acc[j];
                c[j] = gluon_requantize(x, rq);
            }
        }
    }
}

void gluon_matmul_i8_i32_sw(int M, int N, int K, const int8_t *A, int lda,
                            const int8_t *B, int ldb, int32_t *C, int ldc,
                            const int32_t *bias)
{
    int32_t acc[BLOCK];
    for (int i = 0; i < M; i++) {
        for (int j0 = 0; j0 < N; j0 += BLOCK) {
            int n = N - j0 < BLOCK ? N - j0 : BLOCK;
            row_block(n, K, A + (long)i * lda, B, ldb, j0, acc);
            int32_t *c = (int32_t *)((int8_t *)C + (long)i * ldc) + j0;
            for (int j = 0; j < n; j++)
                c[j] = bias ? add_wrap(acc[j], bias[j0 + j]) : acc[j];
        }
    }
}
