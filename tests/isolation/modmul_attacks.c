/* Attacks on the MODMUL coprocessor by an untrusted U-mode task it is lent to (issue 17):
 *
 *   m2u     M's values, program memory (a ladder whose op words reveal the exponent bits),
 *           XIN and XOUT words, left behind, then the slot is lent: nothing of them reaches U.
 *   dma     U's descriptors at M's memory (LOAD from M's secret, STORE over it, a program
 *           fetched from M's op words): refused (cause DMA), the secret unchanged.
 *   u2m     U plants a program (START.AGAIN would re-run it), its own modulus of M's width
 *           (so that the driver's cached state looks valid) and words in XIN/XOUT; the slot is
 *           taken back: AGAIN is refused, XIN/XOUT are empty, M's driver notices the wipe
 *           (sets its modulus again, drops its queued program) and M's next operations are
 *           correct with nothing copied out.
 *   revoke  U starts a long DMA program into its own buffer and exits; M takes the slot back
 *           while it runs: no DMA write afterwards, the slot is clean, M continues.
 *
 * The slot is lent by writing its control registers directly (OWNER, windows), PMP gives U
 * the slot page and its own buffer. One line per case, then "done"; the test checks each. */
#include <stdio.h>
#include <stdint.h>

#include "gluon/copro.h"
#include "gluon/modmul.h"
#include "gluon/pmp.h"
#include "gluon/regs.h"
#include "gluon/sdk.h"

#define L 8
#define SLOT GLUON_MODMUL_SLOT
#define EXP_BITS 64

/* secp256k1's p, least significant word first. */
static const uint32_t P[L] = {0xFFFFFC2F, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF,
                              0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF};

/* M's secrets: one region U gets no access to (PMP entry 3). */
static struct {
    uint32_t key[L];                     /* a secret operand */
    uint32_t ops[2 * EXP_BITS + 3];      /* x^e by a ladder: slot numbers = exponent bits */
    uint32_t exp[2];                     /* the secret exponent */
    uint32_t out[L];
    uint32_t one[L];
} msec __attribute__((aligned(1024)));
#define MSEC_SIZE 1024u

/* U's memory (PMP entry 5, and the slot's DMA window while U owns it): what it saw, its own
 * operands and programs, its stack. */
#define SEEN 512
static struct {
    uint32_t seen[SEEN];
    uint32_t n;
    uint32_t causes[8];
    uint32_t mod[L];
    uint32_t val[L];
    uint32_t prog[64];
    uint32_t sink[8 * L];                /* the long program's STOREs go here */
    uint32_t stack[256];
} ubuf __attribute__((aligned(4096)));
#define UBUF_SIZE 4096u

/* ---- U-mode: registers only (no M data, no SDK function but gluon_user_exit) ---------------- */

static uint32_t u_wait(void)
{
    uint32_t st;
    while ((st = GLUON_MODMUL_STATUS) & GLUON_MODMUL_STATUS_BUSY_MASK)
        ;
    return st;
}

static uint32_t u_cause(uint32_t st)
{
    if (!(st & GLUON_MODMUL_STATUS_ERROR_MASK))
        return 0;
    return (st & GLUON_MODMUL_STATUS_CAUSE_MASK) >> GLUON_MODMUL_STATUS_CAUSE_SHIFT;
}

static uint32_t u_queue(const uint32_t *ops, unsigned n)
{
    GLUON_MODMUL_STATUS = GLUON_MODMUL_STATUS_DONE_MASK | GLUON_MODMUL_STATUS_ERROR_MASK;
    for (unsigned i = 0; i < n; i++)
        GLUON_MODMUL_CMD = ops[i];
    GLUON_MODMUL_START = GLUON_MODMUL_START_OP_QUEUE;
    return u_cause(u_wait());
}

static void u_see(uint32_t w)
{
    if (ubuf.n < SEEN)
        ubuf.seen[ubuf.n++] = w;
}

static void u_setmod(void)
{
    for (int i = 0; i < L; i++)
        ubuf.mod[i] = P[i];
    GLUON_MODMUL_LIMBS = L;
    GLUON_MODMUL_DATA_BASE = (uint32_t)(uintptr_t)ubuf.mod;
    uint32_t op = GLUON_MM_SETMOD(0);
    ubuf.causes[7] = u_queue(&op, 1);
}

/* m2u: read everything the slot page offers. */
static void task_read(void)
{
    ubuf.n = 0;
    u_see(GLUON_MODMUL_STATUS);
    u_see(GLUON_MODMUL_STATE);
    u_see(GLUON_MODMUL_QUEUE);
    u_see(GLUON_MODMUL_CYCLES);
    u_see(GLUON_MODMUL_XFIFO & ~GLUON_MODMUL_XFIFO_DEPTH_MASK);     /* levels */
    for (int i = 0; i < 64; i++)
        u_see(GLUON_MODMUL_XOUT);                   /* M left its key here */
    /* Re-run what the program memory holds. */
    GLUON_MODMUL_START = GLUON_MODMUL_START_OP_AGAIN;
    ubuf.causes[0] = u_cause(u_wait());
    /* M's slots, directly: no modulus now. */
    uint32_t op = GLUON_MM_STOREX(0);
    ubuf.causes[1] = u_queue(&op, 1);
    /* With a modulus of its own (SETMOD zeroes the slots, by design): every slot. */
    u_setmod();
    /* M left its key in XIN: a LOADX would take it (it waits for words that never come). */
    op = GLUON_MM_LOADX(5);
    ubuf.causes[2] = u_queue(&op, 1);
    for (int s = 0; s < GLUON_MODMUL_SLOTS; s += 8) {
        uint32_t ops[8];
        for (int k = 0; k < 8; k++)
            ops[k] = GLUON_MM_STOREX(s + k);
        ubuf.causes[3] |= u_queue(ops, 8);
        for (int i = 0; i < 8 * L; i++)
            u_see(GLUON_MODMUL_XOUT);
    }
    gluon_user_exit(0);
}

/* dma: descriptors at M's memory. */
static void task_dma(void)
{
    uint32_t op;
    u_setmod();
    GLUON_MODMUL_DATA_BASE = (uint32_t)(uintptr_t)msec.key;
    op = GLUON_MM_LOAD(0, 0);
    ubuf.causes[0] = u_queue(&op, 1);               /* read M's secret */
    GLUON_MODMUL_DATA_BASE = (uint32_t)(uintptr_t)msec.key;
    op = GLUON_MM_STORE(1, 0);
    ubuf.causes[1] = u_queue(&op, 1);               /* write over it */
    GLUON_MODMUL_STATUS = GLUON_MODMUL_STATUS_DONE_MASK | GLUON_MODMUL_STATUS_ERROR_MASK;
    GLUON_MODMUL_PROG_ADDR = (uint32_t)(uintptr_t)msec.ops;
    GLUON_MODMUL_PROG_LEN = 16;
    GLUON_MODMUL_DATA_BASE = (uint32_t)(uintptr_t)ubuf.prog;
    GLUON_MODMUL_START = GLUON_MODMUL_START_OP_PROG;   /* fetch M's op words */
    ubuf.causes[2] = u_cause(u_wait());
    gluon_user_exit(0);
}

/* u2m: plant state for M's next operations. */
static void task_plant(void)
{
    u_setmod();                                     /* M's width: MODSET, ACTIVE_LIMBS = 8 */
    /* The attack: the driver's mulmod program re-run by START.AGAIN, but storing its
     * first operand (M's secret) into U's buffer. */
    GLUON_MODMUL_DATA_BASE = (uint32_t)(uintptr_t)ubuf.prog;
    for (int i = 0; i < L; i++)
        GLUON_MODMUL_XIN = 0x55550000u + i;
    uint32_t ops[3] = {GLUON_MM_LOADX(24), GLUON_MM_STORE(24, 0), GLUON_MM_STOREX(24)};
    ubuf.causes[0] = u_queue(ops, 3);               /* QUEUE: now AGAIN re-runs it */
    for (int i = 0; i < L; i++)
        ubuf.prog[i] = 0;
    for (int i = 0; i < L; i++)                     /* words waiting for M's LOADX */
        GLUON_MODMUL_XIN = 0x66660000u + i;
    gluon_user_exit(0);                             /* (8 words of its own left in XOUT) */
}

/* revoke: a long DMA program, and leave. */
static void task_long(void)
{
    u_setmod();
    for (int i = 0; i < L; i++)
        GLUON_MODMUL_XIN = 0x77770000u + i;
    uint32_t op = GLUON_MM_LOADX(0);
    ubuf.causes[0] = u_queue(&op, 1);
    for (int i = 0; i < 64; i++)
        ubuf.prog[i] = GLUON_MM_STORE(0, (i % 8) * L);
    GLUON_MODMUL_PROG_ADDR = (uint32_t)(uintptr_t)ubuf.prog;
    GLUON_MODMUL_PROG_LEN = 64;
    GLUON_MODMUL_DATA_BASE = (uint32_t)(uintptr_t)ubuf.sink;
    GLUON_MODMUL_START = GLUON_MODMUL_START_OP_PROG;
    gluon_user_exit(0);
}

/* ---- M-mode ------------------------------------------------------------------------------- */

static int contains_secret(const uint32_t *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (w[i] == 0)
            continue;
        for (int k = 0; k < L; k++)
            if (w[i] == msec.key[k] || w[i] == msec.out[k])
                return 1;
        for (unsigned k = 0; k < sizeof msec.ops / 4; k++)
            if (w[i] == msec.ops[k])
                return 1;
    }
    return 0;
}

static void lend(void)
{
    GLUON_COPROCTL_OWNER(SLOT) = GLUON_COPROCTL_OWNER_U_MASK;    /* aborts, closes, wipes */
    while (GLUON_COPROCTL_STATUS(SLOT) & GLUON_COPROCTL_STATUS_WIPING_MASK)
        ;
    gluon_copro_window(SLOT, 0, &ubuf, sizeof ubuf, GLUON_COPRO_R | GLUON_COPRO_W);
    for (int i = 0; i < 8; i++)
        ubuf.causes[i] = 0;
}

static void take_back(void)
{
    GLUON_COPROCTL_OWNER(SLOT) = 0;
    while (GLUON_COPROCTL_STATUS(SLOT) & GLUON_COPROCTL_STATUS_WIPING_MASK)
        ;
    gluon_modmul_init(0);                    /* the owner change closed the driver's window */
}

static uint32_t key_sum(void)
{
    uint32_t h = 0;
    for (int i = 0; i < L; i++)
        h = h * 31 + msec.key[i];
    return h;
}

static const char *ok(int c)
{
    return c ? "ok" : "BAD";
}

int main(void)
{
    uint32_t ram_base = GLUON_SYSINFO_RAM_BASE, ram_size = GLUON_SYSINFO_RAM_SIZE;
    /* 3: M's secrets, no access; 4: the slot page; 5: U's memory; 6: RAM, read/execute. */
    _Static_assert(sizeof msec <= MSEC_SIZE && sizeof ubuf <= UBUF_SIZE, "PMP regions");
    int pmp = gluon_pmp_napot(3, (uintptr_t)&msec, MSEC_SIZE, 0) |
              gluon_pmp_napot(4, GLUON_MODMUL_BASE, GLUON_MODMUL_SIZE, GLUON_PMP_R | GLUON_PMP_W) << 1 |
              gluon_pmp_napot(5, (uintptr_t)&ubuf, UBUF_SIZE, GLUON_PMP_R | GLUON_PMP_W) << 2 |
              gluon_pmp_napot(6, ram_base, ram_size, GLUON_PMP_R | GLUON_PMP_X) << 3;
    if (pmp) {
        printf("PMP set-up failed (%x; ram %08lx %lx, msec %p %u, ubuf %p %u)\n", pmp,
               (unsigned long)ram_base, (unsigned long)ram_size, (void *)&msec,
               (unsigned)sizeof msec, (void *)&ubuf, (unsigned)sizeof ubuf);
        return 1;
    }
    void *ustack = ubuf.stack + 256;
    int rc;

    /* M's own work, leaving everything behind. */
    for (int i = 0; i < L; i++) {
        msec.key[i] = 0x5EC0000u + 0x01010101u * (i + 1);
        msec.one[i] = i == 0;
    }
    msec.exp[0] = 0x9E3779B9u;
    msec.exp[1] = 0xC2B2AE35u;
    rc = gluon_modmul_init(0) | gluon_modmul_setmod(P, L) | gluon_modmul_put(0, msec.key) |
         gluon_modmul_put(1, msec.one);
    unsigned n = 0;
    msec.ops[n++] = GLUON_MM_TOMONT(2, 1);                   /* R0 = 1 */
    msec.ops[n++] = GLUON_MM_TOMONT(3, 0);                   /* R1 = key */
    for (int bit = EXP_BITS - 1; bit >= 0; bit--) {
        uint32_t b = (msec.exp[bit >> 5] >> (bit & 31)) & 1;
        msec.ops[n++] = GLUON_MM_MUL(2 + (b ^ 1), 2, 3);
        msec.ops[n++] = GLUON_MM_MUL(2 + b, 2 + b, 2 + b);
    }
    msec.ops[n++] = GLUON_MM_FROMMONT(4, 2);
    rc |= gluon_modmul_exec(msec.ops, n) | gluon_modmul_get(msec.out, 4);
    printf("modexp %08lx%08lx", (unsigned long)msec.exp[1], (unsigned long)msec.exp[0]);
    for (int i = L - 1; i >= 0; i--)
        printf("%s%08lx", i == L - 1 ? " " : "", (unsigned long)msec.key[i]);
    for (int i = L - 1; i >= 0; i--)
        printf("%s%08lx", i == L - 1 ? " " : "", (unsigned long)msec.out[i]);
    printf(" rc=%d\n", rc);
    uint32_t r1[L];
    rc = gluon_modmul_mulmod(r1, msec.key, msec.out);        /* leaves the mulmod program */
    uint32_t op = GLUON_MM_STOREX(0);
    rc |= gluon_modmul_exec(&op, 1);                         /* the key left in XOUT */
    for (int i = 0; i < L; i++)
        GLUON_MODMUL_XIN = msec.key[i];                      /* and in XIN */
    uint32_t xf = GLUON_MODMUL_XFIFO;
    printf("left: rc=%d xin=%lu xout=%lu modset=%lu\n", rc,
           (unsigned long)(xf & GLUON_MODMUL_XFIFO_IN_LEVEL_MASK),
           (unsigned long)((xf & GLUON_MODMUL_XFIFO_OUT_LEVEL_MASK) >> GLUON_MODMUL_XFIFO_OUT_LEVEL_SHIFT),
           (unsigned long)(GLUON_MODMUL_STATE & GLUON_MODMUL_STATE_MODSET_MASK));
    uint32_t key_h = key_sum();

    /* m2u */
    lend();
    int code = gluon_run_user(task_read, ustack);
    int zero = 1;
    for (unsigned i = 0; i < ubuf.n; i++)
        zero &= ubuf.seen[i] == 0;
    printf("m2u: code=%d seen=%lu zero=%s secret=%s again=%lu storex=%lu loadx=%lu setmod=%lu "
           "slots=%lu\n", code, (unsigned long)ubuf.n, ok(zero),
           contains_secret(ubuf.seen, ubuf.n) ? "LEAKED" : "none",
           (unsigned long)ubuf.causes[0], (unsigned long)ubuf.causes[1],
           (unsigned long)ubuf.causes[2], (unsigned long)ubuf.causes[7],
           (unsigned long)ubuf.causes[3]);

    /* dma (the slot is still U's) */
    code = gluon_run_user(task_dma, ustack);
    printf("dma: code=%d load=%lu store=%lu prog=%lu key=%s\n", code,
           (unsigned long)ubuf.causes[0], (unsigned long)ubuf.causes[1],
           (unsigned long)ubuf.causes[2], ok(key_sum() == key_h));

    /* u2m */
    code = gluon_run_user(task_plant, ustack);
    uint32_t planted = GLUON_MODMUL_STATE;
    take_back();
    GLUON_MODMUL_START = GLUON_MODMUL_START_OP_AGAIN;         /* U's program, re-run? */
    while (GLUON_MODMUL_STATUS & GLUON_MODMUL_STATUS_BUSY_MASK)
        ;
    uint32_t again = (GLUON_MODMUL_STATUS & GLUON_MODMUL_STATUS_CAUSE_MASK) >>
                     GLUON_MODMUL_STATUS_CAUSE_SHIFT;
    GLUON_MODMUL_STATUS = GLUON_MODMUL_STATUS_DONE_MASK | GLUON_MODMUL_STATUS_ERROR_MASK;
    xf = GLUON_MODMUL_XFIFO;
    /* The driver's cached state (modulus set, mulmod program queued, START.AGAIN next): it
     * notices the wipe, sets its modulus again and queues its program again. */
    uint32_t r2[L];
    int first = gluon_modmul_mulmod(r2, msec.key, msec.out);
    int same = 1, clean = 1;
    for (int i = 0; i < L; i++)
        same &= r2[i] == r1[i];
    rc = gluon_modmul_mulmod(r2, msec.key, msec.out);
    for (int i = 0; i < L; i++)
        same &= r2[i] == r1[i];
    for (int i = 0; i < (int)(sizeof ubuf.prog / 4); i++)
        clean &= ubuf.prog[i] == 0;
    printf("u2m: code=%d planted_modset=%lu first=%d again=%lu xfifo=%lu rc=%d result=%s "
           "copied=%s\n", code, (unsigned long)(planted & GLUON_MODMUL_STATE_MODSET_MASK),
           first, (unsigned long)again, (unsigned long)(xf & 0xFFFF), rc, ok(same),
           clean && !contains_secret((uint32_t *)&ubuf, sizeof ubuf / 4) ? "none" : "LEAKED");

    /* revoke */
    lend();
    code = gluon_run_user(task_long, ustack);
    uint32_t busy = GLUON_MODMUL_STATUS & GLUON_MODMUL_STATUS_BUSY_MASK;
    GLUON_COPROCTL_OWNER(SLOT) = 0;                          /* mid-program */
    for (int i = 0; i < 8 * L; i++)
        ubuf.sink[i] = 0;
    while (GLUON_COPROCTL_STATUS(SLOT) & GLUON_COPROCTL_STATUS_WIPING_MASK)
        ;
    for (volatile int d = 0; d < 500; d++)
        ;
    int quiet = 1;
    for (int i = 0; i < 8 * L; i++)
        quiet &= ubuf.sink[i] == 0;
    uint32_t st = GLUON_MODMUL_STATUS, state = GLUON_MODMUL_STATE;
    gluon_modmul_init(0);
    rc = gluon_modmul_setmod(P, L) | gluon_modmul_mulmod(r2, msec.key, msec.out);
    same = 1;
    for (int i = 0; i < L; i++)
        same &= r2[i] == r1[i];
    printf("revoke: code=%d busy=%lu quiet=%s status=%lu state=%lu rc=%d result=%s\n", code,
           (unsigned long)busy, ok(quiet), (unsigned long)st, (unsigned long)state, rc, ok(same));
    printf("done key=%s\n", ok(key_sum() == key_h));
    return 0;
}
