/* sha256_sw.c: SHA-256 in software (FIPS 180-4, sections 4.1.2, 4.2.2,
 * 5.1.1, 5.3.3 and 6.2), as a benchmark and a reference for the hash
 * coprocessor.
 *
 * Messages, for a test to recompute with hashlib.sha256:
 *   1. ""  (empty)
 *   2. "abc"
 *   3. "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" (56 bytes)
 *   4. 3000 pseudo-random bytes: x starts at SEED = 0x5EED; for i = 0..2999,
 *      x = (1664525 * x + 1013904223) mod 2^32 and msg[i] = x >> 24.
 *      It is hashed twice: in one call, and fed in 37-byte pieces (the last
 *      one shorter) to exercise the streaming code; both must agree.
 *
 * Output (digests as 64 lowercase hex digits):
 *   sha256("") = ...
 *   sha256("abc") = ...
 *   sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") = ...
 *   sha256(lcg 3000 bytes, seed 0x5eed) = ...
 *   streaming: match
 * Returns 0 if the streaming and one-shot digests agree, else 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LCG_LEN 3000
#define SEED 0x5EEDu
#define PIECE 37

struct sha256 {
    uint32_t h[8];
    uint8_t block[64];
    uint32_t used;          /* bytes in block */
    uint64_t length;        /* message bytes so far */
};

/* FIPS 180-4 4.2.2: first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t h[8], const uint8_t *p)
{
    uint32_t w[64];

    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
               (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }

    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    uint32_t e = h[4], f = h[5], g = h[6], k = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = k + S1 + ch + K[t] + w[t];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void sha256_init(struct sha256 *s)
{
    /* FIPS 180-4 5.3.3 */
    static const uint32_t iv[8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    };
    memcpy(s->h, iv, sizeof iv);
    s->used = 0;
    s->length = 0;
}

static void sha256_update(struct sha256 *s, const uint8_t *p, uint32_t n)
{
    s->length += n;
    while (n) {
        uint32_t take = 64 - s->used;
        if (take > n)
            take = n;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used == 64) {
            compress(s->h, s->block);
            s->used = 0;
        }
    }
}

static void sha256_final(struct sha256 *s, uint8_t out[32])
{
    /* FIPS 180-4 5.1.1: a 1 bit, zeros, then the 64-bit big-endian bit length. */
    uint64_t bits = s->length * 8;
    uint8_t pad = 0x80;

    sha256_update(s, &pad, 1);
    pad = 0;
    while (s->used != 56)
        sha256_update(s, &pad, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

static void sha256(const uint8_t *p, uint32_t n, uint8_t out[32])
{
    struct sha256 s;

    sha256_init(&s);
    sha256_update(&s, p, n);
    sha256_final(&s, out);
}

static void print_digest(const char *label, const uint8_t d[32])
{
    printf("sha256(%s) = ", label);
    for (int i = 0; i < 32; i++)
        printf("%02x", d[i]);
    putchar('\n');
}

static uint8_t msg[LCG_LEN];

int main(void)
{
    static const char *const texts[] = {
        "",
        "abc",
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    };
    uint8_t d[32], d2[32];
    char label[80];

    for (int i = 0; i < 3; i++) {
        sha256((const uint8_t *)texts[i], strlen(texts[i]), d);
        snprintf(label, sizeof label, "\"%s\"", texts[i]);
        print_digest(label, d);
    }

    uint32_t x = SEED;
    for (int i = 0; i < LCG_LEN; i++) {
        x = x * 1664525u + 1013904223u;
        msg[i] = (uint8_t)(x >> 24);
    }
    sha256(msg, LCG_LEN, d);
    snprintf(label, sizeof label, "lcg %d bytes, seed 0x%x", LCG_LEN, SEED);
    print_digest(label, d);

    struct sha256 s;
    sha256_init(&s);
    for (uint32_t off = 0; off < LCG_LEN; off += PIECE) {
        uint32_t n = LCG_LEN - off < PIECE ? LCG_LEN - off : PIECE;
        sha256_update(&s, msg + off, n);
    }
    sha256_final(&s, d2);
    int match = memcmp(d, d2, 32) == 0;
    printf("streaming: %s\n", match ? "match" : "MISMATCH");
    return match ? 0 : 1;
}
