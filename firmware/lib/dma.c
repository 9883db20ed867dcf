/* DMA windows (M-mode only): the memory every coprocessor's DMA engine may touch. */
#include "gluon/regs.h"
#include "gluon/sdk.h"

static volatile uint32_t *const WIN_BASE[] = {
    &GLUON_DMA_WIN0_BASE, &GLUON_DMA_WIN1_BASE, &GLUON_DMA_WIN2_BASE, &GLUON_DMA_WIN3_BASE};
static volatile uint32_t *const WIN_LIMIT[] = {
    &GLUON_DMA_WIN0_LIMIT, &GLUON_DMA_WIN1_LIMIT, &GLUON_DMA_WIN2_LIMIT, &GLUON_DMA_WIN3_LIMIT};
static volatile uint32_t *const WIN_CTRL[] = {
    &GLUON_DMA_WIN0_CTRL, &GLUON_DMA_WIN1_CTRL, &GLUON_DMA_WIN2_CTRL, &GLUON_DMA_WIN3_CTRL};

int gluon_dma_window(unsigned win, const void *base, size_t size)
{
    if (win >= sizeof WIN_BASE / sizeof WIN_BASE[0] || size == 0)
        return -1;
    if (*WIN_CTRL[win] & GLUON_DMA_WIN0_CTRL_LOCK_MASK)
        return -1;
    /* Windows are word granular: widen to whole words. */
    uintptr_t lo = (uintptr_t)base & ~(uintptr_t)3;
    uintptr_t hi = ((uintptr_t)base + size + 3) & ~(uintptr_t)3;
    *WIN_CTRL[win] = 0;
    *WIN_BASE[win] = lo;
    *WIN_LIMIT[win] = hi;
    *WIN_CTRL[win] = GLUON_DMA_WIN0_CTRL_R_MASK | GLUON_DMA_WIN0_CTRL_W_MASK;
    return 0;
}
