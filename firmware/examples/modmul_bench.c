/* modmul_bench.c: software against the modular-arithmetic coprocessor, for
 * 256-bit moduli (secp256k1 p) and one 384-bit one (the BLS12-381 width).
 *
 * Output lines:
 *   modexp256 sw <cycles> hw <cycles> (engine <cycles>) speedup <x>
 *   mulmod<bits> sw <cycles> hw <cycles> (engine <cycles>; first call <cycles>) speedup <x>
 *       a*b mod N, plain form, RAM to RAM: software TOMONT + Montgomery
 *       multiply; coprocessor gluon_modmul_mulmod (XIN, queued program, XOUT),
 *       a repeated call (the first one also queues the program's op words)
 *   mul<bits> resident sw <cycles> hw <cycles> (engine <cycles>) speedup <x>
 *       one Montgomery multiply: gluon_mont_sw_mul against one MUL op on
 *       values resident in slots, queued, started and awaited
 *       (gluon_modmul_exec1), for 256, 384 and 768 bits
 *   mul256 chain: <n> MULs in <cycles> engine cycles, <c>.<cc> per MUL (with its fetch)
 *   setmod<bits> sw <cycles> hw <cycles>
 *   wipe <cycles> mulmod after it <cycles>
 *       gluon_copro_wipe of the slot (waits for the end), then the next
 *       gluon_modmul_mulmod, which finds the modulus gone and sets it again
 * "sw"/"hw" are rdcycle deltas around the whole call (the driver, DMA of the
 * operands and of the program included); "engine" is the coprocessor's CYCLES
 * register summed over the programs.  The 256-bit exponent is all ones (the
 * ladder takes the same time for every exponent).  Returns 1 if a hardware
 * result differs from the software one.
 */
#include <stdint.h>
#include <stdio.h>

#include "gluon/copro.h"
#include "gluon/modmul.h"
#include "gluon/sdk.h"

static const uint32_t SECP256K1_P[8] = {
    0xFFFFFC2F, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
};
static const uint32_t BLS12_381_P[12] = {
    0xFFFFAAAB, 0xB9FEFFFF, 0xB153FFFF, 0x1EABFFFE, 0xF6B0F624, 0x6730D2A0,
    0xF38512BF, 0x64774B84, 0x434BACD7, 0x4B1BA7B6, 0x397FE69A, 0x1A0111EA,
};

#define CHAIN 200
static struct {
    uint32_t prog[CHAIN + 4];
    uint32_t val[8];
} __attribute__((aligned(16))) chain_area;

static gluon_mont_sw_ctx sw;
static void ratio(uint64_t sw_c, uint64_t hw_c);

/* A 768-bit odd modulus (top bit set) and operands below it, from a fixed LCG. */
static uint32_t N768[24];

static void lcg_fill(uint32_t *v, unsigned n, uint32_t seed)
{
    for (unsigned i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = seed;
    }
}

/* One width: the plain-form mulmod call (RAM to RAM) against the software's
 * TOMONT + Montgomery multiply, and one Montgomery multiply on values resident
 * in slots (EVM-MAX style: one MUL op queued, started and awaited) against the
 * software's gluon_mont_sw_mul.  Returns 1 on a mismatch. */
static int width_row(const uint32_t *n, unsigned l)
{
    uint32_t x[24], y[24], t[24], r_sw[24], r_hw[24], m_sw[24];
    int bad = 0;
    lcg_fill(x, l, 0x1234u + l);
    lcg_fill(y, l, 0x5678u + l);
    x[l - 1] &= n[l - 1] >> 1;          /* x, y < N */
    y[l - 1] &= n[l - 1] >> 1;
    gluon_mont_sw_init(&sw, n, l);
    bad |= gluon_modmul_setmod(n, l) != 0;

    /* The first call also queues the driver's program (START.AGAIN re-runs it after). */
    uint64_t c0 = gluon_rdcycle();
    int rc = gluon_modmul_mulmod(r_hw, y, x);
    uint64_t c1 = gluon_rdcycle();
    unsigned first = (unsigned)(c1 - c0);
    bad |= rc != 0;
    c0 = gluon_rdcycle();
    gluon_mont_sw_to(&sw, t, x);
    gluon_mont_sw_mul(&sw, r_sw, t, y);
    c1 = gluon_rdcycle();
    rc = gluon_modmul_mulmod(r_hw, x, y);
    uint64_t c2 = gluon_rdcycle();
    bad |= rc != 0;
    for (unsigned i = 0; i < l; i++)
        bad |= r_sw[i] != r_hw[i];
    printf("mulmod%u sw %u hw %u (engine %u; first call %u) speedup ", 32 * l,
           (unsigned)(c1 - c0), (unsigned)(c2 - c1), (unsigned)gluon_modmul_last_cycles(), first);
    ratio(c1 - c0, c2 - c1);
    printf("\n");

    /* Resident: x, y in slots 0, 1; one MUL into slot 2. */
    bad |= gluon_modmul_put(0, x) != 0;
    bad |= gluon_modmul_put(1, y) != 0;
    c0 = gluon_rdcycle();
    gluon_mont_sw_mul(&sw, m_sw, x, y);
    c1 = gluon_rdcycle();
    rc = gluon_modmul_exec1(GLUON_MM_MUL(2, 0, 1));
    c2 = gluon_rdcycle();
    bad |= rc != 0;
    uint32_t engine = GLUON_MODMUL_CYCLES;
    bad |= gluon_modmul_get(r_hw, 2) != 0;
    for (unsigned i = 0; i < l; i++)
        bad |= m_sw[i] != r_hw[i];
    printf("mul%u resident sw %u hw %u (engine %u) speedup ", 32 * l, (unsigned)(c1 - c0),
           (unsigned)(c2 - c1), (unsigned)engine);
    ratio(c1 - c0, c2 - c1);
    printf("\n");
    return bad;
}

static int widths(void)
{
    int bad = width_row(SECP256K1_P, 8);
    bad |= width_row(BLS12_381_P, 12);
    lcg_fill(N768, 24, 768);
    N768[0] |= 1;
    N768[23] |= 0x80000000u;
    bad |= width_row(N768, 24);
    /* Back to 256 bits for what follows. */
    bad |= gluon_modmul_setmod(SECP256K1_P, 8) != 0;
    return bad;
}

static void ratio(uint64_t sw_c, uint64_t hw_c)
{
    uint64_t x10 = hw_c ? sw_c * 10 / hw_c : 0;
    printf("%u.%u", (unsigned)(x10 / 10), (unsigned)(x10 % 10));
}

int main(void)
{
    int bad = 0, rc;
    if ((rc = gluon_modmul_init(0))) {
        printf("modmul_bench: coprocessor unavailable (%d)\n", rc);
        return 1;
    }
    uint32_t x[8] = {0x12345678, 0x9ABCDEF0, 0x0F1E2D3C, 0x4B5A6978, 7, 8, 9, 0x7FFFFFFF};
    uint32_t e[8], r_sw[8], r_hw[8];
    for (int i = 0; i < 8; i++)
        e[i] = 0xFFFFFFFFu;

    uint64_t c0 = gluon_rdcycle();
    gluon_mont_sw_init(&sw, SECP256K1_P, 8);
    uint64_t c1 = gluon_rdcycle();
    rc = gluon_modmul_setmod(SECP256K1_P, 8);
    uint64_t c2 = gluon_rdcycle();
    printf("setmod256 sw %u hw %u\n", (unsigned)(c1 - c0), (unsigned)(c2 - c1));
    bad |= rc != 0;

    c0 = gluon_rdcycle();
    gluon_mont_sw_modexp(&sw, r_sw, x, e, 8);
    c1 = gluon_rdcycle();
    rc = gluon_modmul_modexp(r_hw, x, e, 8);
    c2 = gluon_rdcycle();
    bad |= rc != 0;
    for (int i = 0; i < 8; i++)
        bad |= r_sw[i] != r_hw[i];
    /* The ladder is streamed as several programs; the engine figure is their sum. */
    printf("modexp256 sw %u hw %u (engine %u) speedup ",
           (unsigned)(c1 - c0), (unsigned)(c2 - c1), (unsigned)gluon_modmul_last_cycles());
    ratio(c1 - c0, c2 - c1);
    printf("\n");

    bad |= widths();

    /* A chain of Montgomery multiplies in one program: the coprocessor's own rate. */
    gluon_modmul_window(1, &chain_area, sizeof chain_area);
    for (int i = 0; i < 8; i++)
        chain_area.val[i] = x[i];
    unsigned k = 0;
    chain_area.prog[k++] = GLUON_MM_LOAD(0, 0);
    for (int i = 0; i < CHAIN; i++)
        chain_area.prog[k++] = GLUON_MM_MUL(0, 0, 0);
    rc = gluon_modmul_run(chain_area.prog, k, chain_area.val);
    bad |= rc != 0;
    uint32_t with_chain = gluon_modmul_last_cycles();
    rc = gluon_modmul_run(chain_area.prog, 1, chain_area.val);
    uint32_t per100 = (with_chain - gluon_modmul_last_cycles()) * 100 / CHAIN;
    printf("mul256 chain: %d MULs in %u engine cycles, %u.%02u per MUL (with its fetch)\n", CHAIN,
           (unsigned)(with_chain - gluon_modmul_last_cycles()), per100 / 100, per100 % 100);

    c0 = gluon_rdcycle();
    gluon_mont_sw_init(&sw, BLS12_381_P, 12);
    c1 = gluon_rdcycle();
    rc = gluon_modmul_setmod(BLS12_381_P, 12);
    c2 = gluon_rdcycle();
    bad |= rc != 0;
    printf("setmod384 sw %u hw %u\n", (unsigned)(c1 - c0), (unsigned)(c2 - c1));

    /* The wipe, and what it costs the driver's next call. */
    uint32_t w[12], v[12] = {0};
    for (int i = 0; i < 8; i++)
        v[i] = x[i];                    /* (below the 384-bit modulus set last) */
    c0 = gluon_rdcycle();
    rc = gluon_copro_wipe(GLUON_MODMUL_SLOT);
    c1 = gluon_rdcycle();
    rc |= gluon_modmul_mulmod(w, v, v);
    c2 = gluon_rdcycle();
    bad |= rc != 0;
    printf("wipe %u mulmod after it %u\n", (unsigned)(c1 - c0), (unsigned)(c2 - c1));

    printf("modmul_bench: %s\n", bad ? "MISMATCH" : "ok");
    return bad;
}
