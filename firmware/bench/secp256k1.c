/* secp256k1.c: scalar multiplication k·G on secp256k1 (bench workload).
 *
 * Curve y^2 = x^3 + 7 over p = 2^256 - 2^32 - 977 (SEC 2).  Both paths run
 * the same algorithm:
 *   - projective coordinates (X:Y:Z), x = X/Z, y = Y/Z, with the complete
 *     formulas of Renes, Costello and Batina, "Complete addition formulas for
 *     prime order elliptic curves" (EUROCRYPT 2016), algorithms 7 (addition,
 *     a = 0: 12M + 2 mul by 3b) and 9 (doubling: 6M + 2S + 1 mul by 3b), so
 *     the point at infinity (0:1:0) and equal inputs need no special case;
 *   - a Montgomery ladder over all 256 bits of k, from R0 = O, R1 = G: per
 *     bit b, R(1-b) = R0 + R1 and R(b) = 2 R(b).  Only which slots (memory)
 *     are used depends on b, chosen with masks, never with a branch;
 *   - the affine result through Z^(p-2) (Fermat; the exponent is public).
 *
 * Coprocessor path: the ladder's op words (GLUON_MM_*) stream to the MODMUL
 * coprocessor through the driver's stream API (gluon_modmul_emit: programs of
 * up to 512 ops, double-buffered, the next one written while one runs): the core
 * only writes op words (picked from two per-bit templates by a mask), never
 * waits per multiply.  Software path (-DGLUON_SOFTWARE): the same formulas
 * on the driver's software Montgomery code (gluon_mont_sw_mul) and
 * constant-time add/sub mod p in C.
 *
 * Region: modulus set-up, conversion to Montgomery form, the ladder, the
 * inversion and the conversion back.  Prints k, x, y; sim/bench.py and
 * tests/test_bench.py check them against Python references.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/modmul.h"
#include "gluon/sdk.h"
#include "bench.h"

#define L 8
#define K_SEED 0x5EC9256Bu

static const uint32_t P[L] = {
    0xFFFFFC2F, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
};
static const uint32_t P_MINUS_2[L] = {
    0xFFFFFC2D, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
};
static const uint32_t GX[L] = {
    0x16F81798, 0x59F2815B, 0x2DCE28D9, 0x029BFCDB, 0xCE870B07, 0x55A06295, 0xF9DCBBAC, 0x79BE667E,
};
static const uint32_t GY[L] = {
    0xFB10D4B8, 0x9C47D08F, 0xA6855419, 0xFD17B448, 0x0E1108A8, 0x5DA4FBFC, 0x26A3C465, 0x483ADA77,
};
#define B3 21u      /* 3·b, b = 7 */

static uint32_t k[L];
static uint32_t out_x[L], out_y[L];

#ifndef GLUON_SOFTWARE
/* ===================== coprocessor path ===================== */
/* Value slots. */
enum {
    S_X0, S_Y0, S_Z0,       /* R0 */
    S_X1, S_Y1, S_Z1,       /* R1 */
    S_B3,                   /* 3b, Montgomery form */
    S_T0, S_T1, S_T2, S_T3, S_T4, S_U, S_V, S_W,
    S_TMP, S_ACC,
};
/* Data words (imm offsets from `data`). */
enum { D_P = 0, D_GX = 8, D_GY = 16, D_ONE = 24, D_B3 = 32, D_X = 40, D_Y = 48, D_WORDS = 56 };

static uint32_t data[D_WORDS] __attribute__((aligned(16)));

#define STEP_OPS (33 + 18)
static uint32_t tmpl[2][STEP_OPS];

/* The ladder step for bit b as op words: R(1-b) = R0 + R1 (RCB alg. 7, every
 * input read before an output is written), then R(b) = 2 R(b) in place (alg.
 * 9, inputs read first). */
static void build_step(uint32_t *t, unsigned b)
{
    const unsigned X1 = S_X0, Y1 = S_Y0, Z1 = S_Z0, X2 = S_X1, Y2 = S_Y1, Z2 = S_Z1;
    const unsigned X3 = 3 * (1 - b), Y3 = X3 + 1, Z3 = X3 + 2;     /* R(1-b) */
    const unsigned X = 3 * b, Y = X + 1, Z = X + 2;                 /* R(b) */
    unsigned n = 0;
    /* addition */
    t[n++] = GLUON_MM_MUL(S_T0, X1, X2);
    t[n++] = GLUON_MM_MUL(S_T1, Y1, Y2);
    t[n++] = GLUON_MM_MUL(S_T2, Z1, Z2);
    t[n++] = GLUON_MM_ADD(S_T3, X1, Y1);
    t[n++] = GLUON_MM_ADD(S_T4, X2, Y2);
    t[n++] = GLUON_MM_MUL(S_T3, S_T3, S_T4);
    t[n++] = GLUON_MM_ADD(S_T4, S_T0, S_T1);
    t[n++] = GLUON_MM_SUB(S_T3, S_T3, S_T4);
    t[n++] = GLUON_MM_ADD(S_T4, Y1, Z1);
    t[n++] = GLUON_MM_ADD(S_U, Y2, Z2);
    t[n++] = GLUON_MM_MUL(S_T4, S_T4, S_U);
    t[n++] = GLUON_MM_ADD(S_U, S_T1, S_T2);
    t[n++] = GLUON_MM_SUB(S_T4, S_T4, S_U);
    t[n++] = GLUON_MM_ADD(S_U, X1, Z1);
    t[n++] = GLUON_MM_ADD(S_V, X2, Z2);
    t[n++] = GLUON_MM_MUL(S_U, S_U, S_V);
    t[n++] = GLUON_MM_ADD(S_V, S_T0, S_T2);
    t[n++] = GLUON_MM_SUB(S_V, S_U, S_V);
    t[n++] = GLUON_MM_ADD(S_U, S_T0, S_T0);
    t[n++] = GLUON_MM_ADD(S_T0, S_U, S_T0);
    t[n++] = GLUON_MM_MUL(S_T2, S_B3, S_T2);
    t[n++] = GLUON_MM_ADD(S_W, S_T1, S_T2);
    t[n++] = GLUON_MM_SUB(S_T1, S_T1, S_T2);
    t[n++] = GLUON_MM_MUL(S_V, S_B3, S_V);
    t[n++] = GLUON_MM_MUL(S_U, S_T4, S_V);
    t[n++] = GLUON_MM_MUL(S_T2, S_T3, S_T1);
    t[n++] = GLUON_MM_SUB(X3, S_T2, S_U);
    t[n++] = GLUON_MM_MUL(S_V, S_V, S_T0);
    t[n++] = GLUON_MM_MUL(S_T1, S_T1, S_W);
    t[n++] = GLUON_MM_ADD(Y3, S_T1, S_V);
    t[n++] = GLUON_MM_MUL(S_T0, S_T0, S_T3);
    t[n++] = GLUON_MM_MUL(S_W, S_W, S_T4);
    t[n++] = GLUON_MM_ADD(Z3, S_W, S_T0);
    /* doubling */
    t[n++] = GLUON_MM_MUL(S_T0, Y, Y);
    t[n++] = GLUON_MM_MUL(S_T1, Y, Z);
    t[n++] = GLUON_MM_MUL(S_T2, Z, Z);
    t[n++] = GLUON_MM_MUL(S_T3, X, Y);
    t[n++] = GLUON_MM_ADD(Z, S_T0, S_T0);
    t[n++] = GLUON_MM_ADD(Z, Z, Z);
    t[n++] = GLUON_MM_ADD(Z, Z, Z);
    t[n++] = GLUON_MM_MUL(S_T2, S_B3, S_T2);
    t[n++] = GLUON_MM_MUL(X, S_T2, Z);
    t[n++] = GLUON_MM_ADD(Y, S_T0, S_T2);
    t[n++] = GLUON_MM_MUL(Z, S_T1, Z);
    t[n++] = GLUON_MM_ADD(S_T1, S_T2, S_T2);
    t[n++] = GLUON_MM_ADD(S_T2, S_T1, S_T2);
    t[n++] = GLUON_MM_SUB(S_T0, S_T0, S_T2);
    t[n++] = GLUON_MM_MUL(Y, S_T0, Y);
    t[n++] = GLUON_MM_ADD(Y, X, Y);
    t[n++] = GLUON_MM_MUL(X, S_T0, S_T3);
    t[n++] = GLUON_MM_ADD(X, X, X);
}

static int scalar_mul(void)
{
    build_step(tmpl[0], 0);
    build_step(tmpl[1], 1);
    GLUON_MODMUL_LIMBS = L;
    int rc = gluon_modmul_stream_begin(data);
    if (rc)
        return rc;
    /* Set-up: SETMOD zeroes every slot, so X0 = Z0 = 0 already (R0 = O). */
    gluon_modmul_emit(GLUON_MM_SETMOD(D_P));
    gluon_modmul_emit(GLUON_MM_LOAD(S_TMP, D_ONE));
    gluon_modmul_emit(GLUON_MM_TOMONT(S_Y0, S_TMP));
    gluon_modmul_emit(GLUON_MM_TOMONT(S_Z1, S_TMP));
    gluon_modmul_emit(GLUON_MM_LOAD(S_TMP, D_GX));
    gluon_modmul_emit(GLUON_MM_TOMONT(S_X1, S_TMP));
    gluon_modmul_emit(GLUON_MM_LOAD(S_TMP, D_GY));
    gluon_modmul_emit(GLUON_MM_TOMONT(S_Y1, S_TMP));
    gluon_modmul_emit(GLUON_MM_LOAD(S_TMP, D_B3));
    gluon_modmul_emit(GLUON_MM_TOMONT(S_B3, S_TMP));
    /* The ladder: each op word is tmpl[0][j] or tmpl[1][j], selected by a mask. */
    for (int i = 32 * L - 1; i >= 0; i--) {
        uint32_t mask = -((k[i >> 5] >> (i & 31)) & 1);
        for (unsigned j = 0; j < STEP_OPS; j++)
            gluon_modmul_emit(tmpl[0][j] ^ (mask & (tmpl[0][j] ^ tmpl[1][j])));
    }
    /* ACC = Z0^(p-2) = 1/Z0 (left to right; p - 2 is public, its top bit is set). */
    gluon_modmul_emit(GLUON_MM_COPY(S_ACC, S_Z0));
    for (int i = 32 * L - 2; i >= 0; i--) {
        gluon_modmul_emit(GLUON_MM_MUL(S_ACC, S_ACC, S_ACC));
        if ((P_MINUS_2[i >> 5] >> (i & 31)) & 1)
            gluon_modmul_emit(GLUON_MM_MUL(S_ACC, S_ACC, S_Z0));
    }
    gluon_modmul_emit(GLUON_MM_MUL(S_TMP, S_X0, S_ACC));
    gluon_modmul_emit(GLUON_MM_FROMMONT(S_TMP, S_TMP));
    gluon_modmul_emit(GLUON_MM_STORE(S_TMP, D_X));
    gluon_modmul_emit(GLUON_MM_MUL(S_TMP, S_Y0, S_ACC));
    gluon_modmul_emit(GLUON_MM_FROMMONT(S_TMP, S_TMP));
    gluon_modmul_emit(GLUON_MM_STORE(S_TMP, D_Y));
    rc = gluon_modmul_stream_end();
    memcpy(out_x, &data[D_X], sizeof out_x);
    memcpy(out_y, &data[D_Y], sizeof out_y);
    return rc;
}

static int prepare(void)
{
    if (!gluon_modmul_present()) {
        printf("no MODMUL coprocessor\n");
        return 2;
    }
    memcpy(&data[D_P], P, sizeof P);
    memcpy(&data[D_GX], GX, sizeof GX);
    memcpy(&data[D_GY], GY, sizeof GY);
    data[D_ONE] = 1;
    data[D_B3] = B3;
    int rc = gluon_modmul_init(0);
    if (!rc)
        rc = gluon_modmul_window(1, data, sizeof data);
    if (rc)
        printf("MODMUL set-up failed (%d)\n", rc);
    return rc;
}

#else
/* ===================== software path ===================== */
typedef uint32_t fe[L];
typedef struct { fe x, y, z; } point;

static gluon_mont_sw_ctx ctx;
static fe b3m;

static void fmul(uint32_t *r, const uint32_t *a, const uint32_t *b)
{
    gluon_mont_sw_mul(&ctx, r, a, b);
}

/* r = a + b mod p, a, b < p, no branch on values. */
static void fadd(uint32_t *r, const uint32_t *a, const uint32_t *b)
{
    uint32_t s[L], d[L], carry = 0, borrow = 0;
    for (int i = 0; i < L; i++) {
        uint64_t t = (uint64_t)a[i] + b[i] + carry;
        s[i] = (uint32_t)t;
        carry = (uint32_t)(t >> 32);
    }
    for (int i = 0; i < L; i++) {
        uint64_t t = (uint64_t)s[i] - P[i] - borrow;
        d[i] = (uint32_t)t;
        borrow = (uint32_t)(t >> 63);
    }
    uint32_t take = -(carry | (borrow ^ 1));      /* s >= p: take s - p */
    for (int i = 0; i < L; i++)
        r[i] = (d[i] & take) | (s[i] & ~take);
}

/* r = a - b mod p. */
static void fsub(uint32_t *r, const uint32_t *a, const uint32_t *b)
{
    uint32_t d[L], borrow = 0, carry = 0;
    for (int i = 0; i < L; i++) {
        uint64_t t = (uint64_t)a[i] - b[i] - borrow;
        d[i] = (uint32_t)t;
        borrow = (uint32_t)(t >> 63);
    }
    uint32_t mask = -borrow;                      /* add p back if it borrowed */
    for (int i = 0; i < L; i++) {
        uint64_t t = (uint64_t)d[i] + (P[i] & mask) + carry;
        r[i] = (uint32_t)t;
        carry = (uint32_t)(t >> 32);
    }
}

/* o = p1 + p2 (o may be p1 or p2: every input is read before o is written). */
static void pt_add(point *o, const point *p1, const point *p2)
{
    fe t0, t1, t2, t3, t4, u, v, w;
    fmul(t0, p1->x, p2->x);
    fmul(t1, p1->y, p2->y);
    fmul(t2, p1->z, p2->z);
    fadd(t3, p1->x, p1->y);
    fadd(t4, p2->x, p2->y);
    fmul(t3, t3, t4);
    fadd(t4, t0, t1);
    fsub(t3, t3, t4);
    fadd(t4, p1->y, p1->z);
    fadd(u, p2->y, p2->z);
    fmul(t4, t4, u);
    fadd(u, t1, t2);
    fsub(t4, t4, u);
    fadd(u, p1->x, p1->z);
    fadd(v, p2->x, p2->z);
    fmul(u, u, v);
    fadd(v, t0, t2);
    fsub(v, u, v);
    fadd(u, t0, t0);
    fadd(t0, u, t0);
    fmul(t2, b3m, t2);
    fadd(w, t1, t2);
    fsub(t1, t1, t2);
    fmul(v, b3m, v);
    fmul(u, t4, v);
    fmul(t2, t3, t1);
    fsub(o->x, t2, u);
    fmul(v, v, t0);
    fmul(t1, t1, w);
    fadd(o->y, t1, v);
    fmul(t0, t0, t3);
    fmul(w, w, t4);
    fadd(o->z, w, t0);
}

/* q = 2 q in place. */
static void pt_dbl(point *q)
{
    fe t0, t1, t2, t3;
    fmul(t0, q->y, q->y);
    fmul(t1, q->y, q->z);
    fmul(t2, q->z, q->z);
    fmul(t3, q->x, q->y);
    fadd(q->z, t0, t0);
    fadd(q->z, q->z, q->z);
    fadd(q->z, q->z, q->z);
    fmul(t2, b3m, t2);
    fmul(q->x, t2, q->z);
    fadd(q->y, t0, t2);
    fmul(q->z, t1, q->z);
    fadd(t1, t2, t2);
    fadd(t2, t1, t2);
    fsub(t0, t0, t2);
    fmul(q->y, t0, q->y);
    fadd(q->y, q->x, q->y);
    fmul(q->x, t0, t3);
    fadd(q->x, q->x, q->x);
}

static void cswap(point *a, point *b, uint32_t mask)
{
    uint32_t *x = (uint32_t *)a, *y = (uint32_t *)b;
    for (unsigned i = 0; i < 3 * L; i++) {
        uint32_t s = (x[i] ^ y[i]) & mask;
        x[i] ^= s;
        y[i] ^= s;
    }
}

static int scalar_mul(void)
{
    static point r[2];
    fe one = {1}, b3 = {B3}, acc, t;
    int rc = gluon_mont_sw_init(&ctx, P, L);
    if (rc)
        return rc;
    gluon_mont_sw_to(&ctx, b3m, b3);
    memset(r, 0, sizeof r);
    gluon_mont_sw_to(&ctx, r[0].y, one);           /* R0 = O = (0:1:0) */
    gluon_mont_sw_to(&ctx, r[1].x, GX);            /* R1 = G */
    gluon_mont_sw_to(&ctx, r[1].y, GY);
    gluon_mont_sw_to(&ctx, r[1].z, one);
    /* Ladder, with the swaps of consecutive bits merged: r[0] plays R(b). */
    uint32_t prev = 0;
    for (int i = 32 * L - 1; i >= 0; i--) {
        uint32_t b = (k[i >> 5] >> (i & 31)) & 1;
        cswap(&r[0], &r[1], -(b ^ prev));
        prev = b;
        pt_add(&r[1], &r[0], &r[1]);                /* R(1-b) = R0 + R1 */
        pt_dbl(&r[0]);                              /* R(b) = 2 R(b) */
    }
    cswap(&r[0], &r[1], -prev);
    memcpy(acc, r[0].z, sizeof acc);
    for (int i = 32 * L - 2; i >= 0; i--) {
        fmul(acc, acc, acc);
        if ((P_MINUS_2[i >> 5] >> (i & 31)) & 1)   /* public exponent */
            fmul(acc, acc, r[0].z);
    }
    fmul(t, r[0].x, acc);
    gluon_mont_sw_from(&ctx, out_x, t);
    fmul(t, r[0].y, acc);
    gluon_mont_sw_from(&ctx, out_y, t);
    return 0;
}

static int prepare(void)
{
    return 0;
}
#endif

int main(void)
{
    bench_header("secp256k1");
    bench_fill((uint8_t *)k, sizeof k, K_SEED);
    int rc = prepare();
    if (rc)
        return rc;
    gluon_perf_start();
    rc = scalar_mul();
    gluon_perf_stop();
    bench_print_perf();
    bench_print_num("k", k, L);
    bench_print_num("x", out_x, L);
    bench_print_num("y", out_y, L);
    printf("digest: ");
    for (int i = L - 1; i >= 0; i--)
        printf("%08x", (unsigned)out_x[i]);
    for (int i = L - 1; i >= 0; i--)
        printf("%08x", (unsigned)out_y[i]);
    printf("\n");
    if (rc)
        printf("error: %d\n", rc);
    return rc ? 1 : 0;
}
