/* Keccak in software: NIST FIPS 202, section 3.2 (θ ρ π χ ι), 3.4
 * (Keccak-f[1600]), 4 (sponge), 5.1 (pad10*1), 6.1/6.2 (SHA3 and SHAKE domain
 * bits), plus Keccak-256 with the original Keccak padding (domain byte 0x01,
 * Ethereum).  The fallback of the hash driver and the reference its benchmark
 * compares the coprocessor with.  Lanes are little-endian 64-bit words, lane
 * (x, y) at a[x + 5*y].
 */
#include <stddef.h>
#include <stdint.h>

#include "gluon/hash.h"

/* FIPS 202 Algorithm 5/6: RC[i] */
static const uint64_t RC[24] = {
    0x0000000000000001ull, 0x0000000000008082ull, 0x800000000000808aull, 0x8000000080008000ull,
    0x000000000000808bull, 0x0000000080000001ull, 0x8000000080008081ull, 0x8000000000008009ull,
    0x000000000000008aull, 0x0000000000000088ull, 0x0000000080008009ull, 0x000000008000000aull,
    0x000000008000808bull, 0x800000000000008bull, 0x8000000000008089ull, 0x8000000000008003ull,
    0x8000000000008002ull, 0x8000000000000080ull, 0x000000000000800aull, 0x800000008000000aull,
    0x8000000080008081ull, 0x8000000000008080ull, 0x0000000080000001ull, 0x8000000080008008ull,
};

/* FIPS 202 Algorithm 2: ρ offsets, indexed x + 5*y. */
static const uint8_t RHO[25] = {
     0,  1, 62, 28, 27,
    36, 44,  6, 55, 20,
     3, 10, 43, 25, 39,
    41, 45, 15, 21,  8,
    18,  2, 61, 56, 14,
};

static inline uint64_t rotl64(uint64_t x, unsigned n)
{
    return n ? (x << n) | (x >> (64 - n)) : x;
}

void gluon_keccak_f1600(uint64_t a[25])
{
    uint64_t b[25], c[5], d[5];
    for (int round = 0; round < 24; round++) {
        for (int x = 0; x < 5; x++)
            c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
        for (int x = 0; x < 5; x++)
            d[x] = c[(x + 4) % 5] ^ rotl64(c[(x + 1) % 5], 1);
        for (int x = 0; x < 5; x++)
            for (int y = 0; y < 5; y++)
                b[y + 5 * ((2 * x + 3 * y) % 5)] = rotl64(a[x + 5 * y] ^ d[x], RHO[x + 5 * y]);
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++)
                a[x + 5 * y] = b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
        a[0] ^= RC[round];
    }
}

static inline void xor_byte(uint64_t a[25], uint32_t i, uint8_t v)
{
    a[i / 8] ^= (uint64_t)v << (8 * (i % 8));
}

void gluon_keccak_sw_init(gluon_keccak_sw_ctx *c, uint32_t rate, uint8_t pad)
{
    for (int i = 0; i < 25; i++)
        c->a[i] = 0;
    c->rate = rate;
    c->pad = pad;
    c->used = 0;
    c->squeezing = 0;
}

void gluon_keccak_sw_update(gluon_keccak_sw_ctx *c, const void *data, size_t n)
{
    const uint8_t *p = data;
    while (n--) {
        xor_byte(c->a, c->used++, *p++);
        if (c->used == c->rate) {
            gluon_keccak_f1600(c->a);
            c->used = 0;
        }
    }
}

void gluon_keccak_sw_squeeze(gluon_keccak_sw_ctx *c, void *out, size_t n)
{
    uint8_t *q = out;
    if (!c->squeezing) {
        xor_byte(c->a, c->used, c->pad);
        xor_byte(c->a, c->rate - 1, 0x80);
        gluon_keccak_f1600(c->a);
        c->used = 0;
        c->squeezing = 1;
    }
    while (n--) {
        if (c->used == c->rate) {
            gluon_keccak_f1600(c->a);
            c->used = 0;
        }
        *q++ = (uint8_t)(c->a[c->used / 8] >> (8 * (c->used % 8)));
        c->used++;
    }
}

static void sponge(const void *msg, size_t n, void *out, size_t outlen, uint32_t rate, uint8_t pad)
{
    gluon_keccak_sw_ctx c;
    gluon_keccak_sw_init(&c, rate, pad);
    gluon_keccak_sw_update(&c, msg, n);
    gluon_keccak_sw_squeeze(&c, out, outlen);
}

void sha3_256_sw(const void *msg, size_t n, uint8_t out[32]) { sponge(msg, n, out, 32, 136, 0x06); }
void sha3_512_sw(const void *msg, size_t n, uint8_t out[64]) { sponge(msg, n, out, 64, 72, 0x06); }
void keccak256_sw(const void *msg, size_t n, uint8_t out[32]) { sponge(msg, n, out, 32, 136, 0x01); }
void shake128_sw(const void *msg, size_t n, void *out, size_t outlen) { sponge(msg, n, out, outlen, 168, 0x1F); }
void shake256_sw(const void *msg, size_t n, void *out, size_t outlen) { sponge(msg, n, out, outlen, 136, 0x1F); }
