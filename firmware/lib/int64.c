/* 64-bit division helpers that the compiler calls on RV32 (the libgcc /
 * compiler-rt names __udivdi3, __umoddi3, __divdi3, __moddi3).  Programs
 * are linked with -nostdlib, so the SDK provides them.  Division by zero
 * gives the RISC-V M results: quotient all ones, remainder the dividend.
 */
#include <stdint.h>

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem)
{
    uint64_t q = 0;

    if (d == 0) {
        if (rem)
            *rem = n;
        return ~(uint64_t)0;
    }
    if ((n >> 32) == 0 && (d >> 32) == 0) {
        uint32_t n32 = (uint32_t)n, d32 = (uint32_t)d;
        if (rem)
            *rem = n32 % d32;
        return n32 / d32;
    }
    if (n >= d) {
        /* Shift-and-subtract, starting with d aligned under n's top bit. */
        int shift = __builtin_clzll(d) - __builtin_clzll(n);
        d <<= shift;
        for (int i = 0; i <= shift; i++) {
            q <<= 1;
            if (n >= d) {
                n -= d;
                q |= 1;
            }
            d >>= 1;
        }
    }
    if (rem)
        *rem = n;
    return q;
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
    return __udivmoddi4(n, d, 0);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
    uint64_t r;

    __udivmoddi4(n, d, &r);
    return r;
}

int64_t __divdi3(int64_t n, int64_t d)
{
    uint64_t un = n < 0 ? -(uint64_t)n : (uint64_t)n;
    uint64_t ud = d < 0 ? -(uint64_t)d : (uint64_t)d;
    uint64_t q = __udivmoddi4(un, ud, 0);

    if (d == 0)
        return -1;
    return ((n < 0) != (d < 0)) ? (int64_t)-q : (int64_t)q;
}

int64_t __moddi3(int64_t n, int64_t d)
{
    uint64_t un = n < 0 ? -(uint64_t)n : (uint64_t)n;
    uint64_t ud = d < 0 ? -(uint64_t)d : (uint64_t)d;
    uint64_t r;

    __udivmoddi4(un, ud, &r);
    return n < 0 ? (int64_t)-r : (int64_t)r;
}
