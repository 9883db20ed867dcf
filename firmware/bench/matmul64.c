/* matmul64.c: an M×N×K int8 matrix product (default 64×64×64: 262 144
 * multiply-accumulates; -DMM_M=.. -DMM_N=.. -DMM_K=.. for the other sizes),
 * requantized to int8 with a bias and ReLU (bench workload); -DMM_INT32: the raw
 * int32 output (C = A·B + bias) instead.
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

#ifndef MM_M
#define MM_M 64
#endif
#ifndef MM_N
#define MM_N 64
#endif
#ifndef MM_K
#define MM_K 64
#endif
#ifdef MM_INT32
typedef int32_t c_t;
#else
typedef int8_t c_t;
#endif

static struct {
    int8_t a[MM_M * MM_K];
    int8_t b[MM_K * MM_N];
    int32_t bias[MM_N];
    c_t c[MM_M * MM_N];
} __attribute__((aligned(16))) dma;

int main(void)
{
    bench_header("matmul64");
    uint32_t x = bench_fill((uint8_t *)dma.a, sizeof dma.a, 0x0BE9C400u);
    x = bench_fill((uint8_t *)dma.b, sizeof dma.b, x);
    for (int i = 0; i < MM_N; i++) {
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
    gluon_perf_start();
#ifdef MM_INT32
    int rc = gluon_matmul_i8_i32(MM_M, MM_N, MM_K, dma.a, MM_K, dma.b, MM_N, dma.c,
                                 MM_N * 4, dma.bias);
#else
    gluon_requant rq = {1 << 30, 10, -5, 1, dma.bias};
    int rc = gluon_matmul_i8(MM_M, MM_N, MM_K, dma.a, MM_K, dma.b, MM_N, dma.c, MM_N, &rq);
#endif
    gluon_perf_stop();
    bench_print_perf();
    printf("hardware: %d\n", gluon_matmul_last_was_hw());
    bench_print_hex("row0", dma.c, MM_N * sizeof(c_t));
    printf("digest: %08x\n", (unsigned)bench_fnv1a(dma.c, sizeof dma.c));
    if (rc)
        printf("error: %d\n", rc);
    return rc ? 1 : 0;
}
