/* Driver for the Gluon int8 matrix coprocessor (slot 2, register map MATMUL),
 * with the pure-C reference (matmul_sw.c) as fallback.  See gluon/matmul.h
 * for the API and its rules, docs/matmul.md for the hardware.
 *
 * One coprocessor operation computes a tile of at most CONFIG.MAX_M rows and
 * CONFIG.MAX_N columns of C over the whole K (the hardware streams K through
 * its double-buffered chunks), so the driver only cuts M and N.  MAX_N is a
 * multiple of 4, so every tile of an int8 C, B and the bias starts on a word.
 *
 * Every register, field and value comes from gluon/regs.h (generated from the
 * hardware's declarations).  A wipe (gluon_copro_wipe, a grant or a revoke)
 * stops the running operation and clears every parameter register: the driver
 * caches nothing a wipe changes but the registers of a call queued behind a
 * running one, which it re-validates before START (M reads 0 after a wipe: it
 * writes them again); a call whose operation a wipe stopped returns
 * GLUON_MATMUL_E_WIPED instead of waiting for a DONE that never comes.
 */
#include <stddef.h>
#include <stdint.h>

#include "gluon/regs.h"
#include "gluon/sdk.h"
#include "gluon/matmul.h"

#define MATMUL_KIND (('M' << 8) | 'X')   /* ID.KIND: the two ASCII characters */
/* The coprocessor raises its local interrupt line, mip bit GLUON_MATMUL_MIP_BIT
 * (hdl/soc.py): STATUS.DONE & CTRL.IRQ_EN of its control section while M-mode
 * owns the slot, readable in mip without a bus access. */
#define MATMUL_MIP (1u << GLUON_MATMUL_MIP_BIT)

#define STORE_INT8  GLUON_MATMUL_MODE_STORE_INT8
#define STORE_INT32 GLUON_MATMUL_MODE_STORE_INT32
#define START_MUL   (GLUON_MATMUL_START_OP_MUL << GLUON_MATMUL_START_OP_SHIFT)

static int force_software;
static uint32_t last_cycles;
static int last_hw;
/* The registers of one operation (MODE, sizes, addresses, strides). */
struct tile {
    uint32_t mode;
    int m, n, k, lda, ldb, ldc;
    const int8_t *a, *b;
    void *c;
    const int32_t *bias;
};
/* Non-blocking calls: a queue of at most two started calls, oldest first. */
enum { Q_RUN = 1, Q_READY, Q_RESULT };
static struct { int state, rc; struct tile t; gluon_requant rq; } queue[2];
static int queued;              /* calls started and not yet waited for */

static inline void barrier(void)
{
    /* The DMA engine reads and writes RAM behind the compiler's back: every store
     * must reach memory before START, and memory must be re-read after DONE. */
    __asm__ volatile("fence" ::: "memory");
}

int gluon_matmul_present(void)
{
    static int known;               /* 0: not asked yet, 1: present, 2: absent */
    if (!known) {
        /* SYSINFO first: reading an absent slot would be a bus error. */
        int yes = (GLUON_SYSINFO_COPROCS & GLUON_SYSINFO_COPROCS_MATMUL_MASK)
                  && (GLUON_MATMUL_ID >> 16) == MATMUL_KIND;
        known = yes ? 1 : 2;
    }
    return known == 1;
}


int gluon_matmul_window(unsigned win, const void *base, size_t size)
{
    /* no coprocessor (SYSINFO): no DMA window registers either (the 'small' SoC) */
    if (!gluon_matmul_present())
        return GLUON_MATMUL_E_ABSENT;
    return gluon_copro_window(GLUON_MATMUL_SLOT, win, base, size,
                              GLUON_COPRO_R | GLUON_COPRO_W) ? GLUON_MATMUL_E_ARG : GLUON_MATMUL_OK;
}

void gluon_matmul_force_software(int on)
{
    force_software = on;
}

uint32_t gluon_matmul_last_cycles(void)
{
    return last_cycles;
}

int gluon_matmul_last_was_hw(void)
{
    return last_hw;
}

/* Program the registers of one operation (a running one is not disturbed). */
static void program_tile(const struct tile *t)
{
    GLUON_MATMUL_A_ADDR = (uint32_t)(uintptr_t)t->a;
    GLUON_MATMUL_B_ADDR = (uint32_t)(uintptr_t)t->b;
    GLUON_MATMUL_C_ADDR = (uint32_t)(uintptr_t)t->c;
    GLUON_MATMUL_BIAS_ADDR = (uint32_t)(uintptr_t)t->bias;
    GLUON_MATMUL_A_STRIDE = (uint32_t)t->lda;
    GLUON_MATMUL_B_STRIDE = (uint32_t)t->ldb;
    GLUON_MATMUL_C_STRIDE = (uint32_t)t->ldc;
    GLUON_MATMUL_M = (uint32_t)t->m;
    GLUON_MATMUL_N = (uint32_t)t->n;
    GLUON_MATMUL_K = (uint32_t)t->k;
    GLUON_MATMUL_MODE = t->mode;
    barrier();
}

/* Wait for the running operation's DONE, acknowledge it.  Returns 0 or STATUS.CAUSE;
 * GLUON_MATMUL_E_WIPED if the slot went idle without DONE (a wipe stopped it). */
static int finish_tile(void)
{
    uint32_t st;
    while (!((st = GLUON_MATMUL_STATUS) & GLUON_MATMUL_STATUS_DONE_MASK))
        if (!(st & GLUON_MATMUL_STATUS_BUSY_MASK))
            return GLUON_MATMUL_E_WIPED;
    /* acknowledge (DONE and ERROR are write-1-to-clear) */
    GLUON_MATMUL_STATUS = GLUON_MATMUL_STATUS_DONE_MASK | GLUON_MATMUL_STATUS_ERROR_MASK;
    barrier();
    last_cycles += GLUON_MATMUL_CYCLES;
    if (st & GLUON_MATMUL_STATUS_ERROR_MASK)
        return (int)((st & GLUON_MATMUL_STATUS_CAUSE_MASK) >> GLUON_MATMUL_STATUS_CAUSE_SHIFT);
    return GLUON_MATMUL_OK;
}

/* One operation, to its end.  Returns 0 or STATUS.CAUSE. */
static int run_tile(const struct tile *t)
{
    program_tile(t);
    GLUON_MATMUL_START = START_MUL;
    return finish_tile();
}

/* MODE for the operation, and the requantization registers. */
static uint32_t setup_mode(uint32_t store, const int32_t *bias, const gluon_requant *rq)
{
    uint32_t mode = store << GLUON_MATMUL_MODE_STORE_SHIFT;
    if (bias)
        mode |= GLUON_MATMUL_MODE_BIAS_MASK;
    if (rq) {
        if (rq->relu)
            mode |= GLUON_MATMUL_MODE_RELU_MASK;
        GLUON_MATMUL_QMUL = (uint32_t)rq->multiplier;
        GLUON_MATMUL_QSHIFT = rq->shift;
        GLUON_MATMUL_QZP = (uint8_t)rq->zero_point;
    }
    return mode;
}

static void config_max(int *max_m, int *max_n)
{
    static uint32_t cfg;            /* CONFIG is a build constant: read it once */
    if (!cfg)
        cfg = GLUON_MATMUL_CONFIG;
    *max_m = (int)((cfg & GLUON_MATMUL_CONFIG_MAX_M_MASK) >> GLUON_MATMUL_CONFIG_MAX_M_SHIFT);
    *max_n = (int)((cfg & GLUON_MATMUL_CONFIG_MAX_N_MASK) >> GLUON_MATMUL_CONFIG_MAX_N_SHIFT);
}

/* C (element size esize) = A·B tile by tile. */
static int run(uint32_t store, int M, int N, int K, const int8_t *A, int lda,
               const int8_t *B, int ldb, void *C, int ldc, int esize,
               const int32_t *bias, const gluon_requant *rq)
{
    int max_m, max_n;
    config_max(&max_m, &max_n);
    struct tile t = {setup_mode(store, bias, rq), 0, 0, K, lda, ldb, ldc, 0, 0, 0, 0};
    last_cycles = 0;
    for (int i0 = 0; i0 < M; i0 += max_m) {
        t.m = M - i0 < max_m ? M - i0 : max_m;
        for (int j0 = 0; j0 < N; j0 += max_n) {
            t.n = N - j0 < max_n ? N - j0 : max_n;
            t.a = A + (long)i0 * lda;
            t.b = B + j0;
            t.c = (int8_t *)C + (long)i0 * ldc + (long)j0 * esize;
            t.bias = bias ? bias + j0 : NULL;
            int err = run_tile(&t);
            if (err)
                return err;
        }
    }
    return GLUON_MATMUL_OK;
}

static int use_hardware(const void *A, int lda, const void *B, int ldb, const void *C,
                        int ldc, const void *bias)
{
    if (force_software || !gluon_matmul_present())
        return 0;
    uintptr_t any = (uintptr_t)A | (uintptr_t)B | (uintptr_t)C | (uintptr_t)bias
                    | (uintptr_t)lda | (uintptr_t)ldb | (uintptr_t)ldc;
    return (any & 3) == 0;
}

static int bad_args(int M, int N, int K, const void *A, const void *B, const void *C)
{
    return M <= 0 || N <= 0 || K <= 0 || K > GLUON_MATMUL_MAX_K || !A || !B || !C;
}

int gluon_matmul_i8(int M, int N, int K, const int8_t *A, int lda,
                    const int8_t *B, int ldb, int8_t *C, int ldc,
                    const gluon_requant *rq)
{
    if (queued)
        return GLUON_MATMUL_E_BUSY;
    if (bad_args(M, N, K, A, B, C) || !rq || rq->shift > 31)
        return GLUON_MATMUL_E_ARG;
    last_hw = use_hardware(A, lda, B, ldb, C, ldc, rq->bias);
    if (!last_hw) {
        last_cycles = 0;
        gluon_matmul_i8_sw(M, N, K, A, lda, B, ldb, C, ldc, rq);
        return GLUON_MATMUL_OK;
    }
    return run(STORE_INT8, M, N, K, A, lda, B, ldb, C, ldc, 1, rq->bias, rq);
}

int gluon_matmul_i8_i32(int M, int N, int K, const int8_t *A, int lda,
                        const int8_t *B, int ldb, int32_t *C, int ldc,
                        const int32_t *bias)
{
    if (queued)
        return GLUON_MATMUL_E_BUSY;
    if (bad_args(M, N, K, A, B, C))
        return GLUON_MATMUL_E_ARG;
    last_hw = use_hardware(A, lda, B, ldb, C, ldc, bias);
    if (!last_hw) {
        last_cycles = 0;
        gluon_matmul_i8_i32_sw(M, N, K, A, lda, B, ldb, C, ldc, bias);
        return GLUON_MATMUL_OK;
    }
    return run(STORE_INT32, M, N, K, A, lda, B, ldb, C, ldc, 4, bias, NULL);
}

/* ---- Non-blocking calls ----------------------------------------------------
 * Up to two started calls.  A call that fits one coprocessor operation (see
 * fits_one_tile, use_hardware) is started at once if the coprocessor is free;
 * if the older call still runs there, the new one's registers are written now
 * (the running operation latched its own at START) and gluon_matmul_wait()
 * writes START for it as soon as the older one is done.  Any other call
 * (tiled, software) first lets a running operation end, then runs to its end
 * inside the start call; wait() returns its result. */

static int fits_one_tile(int M, int N)
{
    int max_m, max_n;
    config_max(&max_m, &max_n);
    return M <= max_m && N <= max_n;
}

/* Wait for the running operation of queue[0]; its result becomes Q_RESULT. */
static void settle_oldest(void)
{
    if (queued && queue[0].state == Q_RUN) {
        queue[0].rc = finish_tile();
        queue[0].state = Q_RESULT;
    }
}

static int start_or_run(uint32_t store, int M, int N, int K, const int8_t *A, int lda,
                        const int8_t *B, int ldb, void *C, int ldc, int esize,
                        const int32_t *bias, const gluon_requant *rq)
{
    if (queued == 2)
        return GLUON_MATMUL_E_BUSY;
    if (bad_args(M, N, K, A, B, C) || (rq && rq->shift > 31))
        return GLUON_MATMUL_E_ARG;
    int hw = use_hardware(A, lda, B, ldb, C, ldc, bias);
    int direct = hw && fits_one_tile(M, N);
    if (!direct)
        settle_oldest();        /* a running operation must end before this call */
    int slot = queued++;
    if (direct) {
        struct tile *t = &queue[slot].t;
        *t = (struct tile){setup_mode(store, bias, rq), M, N, K, lda, ldb, ldc, A, B, C, bias};
        queue[slot].rq = rq ? *rq : (gluon_requant){0};
        int running = slot == 1 && queue[0].state == Q_RUN;
        program_tile(t);
        /* for gluon_matmul_poll (mip): the interrupt enable is M's, in the control
         * page; it survives a wipe (reset clears it) */
        if (!(GLUON_COPROCTL_CTRL(GLUON_MATMUL_SLOT) & GLUON_COPROCTL_CTRL_IRQ_EN_MASK))
            GLUON_COPROCTL_CTRL(GLUON_MATMUL_SLOT) = GLUON_COPROCTL_CTRL_IRQ_EN_MASK;
        if (running) {
            queue[slot].state = Q_READY;            /* START in gluon_matmul_wait() */
        } else {
            last_cycles = 0;
            last_hw = 1;
            GLUON_MATMUL_START = START_MUL;
            queue[slot].state = Q_RUN;
        }
        return GLUON_MATMUL_OK;
    }
    last_hw = hw;
    int rc;
    if (!hw) {
        last_cycles = 0;
        if (store == STORE_INT8)
            gluon_matmul_i8_sw(M, N, K, A, lda, B, ldb, (int8_t *)C, ldc, rq);
        else
            gluon_matmul_i8_i32_sw(M, N, K, A, lda, B, ldb, (int32_t *)C, ldc, bias);
        rc = GLUON_MATMUL_OK;
    } else {
        rc = run(store, M, N, K, A, lda, B, ldb, C, ldc, esize, bias, rq);
    }
    queue[slot].state = Q_RESULT;
    queue[slot].rc = rc;
    return GLUON_MATMUL_OK;
}

int gluon_matmul_start_i8(int M, int N, int K, const int8_t *A, int lda,
                          const int8_t *B, int ldb, int8_t *C, int ldc,
                          const gluon_requant *rq)
{
    if (!rq)
        return GLUON_MATMUL_E_ARG;
    return start_or_run(STORE_INT8, M, N, K, A, lda, B, ldb, C, ldc, 1, rq->bias, rq);
}

int gluon_matmul_start_i8_i32(int M, int N, int K, const int8_t *A, int lda,
                              const int8_t *B, int ldb, int32_t *C, int ldc,
                              const int32_t *bias)
{
    return start_or_run(STORE_INT32, M, N, K, A, lda, B, ldb, C, ldc, 4, bias, NULL);
}

int gluon_matmul_poll(void)
{
    if (queued && queue[0].state == Q_RUN)
        return (read_csr(mip) & MATMUL_MIP) != 0;
    return 1;
}

int gluon_matmul_wait(void)
{
    if (!queued)
        return GLUON_MATMUL_E_ARG;      /* nothing was started */
    int rc;
    if (queue[0].state == Q_RUN) {
        last_cycles = 0;
        rc = finish_tile();             /* DONE acknowledged, CYCLES read */
        if (queued == 2 && queue[1].state == Q_READY) {
            /* Its registers were written while the first ran: a wipe since then
             * cleared them (M reads 0; no call has M = 0).  Write them again. */
            if (GLUON_MATMUL_M == 0) {
                if ((queue[1].t.mode & GLUON_MATMUL_MODE_STORE_MASK) == STORE_INT8)
                    setup_mode(STORE_INT8, NULL, &queue[1].rq);     /* QMUL, QSHIFT, QZP */
                program_tile(&queue[1].t);
            }
            GLUON_MATMUL_START = START_MUL;
            queue[1].state = Q_RUN;
        }
    } else {
        rc = queue[0].rc;
    }
    queue[0] = queue[1];
    queue[1].state = 0;
    queued--;
    return rc;
}
