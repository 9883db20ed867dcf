/* user_copro.c: M-mode lends the hash coprocessor to an untrusted U-mode task, which hashes
 * its own buffer on it, while M's key and M's own hashing stay safe (gluon/copro.h).
 *
 *  1. M hashes its key on the coprocessor and leaves an unfinished message of its own in the
 *     engine (a streaming context with one block in it).
 *  2. gluon_copro_grant(): the hardware wipes the slot (M's message is gone), the task gets
 *     one DMA window over its own buffer and a PMP entry over the slot page.
 *  3. The task (U-mode) asks the engine to continue "the held message" (CONT): refused, there
 *     is nothing of M's to continue; points the DMA at M's key: refused (outside its window);
 *     hashes its own buffer: right.
 *  4. While the slot is lent, M's own hashing runs in software (the driver sees OWNER = U).
 *  5. gluon_copro_revoke(): back to M, wiped; M's old context reports it lost, M reopens its
 *     window and hashes on the hardware again.
 * The cycles of a wipe, a grant and a revoke are printed ("cost ..."). Expected output ends
 * with "user_copro: PASS". */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/copro.h"
#include "gluon/hash.h"
#include "gluon/pmp.h"
#include "gluon/regs.h"
#include "gluon/sdk.h"

/* M's secret and M's own hashing buffers, one naturally aligned region (a power of two in
 * size) that a PMP entry closes to the task. */
static struct __attribute__((aligned(1024))) {    /* sizeof: 1024 */
    uint8_t key[64];
    uint8_t digest[32];
    uint8_t block[64];
    gluon_hash_ctx ctx;
} m_area;

/* The task's memory: its stack and the buffer it hashes, one naturally aligned region. */
static struct __attribute__((aligned(1024))) {    /* sizeof: 1024 */
    uint32_t stack[192];
    uint8_t msg[200];
    uint8_t digest[32];
    uint32_t results[4];        /* CAUSE of the CONT, CAUSE of the key attempt, status, 0 */
} task_area;

static void task(void)
{
    /* CONT: continue whatever message the engine holds (M left one there before the grant). */
    GLUON_HASH_CTRL = GLUON_HASH_SHA256 << GLUON_HASH_CTRL_MODE_SHIFT;
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)task_area.msg;
    GLUON_HASH_LEN = 0;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)task_area.digest;
    GLUON_HASH_START = GLUON_HASH_START_OP_CONT << GLUON_HASH_START_OP_SHIFT;
    while (!(GLUON_HASH_STATUS & GLUON_HASH_STATUS_DONE_MASK))
        ;
    task_area.results[0] = (GLUON_HASH_STATUS & GLUON_HASH_STATUS_CAUSE_MASK) >>
                           GLUON_HASH_STATUS_CAUSE_SHIFT;
    GLUON_HASH_STATUS = GLUON_HASH_STATUS_DONE_MASK | GLUON_HASH_STATUS_ERROR_MASK;
    /* Read M's key by DMA. */
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)m_area.key;
    GLUON_HASH_LEN = sizeof m_area.key;
    GLUON_HASH_START = GLUON_HASH_START_OP_HASH << GLUON_HASH_START_OP_SHIFT;
    while (!(GLUON_HASH_STATUS & GLUON_HASH_STATUS_DONE_MASK))
        ;
    task_area.results[1] = (GLUON_HASH_STATUS & GLUON_HASH_STATUS_CAUSE_MASK) >>
                           GLUON_HASH_STATUS_CAUSE_SHIFT;
    GLUON_HASH_STATUS = GLUON_HASH_STATUS_DONE_MASK | GLUON_HASH_STATUS_ERROR_MASK;
    /* Its own buffer. */
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)task_area.msg;
    GLUON_HASH_LEN = sizeof task_area.msg;
    GLUON_HASH_START = GLUON_HASH_START_OP_HASH << GLUON_HASH_START_OP_SHIFT;
    uint32_t s;
    while (!((s = GLUON_HASH_STATUS) & GLUON_HASH_STATUS_DONE_MASK))
        ;
    task_area.results[2] = s;
    gluon_user_exit(0);
}

static int errors;

static void check(int ok, const char *what)
{
    printf("  %s: %s\n", what, ok ? "ok" : "FAILED");
    errors += !ok;
}

int main(void)
{
    if (!gluon_hash_present()) {
        printf("user_copro: no hash coprocessor\n");
        return 1;
    }
    for (unsigned i = 0; i < sizeof m_area.key; i++)
        m_area.key[i] = (uint8_t)(0xA5 ^ (i * 29));
    for (unsigned i = 0; i < sizeof task_area.msg; i++)
        task_area.msg[i] = (uint8_t)(i * 7 + 1);
    uint8_t want[32], key_digest[32];
    sha256_sw(m_area.key, sizeof m_area.key, key_digest);

    /* 1. M's own work on the coprocessor. */
    gluon_hash_window(0, &m_area, sizeof m_area);
    int rc = sha256(m_area.key, sizeof m_area.key, m_area.digest);
    check(rc == 0 && memcmp(m_area.digest, key_digest, 32) == 0, "M hashes its key in hardware");
    gluon_hash_init(&m_area.ctx, GLUON_HASH_SHA256);
    gluon_hash_update(&m_area.ctx, m_area.key, 64);     /* one block of M's stays in the engine */
    uint64_t t0 = gluon_rdcycle();
    gluon_copro_wipe(GLUON_HASH_SLOT);
    uint32_t wipe_cycles = (uint32_t)(gluon_rdcycle() - t0);
    gluon_hash_init(&m_area.ctx, GLUON_HASH_SHA256);
    gluon_hash_update(&m_area.ctx, m_area.key, 64);

    /* 2. The task's PMP (entries 3-5) and the grant (entry 6: the slot page). */
    uintptr_t ram_base = GLUON_SYSINFO_RAM_BASE, ram_size = GLUON_SYSINFO_RAM_SIZE;
    if (gluon_pmp_napot(3, (uintptr_t)&m_area, sizeof m_area, 0) ||
        gluon_pmp_napot(4, (uintptr_t)&task_area, sizeof task_area, GLUON_PMP_R | GLUON_PMP_W) ||
        gluon_pmp_napot(5, ram_base, ram_size, GLUON_PMP_R | GLUON_PMP_X)) {
        printf("PMP set-up failed\n");
        return 1;
    }
    gluon_copro_buf bufs[] = {{&task_area.msg, sizeof task_area.msg + sizeof task_area.digest,
                               GLUON_COPRO_R | GLUON_COPRO_W}};
    gluon_copro_buf keybuf[] = {{m_area.key, sizeof m_area.key, GLUON_COPRO_R}};
    check(gluon_copro_grant(GLUON_HASH_SLOT, 6, keybuf, 1) == GLUON_COPRO_E_BUF,
          "a grant over M's key is refused");
    t0 = gluon_rdcycle();
    rc = gluon_copro_grant(GLUON_HASH_SLOT, 6, bufs, 1);
    uint32_t grant_cycles = (uint32_t)(gluon_rdcycle() - t0);
    check(rc == 0 && gluon_copro_lent(GLUON_HASH_SLOT), "slot lent to the task");

    /* 3. The task. */
    int code = gluon_run_user(task, task_area.stack + 192);
    check(code == 0, "task ran to its end");
    check(task_area.results[0] == GLUON_HASH_E_SEQ, "task's CONT finds nothing of M's");
    check(task_area.results[1] == GLUON_HASH_E_DMA, "task's DMA at M's key is refused");
    sha256_sw(task_area.msg, sizeof task_area.msg, want);
    check(!(task_area.results[2] & GLUON_HASH_STATUS_ERROR_MASK) &&
          memcmp(task_area.digest, want, 32) == 0, "task's own hash is right");

    /* 4. M hashes while the slot is lent: in software, same digest. */
    memset(m_area.digest, 0, 32);
    rc = sha256(m_area.key, sizeof m_area.key, m_area.digest);
    check(rc == 0 && memcmp(m_area.digest, key_digest, 32) == 0, "M hashes in software meanwhile");

    /* 5. Revoke: the slot is M's again, wiped, every window closed. */
    t0 = gluon_rdcycle();
    gluon_copro_revoke(GLUON_HASH_SLOT);
    uint32_t revoke_cycles = (uint32_t)(gluon_rdcycle() - t0);
    check(!gluon_copro_lent(GLUON_HASH_SLOT), "slot back to M");
    check(gluon_hash_final(&m_area.ctx, m_area.digest, 32) == GLUON_HASH_E_LOST,
          "M's context from before the grant is lost, not finished with stale state");
    gluon_hash_window(0, &m_area, sizeof m_area);
    memset(m_area.digest, 0, 32);
    rc = sha256(m_area.key, sizeof m_area.key, m_area.digest);
    check(rc == 0 && memcmp(m_area.digest, key_digest, 32) == 0, "M hashes in hardware again");
    check(m_area.key[0] == 0xA5 && m_area.key[63] == (uint8_t)(0xA5 ^ (63 * 29)), "key intact");

    printf("cost wipe %u grant %u revoke %u cycles\n", (unsigned)wipe_cycles,
           (unsigned)grant_cycles, (unsigned)revoke_cycles);
    printf("user_copro: %s\n", errors ? "FAIL" : "PASS");
    return errors;
}
