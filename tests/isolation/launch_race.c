/* gluon_run_user against a timer interrupt at every phase: LAUNCHES launches with interrupts
 * enabled in M-mode and the timer armed a varying number of cycles ahead, so it fires in M
 * before the launch, inside gluon_run_user, at the task's first instruction, in the task, or
 * after it. The handler checks each trap: one taken from U-mode must have mepc inside the
 * task's code, one taken from M-mode outside it. Any M-mode instruction run in U-mode would
 * show as an interrupt (or an illegal CSR access) from U with mepc in M's code.
 *
 * Output: "race: launches=<n> ok=<n> violations=<n> m_before=<n> u_first=<n> u_body=<n>
 * m_after=<n> none=<n>". */
#include <stdio.h>
#include <stdint.h>

#include "gluon/pmp.h"
#include "gluon/regs.h"
#include "gluon/sdk.h"

#ifndef LAUNCHES
#define LAUNCHES 2000
#endif

static uint32_t tstack[64] __attribute__((aligned(256)));
extern char task_race[], task_race_end[];
static volatile uint32_t fired, violations, m_before, u_first, u_body, m_after, in_run;

__asm__(
    ".section .text.task_race, \"ax\"\n"
    ".globl task_race\n  .globl task_race_end\n"
    "task_race:\n"
    "    addi t0, zero, 1\n    addi t0, t0, 1\n    addi t0, t0, 1\n    addi t0, t0, 1\n"
    "    addi t0, t0, 1\n    addi t0, t0, 1\n    addi t0, t0, 1\n    addi t0, t0, 1\n"
    "    addi a0, t0, -8\n"               /* 0 when every instruction ran once */
    "    li a7, 0x45584954\n    ecall\n"
    "1:  j 1b\n"
    "task_race_end:\n");

void gluon_trap_handler(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    int in_task = mepc >= (uintptr_t)task_race && mepc < (uintptr_t)task_race_end;
    int from_u = gluon_trap_from_user();

    if (from_u != in_task)
        violations++;                        /* M code in U-mode, or task code in M-mode */
    if (from_u && !in_task)
        gluon_user_return(-2);
    gluon_user_check_exit(mcause);
    if (mcause == GLUON_MCAUSE_M_TIMER_IRQ) {
        GLUON_CLINT_MTIMECMPH = 0xffffffffu;
        fired = 1;
        if (from_u && mepc == (uintptr_t)task_race)
            u_first++;
        else if (from_u)
            u_body++;
        else if (in_run)
            m_after++;
        else
            m_before++;
        return;
    }
    gluon_trap_default(mcause, mepc, mtval);
}

int main(void)
{
    uint32_t ok = 0, none = 0;

    if (gluon_pmp_napot(3, (uintptr_t)tstack, sizeof tstack, GLUON_PMP_R | GLUON_PMP_W) ||
        gluon_pmp_napot(4, GLUON_SYSINFO_RAM_BASE, GLUON_SYSINFO_RAM_SIZE, GLUON_PMP_R | GLUON_PMP_X)) {
        printf("PMP set-up failed\n");
        return 1;
    }
    set_csr(mie, GLUON_MIE_MTIE);
    set_csr(mstatus, GLUON_MSTATUS_MIE);
    for (uint32_t i = 0; i < LAUNCHES; i++) {
        fired = 0;
        in_run = 0;
        /* 0..159 cycles ahead, stepping through the phases with a period prime to the loop's */
        gluon_set_mtimecmp(gluon_mtime() + (i * 7) % 160);
        in_run = 1;
        int code = gluon_run_user((void (*)(void))task_race, tstack + 64);
        /* the caller's MIE came back: a timer still pending fires here */
        for (int w = 0; w < 100 && !fired; w++)
            __asm__ volatile("nop");
        if (!fired) {
            GLUON_CLINT_MTIMECMPH = 0xffffffffu;
            none++;
        }
        ok += code == 0;
    }
    clear_csr(mstatus, GLUON_MSTATUS_MIE);
    printf("race: launches=%u ok=%u violations=%u m_before=%u u_first=%u u_body=%u m_after=%u none=%u\n",
           (unsigned)LAUNCHES, (unsigned)ok, (unsigned)violations, (unsigned)m_before,
           (unsigned)u_first, (unsigned)u_body, (unsigned)m_after, (unsigned)none);
    return violations != 0 || ok != LAUNCHES;
}
