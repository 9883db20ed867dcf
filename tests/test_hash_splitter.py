"""DescriptorSplitter (hdl/hash/splitter.py): a long transfer as consecutive descriptors of at
most max_words words, against a scripted DMA channel; stop forgets the transfer."""

import pytest
from amaranth.sim import Simulator

from gluon.hdl.hash.splitter import DescriptorSplitter


def run(max_words, addr, words, write, *, stop_after=None, latency=3):
    dut = DescriptorSplitter(max_words=max_words)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    seen = []

    async def bench(ctx):
        ch = dut.dma
        assert ctx.get(dut.idle)
        ctx.set(dut.addr, addr); ctx.set(dut.words, words); ctx.set(dut.write, write)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        ctx.set(dut.addr, 0); ctx.set(dut.words, 0)        # latched at start
        for _ in range(10 * (words // max_words + 2)):
            if ctx.get(dut.idle):
                break
            if stop_after is not None and len(seen) == stop_after:
                ctx.set(dut.stop, 1)
                await ctx.tick()
                ctx.set(dut.stop, 0)
                assert ctx.get(dut.idle)
                return
            assert ctx.get(ch.cmd.valid), "the next descriptor follows at once"
            p = ch.cmd.payload
            seen.append((ctx.get(p.addr), ctx.get(p.words), ctx.get(p.write)))
            ctx.set(ch.cmd.ready, 1)
            await ctx.tick()
            ctx.set(ch.cmd.ready, 0)
            for _ in range(latency):
                assert not ctx.get(ch.cmd.valid)
                await ctx.tick()
            ctx.set(ch.done, 1)
            await ctx.tick()
            ctx.set(ch.done, 0)
        assert ctx.get(dut.idle)
    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("max_words,words", [(1, 3), (4, 4), (4, 9), (5, 13), (0x8000, 0x1_0001)])
def test_split_into_descriptors(max_words, words):
    seen = run(max_words, 0x8000_0000, words, 1)
    expect, a, left = [], 0x8000_0000, words
    while left:
        n = min(left, max_words)
        expect.append((a, n, 1))
        a, left = a + 4 * n, left - n
    assert seen == expect


def test_stop_forgets_the_transfer():
    seen = run(2, 0x100, 10, 0, stop_after=2)
    assert seen == [(0x100, 2, 0), (0x108, 2, 0)]
