/* Gluon timer helpers on the CLINT's mtime/mtimecmp (RISC-V privileged
 * spec 1.12, section 3.2.1: memory-mapped machine timer registers). */
#include "gluon/sdk.h"

uint32_t gluon_timer_hz(void)
{
    /* mtime counts at the system clock on Gluon. */
    return GLUON_SYSINFO_CLK_HZ;
}

uint64_t gluon_mtime(void)
{
    uint32_t hi, lo, hi2;

    do {
        hi = GLUON_CLINT_MTIMEH;
        lo = GLUON_CLINT_MTIME;
        hi2 = GLUON_CLINT_MTIMEH;
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

void gluon_set_mtimecmp(uint64_t when)
{
    /* Raise the high word first, so no intermediate value lies in the past
     * and fires a spurious interrupt. */
    GLUON_CLINT_MTIMECMPH = 0xffffffffu;
    GLUON_CLINT_MTIMECMP = (uint32_t)when;
    GLUON_CLINT_MTIMECMPH = (uint32_t)(when >> 32);
}

void gluon_delay_ticks(uint64_t ticks)
{
    uint64_t end = gluon_mtime() + ticks;

    while (gluon_mtime() < end)
        ;
}

void gluon_delay_us(uint32_t us)
{
    gluon_delay_ticks((uint64_t)us * gluon_timer_hz() / 1000000u);
}
