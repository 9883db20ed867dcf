/* M-mode recursion without end: the stack runs into the guard (a locked PMP entry), and the run
 * ends reported as an M-mode stack overflow (exit code GLUON_EXIT_STACK_OVERFLOW), tohost
 * intact above the stack. -DVIA_TASK: the overflow comes from gluon_run_user's check that the
 * task's first trap frame fits; -DWILD_STORE: M stores into the guard with the stack fine;
 * -DSTRAY_U: M enters U-mode with its own mret, not gluon_run_user, and the task traps: with no
 * M stack known the entry must not use the task's sp (pointed at tohost here) and ends the run
 * reporting it. */
#include <stdio.h>
#include <stdint.h>

#include "gluon/pmp.h"
#include "gluon/regs.h"
#include "gluon/sdk.h"

static volatile uint32_t depth;

__attribute__((noinline)) static uint32_t recurse(uint32_t n)
{
    volatile uint32_t frame[8];
    frame[n & 7] = n;
    depth = n;
    return recurse(n + 1) + frame[(n + 3) & 7];
}

static void task(void)
{
    gluon_user_exit(0);
}

__attribute__((noinline)) static int launch_deep(uint32_t n)
{
    volatile uint32_t frame[32];
    frame[n & 31] = n;
    /* close to the guard: the launch itself must find no room for the task's trap frame */
    if ((uintptr_t)frame < (uintptr_t)__stack_guard_end + 256)
        return gluon_run_user(task, (void *)0);
    return launch_deep(n + 1) + frame[(n + 5) & 31];
}

int main(void)
{
    printf("guard [0x%08x, 0x%08x)\n", (unsigned)(uintptr_t)__stack_guard_start,
           (unsigned)(uintptr_t)__stack_guard_end);
#if defined(VIA_TASK)
    return launch_deep(0);
#elif defined(WILD_STORE)
    *(volatile uint32_t *)((uintptr_t)__stack_guard_start + 64) = 1;
    return 0;
#elif defined(STRAY_U)
    gluon_pmp_napot(3, GLUON_SYSINFO_RAM_BASE, GLUON_SYSINFO_RAM_SIZE, GLUON_PMP_R | GLUON_PMP_X);
    __asm__ volatile(
        "la t0, 1f\n  csrw mepc, t0\n"
        "li t0, 0x1800\n  csrc mstatus, t0\n"
        "la sp, tohost + 8\n"
        "mret\n"
        "1: ecall\n"
        "2: j 2b\n" ::: "t0", "memory");
    return 0;
#else
    return (int)recurse(0);
#endif
}
