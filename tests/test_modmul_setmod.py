"""SetModSequencer (hdl/modmul/setmod.py): the SETMOD microcode's requests to the unit, one
after each unit_done, against the sequence the derivation needs (Newton's iteration for N',
33·L doublings and five squarings for R² mod N), and stop."""

from amaranth.sim import Simulator

from gluon.hdl.modmul import MontMode
from gluon.hdl.modmul.setmod import SetModSequencer


def expected_modes(limbs, newton_steps):
    M = MontMode
    return ([M.ADDR, M.ADDR] + [M.LOW, M.SUBR, M.LOW] * newton_steps + [M.SUBR, M.ADDR]
            + [M.ADD] * (33 * limbs) + [M.MONT] * 5 + [M.ADDR])


def run(limbs, *, stop_at=None):
    max_limbs = 8
    slots = {n: 4 + i for i, n in enumerate(["N", "X", "Y", "TWO", "ONE", "R2", "STAGE"])}
    bits, newton_steps = 3, 0               # N^-1 mod 8 = N: 3 bits, doubled per step
    while bits < 32 * max_limbs:
        bits, newton_steps = 2 * bits, newton_steps + 1
    dut = SetModSequencer(slots=slots, newton_steps=newton_steps, max_limbs=max_limbs)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        ctx.set(dut.limbs, limbs)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for _ in range(10_000):
            if stop_at is not None and len(seen) == stop_at:
                ctx.set(dut.stop, 1)
                await ctx.tick()
                ctx.set(dut.stop, 0)
                for _ in range(5):
                    assert not ctx.get(dut.u.start), "stopped"
                    await ctx.tick()
                return
            if ctx.get(dut.u.start):
                seen.append(MontMode(ctx.get(dut.u.mode)))
                await ctx.tick()
                assert not ctx.get(dut.u.start), "one request at a time"
                await ctx.tick()                       # the unit takes two cycles
                ctx.set(dut.unit_done, 1)
                done = ctx.get(dut.done)
                await ctx.tick()
                ctx.set(dut.unit_done, 0)
                if done:
                    break
            else:
                await ctx.tick()
        assert not ctx.get(dut.u.start)
    sim.add_testbench(bench)
    sim.run()
    return seen, newton_steps


def test_microcode_sequence():
    for limbs in (1, 3):
        seen, steps = run(limbs)
        assert seen == expected_modes(limbs, steps), limbs


def test_stop():
    seen, _ = run(2, stop_at=4)
    assert len(seen) == 4
