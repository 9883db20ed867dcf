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

#include "gluon/hash.h"

#define LCG_LEN 3000
#define SEED 0x5EEDu
#define PIECE 37

/* sha256_sw() and gluon_sha256_sw_*(): the SDK's software SHA-256 (firmware/drivers/
 * sha256_sw.c), the code the hash driver falls back to, measured here on the core alone. */

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
        sha256_sw(texts[i], strlen(texts[i]), d);
        snprintf(label, sizeof label, "\"%s\"", texts[i]);
        print_digest(label, d);
    }

    uint32_t x = SEED;
    for (int i = 0; i < LCG_LEN; i++) {
        x = x * 1664525u + 1013904223u;
        msg[i] = (uint8_t)(x >> 24);
    }
    sha256_sw(msg, LCG_LEN, d);
    snprintf(label, sizeof label, "lcg %d bytes, seed 0x%x", LCG_LEN, SEED);
    print_digest(label, d);

    gluon_sha256_sw_ctx s;
    gluon_sha256_sw_init(&s);
    for (uint32_t off = 0; off < LCG_LEN; off += PIECE) {
        uint32_t n = LCG_LEN - off < PIECE ? LCG_LEN - off : PIECE;
        gluon_sha256_sw_update(&s, msg + off, n);
    }
    gluon_sha256_sw_final(&s, d2);
    int match = memcmp(d, d2, 32) == 0;
    printf("streaming: %s\n", match ? "match" : "MISMATCH");
    return match ? 0 : 1;
}
