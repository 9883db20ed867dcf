"""The ALU (hdl/alu.py) against Python integers (Unprivileged ISA 20191213 section 2.4): the
pipelined core's ``ALU(shared_adder=True)`` (one adder for ADD, SUB, SLT[I][U] and the address
sum) and the default ``ALU()``, every funct3, random and corner operands."""

import random

import pytest
from amaranth.sim import Simulator

from gluon.hdl.alu import ALU

MASK = 0xFFFF_FFFF
CORNERS = [0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0x8000_0001, MASK, MASK - 1, 0x1F, 0x20]


def signed(v):
    return v - (1 << 32) if v >> 31 else v


def reference(f3, alt, a, b):
    """(result, sum) of OP with funct3 and funct7[5] = alt."""
    sh = b & 31
    if f3 == 0:
        r = a - b if alt else a + b
    elif f3 == 1:
        r = a << sh
    elif f3 == 2:
        r = int(signed(a) < signed(b))
    elif f3 == 3:
        r = int(a < b)
    elif f3 == 4:
        r = a ^ b
    elif f3 == 5:
        r = signed(a) >> sh if alt else a >> sh
    elif f3 == 6:
        r = a | b
    else:
        r = a & b
    return r & MASK


def subtracts(f3, alt):
    # what the pipelined core's D registers into x_alu_sub for OP
    return f3 == 0 and alt or f3 in (2, 3)


@pytest.mark.parametrize("shared", [True, False], ids=["shared_adder", "default"])
def test_alu_matches_python_integers(shared):
    rng = random.Random(2018)
    cases = [(f3, alt, a, b) for f3 in range(8) for alt in (0, 1) if alt == 0 or f3 in (0, 5)
             for a in CORNERS for b in CORNERS]
    cases += [(rng.randrange(8), 0, rng.getrandbits(32), rng.getrandbits(32))
              for _ in range(2000)]
    cases += [(f3, 1, rng.getrandbits(32), rng.getrandbits(32)) for f3 in (0, 5)
              for _ in range(200)]
    # operands with equal high bits, where the comparison rests on the low ones
    cases += [(f3, 0, x, x ^ rng.getrandbits(4)) for f3 in (2, 3)
              for x in (rng.getrandbits(32) for _ in range(200))]
    dut = ALU(shared_adder=shared)

    async def bench(ctx):
        for f3, alt, a, b in cases:
            sub = subtracts(f3, alt) if shared else (f3 == 0 and alt)
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            ctx.set(dut.funct3, f3)
            ctx.set(dut.arith, alt)
            ctx.set(dut.sub, sub)
            want = reference(f3, alt, a, b)
            got = ctx.get(dut.result)
            assert got == want, f"f3={f3} alt={alt} a={a:#x} b={b:#x}: {got:#x}, want {want:#x}"
            want_sum = (a - b if sub and shared else a + b) & MASK
            assert ctx.get(dut.sum) == want_sum, f"sum a={a:#x} b={b:#x} sub={sub}"

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_alu_shared_adder_excludes_split_add():
    with pytest.raises(ValueError, match="exclusive"):
        ALU(shared_adder=True, split_add=True)
