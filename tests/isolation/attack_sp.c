/* An untrusted U-mode task points sp at whatever M-mode holds dear, then makes M-mode take a
 * trap: an ecall, a load access fault (the key), or a timer interrupt while it spins. The SDK's
 * trap entry must never write through that sp: M-mode continues, the next launch works, the
 * key, M's data and the UART are unchanged, and the task gets its own sp back.
 *
 * One line per case: "case <sp class> <trap>: code=<c> traps=<n> key=<ok|BAD> mdata=<ok|BAD>
 * uart=<ok|BAD>" (code 0: the task saw its sp unchanged after the trap), then a nested-trap
 * case and "done". */
#include <stdio.h>
#include <stdint.h>

#include "gluon/pmp.h"
#include "gluon/regs.h"
#include "gluon/sdk.h"

#define ECALL_PROBE 0x51u
#define ECALL_NEST  0x52u

static volatile uint32_t key[16] __attribute__((aligned(64))) = {
    0x6b657931, 0x5ec2e700, 0xdeadbeef, 0x01234567, 0x89abcdef, 0x0badf00d,
};
static volatile uint32_t mdata[64] __attribute__((aligned(16)));  /* M's data: a canary */
static uint32_t tstack[256] __attribute__((aligned(1024)));       /* the task's only RW memory */

/* What the task reads (U may read RAM): the sp to use and the trap to cause. */
volatile uint32_t attack_sp, attack_kind, ticks;
extern uint32_t gluon_user_ctx;          /* the SDK's running-task context pointer */
static uint32_t ctx_seen, traps, nested_inner, nested_regs_ok, illegal_from_u;

void task_attack(void);
__asm__(
    ".section .text.task_attack, \"ax\"\n"
    ".globl task_attack\n"
    "task_attack:\n"
    "    la t0, attack_sp\n    lw t1, 0(t0)\n"
    "    la t0, attack_kind\n  lw t2, 0(t0)\n"
    "    mv s1, sp\n"                      /* its own stack, kept in s1 */
    "    mv sp, t1\n"                      /* the attack */
    "    li t3, 1\n    beq t2, t3, 2f\n"
    "    li t3, 2\n    beq t2, t3, 3f\n"
    "    li a7, 0x51\n    ecall\n    j 9f\n"
    "2:  la t0, key\n    lw t4, 0(t0)\n    j 9f\n"          /* load access fault */
    "3:  la t0, ticks\n  lw t4, 0(t0)\n"                    /* spin until the interrupt */
    "4:  lw t5, 0(t0)\n  beq t4, t5, 4b\n"
    "9:  mv t6, sp\n    mv sp, s1\n"
    "    sub a0, t6, t1\n    snez a0, a0\n"                /* 0: sp came back unchanged */
    "    li a7, 0x45584954\n    ecall\n"                  /* gluon_user_exit(a0) */
    "5:  j 5b\n");

/* Nesting: the handler of this ecall itself takes a trap (an M-mode load from an unmapped
 * address: a bus error, load access fault), then returns to the task, which must still be in
 * U-mode (csrr mstatus traps as illegal) with the value the handler gave it. */
void task_nest(void);
__asm__(
    ".section .text.task_nest, \"ax\"\n"
    ".globl task_nest\n"
    "task_nest:\n"
    "    li a7, 0x52\n    ecall\n"
    "    mv s2, a0\n"
    "    csrr t0, mstatus\n"                /* illegal in U: the handler counts and skips it */
    "    li t1, 0x600dcafe\n    sub a0, s2, t1\n    snez a0, a0\n"
    "    li a7, 0x45584954\n    ecall\n"
    "5:  j 5b\n");

void gluon_trap_handler(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    gluon_user_check_exit(mcause);
    traps++;
    if (mcause == GLUON_MCAUSE_M_TIMER_IRQ) {
        GLUON_CLINT_MTIMECMPH = 0xffffffffu;             /* disarm */
        ticks++;
        return;
    }
    if (gluon_trap_from_user() && mcause == GLUON_MCAUSE_ECALL_U &&
        gluon_trap_regs[17] == ECALL_PROBE) {
        ctx_seen = gluon_user_ctx;
        gluon_trap_skip();
        return;
    }
    if (gluon_trap_from_user() && mcause == GLUON_MCAUSE_ECALL_U &&
        gluon_trap_regs[17] == ECALL_NEST) {
        uint32_t *outer = gluon_trap_regs;
        (void)*(volatile uint32_t *)0x00001000u;         /* nothing there: a load access fault */
        nested_regs_ok = gluon_trap_regs == outer;
        gluon_trap_regs[10] = 0x600dcafe;
        gluon_trap_skip();
        return;
    }
    if (!gluon_trap_from_user() && mcause == GLUON_MCAUSE_LOAD_ACCESS && mtval == 0x1000u) {
        nested_inner++;                                  /* the trap inside the handler */
        gluon_trap_skip();
        return;
    }
    if (gluon_trap_from_user() && mcause == GLUON_MCAUSE_LOAD_ACCESS && mtval == (uintptr_t)key) {
        gluon_trap_skip();
        return;
    }
    if (gluon_trap_from_user() && mcause == GLUON_MCAUSE_ILLEGAL_INSN) {
        illegal_from_u++;
        gluon_trap_skip();
        return;
    }
    gluon_trap_default(mcause, mepc, mtval);
}

static const uint32_t key0[6] = {0x6b657931, 0x5ec2e700, 0xdeadbeef, 0x01234567, 0x89abcdef, 0x0badf00d};

static int key_ok(void)
{
    for (int i = 0; i < 16; i++)
        if (key[i] != (i < 6 ? key0[i] : 0))
            return 0;
    return 1;
}

static int mdata_ok(void)
{
    for (int i = 0; i < 64; i++)
        if (mdata[i] != 0xa5a50000u + i)
            return 0;
    return 1;
}

int main(void)
{
    static const char *const kinds[] = {"ecall", "fault", "interrupt"};
    uint32_t divisor = GLUON_UART_DIVISOR;

    for (int i = 0; i < 64; i++)
        mdata[i] = 0xa5a50000u + i;
    if (gluon_pmp_napot(3, (uintptr_t)key, sizeof key, 0) ||
        gluon_pmp_napot(4, (uintptr_t)tstack, sizeof tstack, GLUON_PMP_R | GLUON_PMP_W) ||
        gluon_pmp_napot(5, GLUON_SYSINFO_RAM_BASE, GLUON_SYSINFO_RAM_SIZE, GLUON_PMP_R | GLUON_PMP_X)) {
        printf("PMP set-up failed\n");
        return 1;
    }
    set_csr(mie, GLUON_MIE_MTIE);

    /* A first launch finds where M keeps the task's context (an attacker would guess it). */
    attack_sp = (uintptr_t)(tstack + 256);
    attack_kind = 0;
    gluon_run_user(task_attack, tstack + 256);
    uint32_t ctx = ctx_seen;
    printf("context at 0x%08x\n", (unsigned)ctx);

    const struct { const char *name; uint32_t sp; } targets[] = {
        {"m-context", ctx + 64},                          /* a push would overwrite it */
        {"m-context-low", ctx},
        {"above-key", (uintptr_t)key + sizeof key},        /* a push would land on the key */
        {"m-data", (uintptr_t)(mdata + 64)},
        {"mmio-uart", GLUON_UART_BASE + 0x80},
        {"odd", (uintptr_t)(tstack + 200) + 3},
        {"misaligned", (uintptr_t)(tstack + 200) + 2},
        {"zero", 0},
        {"top-of-ram", GLUON_SYSINFO_RAM_BASE + GLUON_SYSINFO_RAM_SIZE},
        {"wrap", 0xfffffff0u},
    };
    for (unsigned t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        for (uint32_t k = 0; k < 3; k++) {
            uint32_t before = traps;
            attack_sp = targets[t].sp;
            attack_kind = k;
            if (k == 2)
                gluon_set_mtimecmp(gluon_mtime() + 200);
            int code = gluon_run_user(task_attack, tstack + 256);
            printf("case %s %s: code=%d traps=%u key=%s mdata=%s uart=%s\n", targets[t].name,
                   kinds[k], code, (unsigned)(traps - before), key_ok() ? "ok" : "BAD",
                   mdata_ok() ? "ok" : "BAD", GLUON_UART_DIVISOR == divisor ? "ok" : "BAD");
        }
    }

    int code = gluon_run_user(task_nest, tstack + 256);
    /* Back in M-mode (reading mstatus would trap in U): the nested trap did not send main to U. */
    uint32_t mstatus = read_csr(mstatus);
    printf("nested: code=%d inner=%u regs=%s illegal_from_u=%u main_in_m=%s\n", code,
           (unsigned)nested_inner, nested_regs_ok ? "ok" : "BAD", (unsigned)illegal_from_u,
           gluon_trap_regs == 0 && (mstatus & GLUON_MSTATUS_MPRV) == 0 ? "yes" : "no");
    printf("done key=%s\n", key_ok() ? "ok" : "BAD");
    return 0;
}
