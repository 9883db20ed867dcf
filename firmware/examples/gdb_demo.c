/* gdb_demo.c: a program to try GDB on (docs/debugging.md).
 *
 *   gluon cc -O1 firmware/examples/gdb_demo.c -o gdb_demo.elf
 *   gluon sim --config minimal --gdb 3333 gdb_demo.elf        (then, in another terminal)
 *   gdb gdb_demo.elf -ex 'target remote :3333'
 *
 * Prints "scale 3 -> 21", spins until `spin` is cleared (Ctrl-C, `set var spin = 0`,
 * `continue`), then prints the iteration count's parity and exits with status 3 (tohost 7).
 */
#include <stdio.h>

volatile int spin = 1;          /* the busy loop's condition: clear it from GDB */
int factor = 7;                 /* a global to print and to change */

static int __attribute__((noinline)) scale(volatile int x)   /* volatile: kept in memory, */
{                                                              /* printable at -O1 */
    int y = x * factor;
    return y;
}

int main(void)
{
    volatile int base = 3;      /* a local to print */
    int r = scale(base);
    printf("scale %d -> %d\n", base, r);
    unsigned n = 0;
    while (spin)
        n++;
    printf("spun: %s\n", n ? "yes" : "no");
    return 3;
}
