/* Coprocessor slots: DMA windows, wipe (M-mode only).
 *
 * Every coprocessor slot k has a section of the M-only control page
 * (GLUON_COPROCTL_<REG>(k), docs/registers.md): its owner (M-mode, or lent to
 * U-mode), its interrupt enable, a wipe, and the four DMA windows of its own
 * DMA engine, the only memory that engine may touch.  Windows are per slot:
 * a window opened for one coprocessor gives no other coprocessor anything.
 * After reset and after every owner change all windows of the slot are closed.
 * docs/security.md describes the model; docs/coprocessor-contract.md the
 * hardware.
 *
 * Slot numbers come from the generated header: GLUON_HASH_SLOT, ...
 */
#ifndef GLUON_COPRO_H
#define GLUON_COPRO_H

#include <stddef.h>
#include <stdint.h>

#include "gluon/regs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GLUON_COPRO_R    1u   /* the engine may read memory in the window */
#define GLUON_COPRO_W    2u   /* the engine may write memory in the window */
#define GLUON_COPRO_LOCK 4u   /* freeze the window until reset; such a slot is never lent */

#define GLUON_COPRO_WINDOWS 4u  /* windows per slot */

/* Set window `win` (0..3) of slot `slot` to [base, base + size), widened to
 * whole words, with the permissions in `flags` (GLUON_COPRO_R | _W | _LOCK).
 * size 0 with flags 0 closes the window.  Any change of a window stops the
 * slot's descriptor in flight (docs/coprocessor-contract.md, revocation).
 * Returns 0, or -1: no coprocessor in that slot, bad window, size or flags,
 * a range that wraps past 4 GiB, a window already locked, or LOCK asked while
 * the slot is lent to U-mode (the hardware refuses it). */
int gluon_copro_window(unsigned slot, unsigned win, const void *base, size_t size,
                       unsigned flags);

/* Wipe slot `slot` and wait for the end: the operation running is stopped and
 * every flip-flop of the coprocessor and of its DMA engine returns to its
 * reset value, every memory word to zero (the owner, the windows and the
 * interrupt enable stay).  Returns 0, or -1 for a slot with no coprocessor. */
int gluon_copro_wipe(unsigned slot);

/* 1 if slot `slot` holds a coprocessor (SYSINFO.COPROCS), else 0. */
int gluon_copro_present(unsigned slot);

/* How many wipes of slot `slot` the SDK has made (gluon_copro_wipe, grant,
 * revoke): a driver that caches what a coprocessor holds records it and drops
 * its cache when it changes. */
uint32_t gluon_copro_epoch(unsigned slot);

/* ---- Lending a slot to a U-mode task --------------------------------------
 *
 *   static uint8_t task_buf[256];            // the task's own memory (its PMP entry allows it)
 *   gluon_copro_buf bufs[] = {{task_buf, sizeof task_buf, GLUON_COPRO_R | GLUON_COPRO_W}};
 *   gluon_copro_grant(GLUON_HASH_SLOT, 6, bufs, 1);   // PMP entry 6 opens the slot page to U
 *   gluon_run_user(task, stack_top);                  // the task drives the slot's registers
 *   gluon_copro_revoke(GLUON_HASH_SLOT);              // back to M, wiped, entry 6 off
 *
 * gluon_copro_grant(slot, pmp_entry, bufs, n):
 *   1. refuses without PMP (GLUON_COPRO_E_NOPMP: the 'small' configuration, where U-mode
 *      accesses are unrestricted, so nothing could be confined);
 *   2. checks the arguments: a present slot not lent already, an application PMP entry
 *      (GLUON_PMP_FIRST_APP..7) that is unlocked and OFF, at most GLUON_COPRO_WINDOWS buffers
 *      with flags R and/or W (GLUON_COPRO_E_ARG), and that the PMP entries as they are let U
 *      itself make those accesses to every word of every buffer (GLUON_COPRO_E_BUF): the
 *      slot's DMA reaches only what the task could touch anyway;
 *   3. refuses a slot with a window M locked (GLUON_COPRO_E_LOCKED; the hardware refuses it
 *      too, STATUS.GRANT_REFUSED): a window M locked for its own use is never lent;
 *   4. writes OWNER = U: the hardware aborts whatever ran, closes every window and wipes
 *      the coprocessor and its DMA engine (waited for), and masks the slot's interrupt line;
 *   5. opens one window per buffer, then the PMP entry (NAPOT over the slot's 4 KiB page,
 *      read/write for U).
 * Returns 0 or a GLUON_COPRO_E_* code; on an error nothing is lent (the slot stays M's).
 *
 * gluon_copro_revoke(slot): writes OWNER = M (from the cycle that store is acknowledged the
 * slot's DMA engine makes no access outside its windows, which are all closed: the descriptor
 * in flight stops, the words in its FIFOs are dropped), waits for the wipe that follows,
 * then turns the grant's PMP entry off. The slot is M's again with every window closed:
 * reopen the ones M needs (gluon_hash_window() ...). Returns 0, or GLUON_COPRO_E_ARG for a
 * slot without a coprocessor. Call it from M-mode whatever state the task left the slot in.
 *
 * Costs (cycles, `full` SoC, measured by firmware/examples/user_copro.c; docs/security.md):
 * see docs/security.md "Costs".
 */
#define GLUON_COPRO_E_ARG    (-1)
#define GLUON_COPRO_E_NOPMP  (-2)   /* no PMP: lending refused */
#define GLUON_COPRO_E_LOCKED (-3)   /* a window of the slot is locked (M's) */
#define GLUON_COPRO_E_BUF    (-4)   /* a buffer the task itself may not access */

typedef struct {
    const void *base;
    size_t size;
    unsigned flags;             /* GLUON_COPRO_R | GLUON_COPRO_W */
} gluon_copro_buf;

int gluon_copro_grant(unsigned slot, unsigned pmp_entry, const gluon_copro_buf *bufs,
                      unsigned n);
int gluon_copro_revoke(unsigned slot);

/* 1 if slot `slot` is lent to U-mode (OWNER.U), else 0. */
int gluon_copro_lent(unsigned slot);

#ifdef __cplusplus
}
#endif

#endif /* GLUON_COPRO_H */
