/* Gluon default trap handling (RISC-V privileged spec 20211203, mcause codes
 * from table 3.6).  The trap entry itself is in crt0.S. */
#include <stdio.h>
#include <stdlib.h>

#include "gluon/sdk.h"
#include "gluon/pmp.h"

/* In M-mode's memory at the top of RAM (link.ld), which U-mode cannot reach. */
__attribute__((section(".gluon_mdata")))
uint32_t *volatile gluon_trap_regs;

/* Counts trap entries (crt0.S): a handler's return sees whether another trap
 * was taken while it ran, and so whether the mepc/mstatus CSRs are still its own. */
__attribute__((section(".gluon_mdata")))
uint32_t gluon_trap_epoch;

const char *gluon_trap_cause_name(uint32_t mcause)
{
    static const char *const exceptions[] = {
        "instruction address misaligned",
        "instruction access fault",
        "illegal instruction",
        "breakpoint",
        "load address misaligned",
        "load access fault",
        "store address misaligned",
        "store access fault",
        "ecall from U-mode",
        "ecall from S-mode",
        "reserved",
        "ecall from M-mode",
    };

    if (mcause & GLUON_MCAUSE_INTERRUPT) {
        switch (mcause & ~GLUON_MCAUSE_INTERRUPT) {
        case 3:  return "machine software interrupt";
        case 7:  return "machine timer interrupt";
        case 11: return "machine external interrupt";
        default: return "interrupt";
        }
    }
    if (mcause < sizeof exceptions / sizeof exceptions[0])
        return exceptions[mcause];
    return "exception";
}

static int in_guard(uint32_t addr)
{
    return addr >= (uintptr_t)__stack_guard_start && addr < (uintptr_t)__stack_guard_end;
}

void gluon_trap_fatal(uint32_t mcause, uint32_t mepc, uint32_t mtval, uint32_t sp, uint32_t kind)
{
    if (kind == 1) {
        printf("\n*** M-mode stack overflow: %s at pc 0x%08x, address 0x%08x, sp 0x%08x; "
               "stack guard [0x%08x, 0x%08x)\n", gluon_trap_cause_name(mcause), (unsigned)mepc,
               (unsigned)mtval, (unsigned)sp, (unsigned)(uintptr_t)__stack_guard_start,
               (unsigned)(uintptr_t)__stack_guard_end);
        exit(GLUON_EXIT_STACK_OVERFLOW);
    }
    printf("\n*** trap from U-mode with no M-mode stack (U entered without gluon_run_user): "
           "mcause=0x%08x (%s) mepc=0x%08x mtval=0x%08x sp=0x%08x\n", (unsigned)mcause,
           gluon_trap_cause_name(mcause), (unsigned)mepc, (unsigned)mtval, (unsigned)sp);
    exit(GLUON_EXIT_TRAP);
}

void gluon_trap_default(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    static volatile int reporting;

    /* A load or store M-mode made into the stack guard: a stack overflow (a frame larger than
     * the entry's margin, or a pointer into a stack that overflowed). */
    if ((mcause == GLUON_MCAUSE_LOAD_ACCESS || mcause == GLUON_MCAUSE_STORE_ACCESS) &&
        in_guard(mtval) && !(gluon_trap_regs && gluon_trap_from_user()))
        gluon_trap_fatal(mcause, mepc, mtval, gluon_trap_regs ? gluon_trap_regs[2] : 0, 1);
    /* A trap while reporting (say, a broken UART) must not loop. */
    if (!reporting) {
        reporting = 1;
        printf("\n*** trap: mcause=0x%08x (%s) mepc=0x%08x mtval=0x%08x\n",
               (unsigned)mcause, gluon_trap_cause_name(mcause),
               (unsigned)mepc, (unsigned)mtval);
    }
    exit(GLUON_EXIT_TRAP);
}

__attribute__((weak))
void gluon_trap_handler(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    gluon_user_check_exit(mcause);      /* a U-mode task's gluon_user_exit() (gluon/pmp.h) */
    if (gluon_trap_from_user()) {       /* anything else from a task ends the task, not M */
        printf("*** U-mode task stopped: mcause=0x%08x (%s) mepc=0x%08x mtval=0x%08x\n",
               (unsigned)mcause, gluon_trap_cause_name(mcause), (unsigned)mepc, (unsigned)mtval);
        gluon_user_return(GLUON_USER_TRAPPED);
    }
    gluon_trap_default(mcause, mepc, mtval);
}
