/* bench.h: helpers shared by the `gluon bench` workloads (firmware/bench/).
 *
 * Every workload is one C file built twice by sim/bench.py: with
 * -DGLUON_SOFTWARE it runs the C implementation (the drivers' software
 * fallbacks or the *_sw functions), without it the coprocessor.  Only the
 * workload itself lies between gluon_perf_start() and gluon_perf_stop(): input
 * generation, DMA windows and printing stay outside, descriptor set-up and
 * driver calls inside.  The simulator counts the same region (SimResult
 * .measured), and firmware can read the counters itself (GLUON_PERF_*).
 *
 * Output protocol (parsed by sim/bench.py):
 *     path: software|coprocessor
 *     <name>: <value>            inputs and results the host re-checks
 *     digest: <hex>              must be equal for both builds
 *     perf: cycles <c> busy <b>  the counters as firmware reads them
 */
#ifndef GLUON_BENCH_H
#define GLUON_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gluon/regs.h"

#ifdef GLUON_SOFTWARE
#define BENCH_PATH "software"
#else
#define BENCH_PATH "coprocessor"
#endif

/* Start the measured region: zero every counter, then count. */
static inline void gluon_perf_start(void)
{
    __asm__ volatile("fence" ::: "memory");
    GLUON_PERF_CTRL = GLUON_PERF_CTRL_CLEAR_MASK;
    GLUON_PERF_CTRL = GLUON_PERF_CTRL_ENABLE_MASK;
}

/* End the measured region (the counters keep their values). */
static inline void gluon_perf_stop(void)
{
    GLUON_PERF_CTRL = 0;
    __asm__ volatile("fence" ::: "memory");
}

/* The counters of the last region as firmware sees them. */
static inline void bench_print_perf(void)
{
    printf("perf: cycles %u instret %u busy %u\n", (unsigned)GLUON_PERF_CYCLES,
           (unsigned)GLUON_PERF_INSTRET, (unsigned)GLUON_PERF_BUSY);
}

/* The LCG every workload fills its input with: x = 1664525 x + 1013904223,
 * byte = x >> 24 (sim/bench.py has the same). */
static inline uint32_t bench_fill(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = 1664525u * x + 1013904223u;
        p[i] = (uint8_t)(x >> 24);
    }
    return x;
}

/* "label: " + n bytes as hex, in memory order. */
static inline void bench_print_hex(const char *label, const void *p, size_t n)
{
    const uint8_t *b = (const uint8_t *)p;
    printf("%s: ", label);
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
    printf("\n");
}

/* "label: " + a little-endian multi-word number as big-endian hex (0x-less). */
static inline void bench_print_num(const char *label, const uint32_t *w, unsigned limbs)
{
    printf("%s: ", label);
    for (int i = (int)limbs - 1; i >= 0; i--)
        printf("%08x", (unsigned)w[i]);
    printf("\n");
}

/* FNV-1a, 32 bits: the digest of results too long to print. */
static inline uint32_t bench_fnv1a(const void *p, size_t n)
{
    const uint8_t *b = (const uint8_t *)p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

/* Let the UART send what is queued before the program ends (exit() does not
 * wait, and a simulation stops at the tohost store): the FIFO empty, then the
 * time of a few bytes in the simulator (the last one may still be shifting). */
static inline void bench_uart_drain(void)
{
    while (!(GLUON_UART_STATUS & GLUON_UART_STATUS_TX_EMPTY_MASK))
        ;
    for (volatile int i = 0; i < 64; i++)
        ;
}

static inline void bench_header(const char *workload)
{
    printf("workload: %s\npath: %s\n", workload, BENCH_PATH);
}

#endif /* GLUON_BENCH_H */
