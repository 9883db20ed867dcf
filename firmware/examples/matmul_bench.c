/* matmul_bench.c: cycles for a 64×64×64 int8 matrix product (262144
 * multiply-accumulates), software reference vs the matrix coprocessor.
 *
 * A and B come from the LCG of matmul_test.c (seed 0x0BE9C400), the bias
 * continues it.  Two outputs: int8 requantized (with bias and ReLU) and raw
 * int32.  "sw" and "hw" are rdcycle deltas around the whole call (the driver
 * included); "engine" is the coprocessor's CYCLES register (START to DONE).
 *
 * Output, one line per output type:
 *   <type> 64x64x64: sw <cycles> hw <cycles> (engine <cycles>, <x.xx> MAC/cycle) speedup <x>
 * Returns 1 if a hardware result differs from the software one, else 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/matmul.h"
#include "gluon/sdk.h"

#define S 64

static struct {
    int8_t a[S * S];
    int8_t b[S * S];
    int32_t bias[S];
    int32_t c[S * S];
} __attribute__((aligned(16))) dma;

static int32_t ref[S * S];

static void print_line(const char *type, uint32_t sw, uint32_t hw, uint32_t engine)
{
    uint32_t mac100 = (uint32_t)(((uint64_t)S * S * S * 100) / engine);
    uint32_t speed10 = (uint32_t)(((uint64_t)sw * 10) / hw);
    printf("%s %dx%dx%d: sw %u hw %u (engine %u, %u.%02u MAC/cycle) speedup %u.%u\n", type, S,
           S, S, (unsigned)sw, (unsigned)hw, (unsigned)engine, (unsigned)(mac100 / 100),
           (unsigned)(mac100 % 100), (unsigned)(speed10 / 10), (unsigned)(speed10 % 10));
}

int main(void)
{
    if (!gluon_matmul_present()) {
        printf("matmul_bench: no matrix coprocessor in this SoC\n");
        return 1;
    }
    gluon_matmul_window(0, &dma, sizeof dma);
    uint32_t x = 0x0BE9C400u;
    for (int i = 0; i < S * S; i++) {
        x = 1664525u * x + 1013904223u;
        dma.a[i] = (int8_t)(x >> 24);
    }
    for (int i = 0; i < S * S; i++) {
        x = 1664525u * x + 1013904223u;
        dma.b[i] = (int8_t)(x >> 24);
    }
    for (int i = 0; i < S; i++) {
        x = 1664525u * x + 1013904223u;
        dma.bias[i] = (int32_t)x >> 14;
    }
    int bad = 0;

    /* int8 output: scale 2^-11 (multiplier 2^30 / 2^31, shift 10), ReLU. */
    gluon_requant rq = {1 << 30, 10, -5, 1, dma.bias};
    uint64_t t0 = gluon_rdcycle();
    gluon_matmul_i8_sw(S, S, S, dma.a, S, dma.b, S, (int8_t *)ref, S, &rq);
    uint64_t t1 = gluon_rdcycle();
    int err = gluon_matmul_i8(S, S, S, dma.a, S, dma.b, S, (int8_t *)dma.c, S, &rq);
    uint64_t t2 = gluon_rdcycle();
    if (err || memcmp(dma.c, ref, S * S) != 0) {
        printf("int8: hardware result differs (error %d)\n", err);
        bad = 1;
    }
    print_line("int8", (uint32_t)(t1 - t0), (uint32_t)(t2 - t1), gluon_matmul_last_cycles());

    t0 = gluon_rdcycle();
    gluon_matmul_i8_i32_sw(S, S, S, dma.a, S, dma.b, S, ref, 4 * S, dma.bias);
    t1 = gluon_rdcycle();
    err = gluon_matmul_i8_i32(S, S, S, dma.a, S, dma.b, S, dma.c, 4 * S, dma.bias);
    t2 = gluon_rdcycle();
    if (err || memcmp(dma.c, ref, sizeof ref) != 0) {
        printf("int32: hardware result differs (error %d)\n", err);
        bad = 1;
    }
    print_line("int32", (uint32_t)(t1 - t0), (uint32_t)(t2 - t1), gluon_matmul_last_cycles());
    return bad;
}
