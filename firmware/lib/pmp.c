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

int gluon_pmp_napot(unsigned entry, uintptr_t base, size_t size, unsigned perms)
{
    if (entry >= GLUON_PMP_ENTRIES || get_cfg(entry) & GLUON_PMP_L)
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
    if (entry >= GLUON_PMP_ENTRIES || get_cfg(entry) & GLUON_PMP_L || (top & 3))
        return -1;
    set_addr(entry, top >> 2);
    set_cfg(entry, (perms & 0x87u) | 1u << 3);                /* A = TOR */
    return 0;
}

int gluon_pmp_off(unsigned entry)
{
    if (entry >= GLUON_PMP_ENTRIES || get_cfg(entry) & GLUON_PMP_L)
        return -1;
    set_cfg(entry, 0);
    return 0;
}

/* The M-mode context gluon_run_user saved: ra, sp, s0..s11. */
uint32_t gluon_m_context[14];   /* referenced from the asm below */

__attribute__((naked)) int gluon_run_user(void (*entry)(void), void *stack_top)
{
    __asm__ volatile(
        "la t0, gluon_m_context\n"
        "sw ra, 0(t0)\n  sw sp, 4(t0)\n  sw s0, 8(t0)\n  sw s1, 12(t0)\n"
        "sw s2, 16(t0)\n sw s3, 20(t0)\n sw s4, 24(t0)\n sw s5, 28(t0)\n"
        "sw s6, 32(t0)\n sw s7, 36(t0)\n sw s8, 40(t0)\n sw s9, 44(t0)\n"
        "sw s10, 48(t0)\n sw s11, 52(t0)\n"
        "csrw mepc, a0\n"
        "li t0, 0x1800\n"
        "csrc mstatus, t0\n"          /* MPP = U */
        "mv sp, a1\n"
        "mret\n");
}

__attribute__((naked, noreturn)) void gluon_user_return(int code)
{
    __asm__ volatile(
        "la t0, gluon_m_context\n"
        "lw ra, 0(t0)\n  lw sp, 4(t0)\n  lw s0, 8(t0)\n  lw s1, 12(t0)\n"
        "lw s2, 16(t0)\n lw s3, 20(t0)\n lw s4, 24(t0)\n lw s5, 28(t0)\n"
        "lw s6, 32(t0)\n lw s7, 36(t0)\n lw s8, 40(t0)\n lw s9, 44(t0)\n"
        "lw s10, 48(t0)\n lw s11, 52(t0)\n"
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
    if (mcause == 8 && gluon_trap_regs && gluon_trap_regs[17] == GLUON_ECALL_EXIT)
        gluon_user_return((int)gluon_trap_regs[10]);
}
