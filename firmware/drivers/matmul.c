/* Driver for the Gluon int8 matrix coprocessor (slot 2, register map MATMUL),
 * with the pure-C reference (matmul_sw.c) as fallback.  See gluon/matmul.h
 * for the API and its rules, docs/matmul.md for the hardware.
 *
 * One coprocessor operation computes a tile of at most CONFIG.MAX_M rows and
 * CONFIG.MAX_N columns of C over the whole K (the hardware streams K through
 * its double-buffered chunks), so the driver only cuts M and N.  MAX_N is a
 * multiple of 4, so every tile of an int8 C, B and the bias starts on a word.
 */
#include <stddef.h>
#include <stdint.h>

#include "gluon/regs.h"
#include "gluon/sdk.h"
#include "gluon/matmul.h"

#define MATMUL_KIND (('M' << 8) | 'X')
/* The coprocessor raises its local interrupt line, mip bit GLUON_MATMUL_MIP_BIT
 * (hdl/soc.py): STATUS.DONE & IRQ_EN.DONE, readable in mip without a bus access. */
#define MATMUL_MIP (1u << GLUON_MATMUL_MIP_BIT)

/* OP.STORE values (hdl/matmul.py Store). */
#define STORE_INT8  1u
#define STORE_INT32 2u

static int force_software;
static uint32_t last_cycles;
static int last_hw;
/* Non-blocking calls: a queue of at most two started calls, oldest first. */
enum { Q_RUN = 1, Q_READY, Q_RESULT };
static struct { int state, rc; } queue[2];
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
static void program_tile(uint32_t op, int m, int n, int k, const int8_t *a, int lda,
                       const int8_t *b, int ldb, void *c, int ldc, const int32_t *bias)
{
    GLUON_MATMUL_A_ADDR = (uint32_t)(uintptr_t)a;
    GLUON_MATMUL_B_ADDR = (uint32_t)(uintptr_t)b;
    GLUON_MATMUL_C_ADDR = (uint32_t)(uintptr_t)c;
    GLUON_MATMUL_BIAS_ADDR = (uint32_t)(uintptr_t)bias;
    GLUON_MATMUL_A_STRIDE = (uint32_t)lda;
    GLUON_MATMUL_B_STRIDE = (uint32_t)ldb;
    GLUON_MATMUL_C_STRIDE = (uint32_t)ldc;
    GLUON_MATMUL_M = (uint32_t)m;
    GLUON_MATMUL_N = (uint32_t)n;
    GLUON_MATMUL_K = (uint32_t)k;
    GLUON_MATMUL_OP = op;
    barrier();
}

/* Wait for the running operation's DONE, acknowledge it.  Returns 0 or STATUS.CAUSE. */
static int finish_tile(void)
{
    uint32_t st;
    while (!((st = GLUON_MATMUL_STATUS) & GLUON_MATMUL_STATUS_DONE_MASK))
        ;
    GLUON_MATMUL_STATUS = GLUON_MATMUL_STATUS_DONE_MASK;     /* acknowledge */
    barrier();
    last_cycles += GLUON_MATMUL_CYCLES;
    if (st & GLUON_MATMUL_STATUS_ERROR_MASK)
        return (int)((st & GLUON_MATMUL_STATUS_CAUSE_MASK) >> GLUON_MATMUL_STATUS_CAUSE_SHIFT);
    return GLUON_MATMUL_OK;
}

/* One operation, to its end.  Returns 0 or STATUS.CAUSE. */
static int run_tile(uint32_t op, int m, int n, int k, const int8_t *a, int lda,
                    const int8_t *b, int ldb, void *c, int ldc, const int32_t *bias)
{
    program_tile(op, m, n, k, a, lda, b, ldb, c, ldc, bias);
    GLUON_MATMUL_START = GLUON_MATMUL_START_GO_MASK;
    return finish_tile();
}

/* OP for the operation, and the requantization registers. */
static uint32_t setup_op(uint32_t store, const int32_t *bias, const gluon_requant *rq)
{
    uint32_t op = store << GLUON_MATMUL_OP_STORE_SHIFT;
    if (bias)
        op |= GLUON_MATMUL_OP_BIAS_MASK;
    if (rq) {
        if (rq->relu)
            op |= GLUON_MATMUL_OP_RELU_MASK;
        GLUON_MATMUL_QMUL = (uint32_t)rq->multiplier;
        GLUON_MATMUL_QSHIFT = rq->shift;
        GLUON_MATMUL_QZP = (uint8_t)rq->zero_point;
    }
    return op;
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
    uint32_t op = setup_op(store, bias, rq);
    last_cycles = 0;
    for (int i0 = 0; i0 < M; i0 += max_m) {
        int m = M - i0 < max_m ? M - i0 : max_m;
        for (int j0 = 0; j0 < N; j0 += max_n) {
            int n = N - j0 < max_n ? N - j0 : max_n;
            int err = run_tile(op, m, n, K, A + (long)i0 * lda, lda, B + j0, ldb,
                               (int8_t *)C + (long)i0 * ldc + (long)j0 * esize, ldc,
                               bias ? bias + j0 : NULL);
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
        uint32_t op = setup_op(store, bias, rq);
        int running = slot == 1 && queue[0].state == Q_RUN;
        program_tile(op, M, N, K, A, lda, B, ldb, C, ldc, bias);
        static int irq_on;
        if (!irq_on) {          /* for gluon_matmul_poll (mip); once */
            GLUON_MATMUL_IRQ_EN = GLUON_MATMUL_IRQ_EN_DONE_MASK;
            irq_on = 1;
        }
        if (running) {
            queue[slot].state = Q_READY;            /* START in gluon_matmul_wait() */
        } else {
            last_cycles = 0;
            last_hw = 1;
            GLUON_MATMUL_START = GLUON_MATMUL_START_GO_MASK;
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
            GLUON_MATMUL_START = GLUON_MATMUL_START_GO_MASK;
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
