"""The pipelined SoC's request register between the DMA side and RAM (hdl/bus.py,
``RequestRegister``; hdl/soc.py): RAM's DMA-side inputs come from flip-flops, one cycle later
than the beat was issued, one beat per cycle; a revoked or wiped engine's beat still held there
never reaches RAM; an engine's wipe keeps a fixed length behind it."""

import random

import pytest
from amaranth import *
from amaranth.lib import wiring
from amaranth.sim import Simulator

from gluon.hdl.bus import RequestRegister, WishboneSignature
from gluon.hdl.config import get_config
from gluon.hdl.dma import DMAEngine
from gluon.hdl.soc import GluonSoC, RAM_BASE

from wbmodel import wishbone_ram


def test_init_wrong_tags():
    with pytest.raises(TypeError, match="tags"):
        RequestRegister(tags=0)
    with pytest.raises(TypeError, match="tags"):
        RequestRegister(tags="2")


# ---- the register alone --------------------------------------------------------------------

class _Reg(Elaboratable):
    """A RequestRegister with a cycle counter (the monitors' time base)."""

    def __init__(self):
        self.req = RequestRegister(addr_width=30, tags=2)
        self.cycle = Signal(32)

    def elaborate(self, platform):
        m = Module()
        m.submodules.req = self.req
        m.d.sync += self.cycle.eq(self.cycle + 1)
        return m


def _simulate_with_ram(dut, bus, mem, stall):
    """A simulator of ``dut`` with a clock, ``bus`` answered from the dict ``mem``."""
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    def store(byte, data):
        mem[byte] = data
        return True
    sim.add_process(wishbone_ram(bus, lambda b: mem.get(b, 0), store, stall=stall))
    return sim


def _run_register(body, stall=None, mem=None):
    dut = _Reg()
    req = dut.req
    mem = {} if mem is None else mem
    log = {"ram": [], "taken": [], "resp": []}
    sim = _simulate_with_ram(dut, req.out, mem, stall)

    async def monitor(ctx):
        async for _clk, _rst, c, cyc, stb, stalled, we, adr, dat, u_cyc, u_stb, u_stall, ack, err, \
                dr in ctx.tick().sample(dut.cycle, req.out.cyc, req.out.stb, req.out.stall,
                                        req.out.we, req.out.adr, req.out.dat_w, req.bus.cyc,
                                        req.bus.stb, req.bus.stall, req.bus.ack, req.bus.err,
                                        req.bus.dat_r):
            if cyc and stb and not stalled:
                log["ram"].append((c, adr, we, dat))
            if u_cyc and u_stb and not u_stall:
                log["taken"].append(c)
            if ack or err:
                log["resp"].append((c, "ack" if ack else "err", dr))
    sim.add_process(monitor)

    async def bench(ctx):
        await body(ctx, req, dut, log)
    sim.add_testbench(bench)
    sim.run()
    return log


async def _stream(ctx, req, dut, beats, tag=0b01):
    """Present ``beats`` ((word address, write, data)) back to back, each held until taken."""
    bus = req.bus
    ctx.set(bus.cyc, 1)
    ctx.set(bus.sel, 0xF)
    for adr, we, dat in beats:
        ctx.set(bus.stb, 1); ctx.set(bus.adr, adr); ctx.set(bus.we, we); ctx.set(bus.dat_w, dat)
        while True:
            taken = not ctx.get(bus.stall)
            ctx.set(req.tag, tag if taken else 0)
            await ctx.tick()
            if taken:
                break
    ctx.set(bus.stb, 0); ctx.set(req.tag, 0)
    await ctx.tick().repeat(4)
    ctx.set(bus.cyc, 0)


@pytest.mark.parametrize("stalls", [False, True])
def test_each_beat_reaches_ram_one_cycle_after_it_is_taken(stalls):
    """A beat taken from the initiator side in cycle t is presented to RAM from t + 1 and taken
    by it in the first cycle from t + 1 on that RAM does not stall; answers come in order, with
    RAM's data; without stalls one beat per cycle, none ever waiting upstream."""
    rng = random.Random(5)
    stall_cycles = {c for c in range(400) if stalls and rng.random() < 0.4}
    mem = {4 * a: rng.getrandbits(32) for a in range(0x100, 0x180)}
    ref = dict(mem)
    beats = [(0x100 + rng.randrange(0x80), rng.random() < 0.5, rng.getrandbits(32))
             for _ in range(120)]

    async def body(ctx, req, dut, log):
        await ctx.tick().repeat(2)
        await _stream(ctx, req, dut, beats)
    log = _run_register(body, stall=lambda c: c in stall_cycles, mem=mem)

    assert len(log["taken"]) == len(log["ram"]) == len(beats)
    first = log["taken"][0]
    if not stalls:
        assert log["taken"] == list(range(first, first + len(beats))), "a beat waited upstream"
    reads = []
    for (t, (c, adr, we, dat), (badr, bwe, bdat)) in zip(log["taken"], log["ram"], beats):
        assert (adr, we) == (badr, bwe) and (not we or dat == bdat), (t, c)
        # the first cycle from t + 1 on in which RAM does not stall
        due = t + 1
        while due in stall_cycles:
            due += 1
        assert c >= t + 1, f"beat taken in cycle {t} reached RAM in cycle {c}"
        if c != due:
            # RAM took the beat before it in that cycle; this one was taken upstream while
            # that one waited, so it goes in the next free cycle
            assert c > due
        if bwe:
            ref[4 * badr] = bdat
        else:
            reads.append(ref.get(4 * badr, 0))
    # beats reach RAM one at a time, in order, each in a cycle RAM does not stall
    cycles = [c for c, *_ in log["ram"]]
    assert cycles == sorted(set(cycles)) and not set(cycles) & stall_cycles
    assert [k for _, k, _ in log["resp"]] == ["ack"] * len(beats)
    assert [c for c, *_ in log["resp"]] == [c + 1 for c in cycles]
    got = [d for (_, _, d), (_, we, _) in zip(log["resp"], beats) if not we]
    assert got == reads
    assert mem == ref


def test_a_dropped_beat_never_reaches_ram_and_is_answered_in_order():
    """A held beat whose tag bit is high in ``drop`` is not presented to RAM (even while RAM
    would take it); its answer is ``err`` in the next cycle, after the answers of the beats
    before it; other initiators' beats are not dropped."""
    async def body(ctx, req, dut, log):
        bus = req.bus
        await ctx.tick().repeat(2)
        ctx.set(bus.cyc, 1); ctx.set(bus.sel, 0xF); ctx.set(bus.we, 1)
        # cycle a: beat A (tag 0) taken; cycle a+1: beat B (tag 1) taken, A reaches RAM;
        # cycle a+2: B held, dropped for tag 1 -> never reaches RAM, err in a+3
        for adr, tag in ((0x200, 0b01), (0x201, 0b10)):
            ctx.set(bus.stb, 1); ctx.set(bus.adr, adr); ctx.set(bus.dat_w, 0xD0 + adr)
            ctx.set(req.tag, tag)
            await ctx.tick()
        ctx.set(bus.stb, 0); ctx.set(req.tag, 0)
        ctx.set(req.drop, 0b10)
        await ctx.tick()
        ctx.set(req.drop, 0)
        await ctx.tick().repeat(3)
        # a beat of tag 0 is not dropped by tag 1's drop
        ctx.set(bus.stb, 1); ctx.set(bus.adr, 0x202); ctx.set(req.tag, 0b01)
        await ctx.tick()
        ctx.set(bus.stb, 0); ctx.set(req.tag, 0); ctx.set(req.drop, 0b10)
        await ctx.tick()
        ctx.set(req.drop, 0)
        await ctx.tick().repeat(3)
        ctx.set(bus.cyc, 0)
    log = _run_register(body)
    (a, b), c = log["taken"][:2], log["taken"][2]
    assert b == a + 1
    assert [(cy, adr) for cy, adr, *_ in log["ram"]] == [(a + 1, 0x200), (c + 1, 0x202)]
    assert [(cy, k) for cy, k, _ in log["resp"]] == [(a + 2, "ack"), (a + 3, "err"),
                                                    (c + 2, "ack")]


def test_a_dropped_beat_waiting_on_a_stall_is_dropped():
    """RAM stalls (the core claims it) while a beat waits: a drop then still takes it out."""
    async def body(ctx, req, dut, log):
        bus = req.bus
        await ctx.tick().repeat(2)
        ctx.set(bus.cyc, 1); ctx.set(bus.sel, 0xF); ctx.set(bus.we, 1)
        ctx.set(bus.stb, 1); ctx.set(bus.adr, 0x300); ctx.set(req.tag, 0b01)
        await ctx.tick()
        ctx.set(bus.stb, 0); ctx.set(req.tag, 0)
        await ctx.tick().repeat(3)              # RAM stalls: the beat waits
        ctx.set(req.drop, 0b01)
        await ctx.tick()
        ctx.set(req.drop, 0)
        await ctx.tick().repeat(12)
        ctx.set(bus.cyc, 0)
    log = _run_register(body, stall=lambda c: c <= 8)
    assert log["ram"] == []
    assert [k for _, k, _ in log["resp"]] == ["err"]


# ---- a DMA engine behind it ---------------------------------------------------------------

class _Engine(Elaboratable):
    """A DMAEngine reaching ``mem`` directly or through the request register, wired as
    hdl/soc.py wires a slot's engine (tag: its taken beat; drop: its flush or wipe)."""

    def __init__(self, register):
        self.register = register
        self.engine = DMAEngine(latency=2 if register else 1)
        self.mem = WishboneSignature(addr_width=30).create()
        self.cycle = Signal(32)

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = eng = self.engine
        m.d.sync += self.cycle.eq(self.cycle + 1)
        if self.register:
            m.submodules.request = req = RequestRegister(addr_width=30, tags=1)
            wiring.connect(m, eng.bus, req.bus)
            wiring.connect(m, req.out, wiring.flipped(self.mem))
            m.d.comb += [req.tag.eq(eng.bus.cyc & eng.bus.stb & ~eng.bus.stall),
                         req.drop.eq(eng.ctl.flush | eng.ctl.wipe)]
        else:
            wiring.connect(m, eng.bus, wiring.flipped(self.mem))
        return m


def _run_engine(register, body, *, stall=None, mem):
    dut = _Engine(register)
    log = {"ram": [], "issued": []}
    sim = _simulate_with_ram(dut, dut.mem, mem, stall)
    eb = dut.engine.bus

    async def monitor(ctx):
        async for _clk, _rst, c, cyc, stb, stalled, adr, we, e_cyc, e_stb, e_stall, e_adr in \
                ctx.tick().sample(dut.cycle, dut.mem.cyc, dut.mem.stb, dut.mem.stall,
                                  dut.mem.adr, dut.mem.we, eb.cyc, eb.stb, eb.stall, eb.adr):
            if cyc and stb and not stalled:
                log["ram"].append((c, adr << 2, we))
            if e_cyc and e_stb and not e_stall:
                log["issued"].append((c, e_adr << 2))
    sim.add_process(monitor)

    async def bench(ctx):
        await body(ctx, dut.engine, dut, log)
    sim.add_testbench(bench)
    sim.run()
    return log


BASE = 0x8000_1000


def _window(ctx, eng, r=1, w=1, size=0x1000):
    win = eng.windows.win[0]
    ctx.set(win.base, BASE); ctx.set(win.limit, BASE + size); ctx.set(win.r, r); ctx.set(win.w, w)


async def _descriptor(ctx, eng, words, write):
    ctx.set(eng.chan.cmd.payload.addr, BASE)
    ctx.set(eng.chan.cmd.payload.words, words)
    ctx.set(eng.chan.cmd.payload.write, write)
    ctx.set(eng.chan.cmd.valid, 1)
    await ctx.tick().until(eng.chan.cmd.ready)
    ctx.set(eng.chan.cmd.valid, 0)


def _transfer_cycles(register, write, words=512):
    """Cycles from a descriptor's acceptance to ``done``, and the words moved."""
    mem = {BASE + 4 * i: 0x1234_0000 + i for i in range(words)}
    out = {}

    async def body(ctx, eng, dut, log):
        _window(ctx, eng, size=4 * words)
        ctx.set(eng.chan.rd.ready, 1)
        ctx.set(eng.chan.wr.valid, 1)
        ctx.set(eng.chan.wr.payload, 0xABCD_0000)
        await _descriptor(ctx, eng, words, write)
        start, got = ctx.get(dut.cycle), []
        while not ctx.get(eng.chan.done):
            assert not ctx.get(eng.chan.error)
            if ctx.get(eng.chan.rd.valid):
                got.append(ctx.get(eng.chan.rd.payload))
            await ctx.tick()
            assert ctx.get(dut.cycle) - start < 4 * words, "transfer hung"
        out["cycles"] = ctx.get(dut.cycle) - start
        out["got"] = got
    _run_engine(register, body, mem=mem)
    if not write:
        assert out["got"] == [0x1234_0000 + i for i in range(words)]
    else:
        assert all(mem[BASE + 4 * i] == 0xABCD_0000 for i in range(words))
    return out["cycles"]


@pytest.mark.parametrize("write", [False, True])
def test_long_transfer_one_word_per_cycle_one_cycle_more(write):
    """512 words move in 512 cycles plus a fixed few, one cycle more behind the register than
    straight into RAM (the beat's extra cycle in the register); the read FIFO's room counts
    the beats in flight, so the longer latency never throttles the stream."""
    direct = _transfer_cycles(False, write)
    registered = _transfer_cycles(True, write)
    assert registered == direct + 1, (direct, registered)
    assert registered <= 512 + 5, registered


def _wipe_in_flight(start, write):
    mem = {BASE + 4 * i: i for i in range(64)}
    out = {}

    async def body(ctx, eng, dut, log):
        _window(ctx, eng, size=0x100)
        ctx.set(eng.chan.rd.ready, 1)
        ctx.set(eng.chan.wr.valid, 1)
        ctx.set(eng.chan.wr.payload, 0x5A5A_0000)
        await _descriptor(ctx, eng, 64, write=write)
        await ctx.tick().repeat(start)
        ctx.set(eng.ctl.wipe, 1)
        out["wipe"] = ctx.get(dut.cycle)
        n = 0
        while not ctx.get(eng.ctl.wipe_done):
            await ctx.tick()
            n += 1
            assert n < 100, "the wipe hung"
        out["n"] = n
        ctx.set(eng.ctl.wipe, 0)
        await ctx.tick().repeat(3)
    log = _run_engine(True, body, stall=lambda c: c % 3 != 0, mem=mem)
    return log, out


def test_wipe_behind_the_register_has_a_fixed_length_and_drops_the_held_beat():
    """A wipe rising while beats are in flight (RAM stalling two cycles in three, so beats
    wait in the register): no beat reaches RAM from the wipe's first cycle on, and
    ``wipe_done`` comes ``wipe_cycles`` (12) cycles after ``wipe`` rose, whatever was in
    flight (a beat held in the register, one in RAM, none)."""
    held = 0
    for start in range(1, 16):
        for write in (0, 1):
            log, out = _wipe_in_flight(start, write)
            assert out["n"] == 12, (start, write, out)
            late = [r for r in log["ram"] if r[0] >= out["wipe"]]
            assert not late, f"wipe in cycle {out['wipe']}: beats reached RAM after it: {late}"
            assert all(c < out["wipe"] for c, _ in log["issued"])
            if len(log["issued"]) > len(log["ram"]):
                held += 1                 # a beat issued, never in RAM: dropped in the register
                assert len(log["issued"]) == len(log["ram"]) + 1
    assert held >= 5, f"only {held} runs had a beat in the register when the wipe came"


def test_wipe_cycles():
    assert DMAEngine().wipe_cycles == 11
    assert DMAEngine(latency=2).wipe_cycles == 12
    with pytest.raises(ValueError, match="latency"):
        DMAEngine(latency=3)


# ---- in the SoC ---------------------------------------------------------------------------

def _soc_write_cycle(config, seen):
    """Write one word through the SoC's debug port (a DMA-side initiator into RAM); returns
    (the cycle the beat was taken, the first cycle RAM's array holds the word)."""
    soc = GluonSoC(config)
    word = 0x40                                            # word 0x40 of RAM
    out = {}
    sim = Simulator(soc)
    sim.add_clock(1e-6)

    async def bench(ctx):
        ram = seen["mem"]
        dbg = soc.debug
        ctx.set(soc.hold, 1)
        await ctx.tick().repeat(3)
        ctx.set(dbg.cyc, 1); ctx.set(dbg.stb, 1); ctx.set(dbg.we, 1); ctx.set(dbg.sel, 0xF)
        ctx.set(dbg.adr, (RAM_BASE >> 2) + word); ctx.set(dbg.dat_w, 0xFEED_F00D)
        t = 0
        while ctx.get(dbg.stall):
            await ctx.tick()
            t += 1
        await ctx.tick()
        ctx.set(dbg.stb, 0)
        for n in range(1, 6):
            if ctx.get(ram.data[word]) == 0xFEED_F00D:
                out["written"] = n
                break
            await ctx.tick()
        ctx.set(dbg.cyc, 0)
    sim.add_testbench(bench)
    sim.run()
    return out["written"]


@pytest.mark.parametrize("name, delay", [("pipelined", 2), ("minimal", 1)])
def test_soc_dma_beat_reaches_ram_through_the_register(name, delay, monkeypatch):
    """In the pipelined SoC a DMA-side beat taken in cycle t is written to RAM at the end of
    cycle t + 1 (RAM's inputs come from the request register); without the pipeline at the
    end of cycle t, as before."""
    import gluon.hdl.ram as ram_mod
    original = ram_mod.RAM.elaborate
    seen = {}

    def elaborate(self, platform):
        m = original(self, platform)
        seen["mem"] = m.submodules.mem
        return m
    monkeypatch.setattr(ram_mod.RAM, "elaborate", elaborate)
    config = get_config(name).with_(pipeline=name == "pipelined")
    # the array holds the word from the cycle after the edge that wrote it
    assert _soc_write_cycle(config, seen) == delay
