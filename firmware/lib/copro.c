/* Coprocessor slots (M-mode only): each slot's DMA windows and wipe, through
 * its section of the control page (gluon/copro.h, docs/security.md). */
#include "gluon/copro.h"
#include "gluon/regs.h"

/* The window registers of one slot: BASE, LIMIT, CTRL of window i at
 * WIN0_* + i * (WIN1 - WIN0). */
#define WIN_STEP ((GLUON_COPROCTL_WIN1_BASE_OFFSET - GLUON_COPROCTL_WIN0_BASE_OFFSET) / 4)

static volatile uint32_t *win_regs(unsigned slot, unsigned win)
{
    return &GLUON_COPROCTL_WIN0_BASE(slot) + win * WIN_STEP;
}

#define MAX_SLOTS 16

static uint32_t epochs[MAX_SLOTS];  /* wipes made through the SDK, per slot */

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
