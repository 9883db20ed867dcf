/* Gluon PMP and user mode: give an untrusted task only the memory it needs and run it in
 * U-mode (RISC-V privileged spec 20211203, sections 3.1.6 and 3.7).
 *
 *   gluon_pmp_napot(3, key, 64, 0);                              // the key: no access for U
 *   gluon_pmp_napot(4, task_region, size, GLUON_PMP_R | GLUON_PMP_W | GLUON_PMP_X);
 *   int code = gluon_run_user(task, stack_top);                  // returns gluon_user_exit(code)
 *
 * Entries are checked lowest index first. The SDK owns entries 0-2 (crt0.S sets them at reset;
 * the functions below refuse them), the application entries 3-7:
 *   0  OFF; its address is the bottom of entry 1's range (locked with it)
 *   1  TOR over the M-stack guard [__stack_guard_start, __stack_guard_end), locked, no
 *      permission: binds M-mode too, so an M-stack overflow faults there (reported as such)
 *   2  TOR [__stack_guard_end, RAM top), no permission, unlocked: M's stack, the SDK's M-mode
 *      state and tohost are M-mode's whatever the application's entries grant U
 * (A TOR entry 3 would start at the RAM top, entry 2's address: use NAPOT/NA4 there, or put an
 * OFF entry carrying the bottom address before a TOR entry.)
 *
 * A U-mode access that no entry allows traps (load/store/instruction access fault) into the
 * M-mode handler, which decides: report and skip (gluon_trap_skip()), or end the task with
 * gluon_user_return(). With GLUON_PMP_L an entry binds M-mode too and cannot be changed until
 * reset. Devices (UART, coprocessors) need an entry to be reachable from U; the DMA window
 * registers are M-mode only whatever PMP says.
 *
 * The task model. gluon_run_user(entry, stack_top) runs entry() in U-mode on the task's stack
 * with interrupts off until the mret that enters it, every register but sp and gp cleared
 * (nothing of M's reaches the task) and mscratch pointing at M's stack. Every trap from the
 * task (ecall, fault, interrupt: M's interrupts are always taken in U-mode) is handled on M's
 * stack, below gluon_run_user's frame; the task's sp is only saved, never written through, so
 * any sp value (M data, a key, MMIO, odd, 0, the top of RAM) is harmless. The task ends with
 * gluon_user_exit(code) (an ecall the SDK's handler turns into gluon_user_return(code)), or
 * when an M handler calls gluon_user_return(code); gluon_run_user then returns code in M-mode
 * with the caller's mstatus.MIE back. */
#ifndef GLUON_PMP_H
#define GLUON_PMP_H

#include <stddef.h>
#include <stdint.h>

#define GLUON_PMP_R 0x01u
#define GLUON_PMP_W 0x02u
#define GLUON_PMP_X 0x04u
#define GLUON_PMP_L 0x80u
#define GLUON_PMP_ENTRIES 8
#define GLUON_PMP_FIRST_APP 3          /* entries 0-2 are the SDK's (above) */

#define GLUON_ECALL_EXIT 0x45584954u   /* a7 of the ecall gluon_user_exit makes ("EXIT") */
#define GLUON_USER_TRAPPED (-1)        /* gluon_run_user's value when the SDK's default handler
                                          ended a task on a trap it did not expect */

/* A naturally aligned power-of-two region (size >= 8), or one word (size == 4).
 * Returns 0, or -1 for a bad entry/size/alignment, an SDK entry or a locked entry. */
int gluon_pmp_napot(unsigned entry, uintptr_t base, size_t size, unsigned perms);
/* [previous entry's address, top): top-of-range entry. */
int gluon_pmp_tor(unsigned entry, uintptr_t top, unsigned perms);
/* Turn an (unlocked, application) entry off. */
int gluon_pmp_off(unsigned entry);
/* 1 if the core has PMP (crt0.S locked the SDK's guard entry), else 0 (config 'small'). */
int gluon_pmp_present(void);
/* 1 if the entries as they are now let a U-mode access with `perms` (GLUON_PMP_R/W/X) reach
 * every byte of [base, base + size): the lowest entry matching any of those bytes must hold
 * them all and grant `perms`. 0 without PMP, for size 0, or when no entry matches. */
int gluon_pmp_u_allows(uintptr_t base, size_t size, unsigned perms);

/* Run entry() in U-mode on the given stack (16-byte aligned, in memory the application's
 * entries give U). Returns the code the task passes to gluon_user_exit() (or an M-mode trap
 * handler to gluon_user_return()). */
int gluon_run_user(void (*entry)(void), void *stack_top);
/* In U-mode: end the task (an ecall the SDK's trap handler turns into a return). */
__attribute__((noreturn)) void gluon_user_exit(int code);
/* In M-mode, while a task runs (in a trap handler): abandon the U-mode task, its handler frames
 * included; gluon_run_user returns code. */
__attribute__((noreturn)) void gluon_user_return(int code);
/* In an M-mode trap handler: if this trap is gluon_user_exit's ecall, end the task. */
void gluon_user_check_exit(uint32_t mcause);

#endif
