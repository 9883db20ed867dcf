/* copro_attack.c: a U-mode task the hash slot is lent to (gluon_copro_grant) attacks M-mode
 * through the coprocessor. One line per case ("case <name>: ..."), checked by
 * tests/test_isolation_copro.py:
 *
 *   dma-<target>  the task points a descriptor at M's key, M's stack, tohost, MMIO, the
 *                 control page, its own slot page, across its window's end: refused (cause
 *                 DMA), M's key and stack unchanged, M continues
 *   m-state       M left an unfinished message and its addresses in the block before the
 *                 grant: the task reads no address of M's and its CONT finds nothing
 *   u-state       the task leaves an unfinished message and addresses behind: after the revoke
 *                 M reads none of them and a CONT by M finds nothing
 *   ctl-page      the task loads and stores the control page (its owner, its windows, the
 *                 interrupt enable): every access faults, nothing changes
 *   revoke-mid    the task starts a long write by DMA and exits; M revokes while it runs: from
 *                 the revoking store on, nothing more is written
 *   irq           the task's DONE never reaches M's interrupt line, an owner change clears it,
 *                 M's own DONE does
 *   locked        a slot with a window M locked is never lent (last: locks hold until reset)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gluon/copro.h"
#include "gluon/hash.h"
#include "gluon/pmp.h"
#include "gluon/regs.h"
#include "gluon/sdk.h"

#define SLOT GLUON_HASH_SLOT
#define IRQ_CAUSE (0x80000000u + 16 + 1 + GLUON_HASH_SLOT)

static struct __attribute__((aligned(1024))) {
    uint8_t key[64];
    uint8_t digest[64];
    uint8_t block[256];
} m_area;                                   /* PMP entry 3: nothing for U */

static struct __attribute__((aligned(8192))) {
    uint32_t stack[512];
    uint8_t buf[4096];                      /* the task's buffer: the slot's only window */
    uint32_t result[16];
} task_area;                                /* PMP entry 4: read/write for U */

/* What the task attacks (U reads these: RAM is readable to it, entry 5). */
static volatile uint32_t atk_src, atk_len, atk_dst, atk_outlen, atk_mode;
static volatile uint32_t faults, last_fault, irqs;

void gluon_trap_handler(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    (void)mepc; (void)mtval;
    gluon_user_check_exit(mcause);
    if (mcause == IRQ_CAUSE) {
        irqs++;
        GLUON_COPROCTL_CTRL(SLOT) = 0;
        GLUON_HASH_STATUS = GLUON_HASH_STATUS_DONE_MASK | GLUON_HASH_STATUS_ERROR_MASK;
        return;
    }
    faults++;
    last_fault = mcause;
    gluon_trap_skip();
}

static uint32_t cause_of(uint32_t status)
{
    return (status & GLUON_HASH_STATUS_CAUSE_MASK) >> GLUON_HASH_STATUS_CAUSE_SHIFT;
}

static uint32_t run_op(uint32_t op)
{
    GLUON_HASH_STATUS = GLUON_HASH_STATUS_DONE_MASK | GLUON_HASH_STATUS_ERROR_MASK;
    GLUON_HASH_START = op << GLUON_HASH_START_OP_SHIFT;
    uint32_t s;
    while (!((s = GLUON_HASH_STATUS) & GLUON_HASH_STATUS_DONE_MASK))
        ;
    return s;
}

/* ---- the task's programs ---- */

static void task_dma(void)
{
    GLUON_HASH_CTRL = atk_mode << GLUON_HASH_CTRL_MODE_SHIFT;
    GLUON_HASH_SRC = atk_src;
    GLUON_HASH_LEN = atk_len;
    GLUON_HASH_DST = atk_dst;
    GLUON_HASH_OUTLEN = atk_outlen;
    task_area.result[0] = run_op(GLUON_HASH_START_OP_HASH);
    gluon_user_exit(0);
}

static void task_read_state(void)
{
    task_area.result[0] = GLUON_HASH_CTRL;
    task_area.result[1] = GLUON_HASH_SRC;
    task_area.result[2] = GLUON_HASH_LEN;
    task_area.result[3] = GLUON_HASH_DST;
    task_area.result[4] = GLUON_HASH_CYCLES;
    task_area.result[5] = GLUON_HASH_STATUS;
    GLUON_HASH_CTRL = GLUON_HASH_SHA256 << GLUON_HASH_CTRL_MODE_SHIFT;
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)task_area.buf;
    GLUON_HASH_LEN = 0;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)task_area.buf;
    task_area.result[6] = run_op(GLUON_HASH_START_OP_CONT);
    gluon_user_exit(0);
}

static void task_leave_state(void)
{
    GLUON_HASH_CTRL = (GLUON_HASH_SHA256 << GLUON_HASH_CTRL_MODE_SHIFT) | GLUON_HASH_CTRL_MORE_MASK;
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)task_area.buf;
    GLUON_HASH_LEN = 128;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)task_area.buf + 1024;
    GLUON_HASH_OUTLEN = 64;
    task_area.result[0] = run_op(GLUON_HASH_START_OP_HASH);
    GLUON_HASH_CTRL = (GLUON_HASH_SHA256 << GLUON_HASH_CTRL_MODE_SHIFT);    /* DONE left set */
    gluon_user_exit(0);
}

static void task_ctl_page(void)
{
    volatile uint32_t *ctl = &GLUON_COPROCTL_OWNER(SLOT);
    task_area.result[0] = ctl[0];                               /* load faults */
    GLUON_COPROCTL_OWNER(SLOT) = 0;                             /* store faults */
    GLUON_COPROCTL_WIN0_BASE(SLOT) = 0x80000000u;
    GLUON_COPROCTL_WIN0_LIMIT(SLOT) = 0x80020000u;
    GLUON_COPROCTL_WIN0_CTRL(SLOT) = GLUON_COPROCTL_WIN0_CTRL_R_MASK;
    GLUON_COPROCTL_CTRL(SLOT) = GLUON_COPROCTL_CTRL_WIPE_MASK;
    GLUON_COPROCTL_WIN0_CTRL(SLOT + 1) = GLUON_COPROCTL_WIN0_CTRL_R_MASK;   /* another slot's */
    gluon_user_exit(0);
}

static void task_start_long_write(void)
{
    GLUON_HASH_CTRL = GLUON_HASH_SHAKE128 << GLUON_HASH_CTRL_MODE_SHIFT;
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)task_area.buf;
    GLUON_HASH_LEN = 16;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)task_area.buf + 64;
    GLUON_HASH_OUTLEN = 4000;
    GLUON_HASH_START = GLUON_HASH_START_OP_HASH << GLUON_HASH_START_OP_SHIFT;
    gluon_user_exit(0);
}

static void task_irq(void)
{
    GLUON_HASH_CTRL = GLUON_HASH_SHA256 << GLUON_HASH_CTRL_MODE_SHIFT;
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)task_area.buf;
    GLUON_HASH_LEN = 100;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)task_area.buf + 128;
    task_area.result[0] = run_op(GLUON_HASH_START_OP_HASH);
    GLUON_HASH_START = GLUON_HASH_START_OP_HASH << GLUON_HASH_START_OP_SHIFT;   /* DONE again */
    for (volatile int i = 0; i < 2000; i++)
        ;
    task_area.result[1] = irqs;                     /* none so far */
    GLUON_COPROCTL_CTRL(SLOT) = GLUON_COPROCTL_CTRL_IRQ_EN_MASK;    /* faults */
    gluon_user_exit(0);
}

/* ---- M ---- */

static int key_ok(void)
{
    for (unsigned i = 0; i < sizeof m_area.key; i++)
        if (m_area.key[i] != (uint8_t)(0x5A ^ (i * 13)))
            return 0;
    return 1;
}

static volatile uint32_t *m_stack_canary;

static int stack_ok(void)
{
    for (int i = 0; i < 16; i++)
        if (m_stack_canary[i] != 0xC0DE0000u + i)
            return 0;
    return 1;
}

static int grant(void)
{
    gluon_copro_buf b[] = {{task_area.buf, sizeof task_area.buf, GLUON_COPRO_R | GLUON_COPRO_W}};
    return gluon_copro_grant(SLOT, 6, b, 1);
}

static void dma_case(const char *name, uint32_t mode, uint32_t src, uint32_t len, uint32_t dst,
                     uint32_t outlen)
{
    atk_mode = mode; atk_src = src; atk_len = len; atk_dst = dst; atk_outlen = outlen;
    memset(task_area.result, 0, sizeof task_area.result);
    int g = grant();
    int code = gluon_run_user(task_dma, task_area.stack + 512);
    gluon_copro_revoke(SLOT);
    uint32_t s = task_area.result[0];
    printf("case dma-%s: grant=%d code=%d error=%lu cause=%lu key=%s stack=%s\n", name, g, code,
           (unsigned long)((s & GLUON_HASH_STATUS_ERROR_MASK) != 0), (unsigned long)cause_of(s),
           key_ok() ? "ok" : "CHANGED", stack_ok() ? "ok" : "CHANGED");
}

int main(void)
{
    volatile uint32_t canary[16];           /* on M's stack */
    for (int i = 0; i < 16; i++)
        canary[i] = 0xC0DE0000u + i;
    m_stack_canary = canary;
    for (unsigned i = 0; i < sizeof m_area.key; i++)
        m_area.key[i] = (uint8_t)(0x5A ^ (i * 13));
    for (unsigned i = 0; i < sizeof task_area.buf; i++)
        task_area.buf[i] = (uint8_t)i;
    uintptr_t ram_base = GLUON_SYSINFO_RAM_BASE, ram_size = GLUON_SYSINFO_RAM_SIZE;
    if (gluon_pmp_napot(3, (uintptr_t)&m_area, sizeof m_area, 0) ||
        gluon_pmp_napot(4, (uintptr_t)&task_area, sizeof task_area, GLUON_PMP_R | GLUON_PMP_W) ||
        gluon_pmp_napot(5, ram_base, ram_size, GLUON_PMP_R | GLUON_PMP_X)) {
        printf("PMP set-up failed\n");
        return 1;
    }
    uint32_t buf = (uint32_t)(uintptr_t)task_area.buf;

    /* ---- descriptors at M's memory and at devices ---- */
    dma_case("key-src", GLUON_HASH_SHA256, (uint32_t)(uintptr_t)m_area.key, 64, buf, 0);
    dma_case("key-dst", GLUON_HASH_SHA256, buf, 64, (uint32_t)(uintptr_t)m_area.key, 0);
    dma_case("stack-dst", GLUON_HASH_SHA256, buf, 64, (uint32_t)(uintptr_t)canary, 0);
    dma_case("stack-src", GLUON_HASH_SHA256, (uint32_t)(uintptr_t)canary, 64, buf, 0);
    dma_case("tohost-dst", GLUON_HASH_SHA256, buf, 64, (uint32_t)(uintptr_t)&tohost, 0);
    dma_case("uart-dst", GLUON_HASH_SHA256, buf, 64, GLUON_UART_BASE, 0);
    dma_case("ctlpage-dst", GLUON_HASH_SHA256, buf, 64, GLUON_COPROCTL_BASE, 0);
    dma_case("ctlpage-src", GLUON_HASH_SHA256, GLUON_COPROCTL_BASE, 64, buf, 0);
    dma_case("slotpage-src", GLUON_HASH_SHA256, GLUON_HASH_BASE, 64, buf, 0);
    dma_case("sysinfo-src", GLUON_HASH_SHA256, GLUON_SYSINFO_BASE, 16, buf, 0);
    dma_case("straddle-src", GLUON_HASH_SHA256, buf + sizeof task_area.buf - 32, 64, buf, 0);
    dma_case("straddle-dst", GLUON_HASH_SHAKE256, buf, 16, buf + sizeof task_area.buf - 64,
             128);
    dma_case("own-buffer", GLUON_HASH_SHA256, buf, 100, buf + 128, 0);
    uint8_t want[32];
    sha256_sw(task_area.buf, 100, want);
    printf("own-buffer digest %s\n", memcmp(task_area.buf + 128, want, 32) ? "WRONG" : "right");

    /* ---- M's state before a grant ---- */
    gluon_hash_window(0, &m_area, sizeof m_area);
    GLUON_HASH_CTRL = (GLUON_HASH_SHA256 << GLUON_HASH_CTRL_MODE_SHIFT) | GLUON_HASH_CTRL_MORE_MASK;
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)m_area.key;
    GLUON_HASH_LEN = 64;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)m_area.digest;
    uint32_t ms = run_op(GLUON_HASH_START_OP_HASH);
    memset(task_area.result, 0, sizeof task_area.result);
    int g = grant();
    int code = gluon_run_user(task_read_state, task_area.stack + 512);
    gluon_copro_revoke(SLOT);
    uint32_t *r = task_area.result;
    printf("case m-state: m_error=%lu grant=%d code=%d regs=%08lx,%08lx,%08lx,%08lx,%08lx,%08lx "
           "cont_cause=%lu\n", (unsigned long)((ms & GLUON_HASH_STATUS_ERROR_MASK) != 0), g, code,
           (unsigned long)r[0], (unsigned long)r[1], (unsigned long)r[2], (unsigned long)r[3],
           (unsigned long)r[4], (unsigned long)r[5], (unsigned long)cause_of(r[6]));

    /* ---- U's state after a revoke ---- */
    memset(task_area.result, 0, sizeof task_area.result);
    g = grant();
    code = gluon_run_user(task_leave_state, task_area.stack + 512);
    gluon_copro_revoke(SLOT);
    uint32_t regs[6] = {GLUON_HASH_CTRL, GLUON_HASH_SRC, GLUON_HASH_LEN, GLUON_HASH_DST,
                        GLUON_HASH_CYCLES, GLUON_HASH_STATUS};
    gluon_hash_window(0, &m_area, sizeof m_area);
    GLUON_HASH_CTRL = GLUON_HASH_SHA256 << GLUON_HASH_CTRL_MODE_SHIFT;
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)m_area.block;
    GLUON_HASH_LEN = 0;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)m_area.digest;
    uint32_t cont = run_op(GLUON_HASH_START_OP_CONT);
    printf("case u-state: u_error=%lu grant=%d code=%d regs=%08lx,%08lx,%08lx,%08lx,%08lx,%08lx "
           "cont_cause=%lu\n", (unsigned long)((task_area.result[0] & GLUON_HASH_STATUS_ERROR_MASK) != 0),
           g, code, (unsigned long)regs[0], (unsigned long)regs[1], (unsigned long)regs[2],
           (unsigned long)regs[3], (unsigned long)regs[4], (unsigned long)regs[5],
           (unsigned long)cause_of(cont));

    /* ---- the control page from U ---- */
    g = grant();
    uint32_t win_before[3] = {GLUON_COPROCTL_WIN0_BASE(SLOT), GLUON_COPROCTL_WIN0_LIMIT(SLOT),
                              GLUON_COPROCTL_WIN0_CTRL(SLOT)};
    faults = 0;
    code = gluon_run_user(task_ctl_page, task_area.stack + 512);
    uint32_t f = faults, lf = last_fault;
    int same = GLUON_COPROCTL_WIN0_BASE(SLOT) == win_before[0] &&
               GLUON_COPROCTL_WIN0_LIMIT(SLOT) == win_before[1] &&
               GLUON_COPROCTL_WIN0_CTRL(SLOT) == win_before[2];
    uint32_t owner = GLUON_COPROCTL_OWNER(SLOT);
    gluon_copro_revoke(SLOT);
    printf("case ctl-page: grant=%d code=%d faults=%lu last=%lu owner_u=%lu windows=%s\n", g, code,
           (unsigned long)f, (unsigned long)lf, (unsigned long)(owner & 1), same ? "same" : "CHANGED");

    /* ---- revocation while the task's descriptor runs ---- */
    memset(task_area.buf + 64, 0xEE, 4000);
    g = grant();
    code = gluon_run_user(task_start_long_write, task_area.stack + 512);
    uint32_t busy = GLUON_HASH_STATUS & GLUON_HASH_STATUS_BUSY_MASK;
    gluon_copro_revoke(SLOT);                   /* waits for the wipe: the store is long acked */
    static uint8_t snap[4000];
    memcpy(snap, task_area.buf + 64, 4000);
    for (volatile int i = 0; i < 3000; i++)
        ;
    unsigned written = 0;
    for (unsigned i = 0; i < 4000; i++)
        written += snap[i] != 0xEE;
    printf("case revoke-mid: grant=%d code=%d busy_at_revoke=%lu written_before=%s "
           "changed_after=%d status=%08lx\n", g, code, (unsigned long)busy,
           written > 0 && written < 4000 ? "part" : written ? "all" : "none",
           memcmp(snap, task_area.buf + 64, 4000) != 0, (unsigned long)GLUON_HASH_STATUS);

    /* ---- interrupts ---- */
    irqs = 0;
    GLUON_COPROCTL_CTRL(SLOT) = GLUON_COPROCTL_CTRL_IRQ_EN_MASK;
    set_csr(mie, 1u << (16 + 1 + SLOT));
    set_csr(mstatus, 8);
    g = grant();                                /* IRQ_EN stays M's setting */
    faults = 0;
    code = gluon_run_user(task_irq, task_area.stack + 512);
    uint32_t during = irqs, irq_en = GLUON_COPROCTL_CTRL(SLOT) & GLUON_COPROCTL_CTRL_IRQ_EN_MASK;
    uint32_t u_done = GLUON_HASH_STATUS & GLUON_HASH_STATUS_DONE_MASK;
    f = faults;
    gluon_copro_revoke(SLOT);
    for (volatile int i = 0; i < 200; i++)
        ;
    uint32_t after_revoke = irqs;
    uint32_t done_after = GLUON_HASH_STATUS & GLUON_HASH_STATUS_DONE_MASK;
    gluon_hash_window(0, &m_area, sizeof m_area);
    GLUON_HASH_CTRL = GLUON_HASH_SHA256 << GLUON_HASH_CTRL_MODE_SHIFT;
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)m_area.block;
    GLUON_HASH_LEN = 10;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)m_area.digest;
    GLUON_HASH_START = GLUON_HASH_START_OP_HASH << GLUON_HASH_START_OP_SHIFT;
    for (int i = 0; i < 100000 && irqs == after_revoke; i++)
        ;
    clear_csr(mstatus, 8);
    printf("case irq: grant=%d code=%d u_done=%lu irq_en_kept=%lu during=%lu faults=%lu "
           "after_revoke=%lu done_after=%lu m_op=%lu\n", g, code, (unsigned long)(u_done != 0),
           (unsigned long)(irq_en != 0), (unsigned long)during, (unsigned long)f,
           (unsigned long)after_revoke, (unsigned long)(done_after != 0),
           (unsigned long)(irqs - after_revoke));

    /* ---- a window M locked is never lent (last: the lock holds until reset) ---- */
    int lk = gluon_copro_window(SLOT, 3, m_area.key, sizeof m_area.key,
                                GLUON_COPRO_R | GLUON_COPRO_LOCK);
    g = grant();
    GLUON_COPROCTL_OWNER(SLOT) = GLUON_COPROCTL_OWNER_U_MASK;            /* by hand too */
    uint32_t refused = GLUON_COPROCTL_STATUS(SLOT) & GLUON_COPROCTL_STATUS_GRANT_REFUSED_MASK;
    printf("case locked: lock=%d grant=%d refused=%lu owner_u=%lu pmp6=%lu\n", lk, g,
           (unsigned long)(refused != 0), (unsigned long)(GLUON_COPROCTL_OWNER(SLOT) & 1),
           (unsigned long)((read_csr(pmpcfg1) >> 16) & 0xFF));

    printf("done key=%s stack=%s\n", key_ok() ? "ok" : "CHANGED", stack_ok() ? "ok" : "CHANGED");
    return 0;
}
