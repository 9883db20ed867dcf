/* crc32.c: CRC-32 of an 8 KiB pseudo-random buffer (benchmark).
 *
 * CRC-32 as in IEEE 802.3 / zlib: reflected polynomial 0xEDB88320, initial
 * value 0xFFFFFFFF, final XOR 0xFFFFFFFF (Python: zlib.crc32(data)).
 *
 * Input, for a test to recompute: x starts at SEED = 0x00C0FFEE; for
 * i = 0..8191, x = (1664525 * x + 1013904223) mod 2^32 and
 * buf[i] = x >> 24 (the top byte of the value after the step).
 *
 * Output:
 *   crc32: len=8192 seed=0x00c0ffee
 *   crc32(table)   = 0x........    table-driven, 256-entry table built at run time
 *   crc32(bitwise) = 0x........    bit at a time; must equal the table result
 *   crc32("123456789") = 0xcbf43926   the standard check value
 * Returns 0 if all three agree with each other and the check value, else 1.
 */
#include <stdint.h>
#include <stdio.h>

#define LEN 8192
#define SEED 0x00C0FFEEu
#define POLY 0xEDB88320u

static uint8_t buf[LEN];
static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[n] = c;
    }
}

static uint32_t crc32_table(const uint8_t *p, uint32_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    while (len--)
        c = table[(c ^ *p++) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static uint32_t crc32_bitwise(const uint8_t *p, uint32_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    while (len--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

int main(void)
{
    uint32_t x = SEED;
    for (int i = 0; i < LEN; i++) {
        x = x * 1664525u + 1013904223u;
        buf[i] = (uint8_t)(x >> 24);
    }
    make_table();

    uint32_t t = crc32_table(buf, LEN);
    uint32_t b = crc32_bitwise(buf, LEN);
    uint32_t check = crc32_table((const uint8_t *)"123456789", 9);

    printf("crc32: len=%d seed=0x%08x\n", LEN, SEED);
    printf("crc32(table)   = 0x%08x\n", (unsigned)t);
    printf("crc32(bitwise) = 0x%08x\n", (unsigned)b);
    printf("crc32(\"123456789\") = 0x%08x\n", (unsigned)check);
    return (t == b && check == 0xCBF43926u) ? 0 : 1;
}
