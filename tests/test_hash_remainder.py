"""SerialRemainder (hdl/hash/remainder.py): LEN mod block size against Python's %, for every
block size of the hash modes and edge dividends, in exactly 32 steps."""

import random

from amaranth.sim import Simulator

from gluon.hdl.hash import MODE_PARAMS
from gluon.hdl.hash.remainder import SerialRemainder


def test_remainder_against_python():
    dut = SerialRemainder()
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    rng = random.Random(21)
    sizes = sorted({p.block_bytes for p in MODE_PARAMS.values()}) + [1, 255]
    cases = [(n, d) for d in sizes for n in (0, 1, d - 1, d, d + 1, 2 ** 32 - 1, 2 ** 31,
                                              rng.getrandbits(32), d * rng.getrandbits(20))]

    async def bench(ctx):
        for n, d in cases:
            n &= 2 ** 32 - 1
            ctx.set(dut.dividend, n)
            ctx.set(dut.divisor, d)
            ctx.set(dut.load, 1)
            await ctx.tick()
            ctx.set(dut.load, 0)
            ctx.set(dut.step, 1)
            steps = 0
            while not ctx.get(dut.done):
                await ctx.tick()
                steps += 1
            ctx.set(dut.step, 0)
            assert steps == 32, (n, d, steps)
            assert ctx.get(dut.zero) == (n % d == 0), (n, d)
    sim.add_testbench(bench)
    sim.run()
