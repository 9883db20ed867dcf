/* hash_bench.c: cycles to hash 64 B, 1 KiB and 4 KiB in software and on the
 * hash coprocessor, for SHA-256, SHA3-256 and Keccak-256 (and SHA3-512,
 * SHAKE128/256 with 32 output bytes on the coprocessor).
 *
 * Output, one line per (mode, size):
 *   <MODE> <bytes> B: sw <cycles> hw <cycles> (engine <cycles>) speedup <x>.<y>
 * "sw" and "hw" are rdcycle deltas around the whole call (the driver
 * included); "engine" is the coprocessor's CYCLES register (START to DONE).
 * The message is the LCG bytes of hash_test.c (seed 0x00C0FFEE).  Returns 1
 * if a hardware digest differs from the software one, else 0.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/hash.h"
#include "gluon/sdk.h"

#define SEED 0x00C0FFEEu
#define MAX 4096

static struct {
    uint8_t msg[MAX];
    uint8_t out[64];
} __attribute__((aligned(16))) dma_area;

static uint8_t ref[64];

typedef int (*hw_fn)(const void *, size_t, uint8_t *);
typedef void (*sw_fn)(const void *, size_t, uint8_t *);

static int shake128_32(const void *m, size_t n, uint8_t *o) { return shake128(m, n, o, 32); }
static int shake256_32(const void *m, size_t n, uint8_t *o) { return shake256(m, n, o, 32); }
static void shake128_32_sw(const void *m, size_t n, uint8_t *o) { shake128_sw(m, n, o, 32); }
static void shake256_32_sw(const void *m, size_t n, uint8_t *o) { shake256_sw(m, n, o, 32); }

static const struct {
    const char *name;
    hw_fn hw;
    sw_fn sw;
    size_t out;
    int sw_sizes;       /* how many of the sizes to run in software (it is slow) */
} MODES[] = {
    {"SHA256", sha256, sha256_sw, 32, 3},
    {"SHA3_256", sha3_256, sha3_256_sw, 32, 3},
    {"KECCAK256", keccak256, keccak256_sw, 32, 3},
    {"SHA3_512", sha3_512, sha3_512_sw, 64, 1},
    {"SHAKE128", shake128_32, shake128_32_sw, 32, 1},
    {"SHAKE256", shake256_32, shake256_32_sw, 32, 1},
};

static const size_t SIZES[] = {64, 1024, 4096};

int main(void)
{
    uint32_t x = SEED;
    for (int i = 0; i < MAX; i++) {
        x = 1664525u * x + 1013904223u;
        dma_area.msg[i] = (uint8_t)(x >> 24);
    }
    int have_hw = gluon_hash_present();
    if (have_hw)
        gluon_hash_window(0, &dma_area, sizeof dma_area);
    else
        printf("hash_bench: no hash coprocessor, software only\n");
    int bad = 0;
    for (unsigned m = 0; m < sizeof MODES / sizeof MODES[0]; m++) {
        for (unsigned s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++) {
            size_t n = SIZES[s];
            uint32_t sw_cycles = 0, hw_cycles = 0, engine = 0;
            int run_sw = (int)s < MODES[m].sw_sizes;
            if (run_sw) {
                uint64_t t0 = gluon_rdcycle();
                MODES[m].sw(dma_area.msg, n, ref);
                sw_cycles = (uint32_t)(gluon_rdcycle() - t0);
            }
            if (have_hw) {
                uint64_t t0 = gluon_rdcycle();
                int rc = MODES[m].hw(dma_area.msg, n, dma_area.out);
                hw_cycles = (uint32_t)(gluon_rdcycle() - t0);
                engine = gluon_hash_last_cycles();
                if (rc || (run_sw && memcmp(ref, dma_area.out, MODES[m].out)))
                    bad = 1;
            }
            printf("%s %u B: sw %u hw %u (engine %u)", MODES[m].name, (unsigned)n,
                   (unsigned)sw_cycles, (unsigned)hw_cycles, (unsigned)engine);
            if (run_sw && hw_cycles) {
                uint32_t tenths = (uint32_t)((uint64_t)sw_cycles * 10 / hw_cycles);
                printf(" speedup %u.%u", (unsigned)(tenths / 10), (unsigned)(tenths % 10));
            }
            printf("\n");
        }
    }
    printf("hash_bench: %s\n", bad ? "MISMATCH" : "ok");
    return bad;
}
