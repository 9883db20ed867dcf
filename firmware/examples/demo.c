/* demo.c: what `gluon demo` runs -- Gluon in one screen.
 *
 * Prints a greeting and what SYSINFO reports, then runs short versions of the
 * accelerated workloads twice, in software on the core and on the
 * coprocessors, checks that both give the same result, and prints a table of
 * cycles, speedup and the coprocessor-busy / glue shares, read from the PERF
 * counters around each run (firmware/bench/bench.h).  The full measurement is
 * `gluon bench` (docs/benchmarks.md).
 *
 * Returns 0 when every pair agrees (and the SoC has the coprocessors), else 1.
 * About 1.3 M cycles on the full SoC.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/hash.h"
#include "gluon/matmul.h"
#include "gluon/modmul.h"
#include "gluon/sdk.h"
#include "../bench/bench.h"

#define MSG 1024
#define MM 32

static struct {
    uint8_t msg[MSG];
    uint8_t out[32];
    int8_t a[MM * MM];
    int8_t b[MM * MM];
    int8_t c[MM * MM];
} __attribute__((aligned(16))) dma;

static uint8_t ref[MM * MM];

struct measure {
    uint32_t cycles, busy;
};

static struct measure stop(void)
{
    gluon_perf_stop();
    struct measure m = {GLUON_PERF_CYCLES, GLUON_PERF_BUSY};
    return m;
}

static void fixed1(uint32_t num, uint32_t den)       /* num/den with one decimal */
{
    uint32_t t = den ? (uint32_t)(((uint64_t)num * 10 + den / 2) / den) : 0;
    printf("%6u.%u", (unsigned)(t / 10), (unsigned)(t % 10));
}

static int row(const char *name, struct measure sw, struct measure hw, int same)
{
    printf("%-22s %10u %9u ", name, (unsigned)sw.cycles, (unsigned)hw.cycles);
    fixed1(sw.cycles, hw.cycles);
    printf("x ");
    fixed1(hw.busy * 100, hw.cycles);
    printf(" %%");
    fixed1((hw.cycles - hw.busy) * 100, hw.cycles);
    printf(" %%  %s\n", same ? "same" : "DIFFERENT");
    return !same;
}

typedef int (*hash_fn)(const void *, size_t, uint8_t *);

static int hash_pair(const char *name, hash_fn fn)
{
    uint8_t sw_out[32];
    gluon_hash_force_software(1);
    gluon_perf_start();
    fn(dma.msg, MSG, sw_out);
    struct measure sw = stop();
    gluon_hash_force_software(0);
    gluon_perf_start();
    int rc = fn(dma.msg, MSG, dma.out);
    struct measure hw = stop();
    return row(name, sw, hw, rc == 0 && memcmp(sw_out, dma.out, 32) == 0);
}

static int matmul_pair(void)
{
    gluon_requant rq = {1 << 30, 9, 0, 1, NULL};
    gluon_matmul_force_software(1);
    gluon_perf_start();
    gluon_matmul_i8(MM, MM, MM, dma.a, MM, dma.b, MM, (int8_t *)ref, MM, &rq);
    struct measure sw = stop();
    gluon_matmul_force_software(0);
    gluon_perf_start();
    int rc = gluon_matmul_i8(MM, MM, MM, dma.a, MM, dma.b, MM, dma.c, MM, &rq);
    struct measure hw = stop();
    return row("int8 matmul 32x32x32", sw, hw,
               rc == 0 && gluon_matmul_last_was_hw() && memcmp(ref, dma.c, sizeof ref) == 0);
}

static const uint32_t SECP256K1_P[8] = {
    0xFFFFFC2F, 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
};

static int modexp_pair(void)
{
    static gluon_mont_sw_ctx ctx;
    uint32_t x[8], e[1] = {0xC0FFEE11u}, r_sw[8], r_hw[8];
    memcpy(x, dma.msg, sizeof x);
    x[7] &= 0x7FFFFFFFu;                              /* < p */
    gluon_perf_start();
    gluon_mont_sw_init(&ctx, SECP256K1_P, 8);
    gluon_mont_sw_modexp(&ctx, r_sw, x, e, 1);
    struct measure sw = stop();
    gluon_perf_start();
    int rc = gluon_modmul_setmod(SECP256K1_P, 8);
    if (rc == 0)
        rc = gluon_modmul_modexp(r_hw, x, e, 1);
    struct measure hw = stop();
    return row("modexp 256b^32b mod p", sw, hw, rc == 0 && memcmp(r_sw, r_hw, sizeof r_sw) == 0);
}

int main(void)
{
    puts("Hello from Gluon!");
    uint32_t id = GLUON_SYSINFO_ID, coprocs = GLUON_SYSINFO_COPROCS;
    printf("sysinfo: id=0x%08x \"%c%c%c%c\" clk=%u Hz ram=%u KiB coprocessors:",
           (unsigned)id, (char)(id >> 24), (char)(id >> 16), (char)(id >> 8), (char)id,
           (unsigned)GLUON_SYSINFO_CLK_HZ, (unsigned)(GLUON_SYSINFO_RAM_SIZE / 1024));
    static const char *const names[] = {"hash", "modmul", "matmul"};
    for (int i = 0; i < 3; i++)
        if (coprocs & (1u << i))
            printf(" %s (slot %d)", names[i], i);
    printf("\n");
    if (!gluon_hash_present() || !gluon_modmul_present() || !gluon_matmul_present()) {
        puts("demo: this SoC lacks a coprocessor; run it on the full SoC (--config full)");
        return 1;
    }

    uint32_t s = bench_fill(dma.msg, MSG, 0xDE30u);
    s = bench_fill((uint8_t *)dma.a, sizeof dma.a, s);
    bench_fill((uint8_t *)dma.b, sizeof dma.b, s);
    gluon_hash_window(0, &dma, sizeof dma);          /* hash and matmul use this buffer: */
    gluon_matmul_window(0, &dma, sizeof dma);        /* windows are per slot */
    gluon_modmul_init(1);                            /* the modmul driver's own buffers */

    printf("\nsoftware on the core vs the coprocessors (cycles of the measured region):\n");
    printf("%-22s %10s %9s %8s %8s %8s\n", "workload", "software", "coproc", "speedup",
           "busy", "glue");
    int bad = 0;
    bad |= hash_pair("SHA-256 of 1 KiB", sha256);
    bad |= hash_pair("Keccak-256 of 1 KiB", keccak256);
    bad |= modexp_pair();
    bad |= matmul_pair();
    printf("\nbusy: a coprocessor computes or its DMA moves data; glue: the core alone.\n"
           "The full table: gluon bench (docs/benchmarks.md).\n");
    printf("demo: %s\n", bad ? "MISMATCH" : "all results agree");
    bench_uart_drain();
    return bad;
}
