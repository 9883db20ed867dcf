/* Locks the Debug Module, says so, then counts for a while and exits with status 5: for
 * tests/test_gdb.py (a debugger attached before the lock loses the hart after it). */
#include <stdio.h>

#include "gluon/regs.h"

int main(void)
{
    GLUON_DEBUG_LOCK = GLUON_DEBUG_LOCK_LOCKED_MASK;
    printf("locked: %u\n", (unsigned)GLUON_DEBUG_LOCK);
    for (volatile unsigned i = 0; i < 1000000; i++)
        ;
    return 5;
}
