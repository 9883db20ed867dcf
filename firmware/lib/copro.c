/* Coprocessor slots (M-mode only): each slot's DMA windows and wipe, through
 * its section of the control page (gluon/copro.h, docs/security.md). */
#include "gluon/copro.h"
#include "gluon/pmp.h"
#include "gluon/sdk.h"
#include "gluon/regs.h"

/* The window registers of one slot: BASE, LIMIT, CTRL of window i at
 * WIN0_* + i * (WIN1 - WIN0). */
#define WIN_STEP ((GLUON_COPROCTL_WIN1_BASE_OFFSET - GLUON_COPROCTL_WIN0_BASE_OFFSET) / 4)

static volatile uint32_t *win_regs(unsigned slot, unsigned win)
{
    return &GLUON_COPROCTL_WIN0_BASE(slot) + win * WIN_STEP;
}

#define MAX_SLOTS GLUON_MAX_SLOTS

static uint32_t epochs[MAX_SLOTS];  /* wipes made through the SDK, per slot */
static uint8_t lent_entry[MAX_SLOTS];  /* the PMP entry a grant opened, 0: none */

uint32_t gluon_copro_epoch(unsigned slot)
{
    return slot < MAX_SLOTS ? epochs[slot] : 0;
}

int gluon_copro_present(unsigned slot)
{
    if (slot >= MAX_SLOTS)
        return 0;
    return (GLUON_SYSINFO_COPROCS >> slot) & 1;
}

int gluon_copro_window(unsigned slot, unsigned win, const void *base, size_t size,
                       unsigned flags)
{
    if (!gluon_copro_present(slot) || win >= GLUON_COPRO_WINDOWS)
        return -1;
    if (flags & ~(GLUON_COPRO_R | GLUON_COPRO_W | GLUON_COPRO_LOCK))
        return -1;
    if ((size == 0) != (flags == 0))
        return -1;          /* an empty window with permissions, or a range without */
    volatile uint32_t *w = win_regs(slot, win);
    if (w[2] & GLUON_COPROCTL_WIN0_CTRL_LOCK_MASK)
        return -1;
    /* Windows are word granular: widen to whole words. */
    uintptr_t lo = (uintptr_t)base & ~(uintptr_t)3;
    uintptr_t end = (uintptr_t)base + size;
    if (size && end < (uintptr_t)base)
        return -1;          /* wraps past 4 GiB */
    uintptr_t hi = (end + 3) & ~(uintptr_t)3;
    if (size && hi < end)
        return -1;
    uint32_t ctrl = 0;
    if (flags & GLUON_COPRO_R)
        ctrl |= GLUON_COPROCTL_WIN0_CTRL_R_MASK;
    if (flags & GLUON_COPRO_W)
        ctrl |= GLUON_COPROCTL_WIN0_CTRL_W_MASK;
    if (flags & GLUON_COPRO_LOCK)
        ctrl |= GLUON_COPROCTL_WIN0_CTRL_LOCK_MASK;
    w[2] = 0;               /* closed while it moves */
    w[0] = (uint32_t)lo;
    w[1] = (uint32_t)hi;
    w[2] = ctrl;
    /* The hardware refuses LOCK on a slot lent to U-mode: read back. */
    return w[2] == ctrl ? 0 : -1;
}

int gluon_copro_wipe(unsigned slot)
{
    if (!gluon_copro_present(slot))
        return -1;
    uint32_t irq_en = GLUON_COPROCTL_CTRL(slot) & GLUON_COPROCTL_CTRL_IRQ_EN_MASK;
    epochs[slot]++;
    GLUON_COPROCTL_CTRL(slot) = irq_en | GLUON_COPROCTL_CTRL_WIPE_MASK;
    while (GLUON_COPROCTL_STATUS(slot) & GLUON_COPROCTL_STATUS_WIPING_MASK)
        ;
    return 0;
}

static void wait_wipe(unsigned slot)
{
    while (GLUON_COPROCTL_STATUS(slot) & GLUON_COPROCTL_STATUS_WIPING_MASK)
        ;
}

int gluon_copro_lent(unsigned slot)
{
    return gluon_copro_present(slot) &&
           (GLUON_COPROCTL_OWNER(slot) & GLUON_COPROCTL_OWNER_U_MASK) != 0;
}

/* The PMP entry `entry` is the application's, unlocked and off. */
static int free_entry(unsigned entry)
{
    if (entry < GLUON_PMP_FIRST_APP || entry >= GLUON_PMP_ENTRIES)
        return 0;
    uint32_t cfg = entry < 4 ? read_csr(pmpcfg0) : read_csr(pmpcfg1);
    return ((cfg >> (8 * (entry % 4))) & 0xFF) == 0;
}

int gluon_copro_grant(unsigned slot, unsigned pmp_entry, const gluon_copro_buf *bufs,
                      unsigned n)
{
    if (!gluon_pmp_present())
        return GLUON_COPRO_E_NOPMP;
    if (!gluon_copro_present(slot) || gluon_copro_lent(slot) || !free_entry(pmp_entry) ||
        n > GLUON_COPRO_WINDOWS || (n && !bufs))
        return GLUON_COPRO_E_ARG;
    for (unsigned i = 0; i < n; i++) {
        unsigned f = bufs[i].flags;
        if (!f || (f & ~(GLUON_COPRO_R | GLUON_COPRO_W)) || bufs[i].size == 0)
            return GLUON_COPRO_E_ARG;
        /* The window the engine gets: the buffer widened to whole words. */
        uintptr_t lo = (uintptr_t)bufs[i].base & ~(uintptr_t)3;
        uintptr_t end = (uintptr_t)bufs[i].base + bufs[i].size;
        if (end < (uintptr_t)bufs[i].base || ((end + 3) & ~(uintptr_t)3) < end)
            return GLUON_COPRO_E_ARG;
        size_t words = ((end + 3) & ~(uintptr_t)3) - lo;
        unsigned perms = (f & GLUON_COPRO_R ? GLUON_PMP_R : 0) | (f & GLUON_COPRO_W ? GLUON_PMP_W : 0);
        if (!gluon_pmp_u_allows(lo, words, perms))
            return GLUON_COPRO_E_BUF;
    }
    for (unsigned w = 0; w < GLUON_COPRO_WINDOWS; w++)
        if (*(win_regs(slot, w) + 2) & GLUON_COPROCTL_WIN0_CTRL_LOCK_MASK)
            return GLUON_COPRO_E_LOCKED;
    /* The hardware aborts, closes every window and wipes on this store. */
    epochs[slot]++;
    GLUON_COPROCTL_OWNER(slot) = GLUON_COPROCTL_OWNER_U_MASK;
    wait_wipe(slot);
    if (!(GLUON_COPROCTL_OWNER(slot) & GLUON_COPROCTL_OWNER_U_MASK))
        return GLUON_COPRO_E_LOCKED;        /* STATUS.GRANT_REFUSED */
    for (unsigned i = 0; i < n; i++) {
        if (gluon_copro_window(slot, i, bufs[i].base, bufs[i].size, bufs[i].flags)) {
            gluon_copro_revoke(slot);
            return GLUON_COPRO_E_ARG;
        }
    }
    if (gluon_pmp_napot(pmp_entry, GLUON_SLOT_BASE + slot * GLUON_SLOT_SIZE, GLUON_SLOT_SIZE,
                        GLUON_PMP_R | GLUON_PMP_W)) {
        gluon_copro_revoke(slot);
        return GLUON_COPRO_E_ARG;
    }
    lent_entry[slot] = (uint8_t)pmp_entry;
    return 0;
}

int gluon_copro_revoke(unsigned slot)
{
    if (!gluon_copro_present(slot))
        return GLUON_COPRO_E_ARG;
    /* Abort, flush the descriptor in flight and the engine's FIFOs, close every window,
     * clear DONE (and the interrupt), wipe: all on this store. */
    epochs[slot]++;
    GLUON_COPROCTL_OWNER(slot) = 0;
    wait_wipe(slot);
    if (lent_entry[slot]) {
        gluon_pmp_off(lent_entry[slot]);
        lent_entry[slot] = 0;
    }
    return 0;
}
