"""DMA engine: window confinement, one word per cycle, errors without bus transactions."""
import random

from amaranth import *
from amaranth.sim import Simulator

from gluon.hdl.dma import DMAEngine, N_WINDOWS

from wbmodel import wishbone_ram


def run(body, *, mem, stall_pattern=None):
    dut = DMAEngine()
    log = {"requests": 0}
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    def store(byte, data):
        mem[byte] = data
        return True

    target = wishbone_ram(dut.bus, mem.get, store, stall=stall_pattern,
                          on_request=lambda: log.__setitem__("requests", log["requests"] + 1))
    sim.add_process(target)
    async def bench(ctx):
        await body(ctx, dut, log)
    sim.add_testbench(bench)
    sim.run()


def set_window(ctx, dut, i, base, limit, r=1, w=1):
    win = dut.windows.win[i]
    ctx.set(win.base, base); ctx.set(win.limit, limit); ctx.set(win.r, r); ctx.set(win.w, w)


async def issue(ctx, dut, addr, words, write):
    ctx.set(dut.chan.cmd.payload.addr, addr)
    ctx.set(dut.chan.cmd.payload.words, words)
    ctx.set(dut.chan.cmd.payload.write, write)
    ctx.set(dut.chan.cmd.valid, 1)
    await ctx.tick().until(dut.chan.cmd.ready)
    err = ctx.get(dut.chan.error)
    ctx.set(dut.chan.cmd.valid, 0)
    return err


def test_read_stream_one_word_per_cycle():
    mem = {0x8000_1000 + 4 * i: random.getrandbits(32) for i in range(64)}

    async def body(ctx, dut, log):
        set_window(ctx, dut, 0, 0x8000_1000, 0x8000_1100, r=1, w=0)
        ctx.set(dut.chan.rd.ready, 1)
        assert not await issue(ctx, dut, 0x8000_1000, 64, 0)
        got, cycles = [], 0
        while True:
            await ctx.delay(1e-9)
            if ctx.get(dut.chan.rd.valid):
                got.append(ctx.get(dut.chan.rd.payload))
            done = ctx.get(dut.chan.done)
            await ctx.tick()
            cycles += 1
            if done:
                break
        assert got == [mem[0x8000_1000 + 4 * i] for i in range(64)]
        assert cycles <= 64 + 6, f"64 words took {cycles} cycles"
    run(body, mem=mem)


def test_write_and_refusals():
    mem = {}

    async def body(ctx, dut, log):
        set_window(ctx, dut, 1, 0x8000_2000, 0x8000_2040, r=1, w=1)
        set_window(ctx, dut, 2, 0x8000_3000, 0x8000_3040, r=1, w=0)
        # Outside, straddling, misaligned, empty, read-only window written: refused, no bus traffic.
        for addr, words, write in [(0x8000_1000, 4, 0), (0x8000_2030, 8, 0), (0x8000_2002, 1, 0),
                                   (0x8000_2000, 0, 0), (0x8000_3000, 4, 1), (0xFFFF_FFF0, 8, 0)]:
            assert await issue(ctx, dut, addr, words, write), (hex(addr), words, write)
        assert log["requests"] == 0
        assert not await issue(ctx, dut, 0x8000_2000, 16, 1)
        for i in range(16):
            ctx.set(dut.chan.wr.payload, 0x1000 + i)
            ctx.set(dut.chan.wr.valid, 1)
            await ctx.tick().until(dut.chan.wr.ready)
        ctx.set(dut.chan.wr.valid, 0)
        await ctx.tick().until(dut.chan.done)
        assert mem == {0x8000_2000 + 4 * i: 0x1000 + i for i in range(16)}
    run(body, mem=mem, stall_pattern=lambda c: c % 3 == 0)


def test_bus_error_reports_error():
    mem = {0x8000_0000: 1}

    async def body(ctx, dut, log):
        set_window(ctx, dut, 0, 0x8000_0000, 0x8000_0100)
        ctx.set(dut.chan.rd.ready, 1)
        assert not await issue(ctx, dut, 0x8000_0000, 4, 0)
        for _ in range(20):
            await ctx.delay(1e-9)
            if ctx.get(dut.chan.error) or ctx.get(dut.chan.done):
                break
            await ctx.tick()
        assert ctx.get(dut.chan.error) and not ctx.get(dut.chan.done)
        await ctx.tick().until(~dut.chan.busy)
    run(body, mem=mem)


def test_write_stream_one_word_per_cycle_and_ready_independent_of_stall():
    """Write words pass through a two-word FIFO: one word per cycle while memory keeps up,
    and ``wr.ready`` does not follow the bus's STALL (RAM's arbitration, decided late in the
    core's cycle, must not reach the coprocessors' output logic): while memory stalls, the
    engine still takes two words, then waits; every word lands, in order."""
    mem = {}
    stall_until = 40

    async def body(ctx, dut, log):
        set_window(ctx, dut, 0, 0x8000_4000, 0x8000_4100)
        # No stalls after cycle 40: 32 words, one per cycle.
        assert not await issue(ctx, dut, 0x8000_4000, 2, 1)
        accepted = 0
        ctx.set(dut.chan.wr.valid, 1)
        for cycle in range(20):                         # memory stalls throughout
            ctx.set(dut.chan.wr.payload, 0xA0 + accepted)
            await ctx.delay(1e-9)
            if ctx.get(dut.chan.wr.ready):
                accepted += 1
            await ctx.tick()
            assert accepted <= 2
        assert accepted == 2 and log["requests"] == 0
        ctx.set(dut.chan.wr.valid, 0)
        await ctx.tick().until(dut.chan.done)
        assert mem == {0x8000_4000: 0xA0, 0x8000_4004: 0xA1}

        assert not await issue(ctx, dut, 0x8000_4010, 32, 1)
        cycles, i = 0, 0
        while True:
            ctx.set(dut.chan.wr.payload, 0x100 + i)
            ctx.set(dut.chan.wr.valid, i < 32)
            await ctx.delay(1e-9)
            if i < 32 and ctx.get(dut.chan.wr.ready):
                i += 1
            done = ctx.get(dut.chan.done)
            await ctx.tick()
            cycles += 1
            if done:
                break
        assert i == 32 and cycles <= 32 + 4, f"32 words took {cycles} cycles"
        assert all(mem[0x8000_4010 + 4 * k] == 0x100 + k for k in range(32))
    run(body, mem=mem, stall_pattern=lambda c: c < stall_until)


def test_every_beat_is_checked_against_the_windows_of_its_cycle():
    """The window shrinks while a descriptor runs (no flush: the engine alone): from the
    cycle the new window is in place, no request leaves it; the descriptor ends with error."""
    mem = {0x8000_1000 + 4 * i: i for i in range(64)}
    reqs = []

    async def body(ctx, dut, log):
        set_window(ctx, dut, 0, 0x8000_1000, 0x8000_1100, r=1, w=0)
        ctx.set(dut.chan.rd.ready, 1)
        assert not await issue(ctx, dut, 0x8000_1000, 64, 0)
        for _ in range(5):
            await ctx.tick()
        ctx.set(dut.windows.win[0].limit, 0x8000_1000 + 4 * 8)
        err = False
        for cycle in range(40):
            await ctx.delay(1e-9)
            if ctx.get(dut.bus.cyc) and ctx.get(dut.bus.stb):
                reqs.append(ctx.get(dut.bus.adr) << 2)
            err |= bool(ctx.get(dut.chan.error))
            await ctx.tick()
        assert err
        assert reqs and all(a < 0x8000_1000 + 4 * 8 for a in reqs), [hex(a) for a in reqs]
    run(body, mem=mem)


def test_flush_discards_buffered_words_and_wipe_zeroes_everything():
    mem = {0x8000_1000 + 4 * i: 0xC0DE_0000 + i for i in range(16)}

    async def body(ctx, dut, log):
        set_window(ctx, dut, 0, 0x8000_1000, 0x8000_1100, r=1, w=0)
        ctx.set(dut.chan.rd.ready, 0)                   # nobody reads: the FIFO fills
        assert not await issue(ctx, dut, 0x8000_1000, 16, 0)
        for _ in range(12):
            await ctx.tick()
        assert log["requests"] == 8
        ctx.set(dut.chan.rd.ready, 1)
        ctx.set(dut.ctl.flush, 1)
        await ctx.delay(1e-9)
        assert not ctx.get(dut.chan.rd.valid)
        await ctx.tick()
        ctx.set(dut.ctl.flush, 0)
        got_error = False
        for _ in range(10):
            await ctx.delay(1e-9)
            assert not ctx.get(dut.chan.rd.valid), "a word survived the flush"
            got_error |= bool(ctx.get(dut.chan.error))
            await ctx.tick()
        assert got_error and log["requests"] == 8 and not ctx.get(dut.chan.busy)
        ctx.set(dut.ctl.wipe, 1)
        cycles = 0
        while True:
            await ctx.delay(1e-9)
            if ctx.get(dut.ctl.wipe_done):
                break
            await ctx.tick()
            cycles += 1
        # IDLE -> WIPE_DRAIN (nothing outstanding) -> fill -> clear -> WIPED: 11 cycles.
        assert cycles == dut.wipe_cycles == 11, cycles
        ctx.set(dut.ctl.wipe, 0)
        await ctx.tick()
        assert not ctx.get(dut.chan.busy)
    run(body, mem=mem)
