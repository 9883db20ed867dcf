/* Driver for the Gluon modular-arithmetic coprocessor (slot 1, register map
 * MODMUL).  See gluon/modmul.h for the API and docs/modmul.md for the
 * hardware.
 *
 * Every high-level call builds a short program in the driver's own buffer
 * (`area`, inside the DMA window gluon_modmul_init() opens), copies the
 * operands next to it, runs it and copies the result out.  They use value
 * slots 24..31 and leave slots 0..23 alone.
 */
#include <stddef.h>
#include <stdint.h>

#include "gluon/regs.h"
#include "gluon/sdk.h"
#include "gluon/modmul.h"

#define MM_KIND (('M' << 8) | 'M')
#define MAXL GLUON_MODMUL_MAX_LIMBS
#define LADDER_CHUNK 128                /* exponent bits per program: 256 MULs */

/* Value buffers in `area.val`, as word offsets from its start (the programs' data base). */
enum { V_N, V_A, V_B, V_OUT, V_ONE, V_COUNT };
#define IMM(v) ((v) * MAXL)

/* Slots the driver uses. */
enum { S_A = 24, S_B, S_T, S_OUT, S_ONE, S_X, S_R0, S_R1 };

static struct {
    uint32_t prog[2 * LADDER_CHUNK + 8];
    uint32_t val[V_COUNT][MAXL];
} __attribute__((aligned(16))) area;

static unsigned active_limbs;
static uint32_t last_cycles;
static unsigned last_pc;


static inline void barrier(void)
{
    /* The DMA engine reads and writes RAM behind the compiler's back. */
    __asm__ volatile("fence" ::: "memory");
}

static void copy_words(uint32_t *dst, const uint32_t *src, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        dst[i] = src[i];
}

int gluon_modmul_present(void)
{
    if (!(GLUON_SYSINFO_COPROCS & GLUON_SYSINFO_COPROCS_MODMUL_MASK))
        return 0;           /* reading the slot would be an access fault */
    return (GLUON_MODMUL_ID & GLUON_MODMUL_ID_KIND_MASK) >> GLUON_MODMUL_ID_KIND_SHIFT == MM_KIND;
}

int gluon_modmul_window(unsigned win, const void *base, size_t size)
{
    return gluon_dma_window(win, base, size) ? GLUON_MODMUL_E_ARG : GLUON_MODMUL_OK;
}

int gluon_modmul_init(unsigned win)
{
    if (!gluon_modmul_present())
        return GLUON_MODMUL_E_ABSENT;
    return gluon_modmul_window(win, &area, sizeof area);
}

int gluon_modmul_run(const uint32_t *ops, unsigned n, const void *data)
{
    if (!gluon_modmul_present())
        return GLUON_MODMUL_E_ABSENT;
    if (ops == NULL || n == 0)
        return GLUON_MODMUL_E_ARG;
    barrier();
    GLUON_MODMUL_PROG_ADDR = (uint32_t)(uintptr_t)ops;
    GLUON_MODMUL_PROG_LEN = n;
    GLUON_MODMUL_DATA_BASE = (uint32_t)(uintptr_t)data;
    GLUON_MODMUL_START = 0;
    uint32_t status;
    while ((status = GLUON_MODMUL_STATUS) & GLUON_MODMUL_STATUS_BUSY_MASK)
        ;
    barrier();
    last_cycles = GLUON_MODMUL_CYCLES;
    last_pc = (status & GLUON_MODMUL_STATUS_PC_MASK) >> GLUON_MODMUL_STATUS_PC_SHIFT;
    active_limbs = (status & GLUON_MODMUL_STATUS_ACTIVE_LIMBS_MASK) >>
                   GLUON_MODMUL_STATUS_ACTIVE_LIMBS_SHIFT;
    if (status & GLUON_MODMUL_STATUS_ERROR_MASK)
        return (int)((status & GLUON_MODMUL_STATUS_CAUSE_MASK) >> GLUON_MODMUL_STATUS_CAUSE_SHIFT);
    return GLUON_MODMUL_OK;
}

uint32_t gluon_modmul_last_cycles(void)
{
    return last_cycles;
}

unsigned gluon_modmul_last_pc(void)
{
    return last_pc;
}

unsigned gluon_modmul_limbs(void)
{
    return active_limbs;
}

static int run_area(unsigned n)
{
    return gluon_modmul_run(area.prog, n, area.val);
}

int gluon_modmul_setmod(const uint32_t *n, unsigned limbs)
{
    if (n == NULL || limbs == 0 || limbs > MAXL)
        return GLUON_MODMUL_E_ARG;
    copy_words(area.val[V_N], n, limbs);
    GLUON_MODMUL_LIMBS = limbs;
    area.prog[0] = GLUON_MM_SETMOD(IMM(V_N));
    int rc = run_area(1);
    if (rc)
        active_limbs = 0;
    return rc;
}

/* Load a and b, run `op` (one of GLUON_MM_MUL/ADD/SUB on S_A, S_B), store. */
static int binary(uint32_t *r, const uint32_t *a, const uint32_t *b, int mul)
{
    unsigned l = active_limbs, k = 0;
    if (l == 0)
        return GLUON_MODMUL_E_NOMOD;
    if (r == NULL || a == NULL || b == NULL)
        return GLUON_MODMUL_E_ARG;
    copy_words(area.val[V_A], a, l);
    copy_words(area.val[V_B], b, l);
    area.prog[k++] = GLUON_MM_LOAD(S_A, IMM(V_A));
    area.prog[k++] = GLUON_MM_LOAD(S_B, IMM(V_B));
    if (mul > 0) {
        /* (a R) b R^-1 = a b */
        area.prog[k++] = GLUON_MM_TOMONT(S_T, S_A);
        area.prog[k++] = GLUON_MM_MUL(S_OUT, S_T, S_B);
    } else if (mul == 0) {
        area.prog[k++] = GLUON_MM_ADD(S_OUT, S_A, S_B);
    } else {
        area.prog[k++] = GLUON_MM_SUB(S_OUT, S_A, S_B);
    }
    area.prog[k++] = GLUON_MM_STORE(S_OUT, IMM(V_OUT));
    int rc = run_area(k);
    if (rc == GLUON_MODMUL_OK)
        copy_words(r, area.val[V_OUT], l);
    return rc;
}

int gluon_modmul_mulmod(uint32_t *r, const uint32_t *a, const uint32_t *b)
{
    return binary(r, a, b, 1);
}

int gluon_modmul_addmod(uint32_t *r, const uint32_t *a, const uint32_t *b)
{
    return binary(r, a, b, 0);
}

int gluon_modmul_submod(uint32_t *r, const uint32_t *a, const uint32_t *b)
{
    return binary(r, a, b, -1);
}

int gluon_modmul_modexp(uint32_t *r, const uint32_t *base, const uint32_t *exp,
                        unsigned exp_limbs)
{
    unsigned l = active_limbs;
    if (l == 0)
        return GLUON_MODMUL_E_NOMOD;
    if (r == NULL || base == NULL || exp == NULL || exp_limbs == 0)
        return GLUON_MODMUL_E_ARG;
    copy_words(area.val[V_A], base, l);
    for (unsigned i = 0; i < MAXL; i++)
        area.val[V_ONE][i] = i == 0;
    int bit = 32 * (int)exp_limbs - 1;
    int first = 1;
    while (bit >= 0) {
        unsigned k = 0;
        if (first) {
            area.prog[k++] = GLUON_MM_LOAD(S_X, IMM(V_A));
            area.prog[k++] = GLUON_MM_LOAD(S_ONE, IMM(V_ONE));
            area.prog[k++] = GLUON_MM_TOMONT(S_R0, S_ONE);     /* R0 = 1 */
            area.prog[k++] = GLUON_MM_TOMONT(S_R1, S_X);       /* R1 = x */
            first = 0;
        }
        for (int n = 0; n < LADDER_CHUNK && bit >= 0; n++, bit--) {
            /* b = 0: R1 = R0 R1, R0 = R0^2;  b = 1: R0 = R0 R1, R1 = R1^2.
             * Only slot numbers depend on b, computed without branches. */
            uint32_t b = (exp[bit >> 5] >> (bit & 31)) & 1;
            area.prog[k++] = GLUON_MM_MUL(S_R0 + (b ^ 1), S_R0, S_R1);
            area.prog[k++] = GLUON_MM_MUL(S_R0 + b, S_R0 + b, S_R0 + b);
        }
        if (bit < 0) {
            area.prog[k++] = GLUON_MM_FROMMONT(S_OUT, S_R0);
            area.prog[k++] = GLUON_MM_STORE(S_OUT, IMM(V_OUT));
        }
        int rc = run_area(k);
        if (rc)
            return rc;
    }
    copy_words(r, area.val[V_OUT], l);
    return GLUON_MODMUL_OK;
}

int gluon_modmul_inverse(uint32_t *r, const uint32_t *a)
{
    unsigned l = active_limbs;
    if (l == 0)
        return GLUON_MODMUL_E_NOMOD;
    /* e = N - 2 (N is in area.val[V_N] since SETMOD; N >= 3). */
    uint32_t e[MAXL];
    uint32_t borrow = 2;
    for (unsigned i = 0; i < l; i++) {
        uint64_t d = (uint64_t)area.val[V_N][i] - borrow;
        e[i] = (uint32_t)d;
        borrow = (uint32_t)(d >> 63);
    }
    return gluon_modmul_modexp(r, a, e, l);
}
