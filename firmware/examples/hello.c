/* hello.c: the first program to run on a Gluon SoC.
 *
 * Prints a greeting, a line of printf formats, and what SYSINFO reports.
 * Returns 0 (tohost = 1) when SYSINFO's ID reads "GLUN", else 2.
 *
 * Expected output on the reference runner (gluon.sim.refsim: 50 MHz,
 * 128 KiB of RAM, no coprocessors):
 *
 *   Hello from Gluon!
 *   ints: -123 456 4000000000 0xbeef 0XBEEF
 *   width: [   42] [42   ] [00042] [+42] [ 7] [0x002a]
 *   chars: G "gluon" [  ab] 100%
 *   64-bit: -1234567890123 18446744073709551615 0x0123456789abcdef
 *   pointer: 0x10000000
 *   sysinfo: id=0x474c554e "GLUN" clk=50000000 Hz ram=0x80000000 (128 KiB) coprocs=0x0 [none]
 */
#include <stdint.h>
#include <stdio.h>

#include "gluon/sdk.h"

int main(void)
{
    puts("Hello from Gluon!");
    printf("ints: %d %i %u 0x%x 0X%X\n", -123, 456, 4000000000u, 0xbeefu, 0xbeefu);
    printf("width: [%5d] [%-5d] [%05d] [%+d] [% d] [%#06x]\n", 42, 42, 42, 42, 7, 42u);
    printf("chars: %c \"%s\" [%4.2s] 100%%\n", 'G', "gluon", "abc");
    printf("64-bit: %lld %llu 0x%016llx\n",
           -1234567890123LL, 18446744073709551615ULL, 0x0123456789abcdefULL);
    printf("pointer: %p\n", (void *)GLUON_UART_BASE);

    uint32_t id = GLUON_SYSINFO_ID;
    uint32_t coprocs = GLUON_SYSINFO_COPROCS;
    printf("sysinfo: id=0x%08x \"%c%c%c%c\" clk=%u Hz ram=0x%08x (%u KiB) coprocs=0x%x [",
           (unsigned)id, (char)(id >> 24), (char)(id >> 16), (char)(id >> 8), (char)id,
           (unsigned)GLUON_SYSINFO_CLK_HZ, (unsigned)GLUON_SYSINFO_RAM_BASE,
           (unsigned)(GLUON_SYSINFO_RAM_SIZE / 1024), (unsigned)coprocs);
    static const char *const names[] = { "hash", "modmul", "matmul" };
    int any = 0;
    for (int i = 0; i < 3; i++) {
        if (coprocs & (1u << i)) {
            printf("%s%s", any ? " " : "", names[i]);
            any = 1;
        }
    }
    printf("%s]\n", any ? "" : "none");

    if (id != 0x474C554Eu) {
        puts("sysinfo: unexpected ID, expected 0x474c554e");
        return 2;
    }
    return 0;
}
