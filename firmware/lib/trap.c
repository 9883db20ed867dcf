/* Gluon default trap handling (RISC-V privileged spec 1.12, mcause codes
 * from table 3.6).  The trap entry itself is in crt0.S. */
#include <stdio.h>
#include <stdlib.h>

#include "gluon/sdk.h"
#include "gluon/pmp.h"

uint32_t *volatile gluon_trap_regs;

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

void gluon_trap_default(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    static volatile int reporting;

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
    gluon_trap_default(mcause, mepc, mtval);
}
