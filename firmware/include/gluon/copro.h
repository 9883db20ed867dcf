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

#ifdef __cplusplus
}
#endif

#endif /* GLUON_COPRO_H */
