/* The cost of a trap from U-mode: a task makes ecalls the handler steps over; the instruction
 * trace gives the cycles from the task's last instruction before the ecall to the first of
 * gluon_trap_handler (entry) and from the handler's last to the task's next (exit). Built
 * with -DOLD_SDK against the SDK before the trap entry moved to M's stack (same program, the
 * old way of skipping the ecall). */
#include <stdint.h>

#include "gluon/pmp.h"
#include "gluon/sdk.h"

static uint32_t tstack[64] __attribute__((aligned(256)));

void cost_task(void);
__asm__(
    ".section .text.cost_task, \"ax\"\n"
    ".globl cost_task\n  .globl cost_before\n  .globl cost_after\n"
    "cost_task:\n"
    "    li s0, 4\n"
    "1:\n"
    "cost_before:\n"
    "    li a7, 0x51\n"
    "    ecall\n"
    "cost_after:\n"
    "    addi s0, s0, -1\n"
    "    bnez s0, 1b\n"
    "    li a0, 0\n    li a7, 0x45584954\n    ecall\n"
    "2:  j 2b\n");

void gluon_trap_handler(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    gluon_user_check_exit(mcause);
    if (mcause != 8u)
        gluon_trap_default(mcause, mepc, mtval);
#ifdef OLD_SDK
    write_csr(mepc, mepc + 4);
#else
    gluon_trap_skip();
#endif
}

int main(void)
{
#ifdef OLD_SDK
    gluon_pmp_napot(1, 0x80000000u, 128 * 1024, GLUON_PMP_R | GLUON_PMP_W | GLUON_PMP_X);
#else
    gluon_pmp_napot(3, (uintptr_t)tstack, sizeof tstack, GLUON_PMP_R | GLUON_PMP_W);
    gluon_pmp_napot(4, 0x80000000u, 128 * 1024, GLUON_PMP_R | GLUON_PMP_X);
#endif
    return gluon_run_user(cost_task, tstack + 64);
}
