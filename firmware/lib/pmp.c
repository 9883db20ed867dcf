/* PMP entries and the U-mode task runner (see gluon/pmp.h). */
#include "gluon/pmp.h"
#include "gluon/sdk.h"

static uint32_t get_cfg(unsigned entry)
{
    uint32_t reg = entry < 4 ? read_csr(pmpcfg0) : read_csr(pmpcfg1);
    return reg >> (8 * (entry % 4)) & 0xFF;
}

static void set_cfg(unsigned entry, uint32_t byte)
{
    uint32_t shift = 8 * (entry % 4), mask = 0xFFu << shift;
    if (entry < 4)
        write_csr(pmpcfg0, (read_csr(pmpcfg0) & ~mask) | byte << shift);
    else
        write_csr(pmpcfg1, (read_csr(pmpcfg1) & ~mask) | byte << shift);
}

static void set_addr(unsigned entry, uint32_t value)
{
    switch (entry) {
    case 0: write_csr(pmpaddr0, value); break;
    case 1: write_csr(pmpaddr1, value); break;
    case 2: write_csr(pmpaddr2, value); break;
    case 3: write_csr(pmpaddr3, value); break;
    case 4: write_csr(pmpaddr4, value); break;
    case 5: write_csr(pmpaddr5, value); break;
    case 6: write_csr(pmpaddr6, value); break;
    default: write_csr(pmpaddr7, value); break;
    }
}

static uint32_t get_addr(unsigned entry)
{
    switch (entry) {
    case 0: return read_csr(pmpaddr0);
    case 1: return read_csr(pmpaddr1);
    case 2: return read_csr(pmpaddr2);
    case 3: return read_csr(pmpaddr3);
    case 4: return read_csr(pmpaddr4);
    case 5: return read_csr(pmpaddr5);
    case 6: return read_csr(pmpaddr6);
    default: return read_csr(pmpaddr7);
    }
}

int gluon_pmp_present(void)
{
    /* crt0.S locks entry 1 (the M-stack guard) at reset; without PMP the CSRs read zero. */
    return (get_cfg(1) & GLUON_PMP_L) != 0;
}

int gluon_pmp_u_allows(uintptr_t base, size_t size, unsigned perms)
{
    if (!gluon_pmp_present() || size == 0)
        return 0;
    uint64_t lo = base, hi = (uint64_t)base + size;
    perms &= GLUON_PMP_R | GLUON_PMP_W | GLUON_PMP_X;
    for (unsigned e = 0; e < GLUON_PMP_ENTRIES; e++) {
        uint32_t cfg = get_cfg(e), addr = get_addr(e);
        uint64_t s, t;
        switch ((cfg >> 3) & 3) {
        case 1:                                             /* TOR */
            s = e ? (uint64_t)get_addr(e - 1) << 2 : 0;
            t = (uint64_t)addr << 2;
            break;
        case 2:                                             /* NA4 */
            s = (uint64_t)addr << 2;
            t = s + 4;
            break;
        case 3: {                                           /* NAPOT */
            unsigned k = 0;
            while (k < 32 && (addr >> k & 1))
                k++;
            uint64_t span = (uint64_t)8 << k;
            s = ((uint64_t)addr << 2) & ~(span - 1);
            t = s + span;
            break;
        }
        default:                                            /* OFF */
            continue;
        }
        if (t <= s || t <= lo || hi <= s)
            continue;                                       /* empty, or not overlapping */
        /* The lowest entry that matches any byte decides for the bytes it matches (spec
         * 3.7.1): allowed only if it holds the whole range and grants everything asked. */
        return s <= lo && hi <= t && (cfg & perms) == perms;
    }
    return 0;                                               /* no entry: U has no access */
}

/* Entries below GLUON_PMP_FIRST_APP are the SDK's (crt0.S sets them; gluon/pmp.h). */
static int app_entry(unsigned entry)
{
    return entry >= GLUON_PMP_FIRST_APP && entry < GLUON_PMP_ENTRIES && !(get_cfg(entry) & GLUON_PMP_L);
}

int gluon_pmp_napot(unsigned entry, uintptr_t base, size_t size, unsigned perms)
{
    if (!app_entry(entry))
        return -1;
    if (size == 4) {
        if (base & 3)
            return -1;
        set_addr(entry, base >> 2);
        set_cfg(entry, (perms & 0x87u) | 2u << 3);            /* A = NA4 */
        return 0;
    }
    if (size < 8 || (size & (size - 1)) || (base & (size - 1)))
        return -1;
    set_addr(entry, (base >> 2) | ((size >> 3) - 1));
    set_cfg(entry, (perms & 0x87u) | 3u << 3);                /* A = NAPOT */
    return 0;
}

int gluon_pmp_tor(unsigned entry, uintptr_t top, unsigned perms)
{
    if (!app_entry(entry) || (top & 3))
        return -1;
    set_addr(entry, top >> 2);
    set_cfg(entry, (perms & 0x87u) | 1u << 3);                /* A = TOR */
    return 0;
}

int gluon_pmp_off(unsigned entry)
{
    if (!app_entry(entry))
        return -1;
    set_cfg(entry, 0);
    return 0;
}

/* The running task's context on the M stack (gluon_run_user's frame), 0 when none runs. In
 * M-mode's memory (link.ld): a task cannot redirect gluon_user_return through it. */
__attribute__((section(".gluon_mdata")))
uint32_t gluon_user_ctx;

/* gluon_run_user's frame, 64 bytes at ctx = its sp: ra, s0..s11, the caller's mstatus, the
 * previous gluon_user_ctx and gluon_trap_regs (a handler may run a task of its own). The first
 * trap frame from the task goes just below it: mscratch = ctx while the task runs. */
__attribute__((naked)) int gluon_run_user(void (*entry)(void), void *stack_top)
{
    __asm__ volatile(
        "addi sp, sp, -64\n"
        "sw ra, 0(sp)\n  sw s0, 4(sp)\n   sw s1, 8(sp)\n   sw s2, 12(sp)\n"
        "sw s3, 16(sp)\n sw s4, 20(sp)\n  sw s5, 24(sp)\n  sw s6, 28(sp)\n"
        "sw s7, 32(sp)\n sw s8, 36(sp)\n  sw s9, 40(sp)\n  sw s10, 44(sp)\n"
        "sw s11, 48(sp)\n"
        /* Interrupts off until the mret: no interrupt can run M code with MPP = U and
         * mepc = the task's entry (the trap would overwrite both). */
        "csrrci t0, mstatus, 8\n"
        "sw t0, 52(sp)\n"
        "la t1, gluon_user_ctx\n"
        "lw t2, 0(t1)\n  sw t2, 56(sp)\n"
        "la t2, gluon_trap_regs\n"
        "lw t2, 0(t2)\n  sw t2, 60(sp)\n"
        /* Room for the task's first trap frame (160 bytes) above the stack guard: a store
         * into the guard faults here, in M-mode, and is reported as a stack overflow. */
        "sw zero, -160(sp)\n"
        "sw sp, 0(t1)\n"
        "csrw mepc, a0\n"
        "li t0, 0x1800\n  csrc mstatus, t0\n"        /* MPP = U */
        "li t0, 0x80\n    csrs mstatus, t0\n"        /* MPIE = 1 */
        "csrw mscratch, sp\n"                         /* the M stack for the task's traps */
        "mv sp, a1\n"
        /* Nothing of M's reaches the task: every register but sp and gp (a link-time
         * constant the task's code addresses small data with) is cleared. */
        "li ra, 0\n  li tp, 0\n  li t0, 0\n  li t1, 0\n  li t2, 0\n  li s0, 0\n  li s1, 0\n"
        "li a0, 0\n  li a1, 0\n  li a2, 0\n  li a3, 0\n  li a4, 0\n  li a5, 0\n  li a6, 0\n"
        "li a7, 0\n  li s2, 0\n  li s3, 0\n  li s4, 0\n  li s5, 0\n  li s6, 0\n  li s7, 0\n"
        "li s8, 0\n  li s9, 0\n  li s10, 0\n li s11, 0\n li t3, 0\n  li t4, 0\n  li t5, 0\n"
        "li t6, 0\n"
        "mret\n");
}

__attribute__((naked, noreturn)) void gluon_user_return(int code)
{
    __asm__ volatile(
        "la t0, gluon_user_ctx\n"
        "lw t1, 0(t0)\n"
        "bnez t1, 1f\n"
        "li a0, 255\n  tail exit\n"                /* no task runs: a firmware bug, end the run */
        "1: mv sp, t1\n"
        "lw ra, 0(sp)\n  lw s0, 4(sp)\n   lw s1, 8(sp)\n   lw s2, 12(sp)\n"
        "lw s3, 16(sp)\n lw s4, 20(sp)\n  lw s5, 24(sp)\n  lw s6, 28(sp)\n"
        "lw s7, 32(sp)\n lw s8, 36(sp)\n  lw s9, 40(sp)\n  lw s10, 44(sp)\n"
        "lw s11, 48(sp)\n"
        "lw t1, 56(sp)\n  sw t1, 0(t0)\n"            /* the previous task context */
        "la t0, gluon_trap_regs\n"
        "lw t1, 60(sp)\n  sw t1, 0(t0)\n"            /* the task's handler frames are dropped */
        "csrw mscratch, zero\n"
        "lw t1, 52(sp)\n  andi t1, t1, 8\n"
        "addi sp, sp, 64\n"
        "csrs mstatus, t1\n"                          /* the caller's MIE back */
        "ret\n");                     /* a0 = code: gluon_run_user returns it, in M-mode */
}

__attribute__((noreturn)) void gluon_user_exit(int code)
{
    register uint32_t a0 __asm__("a0") = (uint32_t)code;
    register uint32_t a7 __asm__("a7") = GLUON_ECALL_EXIT;
    __asm__ volatile("ecall" : : "r"(a0), "r"(a7) : "memory");
    for (;;) { }
}

void gluon_user_check_exit(uint32_t mcause)
{
    if (mcause == GLUON_MCAUSE_ECALL_U && gluon_trap_regs && gluon_trap_regs[17] == GLUON_ECALL_EXIT)
        gluon_user_return((int)gluon_trap_regs[10]);
}
