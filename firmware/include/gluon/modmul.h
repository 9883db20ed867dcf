/* Gluon modular-arithmetic coprocessor driver (slot 1, register map MODMUL)
 * and a software Montgomery implementation for the same widths.
 *
 * Model: EIP-6690 (EVM-MAX).  Hardware reference: docs/modmul.md; registers:
 * docs/registers.md (MODMUL).
 *
 * Numbers are arrays of `limbs` 32-bit words, least significant word first;
 * limbs = L, 1..24 (32..768 bits), chosen with the modulus; R = 2^(32*L).
 *
 * The coprocessor holds 32 value slots and runs programs of op words (the
 * GLUON_MM_* macros below) fetched by DMA.  The DMA engine only touches
 * memory inside the global DMA windows M-mode opened: gluon_modmul_init()
 * opens one over the driver's own buffers (programs and values go through
 * them), so the high-level functions take any pointer.  gluon_modmul_run()
 * runs a program of your own: its ops and its data must lie in a window.
 *
 * Constant time: every op takes a number of cycles that depends only on the
 * op and L.  gluon_modmul_modexp() is a Montgomery ladder whose programs use
 * the same ops for every exponent (only slot numbers depend on the bits).
 *
 * All functions returning int return 0 on success, else an error code below.
 */
#ifndef GLUON_MODMUL_H
#define GLUON_MODMUL_H

#include <stddef.h>
#include <stdint.h>

#include "gluon/regs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GLUON_MODMUL_MAX_LIMBS 24
#define GLUON_MODMUL_SLOTS     32

/* Errors 1..12 are the hardware's STATUS.CAUSE codes (hdl/modmul/registers.py Cause; the
 * values come from gluon/regs.h, generated from that enum). */
#define GLUON_MODMUL_OK          0
#define GLUON_MODMUL_E_BUSY      GLUON_MODMUL_STATUS_CAUSE_BUSY   /* START while a program ran */
#define GLUON_MODMUL_E_WIPING    GLUON_MODMUL_STATUS_CAUSE_WIPING   /* START while a wipe ran */
#define GLUON_MODMUL_E_LIMBS     GLUON_MODMUL_STATUS_CAUSE_LIMBS   /* LIMBS outside 1..24 at SETMOD */
#define GLUON_MODMUL_E_MODULUS   GLUON_MODMUL_STATUS_CAUSE_MODULUS   /* N even or below 3 */
#define GLUON_MODMUL_E_RANGE     GLUON_MODMUL_STATUS_CAUSE_RANGE   /* LOAD of a value >= N */
#define GLUON_MODMUL_E_SLOT      GLUON_MODMUL_STATUS_CAUSE_SLOT   /* slot index >= 32 */
#define GLUON_MODMUL_E_NOMOD     GLUON_MODMUL_STATUS_CAUSE_NOMOD   /* op before a valid SETMOD */
#define GLUON_MODMUL_E_OPCODE    GLUON_MODMUL_STATUS_CAUSE_OPCODE   /* unknown opcode */
#define GLUON_MODMUL_E_DMA       GLUON_MODMUL_STATUS_CAUSE_DMA   /* buffer outside the DMA windows, or bus error */
#define GLUON_MODMUL_E_LENGTH    GLUON_MODMUL_STATUS_CAUSE_LENGTH   /* program length 0 or > 512 */
#define GLUON_MODMUL_E_ABORTED   GLUON_MODMUL_STATUS_CAUSE_ABORTED  /* ABORT */
#define GLUON_MODMUL_E_FIFO      GLUON_MODMUL_STATUS_CAUSE_FIFO  /* LOADX/STOREX/XIN/XOUT: too few words or no room */
/* Driver-level errors. */
#define GLUON_MODMUL_E_ARG       16  /* bad argument */
#define GLUON_MODMUL_E_ABSENT    17  /* no MODMUL coprocessor in this SoC */

/* ---- Op words (hdl/modmul.py Op: opcode[3:0] d[9:4] a[15:10] b/imm[31:16]) */
#define GLUON_MODMUL_OP_SETMOD   1
#define GLUON_MODMUL_OP_LOAD     2
#define GLUON_MODMUL_OP_STORE    3
#define GLUON_MODMUL_OP_COPY     4
#define GLUON_MODMUL_OP_ADD      5
#define GLUON_MODMUL_OP_SUB      6
#define GLUON_MODMUL_OP_MUL      7
#define GLUON_MODMUL_OP_TOMONT   8
#define GLUON_MODMUL_OP_FROMMONT 9
#define GLUON_MODMUL_OP_LOADX    10
#define GLUON_MODMUL_OP_STOREX   11

#define GLUON_MODMUL_OP(opc, d, a, tail) \
    ((uint32_t)(opc) | ((uint32_t)(d) << 4) | ((uint32_t)(a) << 10) | ((uint32_t)(tail) << 16))
/* imm: word offset from the program's data base. */
#define GLUON_MM_SETMOD(imm)     GLUON_MODMUL_OP(GLUON_MODMUL_OP_SETMOD, 0, 0, (imm))
#define GLUON_MM_LOAD(d, imm)    GLUON_MODMUL_OP(GLUON_MODMUL_OP_LOAD, (d), 0, (imm))
#define GLUON_MM_STORE(a, imm)   GLUON_MODMUL_OP(GLUON_MODMUL_OP_STORE, 0, (a), (imm))
#define GLUON_MM_COPY(d, a)      GLUON_MODMUL_OP(GLUON_MODMUL_OP_COPY, (d), (a), 0)
#define GLUON_MM_ADD(d, a, b)    GLUON_MODMUL_OP(GLUON_MODMUL_OP_ADD, (d), (a), (b))
#define GLUON_MM_SUB(d, a, b)    GLUON_MODMUL_OP(GLUON_MODMUL_OP_SUB, (d), (a), (b))
#define GLUON_MM_MUL(d, a, b)    GLUON_MODMUL_OP(GLUON_MODMUL_OP_MUL, (d), (a), (b))
#define GLUON_MM_TOMONT(d, a)    GLUON_MODMUL_OP(GLUON_MODMUL_OP_TOMONT, (d), (a), 0)
#define GLUON_MM_FROMMONT(d, a)  GLUON_MODMUL_OP(GLUON_MODMUL_OP_FROMMONT, (d), (a), 0)
/* The register path: slot d <- the next L words written to XIN; XOUT <- slot a. */
#define GLUON_MM_LOADX(d)        GLUON_MODMUL_OP(GLUON_MODMUL_OP_LOADX, (d), 0, 0)
#define GLUON_MM_STOREX(a)       GLUON_MODMUL_OP(GLUON_MODMUL_OP_STOREX, 0, (a), 0)

/* ---- Coprocessor ---------------------------------------------------------- */

/* 1 if the SoC has the coprocessor (SYSINFO COPROCS and its ID agree). */
int gluon_modmul_present(void);

/* Open DMA window `win` (0..3) for reading and writing over [base, base+size).
 * M-mode only.  GLUON_MODMUL_E_ARG for a bad index or a locked window. */
int gluon_modmul_window(unsigned win, const void *base, size_t size);

/* Check the coprocessor and open window `win` over the driver's buffers. */
int gluon_modmul_init(unsigned win);

/* Run `n` op words at `ops` (both `ops` and the values `data` points to, the
 * base of every imm offset, inside DMA windows), to the end.  On error,
 * gluon_modmul_last_pc() is the index of the failing op.  (Such a program may
 * set a modulus of its own: after it, and after gluon_modmul_stream_begin,
 * the driver no longer sets its last modulus again after a wipe.) */
int gluon_modmul_run(const uint32_t *ops, unsigned n, const void *data);
uint32_t gluon_modmul_last_cycles(void);   /* CYCLES of the last run */
unsigned gluon_modmul_last_pc(void);

/* ---- Streams: long op sequences without the core in the loop -------------
 *
 *     gluon_modmul_stream_begin(data);    data: base of every LOAD/STORE/SETMOD
 *                                         imm, inside a DMA window (or NULL:
 *                                         the driver's own value buffers)
 *     gluon_modmul_emit(op) ...           append an op word (GLUON_MM_*)
 *     rc = gluon_modmul_stream_end();     run what is left, wait: 0 or the
 *                                         first error
 *
 * The ops go out as a series of programs, double-buffered in the driver's
 * buffers: while one program runs (fetched by DMA), the core writes the next
 * into the other buffer, so writing op words overlaps the coprocessor's work.
 * The first program is short (GLUON_MODMUL_STREAM_FIRST ops) so that the
 * coprocessor starts early; each next one may be twice as long, up to
 * GLUON_MODMUL_STREAM_MAX.  Slots persist between programs, so a program
 * boundary may fall anywhere.  After an error, the remaining ops are dropped.
 * Call no other coprocessor function between begin and end (they would find
 * the coprocessor busy).  Needs gluon_modmul_init(). */
#define GLUON_MODMUL_STREAM_MAX   512   /* PROG_LEN limit, INFO.PROG_DEPTH */
#define GLUON_MODMUL_STREAM_FIRST 16

struct gluon_modmul_stream {
    uint32_t *cur;          /* buffer being written */
    unsigned n;             /* ops in it */
    unsigned limit;         /* flush at this many ops */
    unsigned which;         /* index of `cur` */
    int running;            /* a program runs from the other buffer */
    int error;              /* first error cause seen (0: none) */
    const void *data;
    unsigned programs;      /* programs started */
    uint32_t cycles;        /* sum of CYCLES over the finished programs */
};
extern struct gluon_modmul_stream gluon_modmul_stream_state;

int gluon_modmul_stream_begin(const void *data);
void gluon_modmul_stream_flush(void);     /* start the buffered ops now */
int gluon_modmul_stream_end(void);

static inline void gluon_modmul_emit(uint32_t op)
{
    struct gluon_modmul_stream *s = &gluon_modmul_stream_state;
    s->cur[s->n++] = op;
    if (s->n == s->limit)
        gluon_modmul_stream_flush();
}

/* ---- The register path (EVM-MAX style: values stay in the slots) ---------
 *
 * Values move through the XIN/XOUT FIFOs (LOADX/STOREX ops) and ops go
 * through the CMD queue: no DMA, no program fetch, no DMA window needed.
 * gluon_modmul_put/get move one value (L words) into/out of a slot;
 * gluon_modmul_exec runs up to 512 op words (from any memory) and waits;
 * gluon_modmul_exec1 is one op, inline: 3 stores and the wait. */
int gluon_modmul_put(unsigned slot, const uint32_t *x);   /* x < N, else E_RANGE */
int gluon_modmul_get(uint32_t *x, unsigned slot);
int gluon_modmul_exec(const uint32_t *ops, unsigned n);

static inline int gluon_modmul_exec1(uint32_t op)
{
    GLUON_MODMUL_CMD = op;
    GLUON_MODMUL_START = GLUON_MODMUL_START_OP_QUEUE;
    uint32_t status;
    while ((status = GLUON_MODMUL_STATUS) & GLUON_MODMUL_STATUS_BUSY_MASK)
        ;
    if (status & GLUON_MODMUL_STATUS_ERROR_MASK)
        return (int)((status & GLUON_MODMUL_STATUS_CAUSE_MASK) >> GLUON_MODMUL_STATUS_CAUSE_SHIFT);
    return 0;
}

/* Set the modulus (odd, >= 3, `limbs` words).  Clears every slot.  A wipe of the slot (an
 * owner change, gluon_copro_wipe, a reset) clears the modulus, the slots and the queued
 * program: the driver checks STATE.MODSET and STATE.ACTIVE_LIMBS before each call that needs
 * the modulus and, after a wipe, sets the last modulus set through it again (its own copy,
 * about 3 000 cycles at 256 bits; DMA window needed, as for this call) and forgets the
 * queued program.  Values in slots (gluon_modmul_put) do not survive a wipe. */
int gluon_modmul_setmod(const uint32_t *n, unsigned limbs);
unsigned gluon_modmul_limbs(void);         /* L of the modulus set (0: none) */

/* r = a op b mod N, plain (not Montgomery) form; a, b < N. */
int gluon_modmul_mulmod(uint32_t *r, const uint32_t *a, const uint32_t *b);
int gluon_modmul_addmod(uint32_t *r, const uint32_t *a, const uint32_t *b);
int gluon_modmul_submod(uint32_t *r, const uint32_t *a, const uint32_t *b);

/* r = base^exp mod N over all 32*exp_limbs exponent bits (a constant-time
 * Montgomery ladder: the same ops whatever the exponent). base < N. */
int gluon_modmul_modexp(uint32_t *r, const uint32_t *base, const uint32_t *exp,
                        unsigned exp_limbs);

/* r = a^-1 mod N by Fermat (a^(N-2)) for the modulus set with
 * gluon_modmul_setmod(): N must be prime, a != 0. */
int gluon_modmul_inverse(uint32_t *r, const uint32_t *a);

/* ---- Software Montgomery arithmetic (always available) -------------------- */

typedef struct {
    uint32_t n[GLUON_MODMUL_MAX_LIMBS];
    uint32_t r2[GLUON_MODMUL_MAX_LIMBS];    /* R^2 mod N */
    uint32_t n0inv;                         /* -N^-1 mod 2^32 */
    unsigned limbs;
} gluon_mont_sw_ctx;

/* GLUON_MODMUL_E_LIMBS / _E_MODULUS like the hardware, else 0. */
int gluon_mont_sw_init(gluon_mont_sw_ctx *c, const uint32_t *n, unsigned limbs);
/* r = a*b*R^-1 mod N (CIOS, constant time); a, b < N; r may alias a or b. */
void gluon_mont_sw_mul(const gluon_mont_sw_ctx *c, uint32_t *r, const uint32_t *a,
                       const uint32_t *b);
void gluon_mont_sw_to(const gluon_mont_sw_ctx *c, uint32_t *r, const uint32_t *a);
void gluon_mont_sw_from(const gluon_mont_sw_ctx *c, uint32_t *r, const uint32_t *a);
/* r = base^exp mod N, plain form, the same constant-time ladder. */
void gluon_mont_sw_modexp(const gluon_mont_sw_ctx *c, uint32_t *r, const uint32_t *base,
                          const uint32_t *exp, unsigned exp_limbs);

#ifdef __cplusplus
}
#endif

#endif /* GLUON_MODMUL_H */
