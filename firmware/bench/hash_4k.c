/* hash_4k.c: SHA-256 of 4 KiB, or with -DHASH_KECCAK Keccak-256 (bench workloads
 * sha256_4k and keccak256_4k).
 *
 * Input: 4096 LCG bytes (bench.h, seed 0x5A5A0001; Keccak 0x5A5A0002).  Region: one
 * sha256() (keccak256()) call,
 * on the hash coprocessor, or with -DGLUON_SOFTWARE the driver's software
 * implementation (gluon_hash_force_software).  Prints the message's first
 * bytes and the digest; sim/bench.py checks it against Python.
 */
#include <stdint.h>
#include <stdio.h>

#include "gluon/hash.h"
#include "gluon/sdk.h"
#include "bench.h"

#define LEN 4096
#ifdef HASH_KECCAK
#define NAME "keccak256_4k"
#define SEED 0x5A5A0002u
#define HASH keccak256
#else
#define NAME "sha256_4k"
#define SEED 0x5A5A0001u
#define HASH sha256
#endif

static struct {
    uint8_t msg[LEN];
    uint8_t out[32];
} __attribute__((aligned(16))) dma_area;

int main(void)
{
    bench_header(NAME);
    bench_fill(dma_area.msg, LEN, SEED);
#ifdef GLUON_SOFTWARE
    gluon_hash_force_software(1);
#else
    if (!gluon_hash_present()) {
        printf("no hash coprocessor\n");
        return 2;
    }
    gluon_hash_window(0, &dma_area, sizeof dma_area);
#endif
    gluon_perf_start();
    int rc = HASH(dma_area.msg, LEN, dma_area.out);
    gluon_perf_stop();
    bench_print_perf();
    printf("length: %u\nseed: 0x%08x\n", (unsigned)LEN, SEED);
    bench_print_hex("digest", dma_area.out, 32);
    return rc ? 1 : 0;
}
