/* Gluon hash coprocessor driver (slot 0, register map HASH) and the software
 * fallbacks: SHA-256 (FIPS 180-4), SHA3-256, SHA3-512, SHAKE128, SHAKE256
 * (FIPS 202) and Keccak-256 (original Keccak padding, as used by Ethereum).
 *
 * Hardware reference: docs/hash.md; registers: docs/registers.md (HASH).
 *
 * DMA confinement.  The coprocessor reads messages and writes digests by DMA,
 * and its DMA engine only touches memory inside the hash slot's own DMA
 * windows that M-mode opened (gluon/copro.h).  Before using the hardware, open
 * a window that covers every message, every digest buffer and every
 * gluon_hash_ctx you use, e.g.
 *
 *     gluon_hash_window(0, buffers, sizeof buffers);
 *
 * A buffer outside the windows makes the operation fail with
 * GLUON_HASH_E_DMA (no hang, no memory touched).
 *
 * Wipes and lending.  A wipe of the slot (gluon_copro_wipe, and every
 * gluon_copro_grant / gluon_copro_revoke) empties the engine: a context with
 * blocks in it fails its next update/final with GLUON_HASH_E_LOST (the driver
 * counts the SDK's wipes; a wipe made behind its back shows as
 * GLUON_HASH_E_SEQ from the hardware, never as a wrong digest).  Owner changes
 * also close every window of the slot: open them again after a revoke.  While
 * the slot is lent to a U task, contexts initialised and one-shot calls run on
 * the software implementations: none of M's data enters the task's block.
 *
 * Buffers.  The engine reads whole 32-bit words: a message handed to the
 * hardware directly must start on a word boundary and be readable up to the
 * next word boundary after its last byte (the extra bytes are masked off in
 * hardware, never hashed).  The driver copies unaligned data through the
 * context's own block buffer, so the streaming API and the one-shot helpers
 * take any pointer; aligned data is sent without copying.
 *
 * One streaming message at a time.  The engine holds one unfinished message.
 * Starting another one (gluon_hash_init + update on a second context, or a
 * one-shot helper) while a first context has blocks in the engine makes the
 * first context's next update/final fail with GLUON_HASH_E_LOST.
 *
 * All functions return 0 on success, else an error code below.
 */
#ifndef GLUON_HASH_H
#define GLUON_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "gluon/regs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CTRL.MODE values: the same numbers as hdl/hash.py Mode (tests/test_hash.py
 * checks that they agree). */
typedef enum {
    GLUON_HASH_SHA256    = 1,
    GLUON_HASH_SHA3_256  = 2,
    GLUON_HASH_SHA3_512  = 3,
    GLUON_HASH_KECCAK256 = 4,
    GLUON_HASH_SHAKE128  = 5,
    GLUON_HASH_SHAKE256  = 6,
} gluon_hash_mode;

/* Errors 1..10 are the hardware's STATUS.CAUSE codes (hdl/hash/registers.py Cause; the values
 * come from gluon/regs.h, generated from that enum). */
#define GLUON_HASH_OK        0
#define GLUON_HASH_E_BUSY    GLUON_HASH_STATUS_CAUSE_BUSY   /* START while busy */
#define GLUON_HASH_E_WIPING  GLUON_HASH_STATUS_CAUSE_WIPING   /* START while the slot is wiped */
#define GLUON_HASH_E_OP      GLUON_HASH_STATUS_CAUSE_OP   /* unknown START.OP */
#define GLUON_HASH_E_MODE    GLUON_HASH_STATUS_CAUSE_MODE   /* unknown mode */
#define GLUON_HASH_E_SEQ     GLUON_HASH_STATUS_CAUSE_SEQ   /* CONT without an unfinished message of this mode */
#define GLUON_HASH_E_ALIGN   GLUON_HASH_STATUS_CAUSE_ALIGN   /* SRC/DST not word aligned */
#define GLUON_HASH_E_LEN     GLUON_HASH_STATUS_CAUSE_LEN   /* bad (chunk) length */
#define GLUON_HASH_E_OUTLEN  GLUON_HASH_STATUS_CAUSE_OUTLEN   /* bad SHAKE output length */
#define GLUON_HASH_E_DMA     GLUON_HASH_STATUS_CAUSE_DMA   /* buffer outside the DMA windows, or bus error */
#define GLUON_HASH_E_ABORTED GLUON_HASH_STATUS_CAUSE_ABORTED   /* ABORT */
/* Driver-level errors. */
#define GLUON_HASH_E_ARG     16  /* bad argument (mode, NULL, output length) */
#define GLUON_HASH_E_LOST    17  /* another message took the engine meanwhile */
#define GLUON_HASH_E_STATE   18  /* update/final on a finished or failed context */

#define GLUON_HASH_MAX_BLOCK 168  /* SHAKE128's rate, the largest block */
#define GLUON_HASH_MAX_DIGEST 64  /* SHA3-512 */

/* ---- Software implementations (always available) ----------------------- */

typedef struct {
    uint32_t h[8];
    uint64_t length;        /* message bytes so far */
    uint32_t used;          /* bytes in block */
    uint8_t block[64];
} gluon_sha256_sw_ctx;

void gluon_sha256_sw_init(gluon_sha256_sw_ctx *c);
void gluon_sha256_sw_update(gluon_sha256_sw_ctx *c, const void *data, size_t n);
void gluon_sha256_sw_final(gluon_sha256_sw_ctx *c, uint8_t out[32]);

typedef struct {
    uint64_t a[25];         /* state lanes, lane (x, y) at a[x + 5*y] */
    uint32_t rate;          /* bytes */
    uint32_t used;          /* bytes absorbed into the current block */
    uint8_t pad;            /* domain/padding byte: 0x06 SHA3, 0x1F SHAKE, 0x01 Keccak */
    uint8_t squeezing;
} gluon_keccak_sw_ctx;

void gluon_keccak_f1600(uint64_t a[25]);
void gluon_keccak_sw_init(gluon_keccak_sw_ctx *c, uint32_t rate, uint8_t pad);
void gluon_keccak_sw_update(gluon_keccak_sw_ctx *c, const void *data, size_t n);
void gluon_keccak_sw_squeeze(gluon_keccak_sw_ctx *c, void *out, size_t n);  /* may repeat */

void sha256_sw(const void *msg, size_t n, uint8_t out[32]);
void sha3_256_sw(const void *msg, size_t n, uint8_t out[32]);
void sha3_512_sw(const void *msg, size_t n, uint8_t out[64]);
void keccak256_sw(const void *msg, size_t n, uint8_t out[32]);
void shake128_sw(const void *msg, size_t n, void *out, size_t outlen);
void shake256_sw(const void *msg, size_t n, void *out, size_t outlen);

/* ---- Hardware driver ---------------------------------------------------- */

/* 1 if the SoC has the hash coprocessor (SYSINFO.COPROCS and the ID register). */
int gluon_hash_present(void);

/* Open window `win` (0..3) of the hash slot for reading and writing over
 * [base, base+size): gluon_copro_window(GLUON_HASH_SLOT, ...).  M-mode only.
 * Returns GLUON_HASH_E_ARG for a bad index or a locked window. */
int gluon_hash_window(unsigned win, const void *base, size_t size);

/* Use the software implementations even if the hardware is present
 * (for comparisons and benchmarks).  Default: hardware when present. */
void gluon_hash_force_software(int on);

typedef struct {
    uint32_t buf[GLUON_HASH_MAX_BLOCK / 4];   /* partial block; DMA source and digest bounce */
    uint32_t used;          /* bytes in buf */
    uint16_t block;         /* block size in bytes */
    uint8_t mode;
    uint8_t state;          /* 0 fresh, 1 blocks in the engine, 2 finished/failed */
    uint8_t software;       /* this context runs on the software fallback */
    uint32_t last_cycles;   /* CYCLES of the last hardware operation */
    union {
        gluon_sha256_sw_ctx sha;
        gluon_keccak_sw_ctx kec;
    } sw;
} gluon_hash_ctx;

int gluon_hash_init(gluon_hash_ctx *c, gluon_hash_mode mode);
int gluon_hash_update(gluon_hash_ctx *c, const void *data, size_t n);
/* outlen: the digest size for the fixed modes (32 or 64; 0 means "the digest
 * size"), any length for SHAKE.  SHAKE outputs longer than
 * GLUON_HASH_MAX_BLOCK bytes must be word aligned with outlen a multiple of 4
 * (they are written by DMA in place), else GLUON_HASH_E_ARG. */
int gluon_hash_final(gluon_hash_ctx *c, void *out, size_t outlen);

/* One-shot helpers: hardware if present (and not forced off), else software. */
int sha256(const void *msg, size_t n, uint8_t out[32]);
int sha3_256(const void *msg, size_t n, uint8_t out[32]);
int sha3_512(const void *msg, size_t n, uint8_t out[64]);
int keccak256(const void *msg, size_t n, uint8_t out[32]);
int shake128(const void *msg, size_t n, void *out, size_t outlen);
int shake256(const void *msg, size_t n, void *out, size_t outlen);

/* Cycles the coprocessor spent on the last hardware operation (its CYCLES
 * register): from START to DONE of the final chunk. */
uint32_t gluon_hash_last_cycles(void);

#ifdef __cplusplus
}
#endif

#endif /* GLUON_HASH_H */
