/* user_task.c: an untrusted task in U-mode, fenced in by PMP, is stopped at every attempt to
 * read the key, reconfigure the UART or start a coprocessor; the M-mode trap handler reports
 * each fault and lets the task go on, then checks that nothing changed.
 *
 * The task gets the least it needs: read and execute over RAM (its code is in M's program),
 * read/write over its own stack only, nothing over the key. The SDK's own PMP entries (0-2,
 * gluon/pmp.h) keep M's stack and tohost away from it whatever these entries say.
 *
 * Expected output ends with "faults: 3, key intact, UART intact, coprocessor idle: PASS". */
#include <stdio.h>
#include <stdint.h>

#include "gluon/pmp.h"
#include "gluon/regs.h"
#include "gluon/sdk.h"

static volatile uint32_t key[16] __attribute__((aligned(64))) = {
    0x6b657931, 0x5ec2e700, 0xdeadbeef, 0x01234567,
};
/* The task's only writable memory: a naturally aligned power of two, for one NAPOT entry. */
static uint32_t user_stack[256] __attribute__((aligned(1024)));
static int faults;

void gluon_trap_handler(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    gluon_user_check_exit(mcause);
    faults++;
    printf("  M-mode: stopped the task: %s at pc 0x%08lx, address 0x%08lx\n",
           gluon_trap_cause_name(mcause), (unsigned long)mepc, (unsigned long)mtval);
    gluon_trap_skip();                  /* skip the instruction and let the task go on */
}

static void task(void)
{
    volatile uint32_t sink = key[0];    /* read the key */
    (void)sink;
    GLUON_UART_DIVISOR = 2;             /* reconfigure the UART */
    GLUON_HASH_START = GLUON_HASH_START_OP_HASH;  /* start a coprocessor */
    gluon_user_exit(7);
}

int main(void)
{
    uint32_t divisor = GLUON_UART_DIVISOR;
    uint32_t ram_base = GLUON_SYSINFO_RAM_BASE, ram_size = GLUON_SYSINFO_RAM_SIZE;

    /* entry 3: the key, no access; 4: the task's stack, read/write; 5: RAM, read/execute. */
    if (gluon_pmp_napot(3, (uintptr_t)key, sizeof key, 0) ||
        gluon_pmp_napot(4, (uintptr_t)user_stack, sizeof user_stack, GLUON_PMP_R | GLUON_PMP_W) ||
        gluon_pmp_napot(5, ram_base, ram_size, GLUON_PMP_R | GLUON_PMP_X)) {
        printf("PMP set-up failed\n");
        return 1;
    }
    printf("running the untrusted task in U-mode\n");
    int code = gluon_run_user(task, user_stack + 256);
    int key_ok = key[0] == 0x6b657931 && key[1] == 0x5ec2e700;
    int uart_ok = GLUON_UART_DIVISOR == divisor;
    int idle = (GLUON_SYSINFO_COPROCS & GLUON_SYSINFO_COPROCS_HASH_MASK) == 0 ||
               (GLUON_HASH_STATUS & GLUON_HASH_STATUS_BUSY_MASK) == 0;
    printf("task exited with %d; faults: %d, key %s, UART %s, coprocessor %s: %s\n", code, faults,
           key_ok ? "intact" : "CHANGED", uart_ok ? "intact" : "CHANGED", idle ? "idle" : "STARTED",
           code == 7 && faults == 3 && key_ok && uart_ok && idle ? "PASS" : "FAIL");
    return code == 7 && faults == 3 && key_ok && uart_ok && idle ? 0 : 1;
}
