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

/* Value buffers in `area.val`, as word offsets from its start (the programs' data base). */
enum { V_N, V_A, V_B, V_OUT, V_ONE, V_COUNT };
#define IMM(v) ((v) * MAXL)

/* Slots the driver uses. */
enum { S_A = 24, S_B, S_T, S_OUT, S_ONE, S_X, S_R0, S_R1 };

static struct {
    uint32_t prog[2][GLUON_MODMUL_STREAM_MAX];   /* [0]: one-shot programs; both: streams */
    uint32_t val[V_COUNT][MAXL];
} __attribute__((aligned(16))) area;

struct gluon_modmul_stream gluon_modmul_stream_state;

/* Cached state of the coprocessor.  A wipe (an owner change, M-mode's gluon_copro_wipe, a
 * reset) zeroes the modulus, the slots and the program memory behind the driver's back, so
 * none of it is trusted blindly: validate() checks STATE.MODSET and STATE.ACTIVE_LIMBS
 * (cleared by every wipe) before a call relies on them; on a mismatch it drops the cached
 * program and sets the modulus again from the driver's own copy (area.val[V_N]). */
static unsigned active_limbs;       /* L of the modulus the hardware holds (0: none) */
static unsigned mod_limbs;          /* L of the modulus last set through the driver (0: none) */
/* Which binary() program the program memory holds (START.AGAIN re-runs it): 0 none, else
 * mul + 2 (1: SUB, 2: ADD, 3: MUL).  Anything else that writes CMD or starts a DMA program
 * sets it to 0, and so does a wipe (validate()); the hardware refuses START.AGAIN after a
 * wipe anyway (cause LENGTH), so a stale value cannot run anything. */
static int queued;
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

static unsigned status_field(uint32_t v, uint32_t mask, unsigned shift)
{
    return (v & mask) >> shift;
}

#define STATE_PC(v) status_field((v), GLUON_MODMUL_STATE_PC_MASK, GLUON_MODMUL_STATE_PC_SHIFT)
#define STATE_LIMBS(v) \
    status_field((v), GLUON_MODMUL_STATE_ACTIVE_LIMBS_MASK, GLUON_MODMUL_STATE_ACTIVE_LIMBS_SHIFT)
#define STATUS_CAUSE(v) \
    (int)status_field((v), GLUON_MODMUL_STATUS_CAUSE_MASK, GLUON_MODMUL_STATUS_CAUSE_SHIFT)

static int set_modulus(unsigned limbs);

/* The width of the modulus the hardware holds, after checking it still holds the one the
 * driver set (one register read); after a wipe the modulus is set again (0 if that fails,
 * or if none was set). */
static unsigned validate(void)
{
    uint32_t st = GLUON_MODMUL_STATE;
    if (active_limbs != 0 && (st & GLUON_MODMUL_STATE_MODSET_MASK) &&
        STATE_LIMBS(st) == active_limbs)
        return active_limbs;
    active_limbs = 0;
    queued = 0;
    if (mod_limbs != 0 && set_modulus(mod_limbs) == GLUON_MODMUL_OK)
        return active_limbs;
    return 0;
}

/* Wait while the slot is busy (an operation, or the wipe after a reset or an owner change). */
static uint32_t wait_idle(void)
{
    uint32_t status;
    while ((status = GLUON_MODMUL_STATUS) & GLUON_MODMUL_STATUS_BUSY_MASK)
        ;
    return status;
}

int gluon_modmul_window(unsigned win, const void *base, size_t size)
{
    /* no coprocessor (SYSINFO): no DMA window registers either (the 'small' SoC) */
    if (!gluon_modmul_present())
        return GLUON_MODMUL_E_ABSENT;
    return gluon_copro_window(GLUON_MODMUL_SLOT, win, base, size,
                              GLUON_COPRO_R | GLUON_COPRO_W) ? GLUON_MODMUL_E_ARG : GLUON_MODMUL_OK;
}

int gluon_modmul_init(unsigned win)
{
    if (!gluon_modmul_present())
        return GLUON_MODMUL_E_ABSENT;
    wait_idle();                    /* the wipe that follows a reset */
    return gluon_modmul_window(win, &area, sizeof area);
}

static int run_prog(const uint32_t *ops, unsigned n, const void *data)
{
    if (!gluon_modmul_present())
        return GLUON_MODMUL_E_ABSENT;
    if (ops == NULL || n == 0)
        return GLUON_MODMUL_E_ARG;
    barrier();
    queued = 0;
    GLUON_MODMUL_PROG_ADDR = (uint32_t)(uintptr_t)ops;
    GLUON_MODMUL_PROG_LEN = n;
    GLUON_MODMUL_DATA_BASE = (uint32_t)(uintptr_t)data;
    GLUON_MODMUL_START = GLUON_MODMUL_START_OP_PROG;
    uint32_t status = wait_idle();
    barrier();
    last_cycles = GLUON_MODMUL_CYCLES;
    uint32_t st = GLUON_MODMUL_STATE;
    last_pc = STATE_PC(st);
    active_limbs = STATE_LIMBS(st);
    if (status & GLUON_MODMUL_STATUS_ERROR_MASK)
        return STATUS_CAUSE(status);
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

/* A program of the application's may set a modulus of its own: the driver's copy is then
 * no longer the one to restore after a wipe. */
int gluon_modmul_run(const uint32_t *ops, unsigned n, const void *data)
{
    mod_limbs = 0;
    return run_prog(ops, n, data);
}

static int run_area(unsigned n)
{
    return run_prog(area.prog[0], n, area.val);
}

/* ---- streams ---------------------------------------------------------------------------- */

static int stream_start(const void *data)
{
    struct gluon_modmul_stream *s = &gluon_modmul_stream_state;
    s->data = data ? data : (const void *)area.val;
    s->cur = area.prog[0];
    s->which = 0;
    s->n = 0;
    s->running = 0;
    s->error = gluon_modmul_present() ? 0 : GLUON_MODMUL_E_ABSENT;
    s->programs = 0;
    s->cycles = 0;
    s->limit = GLUON_MODMUL_STREAM_FIRST;
    return s->error;
}

int gluon_modmul_stream_begin(const void *data)
{
    mod_limbs = 0;                  /* (as gluon_modmul_run) */
    return stream_start(data);
}

/* Wait for the running program (if any). */
static void stream_wait(struct gluon_modmul_stream *s)
{
    if (!s->running)
        return;
    uint32_t status = wait_idle();
    s->running = 0;
    s->cycles += GLUON_MODMUL_CYCLES;
    last_pc = STATE_PC(GLUON_MODMUL_STATE);
    if ((status & GLUON_MODMUL_STATUS_ERROR_MASK) && !s->error)
        s->error = STATUS_CAUSE(status);
}

void gluon_modmul_stream_flush(void)
{
    struct gluon_modmul_stream *s = &gluon_modmul_stream_state;
    unsigned n = s->n;
    s->n = 0;
    if (n == 0)
        return;
    stream_wait(s);
    if (s->error)
        return;                     /* drop the ops after a failure */
    barrier();                      /* the op words are in RAM before START */
    queued = 0;
    GLUON_MODMUL_PROG_ADDR = (uint32_t)(uintptr_t)s->cur;
    GLUON_MODMUL_PROG_LEN = n;
    GLUON_MODMUL_DATA_BASE = (uint32_t)(uintptr_t)s->data;
    GLUON_MODMUL_START = GLUON_MODMUL_START_OP_PROG;
    s->running = 1;
    s->programs++;
    s->which ^= 1;
    s->cur = area.prog[s->which];
    s->limit = s->limit >= GLUON_MODMUL_STREAM_MAX / 2 ? GLUON_MODMUL_STREAM_MAX : 2 * s->limit;
}

int gluon_modmul_stream_end(void)
{
    struct gluon_modmul_stream *s = &gluon_modmul_stream_state;
    gluon_modmul_stream_flush();
    stream_wait(s);
    barrier();                      /* STOREd values are read after the program ended */
    active_limbs = STATE_LIMBS(GLUON_MODMUL_STATE);
    last_cycles = s->cycles;
    return s->error;
}

/* SETMOD of the N in area.val[V_N]. */
static int set_modulus(unsigned limbs)
{
    GLUON_MODMUL_LIMBS = limbs;
    area.prog[0][0] = GLUON_MM_SETMOD(IMM(V_N));
    int rc = run_area(1);
    if (rc)
        active_limbs = 0;
    return rc;
}

int gluon_modmul_setmod(const uint32_t *n, unsigned limbs)
{
    if (n == NULL || limbs == 0 || limbs > MAXL)
        return GLUON_MODMUL_E_ARG;
    copy_words(area.val[V_N], n, limbs);
    int rc = set_modulus(limbs);
    mod_limbs = rc ? 0 : limbs;
    return rc;
}

/* The register path: n words into XIN / out of XOUT (four per loop turn: no registers to
 * save). */
static void xin_words(const uint32_t *src, unsigned n)
{
    volatile uint32_t *xin = &GLUON_MODMUL_XIN;
    const uint32_t *end4 = src + (n & ~3u), *end = src + n;
    for (; src != end4; src += 4) {
        uint32_t w0 = src[0], w1 = src[1], w2 = src[2], w3 = src[3];
        *xin = w0;
        *xin = w1;
        *xin = w2;
        *xin = w3;
    }
    for (; src != end; src++)
        *xin = *src;
}

static void xout_words(uint32_t *dst, unsigned n)
{
    volatile uint32_t *xout = &GLUON_MODMUL_XOUT;
    uint32_t *end4 = dst + (n & ~3u), *end = dst + n;
    for (; dst != end4; dst += 4) {
        uint32_t w0 = *xout, w1 = *xout, w2 = *xout, w3 = *xout;
        dst[0] = w0;
        dst[1] = w1;
        dst[2] = w2;
        dst[3] = w3;
    }
    for (; dst != end; dst++)
        *dst = *xout;
}

/* Wait for the queued program; its error cause (XIN/XOUT emptied then) or 0. */
static int queue_wait(void)
{
    uint32_t status = wait_idle();
    last_cycles = GLUON_MODMUL_CYCLES;
    if (status & GLUON_MODMUL_STATUS_ERROR_MASK) {
        /* Leave no stray words for the next call (the hardware emptied XIN already). */
        GLUON_MODMUL_XFIFO = GLUON_MODMUL_XFIFO_CLEAR_IN_MASK | GLUON_MODMUL_XFIFO_CLEAR_OUT_MASK;
        last_pc = STATE_PC(GLUON_MODMUL_STATE);
        return STATUS_CAUSE(status);
    }
    return GLUON_MODMUL_OK;
}

int gluon_modmul_exec(const uint32_t *ops, unsigned n)
{
    if (ops == NULL || n == 0 || n > GLUON_MODMUL_STREAM_MAX)
        return GLUON_MODMUL_E_ARG;
    queued = 0;
    for (unsigned i = 0; i < n; i++)
        GLUON_MODMUL_CMD = ops[i];
    GLUON_MODMUL_START = GLUON_MODMUL_START_OP_QUEUE;
    return queue_wait();
}

/* Queue and start the one-op program `op` on `slot` for gluon_modmul_put/get. */
static int slot_transfer_start(uint32_t op, unsigned slot, const uint32_t *x)
{
    if (validate() == 0)
        return GLUON_MODMUL_E_NOMOD;
    if (x == NULL || slot >= GLUON_MODMUL_SLOTS)
        return GLUON_MODMUL_E_ARG;
    queued = 0;
    GLUON_MODMUL_CMD = op;
    GLUON_MODMUL_START = GLUON_MODMUL_START_OP_QUEUE;
    return GLUON_MODMUL_OK;
}

int gluon_modmul_put(unsigned slot, const uint32_t *x)
{
    int rc = slot_transfer_start(GLUON_MM_LOADX(slot), slot, x);
    if (rc != GLUON_MODMUL_OK)
        return rc;
    xin_words(x, active_limbs);
    return queue_wait();
}

int gluon_modmul_get(uint32_t *x, unsigned slot)
{
    int rc = slot_transfer_start(GLUON_MM_STOREX(slot), slot, x);
    if (rc == GLUON_MODMUL_OK)
        rc = queue_wait();
    if (rc == GLUON_MODMUL_OK)
        xout_words(x, active_limbs);
    return rc;
}

/* One queued program (no DMA, no program fetch), started before its operands are written:
 * LOADX takes the words from XIN as they arrive, so writing them overlaps the coprocessor's
 * work (LOADX and TOMONT of a while b is written).  LOADX a; (TOMONT t, a; LOADX b; MUL out, t, b)
 * or (LOADX b; ADD/SUB out, a, b); STOREX out; the result comes back through XOUT. */
static void binary_ops(int mul)
{
    GLUON_MODMUL_CMD = GLUON_MM_LOADX(S_A);
    if (mul > 0) {
        /* (a R) b R^-1 = a b */
        GLUON_MODMUL_CMD = GLUON_MM_TOMONT(S_T, S_A);
        GLUON_MODMUL_CMD = GLUON_MM_LOADX(S_B);
        GLUON_MODMUL_CMD = GLUON_MM_MUL(S_OUT, S_T, S_B);
        GLUON_MODMUL_CMD = GLUON_MM_STOREX(S_OUT);
        return;
    }
    GLUON_MODMUL_CMD = GLUON_MM_LOADX(S_B);
    if (mul == 0) {
        GLUON_MODMUL_CMD = GLUON_MM_ADD(S_OUT, S_A, S_B);
    } else {
        GLUON_MODMUL_CMD = GLUON_MM_SUB(S_OUT, S_A, S_B);
    }
    GLUON_MODMUL_CMD = GLUON_MM_STOREX(S_OUT);
}

static int binary(uint32_t *r, const uint32_t *a, const uint32_t *b, int mul)
{
    unsigned l = validate();
    if (l == 0)
        return GLUON_MODMUL_E_NOMOD;
    if (r == NULL || a == NULL || b == NULL)
        return GLUON_MODMUL_E_ARG;
    uint32_t start = GLUON_MODMUL_START_OP_AGAIN;
    if (queued != mul + 2) {
        binary_ops(mul);
        queued = mul + 2;
        start = GLUON_MODMUL_START_OP_QUEUE;
    }
    GLUON_MODMUL_START = start;
    xin_words(a, l);
    xin_words(b, l);
    int rc = queue_wait();
    if (rc == GLUON_MODMUL_E_FIFO) {
        /* The words came too late (a long interrupt between START and the writes): once
         * more with the words written first. */
        xin_words(a, l);
        xin_words(b, l);
        GLUON_MODMUL_START = GLUON_MODMUL_START_OP_AGAIN;
        rc = queue_wait();
    }
    if (rc)
        return rc;
    xout_words(r, l);
    return GLUON_MODMUL_OK;
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
    unsigned l = validate();
    if (l == 0)
        return GLUON_MODMUL_E_NOMOD;
    if (r == NULL || base == NULL || exp == NULL || exp_limbs == 0)
        return GLUON_MODMUL_E_ARG;
    copy_words(area.val[V_A], base, l);
    for (unsigned i = 0; i < MAXL; i++)
        area.val[V_ONE][i] = i == 0;
    int rc = stream_start(area.val);
    if (rc)
        return rc;
    gluon_modmul_emit(GLUON_MM_LOAD(S_X, IMM(V_A)));
    gluon_modmul_emit(GLUON_MM_LOAD(S_ONE, IMM(V_ONE)));
    gluon_modmul_emit(GLUON_MM_TOMONT(S_R0, S_ONE));     /* R0 = 1 */
    gluon_modmul_emit(GLUON_MM_TOMONT(S_R1, S_X));       /* R1 = x */
    for (int bit = 32 * (int)exp_limbs - 1; bit >= 0; bit--) {
        /* b = 0: R1 = R0 R1, R0 = R0^2;  b = 1: R0 = R0 R1, R1 = R1^2.
         * Only slot numbers depend on b, computed without branches. */
        uint32_t b = (exp[bit >> 5] >> (bit & 31)) & 1;
        gluon_modmul_emit(GLUON_MM_MUL(S_R0 + (b ^ 1), S_R0, S_R1));
        gluon_modmul_emit(GLUON_MM_MUL(S_R0 + b, S_R0 + b, S_R0 + b));
    }
    gluon_modmul_emit(GLUON_MM_FROMMONT(S_OUT, S_R0));
    gluon_modmul_emit(GLUON_MM_STORE(S_OUT, IMM(V_OUT)));
    rc = gluon_modmul_stream_end();
    if (rc)
        return rc;
    copy_words(r, area.val[V_OUT], l);
    return GLUON_MODMUL_OK;
}

int gluon_modmul_inverse(uint32_t *r, const uint32_t *a)
{
    unsigned l = validate();
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
