/* modmul_test.c: the modular-arithmetic coprocessor end to end, through the
 * driver, against the software Montgomery implementation (mont_sw.c).
 *
 * Operands, for the host to recompute: x starts at SEED = 0x00006690; each
 * next() is x = (1664525 * x + 1013904223) mod 2^32.  For a modulus of L
 * limbs, a value is L next() words, least significant first, with its top
 * word taken modulo the modulus' top word (so it is below N).
 *
 * 1. For secp256k1 p, BN254 p, BLS12-381 p and a 768-bit modulus: mulmod,
 *    addmod, submod on generated values, hardware against software.
 * 2. secp256k1 p: x^e for a 256-bit e (both generated after the moduli's
 *    values; the software ladder checks x^(e mod 2^32)); the output line
 *      modexp <x hex> <e hex> <x^e hex>
 *    (most significant word first) lets the host check it against pow().
 * 3. Fermat inverse: a * a^-1 == 1 for secp256k1 p and BLS12-381 p.
 * 4. Misuse: a value >= N (E_RANGE), an even modulus (E_MODULUS), a program
 *    outside the DMA windows (E_DMA), an unknown opcode (E_OPCODE) -- and the
 *    coprocessor still works afterwards.
 * 5. The register path and streams: put/get round trip, one resident MUL
 *    (gluon_modmul_exec1) against gluon_mont_sw_mul, a second operand >= N
 *    (E_RANGE, the next call unaffected), a stream with a bad op (its error,
 *    the ops after it dropped).
 * 6. A wipe of the slot between two calls (gluon_copro_wipe): the driver sees
 *    the modulus gone (STATE), sets it again and drops its queued program; the
 *    second call is right, resident values are gone (zero).
 * Output ends with "modmul_test: PASS" or "modmul_test: FAIL (<n> errors)";
 * returns the number of errors.
 */
#include <stdint.h>
#include <stdio.h>

#include "gluon/copro.h"
#include "gluon/modmul.h"
#include "gluon/regs.h"
#include "gluon/sdk.h"

#define SEED 0x00006690u
#define MAXL GLUON_MODMUL_MAX_LIMBS

static uint32_t lcg = SEED;
static uint32_t next(void)
{
    lcg = 1664525u * lcg + 1013904223u;
    return lcg;
}

static const uint32_t SECP256K1_P[8] = {
    0xFFFFFC2F, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
};
static const uint32_t BN254_P[8] = {
    0xD87CFD47, 0x3C208C16, 0x6871CA8D, 0x97816A91, 0x8181585D, 0xB85045B6, 0xE131A029, 0x30644E72,
};
static const uint32_t BLS12_381_P[12] = {
    0xFFFFAAAB, 0xB9FEFFFF, 0xB153FFFF, 0x1EABFFFE, 0xF6B0F624, 0x6730D2A0,
    0xF38512BF, 0x64774B84, 0x434BACD7, 0x4B1BA7B6, 0x397FE69A, 0x1A0111EA,
};
static uint32_t n768[24];

/* Buffers outside the driver's window: a program here must be refused. */
static uint32_t outside_prog[4];
static uint32_t user_prog[4];

static int errors;
static gluon_mont_sw_ctx sw;

static void fail(const char *what, int rc)
{
    errors++;
    if (errors <= 20)
        printf("FAIL %s rc %d\n", what, rc);
}

static int equal(const uint32_t *a, const uint32_t *b, unsigned n)
{
    uint32_t d = 0;
    for (unsigned i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

static void value(uint32_t *v, const uint32_t *n, unsigned l)
{
    for (unsigned i = 0; i < l; i++)
        v[i] = next();
    v[l - 1] %= n[l - 1];
}

static void print_hex(const uint32_t *v, unsigned l)
{
    for (int i = (int)l - 1; i >= 0; i--)
        printf("%08x", (unsigned)v[i]);
}

static void check_arith(const char *name, const uint32_t *n, unsigned l)
{
    uint32_t a[MAXL], b[MAXL], hw[MAXL], ref[MAXL], t[MAXL];
    int rc = gluon_modmul_setmod(n, l);
    if (rc) {
        fail(name, rc);
        return;
    }
    if (gluon_mont_sw_init(&sw, n, l))
        fail("sw init", 0);
    for (int round = 0; round < 3; round++) {
        value(a, n, l);
        value(b, n, l);
        if ((rc = gluon_modmul_mulmod(hw, a, b)))
            fail("mulmod", rc);
        gluon_mont_sw_to(&sw, t, a);
        gluon_mont_sw_mul(&sw, ref, t, b);
        if (!equal(hw, ref, l))
            fail("mulmod value", 0);
        if ((rc = gluon_modmul_addmod(hw, a, b)))
            fail("addmod", rc);
        /* a + b mod N = from(to(a) + to(b)); the software side checks via a*1 + b*1. */
        uint32_t one[MAXL] = {1}, s[MAXL];
        gluon_modmul_mulmod(s, hw, one);            /* identity through the hardware */
        if (!equal(s, hw, l))
            fail("mulmod by one", 0);
        if ((rc = gluon_modmul_submod(t, hw, b)))  /* (a + b) - b == a */
            fail("submod", rc);
        if (!equal(t, a, l))
            fail("add/sub value", 0);
    }
    printf("%s: %u limbs ok\n", name, l);
}

int main(void)
{
    int rc;
    if (!gluon_modmul_present()) {
        printf("modmul_test: no MODMUL coprocessor\n");
        return 1;
    }
    if ((rc = gluon_modmul_init(0)))
        fail("init", rc);

    for (int i = 0; i < 24; i++)
        n768[i] = next();
    n768[0] |= 1;
    n768[23] |= 0x80000000u;

    check_arith("secp256k1_p", SECP256K1_P, 8);
    check_arith("bn254_p", BN254_P, 8);
    check_arith("bls12_381_p", BLS12_381_P, 12);
    check_arith("n768", n768, 24);

    /* Modexp, 256-bit exponent, against the software ladder and (on the host) pow(). */
    uint32_t x[8], e[8], hw[8], ref[8], inv[8], prod[8];
    value(x, SECP256K1_P, 8);
    for (int i = 0; i < 8; i++)
        e[i] = next();
    if ((rc = gluon_modmul_setmod(SECP256K1_P, 8)))
        fail("setmod", rc);
    gluon_mont_sw_init(&sw, SECP256K1_P, 8);
    if ((rc = gluon_modmul_modexp(hw, x, e, 8)))
        fail("modexp", rc);
    /* The software ladder on a 32-bit exponent (the 256-bit one is the host's to check:
     * in software it would take a million cycles). */
    uint32_t short_hw[8];
    if ((rc = gluon_modmul_modexp(short_hw, x, e, 1)))
        fail("modexp 32", rc);
    gluon_mont_sw_modexp(&sw, ref, x, e, 1);
    if (!equal(short_hw, ref, 8))
        fail("modexp value", 0);
    printf("modexp ");
    print_hex(x, 8);
    printf(" ");
    print_hex(e, 8);
    printf(" ");
    print_hex(hw, 8);
    printf("\n");

    /* Fermat inverse. */
    if ((rc = gluon_modmul_inverse(inv, x)))
        fail("inverse", rc);
    gluon_modmul_mulmod(prod, inv, x);
    uint32_t one8[8] = {1};
    if (!equal(prod, one8, 8))
        fail("inverse value", 0);
    {
        uint32_t y[12], yi[12], p12[12], one12[12] = {1};
        gluon_modmul_setmod(BLS12_381_P, 12);
        value(y, BLS12_381_P, 12);
        if ((rc = gluon_modmul_inverse(yi, y)))
            fail("inverse 381", rc);
        gluon_modmul_mulmod(p12, yi, y);
        if (!equal(p12, one12, 12))
            fail("inverse 381 value", 0);
    }

    /* Misuse. */
    gluon_modmul_setmod(SECP256K1_P, 8);
    if ((rc = gluon_modmul_mulmod(hw, SECP256K1_P, x)) != GLUON_MODMUL_E_RANGE)
        fail("value >= N accepted", rc);
    uint32_t even[8] = {0x10, 0, 0, 0, 0, 0, 0, 1};
    if ((rc = gluon_modmul_setmod(even, 8)) != GLUON_MODMUL_E_MODULUS)
        fail("even modulus accepted", rc);
    if ((rc = gluon_modmul_mulmod(hw, x, x)) != GLUON_MODMUL_E_NOMOD)
        fail("op without modulus", rc);
    outside_prog[0] = GLUON_MM_COPY(0, 0);
    if ((rc = gluon_modmul_run(outside_prog, 1, outside_prog)) != GLUON_MODMUL_E_DMA)
        fail("program outside the window", rc);
    gluon_modmul_setmod(SECP256K1_P, 8);
    /* A program of our own in a second window: opcode 0 is no op. */
    user_prog[0] = GLUON_MM_COPY(1, 0);
    user_prog[1] = 0;
    if ((rc = gluon_modmul_window(1, user_prog, sizeof user_prog)))
        fail("window", rc);
    if ((rc = gluon_modmul_run(user_prog, 2, user_prog)) != GLUON_MODMUL_E_OPCODE ||
        gluon_modmul_last_pc() != 1)
        fail("unknown opcode", rc);
    if ((rc = gluon_modmul_mulmod(hw, x, x)))
        fail("after misuse", rc);

    /* Register path and streams (secp256k1 p still set). */
    gluon_mont_sw_init(&sw, SECP256K1_P, 8);
    uint32_t y[8], got[8];
    value(y, SECP256K1_P, 8);
    if ((rc = gluon_modmul_put(3, x)) || (rc = gluon_modmul_put(4, y)))
        fail("put", rc);
    if ((rc = gluon_modmul_get(got, 3)) || !equal(got, x, 8))
        fail("put/get", rc);
    if ((rc = gluon_modmul_exec1(GLUON_MM_MUL(5, 3, 4))))
        fail("exec1", rc);
    gluon_mont_sw_mul(&sw, ref, x, y);
    if ((rc = gluon_modmul_get(got, 5)) || !equal(got, ref, 8))
        fail("resident MUL value", rc);
    if ((rc = gluon_modmul_put(6, SECP256K1_P)) != GLUON_MODMUL_E_RANGE)
        fail("put of N accepted", rc);
    if ((rc = gluon_modmul_mulmod(hw, x, SECP256K1_P)) != GLUON_MODMUL_E_RANGE)
        fail("second operand >= N accepted", rc);
    if ((rc = gluon_modmul_mulmod(hw, x, y)))
        fail("mulmod after a range error", rc);
    gluon_mont_sw_to(&sw, got, x);
    gluon_mont_sw_mul(&sw, ref, got, y);
    if (!equal(hw, ref, 8))
        fail("mulmod after a range error: value", 0);
    uint32_t ops[2] = {GLUON_MM_ADD(6, 3, 4), GLUON_MM_SUB(7, 6, 4)};
    if ((rc = gluon_modmul_exec(ops, 2)) || (rc = gluon_modmul_get(got, 7)) || !equal(got, x, 8))
        fail("exec", rc);
    if ((rc = gluon_modmul_stream_begin(NULL)))
        fail("stream begin", rc);
    for (int i = 0; i < 40; i++)
        gluon_modmul_emit(GLUON_MM_MUL(8, 3, 4));
    gluon_modmul_emit(GLUON_MM_COPY(40, 3));            /* slot 40: E_SLOT */
    for (int i = 0; i < 600; i++)
        gluon_modmul_emit(GLUON_MM_COPY(9, 3));
    if ((rc = gluon_modmul_stream_end()) != GLUON_MODMUL_E_SLOT)
        fail("stream error", rc);
    if ((rc = gluon_modmul_get(got, 9)) || got[0] != 0 || got[7] != 0)
        fail("ops after a stream error dropped", rc);
    if ((rc = gluon_modmul_mulmod(hw, x, x)))
        fail("after the stream error", rc);

    /* A wipe between two calls. */
    gluon_modmul_setmod(SECP256K1_P, 8);
    if ((rc = gluon_modmul_mulmod(hw, x, y)) || (rc = gluon_modmul_put(3, x)))
        fail("before the wipe", rc);
    if (gluon_copro_wipe(GLUON_MODMUL_SLOT))
        fail("wipe", -1);
    if (GLUON_MODMUL_STATE & GLUON_MODMUL_STATE_MODSET_MASK)
        fail("modulus kept by the wipe", 0);
    if ((rc = gluon_modmul_mulmod(got, x, y)) || !equal(got, hw, 8) || gluon_modmul_limbs() != 8)
        fail("mulmod after a wipe", rc);
    if ((rc = gluon_modmul_mulmod(got, y, x)) || !equal(got, hw, 8))
        fail("second mulmod after a wipe", rc);
    if (gluon_copro_wipe(GLUON_MODMUL_SLOT))
        fail("wipe", -1);
    if ((rc = gluon_modmul_get(got, 3)) || got[0] != 0 || got[7] != 0)
        fail("a resident value survived the wipe", rc);

    if (errors) {
        printf("modmul_test: FAIL (%d errors)\n", errors);
        return errors > 255 ? 255 : errors;
    }
    printf("modmul_test: PASS\n");
    return 0;
}
