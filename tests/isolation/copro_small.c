/* copro_small.c: on a configuration without PMP (`small`) the SDK refuses to lend a
 * coprocessor: U-mode accesses are unrestricted there, nothing could be confined. */
#include <stdio.h>

#include "gluon/copro.h"
#include "gluon/pmp.h"

static unsigned char buf[64];

int main(void)
{
    gluon_copro_buf b[] = {{buf, sizeof buf, GLUON_COPRO_R}};
    printf("pmp=%d grant=%d lent=%d revoke=%d\n", gluon_pmp_present(),
           gluon_copro_grant(0, 6, b, 1), gluon_copro_lent(0), gluon_copro_revoke(0));
    return 0;
}
