/* A SHA-256 by the hash coprocessor's DMA, for tests/test_debug_module.py: the test halts the
 * hart while the DMA runs and checks the digest after resuming. */
#include <stdint.h>

#include "gluon/hash.h"

static struct {
    uint8_t msg[512];
    uint8_t digest[32];
    gluon_hash_ctx ctx;
} __attribute__((aligned(4))) buf;

uint8_t result[32];

int main(void)
{
    for (int i = 0; i < (int)sizeof buf.msg; i++)
        buf.msg[i] = (uint8_t)(i * 7);
    if (gluon_hash_window(0, &buf, sizeof buf) || gluon_hash_init(&buf.ctx, GLUON_HASH_SHA256) ||
        gluon_hash_update(&buf.ctx, buf.msg, sizeof buf.msg) ||
        gluon_hash_final(&buf.ctx, buf.digest, 32))
        return 2;
    for (int i = 0; i < 32; i++)
        result[i] = buf.digest[i];
    return 0;
}
