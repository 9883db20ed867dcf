"""RAM with the pipelined core's write buffer (``RAM(write_buffer=True)``, hdl/ram.py) against a
Python model under random traffic: a core write reaches the array in the cycle after its
request (the answer still one cycle after the request), the core reads nothing in that cycle
(as the pipelined core guarantees: a load right behind a store waits), the DMA port is stalled
while the core requests or a buffered write is made, the fetch port reads the array as it is."""

import random

from amaranth.sim import Simulator

from gluon.hdl.ram import RAM

SIZE = 256                                      # bytes: 64 words


def _merge(old, new, sel):
    mask = sum(0xFF << (8 * b) for b in range(4) if sel >> b & 1)
    return (old & ~mask) | (new & mask)


def test_write_buffer_random_traffic_against_a_model():
    rng = random.Random(18)
    init = [rng.getrandbits(32) for _ in range(SIZE // 4)]
    dut = RAM(size=SIZE, init=init, write_buffer=True)
    mem = list(init)
    stats = {"dma_done": 0, "dma_stalled_by_buffer": 0, "store_store": 0, "read_after": 0,
             "fetch_rdw": 0}

    async def tb(ctx):
        c, d, f = dut.cbus, dut.dbus, dut.fetch
        ctx.set(f.en, 1)
        c_pending = d_pending = None             # expected read data (or None) one cycle later
        f_expect = None
        d_req = None                             # the DMA request, held until taken
        buffered = None                          # the core write made in this cycle
        for cycle in range(3000):
            assert ctx.get(c.ack) == (c_pending is not None), cycle
            if c_pending is not None and c_pending[0] is not None:
                got = ctx.get(c.dat_r)
                assert got == c_pending[0], f"cycle {cycle}: core read {got:#x}, want {c_pending[0]:#x}"
            assert ctx.get(d.ack) == (d_pending is not None), cycle
            if d_pending is not None and d_pending[0] is not None:
                assert ctx.get(d.dat_r) == d_pending[0], f"cycle {cycle}: DMA read"
            if f_expect is not None:
                assert ctx.get(f.data) == f_expect, f"cycle {cycle}: fetch"
            # this cycle's requests; no core read in a cycle its buffered write is made
            c_req = None
            if rng.random() < 0.6:
                we = buffered is not None or rng.random() < 0.5
                sel = 0xF if rng.random() < 0.6 else rng.randrange(1, 16)
                c_req = (rng.randrange(SIZE // 4), we, rng.getrandbits(32), sel)
                stats["store_store"] += buffered is not None
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
            f_adr = buffered[0] if buffered is not None and rng.random() < 0.5 \
                else rng.randrange(SIZE // 4)
            stats["fetch_rdw"] += buffered is not None and f_adr == buffered[0]
            ctx.set(f.adr, f_adr)
            assert not ctx.get(c.stall)
            if d_req is not None:
                want = c_req is not None or buffered is not None
                assert ctx.get(d.stall) == want, f"cycle {cycle}: DMA stall"
                stats["dma_stalled_by_buffer"] += c_req is None and buffered is not None
            # the model: reads see the array before this cycle's write
            f_expect = mem[f_adr]
            c_pending = d_pending = None
            if c_req is not None:
                adr, we, dat, sel = c_req
                c_pending = (None if we else mem[adr],)
            elif buffered is None and d_req is not None:
                adr, we, dat, sel = d_req
                d_pending = (None if we else mem[adr],)
                if we:
                    mem[adr] = _merge(mem[adr], dat, sel)
                d_req = None
                stats["dma_done"] += 1
            if buffered is not None:
                adr, dat, sel = buffered
                mem[adr] = _merge(mem[adr], dat, sel)
                if c_req is not None and not c_req[1]:
                    raise AssertionError("the generator made a read behind a write")
            if c_req is not None and not c_req[1] and c_pending is not None:
                stats["read_after"] += 1
            buffered = (c_req[0], c_req[2], c_req[3]) if c_req is not None and c_req[1] else None
            await ctx.tick()
        assert all(v > 100 for v in stats.values()), stats

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def test_write_then_read_two_cycles_later_sees_the_new_word():
    dut = RAM(size=SIZE, init=[0x1111_1111], write_buffer=True)

    async def tb(ctx):
        c, f = dut.cbus, dut.fetch
        ctx.set(f.en, 1)
        for s, v in ((c.cyc, 1), (c.stb, 1), (c.we, 1), (c.adr, 0), (c.dat_w, 0xAABB_CCDD),
                     (c.sel, 0b0101)):
            ctx.set(s, v)
        await ctx.tick()                               # request taken, answered now
        assert ctx.get(c.ack)
        ctx.set(c.stb, 0)
        ctx.set(c.cyc, 0)
        await ctx.tick()                               # the buffered write is made
        ctx.set(c.cyc, 1)
        ctx.set(c.stb, 1)
        ctx.set(c.we, 0)
        assert ctx.get(f.data) == 0x1111_1111          # fetched while the write was made: old
        await ctx.tick()
        assert ctx.get(c.ack) and ctx.get(c.dat_r) == 0x11BB_11DD
        assert ctx.get(f.data) == 0x11BB_11DD          # then the new word, bytes 0 and 2 only

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
