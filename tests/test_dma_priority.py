"""The core's load/store timing does not depend on DMA activity (docs/core.md): the same
load/store loop takes the same cycles with the bus idle and while the hash coprocessor's DMA
engine streams a 4 KiB message out of the same RAM."""

import pytest

from gluon.firmware import cc
from gluon.hdl.config import get_config
from gluon.sim.verilator import run

PROGRAM = r"""
#include <stdio.h>
#include <stdint.h>
#include "gluon/regs.h"
#include "gluon/sdk.h"

static uint8_t msg[4096] __attribute__((aligned(4)));
static uint8_t digest[32] __attribute__((aligned(4)));
static volatile uint32_t buf[64];

__attribute__((noinline)) static uint32_t loop(void)  /* 64 loads + 64 stores to RAM, timed with mcycle */
{
    uint32_t t0 = read_csr(mcycle);
    for (int i = 0; i < 64; i++)
        buf[i] = buf[(i * 7) & 63] + 1;
    return read_csr(mcycle) - t0;
}

int main(void)
{
    gluon_copro_window(GLUON_HASH_SLOT, 0, msg, sizeof msg, GLUON_COPRO_R);
    gluon_copro_window(GLUON_HASH_SLOT, 1, digest, sizeof digest, GLUON_COPRO_W);
    uint32_t idle = loop();
    GLUON_HASH_CTRL = 1u << GLUON_HASH_CTRL_MODE_SHIFT;   /* SHA-256 of 4 KiB: DMA busy */
    GLUON_HASH_SRC = (uint32_t)(uintptr_t)msg;
    GLUON_HASH_LEN = sizeof msg;
    GLUON_HASH_DST = (uint32_t)(uintptr_t)digest;
    GLUON_HASH_START = GLUON_HASH_START_OP_HASH << GLUON_HASH_START_OP_SHIFT;
    uint32_t busy = loop();
    uint32_t still_busy = GLUON_HASH_STATUS & GLUON_HASH_STATUS_BUSY_MASK;
    while (!(GLUON_HASH_STATUS & GLUON_HASH_STATUS_DONE_MASK))
        ;
    printf("idle %lu busy %lu overlapped %lu\n", (unsigned long)idle, (unsigned long)busy,
           (unsigned long)still_busy);
    return 0;
}
"""


# compact-pipelined: the pipelined core's SoC, whose DMA side reaches RAM through the request
# register (hdl/bus.py, RequestRegister) while the core claims RAM's shared port from X. Slow:
# its simulation model (every coprocessor) is built for this test alone (75 s on a 2-core
# machine); the claim that keeps DMA out of the core's cycles is proven formally
# (tests/test_formal.py -k pipelined_core_bus) and tests/test_pipeline_ram.py checks RAM's port.
@pytest.mark.parametrize("config", ["full", pytest.param("compact-pipelined",
                                                         marks=pytest.mark.slow)])
def test_core_timing_independent_of_dma(tmp_path, config):
    src = tmp_path / "prio.c"
    src.write_text(PROGRAM)
    elf = cc.compile([src], tmp_path / "prio.elf")
    res = run(elf, get_config(config), max_cycles=2_000_000)
    text = res.output.decode()
    assert res.passed, text
    idle, busy, overlapped = (int(v) for v in text.split()[1::2])
    assert overlapped == 1, "the DMA transfer must still be running during the second loop"
    assert res.counts["all"]["dma_per_slot"][0] > 0
    assert idle == busy, f"load/store loop: {idle} cycles idle, {busy} with DMA running"
