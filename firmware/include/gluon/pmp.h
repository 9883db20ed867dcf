/* Gluon PMP and user mode: give an untrusted task only the memory it needs and run it in
 * U-mode (RISC-V privileged spec 20211203, sections 3.1.6 and 3.7).
 *
 *   gluon_pmp_napot(0, key, 64, 0);                          // the key: no access for U
 *   gluon_pmp_napot(1, ram_base, ram_size, GLUON_PMP_R | GLUON_PMP_W | GLUON_PMP_X);
 *   int code = gluon_run_user(task, stack_top);              // returns gluon_user_exit(code)
 *
 * A U-mode access that no entry allows traps (load/store/instruction access fault) into the
 * M-mode handler, which decides: report and skip, or end the task with gluon_user_return().
 * Entries are checked lowest index first; with GLUON_PMP_L an entry binds M-mode too and
 * cannot be changed until reset. Devices (UART, coprocessors) need an entry to be reachable
 * from U; the DMA window registers are M-mode only whatever PMP says. */
#ifndef GLUON_PMP_H
#define GLUON_PMP_H

#include <stddef.h>
#include <stdint.h>

#define GLUON_PMP_R 0x01u
#define GLUON_PMP_W 0x02u
#define GLUON_PMP_X 0x04u
#define GLUON_PMP_L 0x80u
#define GLUON_PMP_ENTRIES 8

#define GLUON_ECALL_EXIT 0x45584954u   /* a7 of the ecall gluon_user_exit makes ("EXIT") */

/* A naturally aligned power-of-two region (size >= 8), or one word (size == 4).
 * Returns 0, or -1 for a bad entry/size/alignment or a locked entry. */
int gluon_pmp_napot(unsigned entry, uintptr_t base, size_t size, unsigned perms);
/* [previous entry's address, top): top-of-range entry. */
int gluon_pmp_tor(unsigned entry, uintptr_t top, unsigned perms);
/* Turn an (unlocked) entry off. */
int gluon_pmp_off(unsigned entry);

/* Run entry() in U-mode on the given stack. Returns the code the task passes to
 * gluon_user_exit() (or an M-mode trap handler to gluon_user_return()). */
int gluon_run_user(void (*entry)(void), void *stack_top);
/* In U-mode: end the task (an ecall the SDK's trap handler turns into a return). */
__attribute__((noreturn)) void gluon_user_exit(int code);
/* In an M-mode trap handler: abandon the U-mode task, gluon_run_user returns code. */
__attribute__((noreturn)) void gluon_user_return(int code);
/* In an M-mode trap handler: if this trap is gluon_user_exit's ecall, end the task. */
void gluon_user_check_exit(uint32_t mcause);

#endif
