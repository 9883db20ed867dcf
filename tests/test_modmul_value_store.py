"""ValueStore (hdl/modmul/value_store.py): a block is addressed as (slot, block); the
transfers' port takes the operand-A read port and the write port from the unit."""

from amaranth.sim import Simulator

from gluon.hdl.modmul.value_store import ValueStore


def test_ports_and_precedence():
    blocks, width = 4, 64
    dut = ValueStore(values=6, blocks=blocks, width=width)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    bb = dut.blk_bits

    async def bench(ctx):
        x = dut.xfer
        # The unit writes block b of value 3 (ud = 3) with a pattern.
        ctx.set(dut.ud, 3)
        for b in range(blocks):
            ctx.set(dut.unit_wr.en, 1); ctx.set(dut.unit_wr.addr, b)
            ctx.set(dut.unit_wr.data, 0x1000 + b)
            await ctx.tick()
        # Both write: the transfer's write wins (value 5, block 1).
        ctx.set(x.we, 1); ctx.set(x.waddr, (5 << bb) | 1); ctx.set(x.wdata, 0xBEEF)
        ctx.set(dut.unit_wr.addr, 2); ctx.set(dut.unit_wr.data, 0xDEAD)
        await ctx.tick()
        ctx.set(x.we, 0); ctx.set(dut.unit_wr.en, 0)
        # The unit reads value 3 through A and B.
        ctx.set(dut.ua, 3); ctx.set(dut.ub, 3)
        for b in range(blocks):
            ctx.set(dut.unit_a.addr, b); ctx.set(dut.unit_b.addr, blocks - 1 - b)
            await ctx.tick()
            assert ctx.get(dut.unit_a.data) == 0x1000 + b
            assert ctx.get(dut.unit_b.data) == 0x1000 + blocks - 1 - b
        # The transfers' read takes port A.
        ctx.set(x.sel, 1); ctx.set(x.raddr, (5 << bb) | 1)
        await ctx.tick()
        assert ctx.get(x.rdata) == 0xBEEF and ctx.get(dut.unit_a.data) == 0xBEEF
        ctx.set(x.raddr, (3 << bb) | 2)
        await ctx.tick()
        assert ctx.get(x.rdata) == 0x1002, "the unit's write of the contended cycle was dropped"
    sim.add_testbench(bench)
    sim.run()
