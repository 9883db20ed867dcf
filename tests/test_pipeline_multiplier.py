"""The pipelined core's multiplier (``Multiplier(split=True)``: the partial products registered,
their sum in the next cycle) against Python integers: MUL, MULH, MULHSU, MULHU on random
operands and the sign/size corners, the result one cycle after ``load`` whatever the operands
do afterwards."""

import random

import pytest

from amaranth.sim import Simulator

from gluon.hdl.multiplier import Multiplier


def reference(funct, a, b):
    sa = a - (1 << 32) if a >> 31 else a
    sb = b - (1 << 32) if b >> 31 else b
    x, y = [(sa, sb), (sa, sb), (sa, b), (a, b)][funct]
    p = x * y
    return (p if funct == 0 else p >> 32) & 0xFFFF_FFFF


def test_split_multiplier_matches_python():
    rng = random.Random(18)
    corners = [0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF, 0x1_0000, 0xFFFF_0000,
               0x8000_0001, 0x0000_8000, 0xFFFF_7FFF]
    pairs = [(x, y) for x in corners for y in corners]
    pairs += [(rng.getrandbits(32), rng.getrandbits(32)) for _ in range(300)]
    dut = Multiplier(stages=1, split=True)

    async def bench(ctx):
        n = 0
        for a, b in pairs:
            for funct in range(4):
                ctx.set(dut.a, a)
                ctx.set(dut.b, b)
                ctx.set(dut.funct, funct)
                ctx.set(dut.load, 1)
                await ctx.tick()
                ctx.set(dut.load, 0)
                ctx.set(dut.a, rng.getrandbits(32))      # operands change: the result must not
                ctx.set(dut.b, rng.getrandbits(32))
                ctx.set(dut.funct, rng.getrandbits(2))
                assert ctx.get(dut.valid) == 1
                got = ctx.get(dut.result)
                assert got == reference(funct, a, b), \
                    f"funct {funct}: {a:#x} * {b:#x} gave {got:#x}, want {reference(funct, a, b):#x}"
                n += 1
        assert n == len(pairs) * 4

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_split_needs_one_stage():
    with pytest.raises(ValueError, match="split=True needs stages=1"):
        Multiplier(stages=2, split=True)
