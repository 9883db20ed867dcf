/* Gluon libc subset: exit and integer helpers. */
#include <stdint.h>
#include <stdlib.h>

#include "gluon/sdk.h"

void exit(int status)
{
    uint32_t code = (uint32_t)status & 0xffu;

    /* riscv-tests convention: 1 passes, (code << 1) | 1 fails with code. */
    tohost = code ? (code << 1) | 1u : 1u;
    for (;;)
        __asm__ volatile("" ::: "memory");
}

int abs(int x)
{
    return x < 0 ? -x : x;
}

long labs(long x)
{
    return x < 0 ? -x : x;
}

long long llabs(long long x)
{
    return x < 0 ? -x : x;
}

int atoi(const char *s)
{
    int neg = 0;
    int v = 0;

    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return neg ? -v : v;
}

void gluon_simctrl_exit(uint32_t value)
{
    GLUON_SIMCTRL_EXIT = value;
    for (;;)
        __asm__ volatile("" ::: "memory");
}
