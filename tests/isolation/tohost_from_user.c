/* Ending the simulation is M-mode's. The SDK's PMP entry 2 already keeps U-mode away from
 * tohost; here M-mode turns it off (a firmware mistake) and grants U the top of RAM, and then:
 * a U-mode task stores "pass" to tohost, and M-mode stores "pass" with mstatus.MPRV = 1 and
 * MPP = U. The simulator must ignore and report both; the run ends with M's exit(9). */
#include <stdio.h>
#include <stdint.h>

#include "gluon/pmp.h"
#include "gluon/regs.h"
#include "gluon/sdk.h"

static uint32_t tstack[64] __attribute__((aligned(256)));

static void task(void)
{
    tohost = 1;                               /* "pass", from U-mode */
    gluon_user_exit(0);
}

int main(void)
{
    uint32_t top = GLUON_SYSINFO_RAM_BASE + GLUON_SYSINFO_RAM_SIZE;

    clear_csr(pmpcfg0, 0xffu << 16);          /* SDK entry 2 off: the mistake */
    if (gluon_pmp_napot(3, top - 4096, 4096, GLUON_PMP_R | GLUON_PMP_W) ||
        gluon_pmp_napot(4, (uintptr_t)tstack, sizeof tstack, GLUON_PMP_R | GLUON_PMP_W) ||
        gluon_pmp_napot(5, GLUON_SYSINFO_RAM_BASE, GLUON_SYSINFO_RAM_SIZE, GLUON_PMP_R | GLUON_PMP_X)) {
        printf("PMP set-up failed\n");
        return 1;
    }
    int code = gluon_run_user(task, tstack + 64);
    printf("task returned %d; still running\n", code);

    /* M-mode with MPRV = 1, MPP = U: the store's effective privilege is U */
    uint32_t one = 1;
    __asm__ volatile(
        "li t0, 0x1800\n  csrc mstatus, t0\n"
        "li t0, 0x20000\n csrs mstatus, t0\n"
        "sw %0, 0(%1)\n"
        "csrc mstatus, t0\n"
        :: "r"(one), "r"(&tohost) : "t0", "memory");
    printf("MPRV store done; still running\n");
    return 9;
}
