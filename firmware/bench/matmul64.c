/* matmul64.c: a 64×64×64 int8 matrix product (262 144 multiply-accumulates),
 * requantized to int8 with a bias and ReLU (bench workload).
 *
 *     C = clamp(rdbpot(srdhm(A·B + bias, 2^30), 10) - 5, -5, 127)
 *
 * A, B from the bench LCG (seed 0x0BE9C400), the bias continues it
 * ((int32)x >> 14).  Region: one gluon_matmul_i8() call: on the matrix
 * coprocessor, or with -DGLUON_SOFTWARE the driver's software reference
 * (gluon_matmul_force_software).  Prints an FNV-1a digest of C and its first
 * row; sim/bench.py recomputes both in Python.
 */
#include <stdint.h>
#include <stdio.h>

#include "gluon/matmul.h"
#include "gluon/sdk.h"
#include "bench.h"

#define S 64

static struct {
    int8_t a[S * S];
    int8_t b[S * S];
    int32_t bias[S];
    int8_t c[S * S];
} __attribute__((aligned(16))) dma;

int main(void)
{
    bench_header("matmul64");
    uint32_t x = bench_fill((uint8_t *)dma.a, sizeof dma.a, 0x0BE9C400u);
    x = bench_fill((uint8_t *)dma.b, sizeof dma.b, x);
    for (int i = 0; i < S; i++) {
        x = 1664525u * x + 1013904223u;
        dma.bias[i] = (int32_t)x >> 14;
    }
#ifdef GLUON_SOFTWARE
    gluon_matmul_force_software(1);
#else
    if (!gluon_matmul_present()) {
        printf("no matrix coprocessor\n");
        return 2;
    }
    gluon_matmul_window(0, &dma, sizeof dma);
#endif
    gluon_requant rq = {1 << 30, 10, -5, 1, dma.bias};
    gluon_perf_start();
    int rc = gluon_matmul_i8(S, S, S, dma.a, S, dma.b, S, dma.c, S, &rq);
    gluon_perf_stop();
    bench_print_perf();
    printf("hardware: %d\n", gluon_matmul_last_was_hw());
    bench_print_hex("row0", dma.c, S);
    printf("digest: %08x\n", (unsigned)bench_fnv1a(dma.c, sizeof dma.c));
    if (rc)
        printf("error: %d\n", rc);
    return rc ? 1 : 0;
}
