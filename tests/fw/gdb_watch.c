/* gdb_watch.c: stores and loads for GDB's hardware breakpoints and watchpoints
 * (tests/test_gdb.py, test_hbreak_watch_rwatch). Exits with status 0 when total is 10. */
#include <stdio.h>

volatile int counter;           /* written by bump(): `watch counter` */
volatile int limit = 3;         /* only read: `rwatch limit` */
int total;

static int __attribute__((noinline)) bump(int k)
{
    counter = counter + k;
    return counter;
}

int main(void)
{
    for (int i = 1; i <= limit; i++)
        total += bump(i);       /* 1 + 3 + 6 */
    printf("total %d\n", total);
    return total == 10 ? 0 : 1;
}
