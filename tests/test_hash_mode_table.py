"""ModeTable (hdl/hash/mode_table.py): what it latches for each mode equals MODE_PARAMS (the
table the docs and the C header are checked against); an unknown mode is not valid."""

from amaranth.sim import Simulator

from gluon.hdl.hash import Mode, MODE_PARAMS
from gluon.hdl.hash.mode_table import ModeTable


def test_mode_table_latches_mode_params():
    dut = ModeTable()
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        info = dut.info
        for mode in range(16):
            ctx.set(dut.mode, mode)
            ctx.set(dut.load, 1)
            await ctx.tick()
            ctx.set(dut.load, 0)
            ctx.set(dut.mode, 0)             # latched: the input may change
            await ctx.tick()
            pp = MODE_PARAMS.get(Mode(mode)) if mode in [m.value for m in Mode] else None
            assert ctx.get(info.valid) == (pp is not None), mode
            if pp is None:
                continue
            assert ctx.get(info.sha) == pp.sha, mode
            assert ctx.get(info.shake) == (pp.out_words is None), mode
            assert ctx.get(info.bw) == pp.block_bytes // 4, mode
            assert ctx.get(info.bytes) == pp.block_bytes, mode
            assert ctx.get(info.thresh) == pp.last_threshold, mode
            assert ctx.get(info.pad) == pp.pad, mode
            assert ctx.get(info.outw) == (pp.out_words or 0), mode
            assert ctx.get(info.last_fi) == pp.block_bytes // 4 - 1, mode
            assert ctx.get(info.wmask) == (1 << (pp.block_bytes // 4)) - 1, mode
    sim.add_testbench(bench)
    sim.run()
