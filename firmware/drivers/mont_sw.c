/* Software Montgomery arithmetic for 32..768-bit moduli (gluon/modmul.h), the
 * reference and fallback for the MODMUL coprocessor.
 *
 * Multiplication: CIOS, "coarsely integrated operand scanning" (Koc, Acar,
 * Kaliski, "Analyzing and comparing Montgomery multiplication algorithms",
 * IEEE Micro 1996), with the final subtraction done always and the result
 * picked by a mask: no branch and no memory access depends on the values.
 */
#include <stdint.h>

#include "gluon/modmul.h"

#define MAXL GLUON_MODMUL_MAX_LIMBS

/* x - y over n limbs into r; returns the borrow (0/1). */
static uint32_t sub_n(uint32_t *r, const uint32_t *x, const uint32_t *y, unsigned n)
{
    uint32_t borrow = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t d = (uint64_t)x[i] - y[i] - borrow;
        r[i] = (uint32_t)d;
        borrow = (uint32_t)(d >> 63);
    }
    return borrow;
}

/* r = mask ? x : y, word by word. */
static void select_n(uint32_t *r, uint32_t mask, const uint32_t *x, const uint32_t *y, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        r[i] = (x[i] & mask) | (y[i] & ~mask);
}

/* r = (r + r) mod N for r < N. */
static void double_mod(const gluon_mont_sw_ctx *c, uint32_t *r)
{
    uint32_t t[MAXL], d[MAXL], carry = 0;
    unsigned n = c->limbs;
    for (unsigned i = 0; i < n; i++) {
        t[i] = (r[i] << 1) | carry;
        carry = r[i] >> 31;
    }
    uint32_t borrow = sub_n(d, t, c->n, n);
    /* t >= N (t has a carry out, or no borrow): take t - N. */
    uint32_t take = -(carry | (borrow ^ 1));
    select_n(r, take, d, t, n);
}

int gluon_mont_sw_init(gluon_mont_sw_ctx *c, const uint32_t *n, unsigned limbs)
{
    if (limbs == 0 || limbs > MAXL)
        return GLUON_MODMUL_E_LIMBS;
    uint32_t upper = 0;
    for (unsigned i = 1; i < limbs; i++)
        upper |= n[i];
    if (!(n[0] & 1) || (upper == 0 && n[0] < 3))
        return GLUON_MODMUL_E_MODULUS;
    c->limbs = limbs;
    for (unsigned i = 0; i < MAXL; i++)
        c->n[i] = i < limbs ? n[i] : 0;
    /* N^-1 mod 2^32 by Newton's iteration: x = N is right to 3 bits, each step doubles. */
    uint32_t x = n[0];
    for (int i = 0; i < 4; i++)
        x *= 2 - n[0] * x;
    c->n0inv = -x;
    /* R^2 mod N = 2^(64 L) mod N: 64 L modular doublings of 1. */
    uint32_t *r2 = c->r2;
    for (unsigned i = 0; i < MAXL; i++)
        r2[i] = 0;
    r2[0] = 1;
    for (unsigned i = 0; i < 64 * limbs; i++)
        double_mod(c, r2);
    return GLUON_MODMUL_OK;
}

void gluon_mont_sw_mul(const gluon_mont_sw_ctx *c, uint32_t *r, const uint32_t *a,
                       const uint32_t *b)
{
    unsigned n = c->limbs;
    uint32_t t[MAXL + 2] = {0};
    for (unsigned i = 0; i < n; i++) {
        /* t += a_i * B */
        uint64_t carry = 0;
        for (unsigned j = 0; j < n; j++) {
            uint64_t s = (uint64_t)a[i] * b[j] + t[j] + carry;
            t[j] = (uint32_t)s;
            carry = s >> 32;
        }
        uint64_t s = (uint64_t)t[n] + carry;
        t[n] = (uint32_t)s;
        t[n + 1] = (uint32_t)(s >> 32);
        /* t = (t + m N) / 2^32 with m making the low word zero */
        uint32_t m = t[0] * c->n0inv;
        carry = ((uint64_t)m * c->n[0] + t[0]) >> 32;
        for (unsigned j = 1; j < n; j++) {
            s = (uint64_t)m * c->n[j] + t[j] + carry;
            t[j - 1] = (uint32_t)s;
            carry = s >> 32;
        }
        s = (uint64_t)t[n] + carry;
        t[n - 1] = (uint32_t)s;
        t[n] = t[n + 1] + (uint32_t)(s >> 32);
    }
    /* t < 2N: subtract N always, keep the difference unless it borrowed. */
    uint32_t d[MAXL];
    uint32_t borrow = sub_n(d, t, c->n, n);
    uint32_t take = -((t[n] != 0) | (borrow ^ 1));
    select_n(r, take, d, t, n);
}

void gluon_mont_sw_to(const gluon_mont_sw_ctx *c, uint32_t *r, const uint32_t *a)
{
    gluon_mont_sw_mul(c, r, a, c->r2);
}

void gluon_mont_sw_from(const gluon_mont_sw_ctx *c, uint32_t *r, const uint32_t *a)
{
    uint32_t one[MAXL] = {1};
    gluon_mont_sw_mul(c, r, a, one);
}

void gluon_mont_sw_modexp(const gluon_mont_sw_ctx *c, uint32_t *r, const uint32_t *base,
                          const uint32_t *exp, unsigned exp_limbs)
{
    unsigned n = c->limbs;
    uint32_t r0[MAXL] = {1}, r1[MAXL], t[MAXL];
    gluon_mont_sw_to(c, r0, r0);            /* 1 in Montgomery form */
    gluon_mont_sw_to(c, r1, base);
    for (int i = 32 * (int)exp_limbs - 1; i >= 0; i--) {
        uint32_t bit = (exp[i >> 5] >> (i & 31)) & 1;
        uint32_t mask = -bit;
        /* Ladder step on (x, y) = bit ? (r1, r0) : (r0, r1): y = x*y, x = x^2 -- swapped in
         * and out by masks, so the same operations run whatever the bit. */
        for (unsigned j = 0; j < n; j++) {
            uint32_t s = (r0[j] ^ r1[j]) & mask;
            r0[j] ^= s;
            r1[j] ^= s;
        }
        gluon_mont_sw_mul(c, r1, r0, r1);
        gluon_mont_sw_mul(c, t, r0, r0);
        for (unsigned j = 0; j < n; j++)
            r0[j] = t[j];
        for (unsigned j = 0; j < n; j++) {
            uint32_t s = (r0[j] ^ r1[j]) & mask;
            r0[j] ^= s;
            r1[j] ^= s;
        }
    }
    gluon_mont_sw_from(c, r, r0);
}
