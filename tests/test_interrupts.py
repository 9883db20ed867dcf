"""Platform-specific local interrupts (mip/mie bits 16 and up): a coprocessor's done line
reaches the core as mcause = 2^31 + 16 + 1 + slot, and WFI waits for it."""

import hashlib

from gluon.firmware import cc
from gluon.hdl.config import get_config
from gluon.sim.verilator import run

PROGRAM = r"""
#include <stdio.h>
#include <stdint.h>
#include "gluon/regs.h"
#include "gluon/sdk.h"

static uint8_t msg[64] __attribute__((aligned(4))) = "abc";
static uint8_t digest[32] __attribute__((aligned(4)));
static volatile uint32_t seen_cause, irqs;

void gluon_trap_handler(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    (void)mepc; (void)mtval;
    seen_cause = mcause;
    irqs++;
    GLUON_COPROCTL_CTRL(GLUON_HASH_SLOT) = 0;             /* quiet the line */
    GLUON_HASH_STATUS = GLUON_HASH_STATUS_DONE_MASK;      /* and acknowledge */
}

int main(void)
{
    gluon_copro_window(GLUON_HASH_SLOT, 0, msg, sizeof msg, GLUON_COPRO_R);
    gluon_copro_window(GLUON_HASH_SLOT, 1, digest, sizeof digest, GLUON_COPRO_W);
    GLUON_COPROCTL_CTRL(GLUON_HASH_SLOT) = GLUON_COPROCTL_CTRL_IRQ_EN_MASK;
    set_csr(mie, 1u << (16 + 1 + 0));                    /* local line 1 + slot 0 */
    set_csr(mstatus, 8);
    GLUON_HASH_CTRL = 1u << GLUON_HASH_CTRL_MODE_SHIFT;  /* SHA-256 */
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)msg;
    GLUON_HASH_LEN = 3;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)digest;
    GLUON_HASH_START = GLUON_HASH_START_OP_HASH << GLUON_HASH_START_OP_SHIFT;
    while (!irqs)
        __asm__ volatile("wfi");
    printf("cause %08lx irqs %lu digest ", (unsigned long)seen_cause, (unsigned long)irqs);
    for (int i = 0; i < 32; i++)
        printf("%02x", digest[i]);
    printf("\n");
    return 0;
}
"""


def test_coprocessor_done_interrupt(tmp_path):
    src = tmp_path / "irq.c"
    src.write_text(PROGRAM)
    elf = cc.compile([src], tmp_path / "irq.elf")
    res = run(elf, get_config("full"), max_cycles=1_000_000)
    text = res.output.decode()
    assert res.passed, text
    assert f"cause 80000011 irqs 1 digest {hashlib.sha256(b'abc').hexdigest()}" in text
