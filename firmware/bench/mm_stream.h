/* mm_stream.h: stream op words to the MODMUL coprocessor as a series of
 * programs, double-buffered: while one program runs (fetched by DMA), the core
 * writes the next into the other buffer, so the core is never in the loop per
 * multiply and its program generation overlaps the coprocessor's work.
 *
 *     mm_stream_init(win, data);    DMA window over the buffers and `data`
 *     mm_emit(op) ...               append an op word (GLUON_MM_*)
 *     mm_finish();                  run what is left, wait; 0 or the error cause
 *
 * `data` is the base of every LOAD/STORE/SETMOD imm (word offsets) and must
 * lie inside window `win + 1` (mm_stream_init opens it with `data_size`).
 * Slots persist between programs, so a program boundary may fall anywhere.
 *
 * This is bench code, a proposal for the driver (firmware/drivers/modmul.c,
 * whose gluon_modmul_run() waits for each program before the next one is
 * built): it writes the MODMUL registers directly.
 */
#ifndef GLUON_BENCH_MM_STREAM_H
#define GLUON_BENCH_MM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "gluon/modmul.h"
#include "gluon/regs.h"

#define MM_PROG_MAX 512            /* PROG_LEN limit (INFO.PROG_DEPTH of the full SoC) */
/* The first program is short, so the coprocessor starts early; each next one may be twice as
 * long (writing 2n op words takes the core less time than the coprocessor needs to run n). */
#define MM_FIRST_PROG 16

static struct {
    uint32_t prog[2][MM_PROG_MAX];
} __attribute__((aligned(16))) mm_bufs;

static struct {
    const void *data;
    uint32_t *cur;          /* buffer being written */
    unsigned n;             /* ops in it */
    unsigned which;         /* index of `cur` */
    int running;            /* a program runs from the other buffer */
    int error;              /* first error cause seen */
    unsigned limit;         /* ops per program: starts small, doubles up to MM_PROG_MAX */
    unsigned programs;      /* programs started */
} mm_s;

static inline void mm_fence(void)
{
    __asm__ volatile("fence" ::: "memory");
}

static inline void mm_stream_init(unsigned win, const void *data, size_t data_size)
{
    gluon_modmul_window(win, &mm_bufs, sizeof mm_bufs);
    gluon_modmul_window(win + 1, data, data_size);
    mm_s.data = data;
    mm_s.cur = mm_bufs.prog[0];
    mm_s.which = 0;
    mm_s.n = 0;
    mm_s.running = 0;
    mm_s.error = 0;
    mm_s.programs = 0;
    mm_s.limit = MM_FIRST_PROG;
}

/* Wait for the running program (if any). */
static inline void mm_wait(void)
{
    if (!mm_s.running)
        return;
    uint32_t status;
    while ((status = GLUON_MODMUL_STATUS) & GLUON_MODMUL_STATUS_BUSY_MASK)
        ;
    mm_s.running = 0;
    if ((status & GLUON_MODMUL_STATUS_ERROR_MASK) && !mm_s.error)
        mm_s.error = (int)((status & GLUON_MODMUL_STATUS_CAUSE_MASK) >>
                           GLUON_MODMUL_STATUS_CAUSE_SHIFT);
}

/* Start the buffered ops as a program (after the previous one ends), switch buffers. */
static inline void mm_flush(void)
{
    if (mm_s.n == 0)
        return;
    mm_wait();
    mm_fence();              /* the op words are in RAM before START */
    GLUON_MODMUL_PROG_ADDR = (uint32_t)(uintptr_t)mm_s.cur;
    GLUON_MODMUL_PROG_LEN = mm_s.n;
    GLUON_MODMUL_DATA_BASE = (uint32_t)(uintptr_t)mm_s.data;
    GLUON_MODMUL_START = 0;
    mm_s.running = 1;
    mm_s.programs++;
    mm_s.which ^= 1;
    mm_s.cur = mm_bufs.prog[mm_s.which];
    mm_s.n = 0;
    mm_s.limit = mm_s.limit >= MM_PROG_MAX / 2 ? MM_PROG_MAX : 2 * mm_s.limit;
}

static inline void mm_emit(uint32_t op)
{
    mm_s.cur[mm_s.n++] = op;
    if (mm_s.n == mm_s.limit)
        mm_flush();
}

/* Run what is buffered and wait for the end: 0 or the first error cause. */
static inline int mm_finish(void)
{
    mm_flush();
    mm_wait();
    mm_fence();              /* STOREd values are read after the program ended */
    return mm_s.error;
}

#endif /* GLUON_BENCH_MM_STREAM_H */
