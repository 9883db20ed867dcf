"""The pipelined core's store→load wait: RAM makes a store's write from its write buffer in the
cycle after the request (hdl/ram.py, ``write_buffer``), so a load right behind a store waits one
cycle, whatever the two addresses are (same word, another word); the load still reads the
stored value. Measured like tests/test_core_timing.py: 1000 operand-dependent address pairs,
min = max asserted; the window is the instructions + one ``csrr``."""

import pytest

from asmprog import run_asm
from test_core_timing import measured, operands

# sw + lw + csrr = 3, plus the one-cycle wait of the load behind the store; a store then an
# ALU instruction then a load: no wait
WANT = {"sw_lw_same": 4, "sw_lw_other": 4, "sw_add_lw": 4, "sw_sw": 3}


def run_blocks(blocks, body, config, data=""):
    """Run ``body`` (one ``measured`` window per block, in order) after an operand table and
    ``data``; assert every block's cycle count is the same for all operand pairs and return
    {block: cycles} and the result words."""
    table = ".section .data\n.align 4\ntable:\n" + "".join(
        f"    .word {a:#x}, {b:#x}\n" for a, b in operands()) + ".align 4\n" + data
    res, words = run_asm(body + "    PASS\n", nres=8 * len(blocks) + 16,
                         extra_sections="\n" + table, max_cycles=5_000_000, config=config)
    assert res.passed, res
    got = {k: (words[2 * i], words[2 * i + 1]) for i, k in enumerate(blocks)}
    varying = {k: v for k, v in got.items() if v[0] != v[1]}
    assert not varying, f"data-dependent cycle counts (min, max): {varying}"
    return {k: v[0] for k, v in got.items()}, words


@pytest.mark.parametrize("config", ["pipelined", "pipelined-fetchreg"])
def test_load_behind_a_store_waits_one_cycle_whatever_the_addresses(config):
    # a3: an operand-dependent word of buf; a4: another operand-dependent word
    setup = ("    andi a3, a0, 0x3FC\n    la a4, buf\n    add a3, a3, a4\n"
             "    andi a5, a1, 0x3FC\n    add a4, a4, a5")
    blocks = {
        "sw_lw_same": "    sw a1, 0(a3)\n    lw a2, 0(a3)\n    csrr t1, mcycle",
        "sw_lw_other": "    sw a1, 0(a3)\n    lw a2, 0(a4)\n    csrr t1, mcycle",
        "sw_add_lw": "    sw a1, 0(a3)\n    add a5, a1, a1\n    lw a2, 0(a4)\n    csrr t1, mcycle",
        "sw_sw": "    sw a1, 0(a3)\n    sw a0, 0(a4)\n    csrr t1, mcycle",
    }
    body = "".join(measured(b, setup) for b in blocks.values())
    # the value a load reads right behind a store to the same word, for every operand pair:
    # XOR-accumulated against the stored values (must end at 0)
    body += """
    la s0, table
    li s1, 1000
    li s2, 0
    la a4, buf
8:  lw a0, 0(s0)
    lw a1, 4(s0)
    andi a3, a0, 0x3FC
    add a3, a3, a4
    sw a1, 0(a3)
    lw a2, 0(a3)
    xor a2, a2, a1
    or s2, s2, a2
    addi s0, s0, 8
    addi s1, s1, -1
    bnez s1, 8b
    sw s2, 0(gp)
"""
    got, words = run_blocks(blocks, body, config, data="buf: .space 1024\n")
    assert got == WANT, got
    assert words[2 * len(blocks)] == 0, "a load right behind a store read another value"


# MMIO on the pipelined SoCs: every window but RAM takes its request from the decoder's
# register, in W's cycle, where W's PMP verdict can still drop it (docs/security.md). The
# SoC's own register banks were registered before (2 cycles, unchanged); the coprocessors'
# windows were decoded directly (1 cycle, answered in W's first cycle) and now take the
# register's cycle too: a coprocessor register load or store is 2 cycles, one more than before
# (lw_copro was 2 and lw_copro_use 4 with the directly decoded windows). Measured like the
# table: the instruction(s) + one csrr, min = max over 1000 runs.
MMIO_WANT = {
    "pipelined": {"lw_sysinfo": 3, "sw_clint": 3},
    "pipelined-fetchreg": {"lw_sysinfo": 3, "sw_clint": 3},
    "compact-pipelined": {"lw_sysinfo": 3, "sw_clint": 3, "lw_copro": 3, "lw_copro_use": 5},
}


# compact-pipelined is slow: its simulation model (every coprocessor) is built for this test
# alone, about a minute and a half on a loaded 2-core machine
@pytest.mark.parametrize("config", ["pipelined", "pipelined-fetchreg",
                                    pytest.param("compact-pipelined", marks=pytest.mark.slow)])
def test_mmio_access_latency_is_fixed(config):
    blocks = {
        "lw_sysinfo": "    lw a2, 0(s4)\n    csrr t1, mcycle",
        "sw_clint": "    sw zero, 0(s5)\n    csrr t1, mcycle",
    }
    if "lw_copro" in MMIO_WANT[config]:
        blocks["lw_copro"] = "    lw a2, 0(s6)\n    csrr t1, mcycle"
        # a coprocessor register load whose value the next instruction uses
        blocks["lw_copro_use"] = "    lw a2, 0(s6)\n    add a5, a2, a1\n    csrr t1, mcycle"
    setup = "    li s4, 0x10001000\n    li s5, 0x02000000\n    li s6, 0x20000000"
    body = "".join(measured(b, setup) for b in blocks.values())
    got, words = run_blocks(blocks, body, config)
    print("MMIO cycles (insn + csrr):", got)
    assert got == MMIO_WANT[config], got


# Control flow back to back: the costs add up (docs/core.md, the cycle tables), taken or not.
# The window is the instructions + one csrr. pipelined: branch 2, JAL 2, JALR 3, FENCE.I 3.
# pipelined-fetchreg (the fetched word registered): branch 3 (the word it chooses waits a
# cycle in D while its successor is fetched; a branch right behind it needs that successor
# kept before it leaves D), JAL 2 (D's target on the port's address in D's cycle, also while
# the JAL waits), JALR and FENCE.I 4.
FLOW_WANT = {
    "pipelined": {"beq_jal": 5, "beq_beq": 5, "jal_beq": 5, "beq_jalr": 6, "jal_jal": 5,
                  "fence_i": 4, "beq_lw_use": 5},
    "pipelined-fetchreg": {"beq_jal": 6, "beq_beq": 7, "jal_beq": 6, "beq_jalr": 8,
                           "jal_jal": 5, "fence_i": 5, "beq_lw_use": 6},
}


@pytest.mark.parametrize("config", ["pipelined", "pipelined-fetchreg"])
def test_control_flow_costs_add_up_taken_or_not(config):
    blocks = {
        # either outcome reaches the same JAL's copy
        "beq_jal": "    beq a0, a1, 2f\n    jal x0, 3f\n2:  jal x0, 3f\n3:  csrr t1, mcycle",
        # branches to the next instruction: taken and not taken run the same words
        "beq_beq": "    beq a0, a1, 2f\n2:  bltu a0, a1, 3f\n3:  csrr t1, mcycle",
        "jal_beq": "    jal x0, 2f\n2:  bge a0, a1, 3f\n3:  csrr t1, mcycle",
        "beq_jalr": "    beq a0, a1, 2f\n2:  jalr x0, 0(a3)\n3:  csrr t1, mcycle",
        "jal_jal": "    jal x0, 2f\n2:  jal x0, 3f\n3:  csrr t1, mcycle",
        "fence_i": "    fence.i\n    csrr t1, mcycle",
        # a branch waiting on the load right before it (load-use)
        "beq_lw_use": "    lw a2, 0(a4)\n    bne a2, a1, 2f\n2:  csrr t1, mcycle",
    }
    setup = "    la a4, buf\n    sw a0, 0(a4)"
    body = "".join(measured(b, setup + ("\n    la a3, 3f" if "a3" in b else ""))
                   for b in blocks.values())
    got, words = run_blocks(blocks, body, config, data="buf: .space 64\n")
    print("control flow cycles (insns + csrr):", got)
    assert got == FLOW_WANT[config], got


def test_fetch_reg_needs_the_pipeline():
    from gluon.hdl.core import Core
    with pytest.raises(ValueError, match="fetch_reg=True needs pipeline=True"):
        Core(fetch_reg=True)
    assert Core(pipeline=True, fetch_reg=True).fetch_reg
    assert not Core(pipeline=True).fetch_reg
