"""The multiplier (hdl/multiplier.py) alone against Python integers: MUL, MULH, MULHSU, MULHU
on random operands and the sign/size corners, result one cycle after ``load`` (two with ``stages=2``, three with ``stages=3``)."""

import random

import pytest

from amaranth.sim import Simulator

from gluon.hdl.multiplier import Multiplier


def reference(funct, a, b):
    sa = a - (1 << 32) if a >> 31 else a
    sb = b - (1 << 32) if b >> 31 else b
    if funct == 0:
        return (a * b) & 0xFFFF_FFFF
    if funct == 1:
        return ((sa * sb) >> 32) & 0xFFFF_FFFF
    if funct == 2:
        return ((sa * b) >> 32) & 0xFFFF_FFFF
    return ((a * b) >> 32) & 0xFFFF_FFFF


@pytest.mark.parametrize("stages", [1, 2, 3])
def test_multiplier_matches_python(stages):
    rng = random.Random(3)
    corners = [0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF, 0x1_0000, 0xFFFF_0000, 0x8000_0001]
    pairs = [(x, y) for x in corners for y in corners]
    pairs += [(rng.getrandbits(32), rng.getrandbits(32)) for _ in range(300)]
    dut = Multiplier(stages=stages)

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
                for _ in range(stages - 1):
                    assert ctx.get(dut.valid) == 0
                    ctx.set(dut.a, rng.getrandbits(32))  # operands change: the result must not
                    ctx.set(dut.b, rng.getrandbits(32))
                    ctx.set(dut.funct, rng.getrandbits(2))
                    await ctx.tick()
                ctx.set(dut.a, rng.getrandbits(32))      # operands change: the result must not
                ctx.set(dut.b, rng.getrandbits(32))
                assert ctx.get(dut.valid) == 1
                assert ctx.get(dut.result) == reference(funct, a, b), (funct, hex(a), hex(b))
                n += 1
        assert n == len(pairs) * 4

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
