/* Gluon int8 matrix coprocessor driver (slot 2, register map MATMUL) and the
 * pure-C reference it is checked against.
 *
 *     C = requant(A · B + bias)     A: M×K int8, B: K×N int8, C: M×N int8
 *     C = A · B + bias              the same with int32 C (gluon_matmul_i8_i32)
 *
 * Matrices are row-major with explicit row strides in BYTES (lda, ldb, ldc).
 * Any M, N, K >= 1 (K <= GLUON_MATMUL_MAX_K per call): the driver cuts C into
 * tiles of at most CONFIG.MAX_M × CONFIG.MAX_N (64 × 64 in the full SoC) and
 * runs one coprocessor operation per tile; K is never cut.
 *
 * Requantization (the same integer arithmetic as TensorFlow Lite / gemmlowp,
 * defined exactly in docs/matmul.md):
 *     x   = acc + bias[n]                    (int32, wraps)
 *     y   = SaturatingRoundingDoublingHighMul(x, multiplier)
 *     q   = RoundingDivideByPOT(y, shift)
 *     out = clamp(q + zero_point, relu ? zero_point : -128, 127)
 * The real scale is multiplier · 2^-31 · 2^-shift.
 *
 * DMA confinement.  The coprocessor reads A, B, bias and writes C by DMA,
 * only inside its own slot's DMA windows, which M-mode opens (gluon/copro.h).
 * Open one covering all of them first, e.g.
 *     gluon_matmul_window(0, buffers, sizeof buffers);
 * A buffer outside the windows fails with GLUON_MATMUL_E_DMA (no hang).
 *
 * Wipes.  A wipe of the slot (gluon_copro_wipe, lending it to a U task and
 * taking it back) stops the running operation and clears the coprocessor's
 * registers, buffers and accumulators.  Calls after it work as before; a call
 * whose operation it stopped returns GLUON_MATMUL_E_WIPED, and a call queued
 * behind it (non-blocking) is programmed again before it starts.
 *
 * Buffers for the hardware.  A, B, C, bias and the three strides must be
 * multiples of 4 (else the call runs in software, same result).  Rows are
 * moved as whole 32-bit words: a row of A is read up to the next word
 * boundary after its K bytes, a row of B after its N bytes, and an int8 row
 * of C is written up to the next word boundary with zero bytes after its N
 * values, so keep strides >= the row length rounded up to 4 (a stride that is
 * a multiple of 4 and >= the row length always is).
 *
 * Timing depends on M, N, K and the options only, never on the values, in
 * hardware and in the software reference.
 *
 * All hardware functions return 0 on success, else an error code below.
 */
#ifndef GLUON_MATMUL_H
#define GLUON_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "gluon/regs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Errors 1..8 are the hardware's STATUS.CAUSE codes (hdl/matmul/registers.py Cause; the
 * values come from gluon/regs.h, generated from that enum). */
#define GLUON_MATMUL_OK          0
#define GLUON_MATMUL_E_ZERO_SIZE GLUON_MATMUL_STATUS_CAUSE_ZERO_SIZE   /* M, N or K is zero */
#define GLUON_MATMUL_E_TOO_BIG   GLUON_MATMUL_STATUS_CAUSE_TOO_BIG   /* a size beyond the buffers / MAX_K */
#define GLUON_MATMUL_E_ALIGN     GLUON_MATMUL_STATUS_CAUSE_ALIGN   /* address or stride not a multiple of 4 */
#define GLUON_MATMUL_E_BAD_OP    GLUON_MATMUL_STATUS_CAUSE_BAD_OP   /* START.OP or MODE.STORE not an operation */
#define GLUON_MATMUL_E_DMA       GLUON_MATMUL_STATUS_CAUSE_DMA   /* buffer outside the slot's DMA windows, revoked, or bus error */
#define GLUON_MATMUL_E_BUSY      GLUON_MATMUL_STATUS_CAUSE_BUSY   /* START while busy (refused); driver: calls are started */
#define GLUON_MATMUL_E_ABORTED   GLUON_MATMUL_STATUS_CAUSE_ABORTED   /* ABORT */
#define GLUON_MATMUL_E_WIPING    GLUON_MATMUL_STATUS_CAUSE_WIPING   /* START while a wipe ran (refused) */
/* Driver-level errors. */
#define GLUON_MATMUL_E_ARG       16  /* bad argument (size <= 0, NULL, K too large) */
#define GLUON_MATMUL_E_ABSENT    17  /* gluon_matmul_hw_* without the coprocessor */
#define GLUON_MATMUL_E_WIPED     18  /* a wipe (gluon_copro_wipe, grant, revoke) stopped the
                                        call's operation: C is not (completely) written */

#define GLUON_MATMUL_MAX_K 131071    /* K·(-128)·(-128) < 2^31: no int32 overflow */

typedef struct {
    int32_t multiplier;     /* Q0.31; a real scale s in (0,1): round(s·2^(31+shift)) */
    uint8_t shift;          /* 0..31 */
    int8_t zero_point;      /* output zero point */
    uint8_t relu;           /* 1: clamp below at zero_point */
    const int32_t *bias;    /* N int32 added before requantizing, or NULL */
} gluon_requant;

/* ---- Software reference (always available, pure C) ---------------------- */

int32_t gluon_srdhm(int32_t a, int32_t b);          /* SaturatingRoundingDoublingHighMul */
int32_t gluon_rdbpot(int32_t x, int exponent);      /* RoundingDivideByPOT, 0..31 */
int8_t gluon_requantize(int32_t acc, const gluon_requant *rq);   /* without the bias */

void gluon_matmul_i8_sw(int M, int N, int K, const int8_t *A, int lda,
                        const int8_t *B, int ldb, int8_t *C, int ldc,
                        const gluon_requant *rq);
void gluon_matmul_i8_i32_sw(int M, int N, int K, const int8_t *A, int lda,
                            const int8_t *B, int ldb, int32_t *C, int ldc,
                            const int32_t *bias);

/* ---- Driver: hardware when present, else the software reference --------- */

/* 1 if the SoC has the matrix coprocessor (SYSINFO.COPROCS and the ID register). */
int gluon_matmul_present(void);

/* Open DMA window `win` (0..3) for reading and writing over [base, base+size).
 * M-mode only.  GLUON_MATMUL_E_ARG for a bad index or a locked window. */
int gluon_matmul_window(unsigned win, const void *base, size_t size);

/* Use the software reference even if the hardware is present. */
void gluon_matmul_force_software(int on);

int gluon_matmul_i8(int M, int N, int K, const int8_t *A, int lda,
                    const int8_t *B, int ldb, int8_t *C, int ldc,
                    const gluon_requant *rq);
int gluon_matmul_i8_i32(int M, int N, int K, const int8_t *A, int lda,
                        const int8_t *B, int ldb, int32_t *C, int ldc,
                        const int32_t *bias);

/* ---- Non-blocking calls: start, do other work, wait ---------------------
 *
 *     gluon_matmul_start_i8(...);       // returns at once
 *     ... work on the core (not touching A, B, bias or C) ...
 *     err = gluon_matmul_wait();        // the result of the started call
 *
 * Same arguments and results as the blocking calls.  A call that fits one
 * coprocessor operation (hardware present, M <= CONFIG.MAX_M, N <= MAX_N,
 * buffers and strides word aligned) only programs the coprocessor and starts
 * it; any other call (tiled, software fallback) first lets a running operation
 * end, then runs to its end inside the start call, and gluon_matmul_wait()
 * returns its result.
 *
 * Two calls may be started.  If the first still runs, the second one's
 * registers are written at once (the running operation latched its own) and
 * gluon_matmul_wait(), returning the first call's result, writes START for the
 * second: a chain of dependent operations (layer 1, then layer 2 reading layer
 * 1's output) runs back to back, each started when the previous one has
 * written all its output.  A third start, or a blocking call while calls are
 * started, returns GLUON_MATMUL_E_BUSY and changes nothing.  Waits return the
 * results oldest first; gluon_matmul_wait() without a started call returns
 * GLUON_MATMUL_E_ARG.  gluon_matmul_last_cycles() is valid after the wait.
 *
 * gluon_matmul_poll() reads the coprocessor's interrupt line in mip (no bus
 * access): the start calls set CTRL.IRQ_EN of the slot's section of the M-only
 * control page (so they are M-mode's), which traps only if the program
 * enabled that interrupt (mie bit 17 + slot, and mstatus.MIE). */
int gluon_matmul_start_i8(int M, int N, int K, const int8_t *A, int lda,
                          const int8_t *B, int ldb, int8_t *C, int ldc,
                          const gluon_requant *rq);
int gluon_matmul_start_i8_i32(int M, int N, int K, const int8_t *A, int lda,
                              const int8_t *B, int ldb, int32_t *C, int ldc,
                              const int32_t *bias);
/* 1 if the oldest started call has ended (gluon_matmul_wait() will not wait
 * for it), else 0. */
int gluon_matmul_poll(void);
/* Wait for the oldest started call to end; returns its result (0 or an error
 * code) and starts the next started call on the coprocessor, if any. */
int gluon_matmul_wait(void);

/* Sum of the coprocessor's CYCLES (START to DONE) over the tiles of the last
 * hardware call; 0 after a software call. */
uint32_t gluon_matmul_last_cycles(void);

/* 1 if the last call ran on the hardware. */
int gluon_matmul_last_was_hw(void);

#ifdef __cplusplus
}
#endif

#endif /* GLUON_MATMUL_H */
