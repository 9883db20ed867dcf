"""DMAMover (hdl/dma.py): the descriptor handshake every coprocessor uses, cycle by cycle
against a scripted channel."""

from amaranth.sim import Simulator

from gluon.hdl.dma import DMAMover


def simulate(body):
    dut = DMAMover()
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        await body(ctx, dut)
    sim.add_testbench(bench)
    sim.run()


def test_offers_at_once_then_carries_until_done():
    async def body(ctx, dut):
        ch = dut.chan
        ctx.set(dut.desc.addr, 0x8000_0100)
        ctx.set(dut.desc.words, 4)
        ctx.set(dut.desc.write, 1)
        await ctx.tick()
        assert not ctx.get(ch.cmd.valid), "no descriptor without req"
        ctx.set(dut.req, 1)
        assert ctx.get(ch.cmd.valid), "offered in the first cycle of req"
        assert ctx.get(ch.cmd.payload.addr) == 0x8000_0100
        assert ctx.get(ch.cmd.payload.words) == 4 and ctx.get(ch.cmd.payload.write) == 1
        assert not ctx.get(dut.accepted)
        await ctx.tick()                       # the channel is busy: still offered
        assert ctx.get(ch.cmd.valid) and not ctx.get(dut.active)
        ctx.set(ch.cmd.ready, 1)
        assert ctx.get(dut.accepted)
        await ctx.tick()
        ctx.set(ch.cmd.ready, 0)
        for cycle in range(3):
            assert ctx.get(dut.active), cycle
            assert not ctx.get(ch.cmd.valid), cycle
            assert not ctx.get(dut.done), cycle
            await ctx.tick()
        ctx.set(ch.done, 1)
        assert ctx.get(dut.done), "done in the channel's cycle"
        await ctx.tick()
        ctx.set(ch.done, 0)
        assert not ctx.get(dut.active)
        assert ctx.get(ch.cmd.valid), "req still held: the next descriptor at once"
        ctx.set(dut.req, 0)
        assert not ctx.get(ch.cmd.valid)
    simulate(body)


def test_done_of_another_owner_is_not_ours():
    async def body(ctx, dut):
        ch = dut.chan
        ctx.set(ch.done, 1)
        assert not ctx.get(dut.done)
        ctx.set(dut.req, 1)
        assert not ctx.get(dut.done), "not yet accepted"
    simulate(body)


def test_refused_descriptor_and_dropped_request():
    async def body(ctx, dut):
        ch = dut.chan
        ctx.set(dut.req, 1)
        ctx.set(ch.cmd.ready, 1)
        ctx.set(ch.error, 1)
        assert ctx.get(dut.accepted) and ctx.get(dut.error), "refusal: taken with error"
        await ctx.tick()
        ctx.set(ch.error, 0)
        ctx.set(ch.cmd.ready, 0)
        ctx.set(dut.req, 0)                    # the caller gives up
        await ctx.tick()
        assert not ctx.get(dut.active), "dropping req forgets the transfer"
        ctx.set(ch.done, 1)
        assert not ctx.get(dut.done)
    simulate(body)
