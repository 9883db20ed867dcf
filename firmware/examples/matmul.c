/* matmul.c: 32x32 int32 matrix product (benchmark).
 *
 * Input, for a test to recompute: x starts at SEED = 2024; each step is
 * x = (1664525 * x + 1013904223) mod 2^32 and gives the element
 * (x >> 24) - 128 (signed, -128..127).  A is filled first, row by row
 * (A[0][0], A[0][1], ..., A[31][31]), then B the same way, continuing the
 * same sequence.  C = A * B; no element can overflow int32.
 *
 * Output:
 *   matmul: n=32 seed=2024
 *   trace=<signed decimal>            sum of C[i][i]
 *   c[0][0]=<signed> c[31][31]=<signed>
 *   checksum=0x........   h = 0; for C row by row: h = (h * 31 + (uint32)C[i][j]) mod 2^32
 * Returns 0.
 */
#include <stdint.h>
#include <stdio.h>

#define N 32
#define SEED 2024u

static int32_t a[N][N], b[N][N], c[N][N];

static int32_t lcg_elem(uint32_t *x)
{
    *x = *x * 1664525u + 1013904223u;
    return (int32_t)(*x >> 24) - 128;
}

static void matmul(int32_t (*restrict r)[N], int32_t (*p)[N], int32_t (*q)[N])
{
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            int32_t s = 0;
            for (int k = 0; k < N; k++)
                s += p[i][k] * q[k][j];
            r[i][j] = s;
        }
    }
}

int main(void)
{
    uint32_t x = SEED;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            a[i][j] = lcg_elem(&x);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            b[i][j] = lcg_elem(&x);

    matmul(c, a, b);

    int32_t trace = 0;
    uint32_t h = 0;
    for (int i = 0; i < N; i++) {
        trace += c[i][i];
        for (int j = 0; j < N; j++)
            h = h * 31u + (uint32_t)c[i][j];
    }
    printf("matmul: n=%d seed=%u\n", N, SEED);
    printf("trace=%ld\n", (long)trace);
    printf("c[0][0]=%ld c[%d][%d]=%ld\n", (long)c[0][0], N - 1, N - 1, (long)c[N - 1][N - 1]);
    printf("checksum=0x%08x\n", (unsigned)h);
    return 0;
}
