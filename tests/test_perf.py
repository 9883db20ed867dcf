"""PERF (hdl/perf.py): every counter against a Python model over random activity — counting
only while CTRL.ENABLE (from the cycle after the write), CLEAR zeroing all of them, BUSY
counting cycles with any slot busy, per-slot BUSY/DMA, reads leaving the counts alone. CORE_BUS
counts the ``core_bus`` input of the previous cycle (it is registered before the counter)."""

import random

from amaranth.sim import Simulator

from gluon.hdl.perf import N_SLOTS, PerfCounters
from wbmodel import wb_read, wb_write

REGS = PerfCounters.REGS
COUNTERS = ["CYCLES", "INSTRET", "BUSY", "CORE_BUS"] + \
    [f"{k}{i}" for i in range(N_SLOTS) for k in ("BUSY", "DMA")]


def test_counters_follow_a_model():
    dut = PerfCounters()
    rng = random.Random(21)
    model = dict.fromkeys(COUNTERS, 0)
    state = {"core_bus": 0}

    async def activity(ctx):
        """Random inputs every cycle; the model counts what the block should."""
        async for _clk, _rst, retire, core_bus, busy, dma, enable in ctx.tick().sample(
                dut.retire, dut.core_bus, dut.busy, dut.dma, dut.enable):
            if enable:
                model["CYCLES"] += 1
                model["INSTRET"] += retire
                model["CORE_BUS"] += state["core_bus"]       # the cycle before's request
                model["BUSY"] += busy != 0
                for i in range(N_SLOTS):
                    model[f"BUSY{i}"] += (busy >> i) & 1
                    model[f"DMA{i}"] += (dma >> i) & 1
            state["core_bus"] = core_bus
            ctx.set(dut.retire, rng.random() < 0.7)
            ctx.set(dut.core_bus, rng.random() < 0.3)
            ctx.set(dut.busy, rng.getrandbits(N_SLOTS) if rng.random() < 0.5 else 0)
            ctx.set(dut.dma, rng.getrandbits(N_SLOTS))

    async def tb(ctx):
        async def check():
            # counting stops while we read: disable, compare every counter, re-enable
            await wb_write(ctx, dut.bus, REGS["CTRL"].offset, 0)
            for name in COUNTERS:
                got = await wb_read(ctx, dut.bus, REGS[name].offset)
                assert got == model[name], f"{name}: {got} != model {model[name]}"
            return True

        assert not ctx.get(dut.enable)
        for _ in range(5):
            await ctx.tick()
        await check()                                  # nothing counted while disabled
        assert model["CYCLES"] == 0
        for round in range(6):
            await wb_write(ctx, dut.bus, REGS["CTRL"].offset, 1)
            assert await wb_read(ctx, dut.bus, REGS["CTRL"].offset) & 1
            for _ in range(rng.randrange(10, 200)):
                await ctx.tick()
            await check()
            assert model["CYCLES"] > 0 and model["BUSY"] <= model["CYCLES"]
            if round == 3:
                await wb_write(ctx, dut.bus, REGS["CTRL"].offset, 0b10)    # CLEAR
                for k in model:
                    model[k] = 0
                await check()
        state["done"] = True

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(activity)
    sim.add_testbench(tb)
    sim.run()
    assert state.get("done")
