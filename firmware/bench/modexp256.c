/* modexp256.c: a 256-bit modular exponentiation x^e mod N (bench workload).
 *
 * Inputs from the bench LCG (seed 0x3E0D0256): N odd with its top bit set,
 * x < N, e any 256 bits.  Region: setting the modulus and the exponentiation
 * (all 256 exponent bits, a constant-time Montgomery ladder: 512 Montgomery
 * multiplications), on
 *   - default: the MODMUL driver, gluon_modmul_setmod + gluon_modmul_modexp
 *     (it streams the ladder's op words as double-buffered programs: the
 *     next program is written while one runs);
 *   - -DGLUON_STREAMED: SETMOD and the same ladder written here as one op
 *     stream through the driver's stream API (gluon_modmul_emit), the way an
 *     application writes its own op sequences;
 *   - -DGLUON_SOFTWARE: gluon_mont_sw_init + gluon_mont_sw_modexp.
 * Prints N, x, e and the result; sim/bench.py checks it with Python's pow().
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/modmul.h"
#include "gluon/sdk.h"
#include "bench.h"

#define L 8

static uint32_t n_[L], x_[L], e_[L], r_[L];

#if defined(GLUON_SOFTWARE)
static gluon_mont_sw_ctx ctx;

static int prepare(void) { return 0; }

static int modexp(void)
{
    int rc = gluon_mont_sw_init(&ctx, n_, L);
    if (rc)
        return rc;
    gluon_mont_sw_modexp(&ctx, r_, x_, e_, L);
    return 0;
}

#elif defined(GLUON_STREAMED)
enum { D_N = 0, D_X = 8, D_ONE = 16, D_R = 24, D_WORDS = 32 };
enum { S_R0 = 0, S_R1 = 1, S_TMP = 2 };
static uint32_t data[D_WORDS] __attribute__((aligned(16)));

static int prepare(void)
{
    if (!gluon_modmul_present())
        return 2;
    memcpy(&data[D_N], n_, sizeof n_);
    memcpy(&data[D_X], x_, sizeof x_);
    data[D_ONE] = 1;
    int rc = gluon_modmul_init(0);
    if (rc)
        return rc;
    return gluon_modmul_window(1, data, sizeof data);
}

static int modexp(void)
{
    GLUON_MODMUL_LIMBS = L;
    int rc = gluon_modmul_stream_begin(data);
    if (rc)
        return rc;
    gluon_modmul_emit(GLUON_MM_SETMOD(D_N));
    gluon_modmul_emit(GLUON_MM_LOAD(S_TMP, D_ONE));
    gluon_modmul_emit(GLUON_MM_TOMONT(S_R0, S_TMP));
    gluon_modmul_emit(GLUON_MM_LOAD(S_TMP, D_X));
    gluon_modmul_emit(GLUON_MM_TOMONT(S_R1, S_TMP));
    for (int i = 32 * L - 1; i >= 0; i--) {
        /* b = 0: R1 = R0 R1, R0 = R0^2;  b = 1: R0 = R0 R1, R1 = R1^2 (slots only). */
        uint32_t b = (e_[i >> 5] >> (i & 31)) & 1;
        gluon_modmul_emit(GLUON_MM_MUL(S_R0 + (b ^ 1), S_R0, S_R1));
        gluon_modmul_emit(GLUON_MM_MUL(S_R0 + b, S_R0 + b, S_R0 + b));
    }
    gluon_modmul_emit(GLUON_MM_FROMMONT(S_TMP, S_R0));
    gluon_modmul_emit(GLUON_MM_STORE(S_TMP, D_R));
    rc = gluon_modmul_stream_end();
    memcpy(r_, &data[D_R], sizeof r_);
    return rc;
}

#else
static int prepare(void)
{
    return gluon_modmul_init(0);
}

static int modexp(void)
{
    int rc = gluon_modmul_setmod(n_, L);
    if (rc)
        return rc;
    return gluon_modmul_modexp(r_, x_, e_, L);
}
#endif

int main(void)
{
#if defined(GLUON_STREAMED)
    bench_header("modexp256 (streamed)");
#else
    bench_header("modexp256");
#endif
    uint32_t s = bench_fill((uint8_t *)n_, sizeof n_, 0x3E0D0256u);
    s = bench_fill((uint8_t *)x_, sizeof x_, s);
    bench_fill((uint8_t *)e_, sizeof e_, s);
    n_[0] |= 1;
    n_[L - 1] |= 0x80000000u;
    x_[L - 1] &= 0x7FFFFFFFu;          /* x < 2^255 <= N */
    int rc = prepare();
    if (rc) {
        printf("no MODMUL coprocessor (%d)\n", rc);
        return 2;
    }
    gluon_perf_start();
    rc = modexp();
    gluon_perf_stop();
    bench_print_perf();
    bench_print_num("modulus", n_, L);
    bench_print_num("base", x_, L);
    bench_print_num("exponent", e_, L);
    bench_print_num("digest", r_, L);
    if (rc)
        printf("error: %d\n", rc);
    return rc ? 1 : 0;
}
