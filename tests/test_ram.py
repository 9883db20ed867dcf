"""RAM (hdl/ram.py), through its ports: initial contents, byte enables, one-cycle answers on
both data ports, the DMA port losing every conflict to the core's, the fetch port reading the
old word during a write to it (new one the cycle after), all against a Python model under
random traffic."""

import random

import pytest
from amaranth.sim import Simulator

from gluon.hdl.ram import RAM

SIZE = 256                                      # bytes: 64 words


def _merge(old, new, sel):
    mask = sum(0xFF << (8 * b) for b in range(4) if sel >> b & 1)
    return (old & ~mask) | (new & mask)


def test_random_traffic_against_a_model():
    rng = random.Random(9)
    init = [rng.getrandbits(32) for _ in range(SIZE // 4)]
    dut = RAM(size=SIZE, init=init)
    mem = list(init)
    stats = {"conflicts": 0, "dma_done": 0, "fetch_rdw": 0, "partial": 0}

    async def tb(ctx):
        c, d, f = dut.cbus, dut.dbus, dut.fetch
        c_pending = d_pending = None             # (expected read data or None) one cycle later
        f_expect = None
        d_req = None                             # the DMA request held until taken
        for cycle in range(3000):
            # responses to last cycle's requests
            assert ctx.get(c.ack) == (c_pending is not None), cycle
            if c_pending is not None and c_pending[0] is not None:
                assert ctx.get(c.dat_r) == c_pending[0], (cycle, hex(ctx.get(c.dat_r)))
            assert ctx.get(d.ack) == (d_pending is not None), cycle
            if d_pending is not None and d_pending[0] is not None:
                assert ctx.get(d.dat_r) == d_pending[0], cycle
            assert not ctx.get(c.err) and not ctx.get(d.err)
            if f_expect is not None:
                assert ctx.get(f.data) == f_expect, (cycle, "fetch")
            # this cycle's requests
            c_req = None
            if rng.random() < 0.5:
                sel = 0xF if rng.random() < 0.6 else rng.randrange(1, 16)
                c_req = (rng.randrange(SIZE // 4), rng.random() < 0.4, rng.getrandbits(32), sel)
            if d_req is None and rng.random() < 0.5:
                d_req = (rng.randrange(SIZE // 4), rng.random() < 0.4, rng.getrandbits(32),
                         rng.randrange(1, 16))
            for bus, req in ((c, c_req), (d, d_req)):
                ctx.set(bus.cyc, req is not None)
                ctx.set(bus.stb, req is not None)
                if req is not None:
                    adr, we, dat, sel = req
                    ctx.set(bus.adr, adr)
                    ctx.set(bus.we, we)
                    ctx.set(bus.dat_w, dat)
                    ctx.set(bus.sel, sel)
            f_adr = rng.randrange(SIZE // 4)
            if c_req is not None and c_req[1] and rng.random() < 0.5:
                f_adr = c_req[0]                  # fetch the word being written
                stats["fetch_rdw"] += 1
            ctx.set(f.adr, f_adr)
            ctx.set(f.en, 1)
            # the core never stalls; the DMA port stalls exactly when the core asks
            assert not ctx.get(c.stall)
            if d_req is not None:
                assert ctx.get(d.stall) == (c_req is not None), cycle
            f_expect = mem[f_adr]                  # the old word, before this cycle's write
            c_pending = d_pending = None
            if c_req is not None:
                adr, we, dat, sel = c_req
                c_pending = (None if we else mem[adr],)
                if we:
                    mem[adr] = _merge(mem[adr], dat, sel)
                    stats["partial"] += sel != 0xF
                if d_req is not None:
                    stats["conflicts"] += 1
            elif d_req is not None:
                adr, we, dat, sel = d_req
                d_pending = (None if we else mem[adr],)
                if we:
                    mem[adr] = _merge(mem[adr], dat, sel)
                d_req = None
                stats["dma_done"] += 1
            await ctx.tick()
        assert stats["conflicts"] > 300 and stats["dma_done"] > 300 and stats["fetch_rdw"] > 100 \
            and stats["partial"] > 100, stats

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def test_fetch_sees_a_write_the_cycle_after():
    dut = RAM(size=SIZE, init=[0x1111_1111])

    async def tb(ctx):
        c, f = dut.cbus, dut.fetch
        ctx.set(f.en, 1)
        ctx.set(f.adr, 0)
        for s, v in ((c.cyc, 1), (c.stb, 1), (c.we, 1), (c.adr, 0), (c.dat_w, 0xAABB_CCDD),
                     (c.sel, 0b0101)):
            ctx.set(s, v)
        await ctx.tick()
        assert ctx.get(f.data) == 0x1111_1111          # read during the write: the old word
        ctx.set(c.stb, 0)
        await ctx.tick()
        assert ctx.get(f.data) == 0x11BB_11DD          # then the new one, bytes 0 and 2 only
        ctx.set(f.en, 0)
        ctx.set(f.adr, 1)
        await ctx.tick()
        assert ctx.get(f.data) == 0x11BB_11DD          # en low: the port keeps its output

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_construction_errors():
    with pytest.raises(ValueError, match="power of two"):
        RAM(size=96)
    with pytest.raises(ValueError, match="holds"):
        RAM(size=16, init=[0] * 5)
