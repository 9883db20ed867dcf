"""The coprocessor control component (hdl/coproctl.py) with a small block built on it
(tests/coproctl_toy.py) and the real DMAEngine: the common registers, ownership, M-only
interrupts, locks binding to M, cycle-exact revocation, and a wipe that leaves every
flip-flop and memory word of block and engine clean (state taken from the netlist)."""
import random

import pytest
from amaranth.hdl import Fragment
from amaranth.lib import enum
from amaranth.sim import Simulator

from gluon.hdl.coproctl import CONTROL_REGS, CONTROL_STRIDE, CoprocessorControl, slot_registers

from coproctl_toy import ToySystem, REGS, Op, Cause, DEPTH
from wipecheck import state_elements, dirty_state


# ---- construction errors ------------------------------------------------------------------

class GoodCause(enum.Enum, shape=4):
    NONE = 0
    BUSY = 1
    WIPING = 2
    ABORTED = 3


def test_init_wrong_kind():
    with pytest.raises(ValueError, match="two ASCII"):
        slot_registers(kind="TOY", version=1, op=Op, cause=GoodCause)


def test_init_wrong_cause_enum_lacks_common_cause():
    class Cause(enum.Enum, shape=4):
        NONE = 0
        BUSY = 1
        ABORTED = 2
    with pytest.raises(ValueError, match="WIPING"):
        CoprocessorControl(kind="TY", version=1, op=Op, cause=Cause)


def test_init_wrong_cause_none_not_zero():
    class Cause(enum.Enum, shape=4):
        BUSY = 0
        NONE = 1
        WIPING = 2
        ABORTED = 3
    with pytest.raises(ValueError, match="NONE must be 0"):
        CoprocessorControl(kind="TY", version=1, op=Op, cause=Cause)


def test_init_wrong_op_not_an_enum():
    with pytest.raises(TypeError, match="Enum"):
        CoprocessorControl(kind="TY", version=1, op=4, cause=GoodCause)


def test_control_page_sections_fit_the_stride():
    assert CONTROL_REGS.size <= CONTROL_STRIDE
    assert max(r.offset for r in REGS if r.name in ("ID", "STATUS", "START", "ABORT", "CYCLES")) < 0x20


# ---- harness -----------------------------------------------------------------------------

def _pack(reg, **fields):
    v = 0
    for f in reg.fields:
        if f.name in fields:
            x = fields.pop(f.name)
            x = x.value if isinstance(x, enum.Enum) else int(x)
            v |= (x & ((1 << f.width) - 1)) << f.offset
    assert not fields, fields
    return v


def _field(reg, value, name):
    f = next(f for f in reg.fields if f.name == name)
    return (value >> f.offset) & ((1 << f.width) - 1)


class Bench:
    """Bus helpers and monitors around a :class:`ToySystem`."""

    def __init__(self, ctx, dut):
        self.ctx, self.dut = ctx, dut

    async def _access(self, bus, offset, data=None):
        ctx = self.ctx
        ctx.set(bus.cyc, 1); ctx.set(bus.stb, 1); ctx.set(bus.adr, offset // 4)
        ctx.set(bus.sel, 0xF); ctx.set(bus.we, data is not None); ctx.set(bus.dat_w, data or 0)
        req = ctx.get(self.dut.cycle)
        await ctx.tick()                     # register banks never stall
        ctx.set(bus.stb, 0); ctx.set(bus.we, 0)
        while not (ctx.get(bus.ack) or ctx.get(bus.err)):
            await ctx.tick()
        err, value, ack = ctx.get(bus.err), ctx.get(bus.dat_r), ctx.get(self.dut.cycle)
        await ctx.tick()
        ctx.set(bus.cyc, 0)
        assert not err, f"bus error at offset {offset:#x}"
        return value, req, ack

    async def write(self, reg, value=0, **fields):
        return await self._access(self.dut.bus, REGS[reg].offset, value | _pack(REGS[reg], **fields))

    async def read(self, reg):
        return (await self._access(self.dut.bus, REGS[reg].offset))[0]

    async def cwrite(self, reg, value=0, **fields):
        return await self._access(self.dut.ctl_bus, CONTROL_REGS[reg].offset,
                                  value | _pack(CONTROL_REGS[reg], **fields))

    async def cread(self, reg):
        return (await self._access(self.dut.ctl_bus, CONTROL_REGS[reg].offset))[0]

    async def status(self):
        v = await self.read("STATUS")
        r = REGS["STATUS"]
        return {n: _field(r, v, n) for n in ("BUSY", "DONE", "ERROR", "CAUSE")}

    async def wait_idle(self, limit=2000):
        for _ in range(limit):
            st = await self.status()
            if not st["BUSY"]:
                return st
        raise AssertionError("slot stayed busy")

    async def window(self, i, base, limit, r=1, w=1, lock=0):
        await self.cwrite(f"WIN{i}_BASE", base)
        await self.cwrite(f"WIN{i}_LIMIT", limit)
        await self.cwrite(f"WIN{i}_CTRL", R=r, W=w, LOCK=lock)


def simulate(body, *, mem=None, rd_gap=0, stall=None, forget=(), prepare=None,
             request_register=False):
    """Run ``body(bench, log)``; ``log`` gets the requests memory takes ("req"), the beats
    the engine issues ("issued"; the same as "req" unless ``request_register``: then they
    pass the pipelined SoC's request register first) and the block's DMA stream handshakes,
    each with the cycle (``ToySystem.cycle``) it happened in."""
    dut = ToySystem(rd_gap=rd_gap, forget=forget, request_register=request_register)
    frag = Fragment.get(dut, None)
    mem = {} if mem is None else mem
    log = {"req": [], "rd": [], "wr": [], "issued": []}
    sim = Simulator(frag)
    sim.add_clock(1e-6)
    bus, chan = dut.mem, dut.engine.chan

    async def ram(ctx):
        n = 0
        async for _clk, _rst, cyc, stb, we, adr, dat, stalled, cycle, rv, rr, rp, wv, wr, wp in \
                ctx.tick().sample(bus.cyc, bus.stb, bus.we, bus.adr, bus.dat_w, bus.stall,
                                  dut.cycle, chan.rd.valid, chan.rd.ready, chan.rd.payload,
                                  chan.wr.valid, chan.wr.ready, chan.wr.payload):
            n += 1
            ctx.set(bus.stall, bool(stall and stall(n)))
            ctx.set(bus.ack, 0)
            if rv and rr:
                log["rd"].append((cycle, rp))
            if wv and wr:
                log["wr"].append((cycle, wp))
            if cyc and stb and not stalled:
                log["req"].append((cycle, adr << 2, we, dat))
                if we:
                    mem[adr << 2] = dat
                else:
                    ctx.set(bus.dat_r, mem.get(adr << 2, 0))
                ctx.set(bus.ack, 1)
    sim.add_process(ram)
    ebus = dut.engine.bus

    async def issued(ctx):
        async for _clk, _rst, cyc, stb, stalled, we, adr, cycle in ctx.tick().sample(
                ebus.cyc, ebus.stb, ebus.stall, ebus.we, ebus.adr, dut.cycle):
            if cyc and stb and not stalled:
                log["issued"].append((cycle, adr << 2, we))
    sim.add_process(issued)

    async def bench(ctx):
        if prepare:
            prepare(ctx, frag, dut)
        await body(Bench(ctx, dut), log, frag)
    sim.add_testbench(bench)
    sim.run()
    return log


# ---- the common registers ----------------------------------------------------------------

def test_reset_wipes_then_start_done_busy_abort_and_w1c():
    async def body(b, log, frag):
        # After reset the slot wipes itself: BUSY, WIPING, START refused with cause WIPING.
        assert (await b.status())["BUSY"]
        assert _field(CONTROL_REGS["STATUS"], await b.cread("STATUS"), "WIPING")
        await b.write("START", OP=Op.COUNT)
        st = await b.wait_idle()
        assert st["ERROR"] and st["CAUSE"] == Cause.WIPING.value and not st["DONE"], st
        await b.write("STATUS", ERROR=1)
        assert (await b.status()) == {"BUSY": 0, "DONE": 0, "ERROR": 0, "CAUSE": 0}
        v = await b.read("ID")
        assert v == (ord("T") << 24 | ord("Y") << 16 | 3)

        # A COUNT of 20 cycles; a second START is refused (BUSY) and does not disturb it.
        await b.write("WORDS", N=20)
        _, req, _ = await b.write("START", OP=Op.COUNT)
        await b.write("START", OP=Op.COUNT)
        st = await b.status()
        assert st["BUSY"] and st["ERROR"] and st["CAUSE"] == Cause.BUSY.value, st
        st = await b.wait_idle()
        assert st["DONE"] and st["ERROR"] and st["CAUSE"] == Cause.BUSY.value
        assert await b.read("CYCLES") == 20
        # DONE and ERROR are write-1-to-clear, independently.
        await b.write("STATUS", DONE=1)
        st = await b.status()
        assert not st["DONE"] and st["ERROR"]
        await b.write("STATUS", ERROR=1)
        assert (await b.status())["CAUSE"] == 0

        # The block's own error cause; an accepted START clears the previous ERROR.
        await b.write("START", OP=Op.NOP)
        st = await b.wait_idle()
        assert st["DONE"] and st["ERROR"] and st["CAUSE"] == Cause.OP.value
        await b.write("START", OP=Op.COUNT)
        st = await b.wait_idle()
        assert st["DONE"] and not st["ERROR"] and st["CAUSE"] == 0

        # ABORT of a READ held up by a closed window... here: a slow consumer.
        await b.window(0, 0x8000_0000, 0x8000_1000, r=1, w=0)
        await b.write("ADDR", 0x8000_0000)
        await b.write("WORDS", N=31)
        await b.write("START", OP=Op.READ)
        await b.write("ABORT")
        st = await b.wait_idle()
        assert st["DONE"] and st["ERROR"] and st["CAUSE"] == Cause.ABORTED.value, st
    simulate(body, rd_gap=6)


def test_irq_is_m_only_and_an_owner_change_clears_it():
    async def body(b, log, frag):
        dut = b.dut
        await b.wait_idle()
        await b.cwrite("CTRL", IRQ_EN=1)
        await b.write("WORDS", N=4)
        await b.write("START", OP=Op.COUNT)
        await b.wait_idle()
        assert b.ctx.get(dut.irq)
        await b.window(1, 0x8000_0000, 0x8000_0100)
        # Lend the slot: DONE and the interrupt go, the windows close, a wipe runs.
        _, req, ack = await b.cwrite("OWNER", U=1)
        assert not b.ctx.get(dut.irq)
        assert _field(CONTROL_REGS["STATUS"], await b.cread("STATUS"), "WIPING")
        for reg in ("WIN1_BASE", "WIN1_LIMIT", "WIN1_CTRL"):
            assert await b.cread(reg) == 0, reg
        st = await b.wait_idle()
        assert not st["DONE"]
        # U's operation ends: DONE for U to see, no interrupt line for M however IRQ_EN is set.
        await b.write("START", OP=Op.COUNT)
        st = await b.wait_idle()
        assert st["DONE"]
        assert _field(CONTROL_REGS["CTRL"], await b.cread("CTRL"), "IRQ_EN")
        for _ in range(3):
            assert not b.ctx.get(dut.irq)
            await b.ctx.tick()
        # Revoke: DONE cleared, wipe; M's next operation raises the line again.
        await b.cwrite("OWNER", U=0)
        st = await b.wait_idle()
        assert not st["DONE"]
        await b.write("START", OP=Op.COUNT)
        await b.wait_idle()
        assert b.ctx.get(dut.irq)
    simulate(body)


def test_locks_bind_to_m():
    async def body(b, log, frag):
        await b.wait_idle()
        await b.window(2, 0x8000_0000, 0x8000_0100, r=1, w=1, lock=1)
        await b.cwrite("WIN2_BASE", 0x8000_4000)             # locked: ignored
        assert await b.cread("WIN2_BASE") == 0x8000_0000
        await b.cwrite("OWNER", U=1)                         # a locked window: refused
        st = await b.cread("STATUS")
        assert _field(CONTROL_REGS["STATUS"], st, "GRANT_REFUSED")
        assert not _field(CONTROL_REGS["STATUS"], st, "WIPING")
        assert await b.cread("OWNER") == 0
        assert await b.cread("WIN2_BASE") == 0x8000_0000
    simulate(body)

    async def body_u(b, log, frag):
        await b.wait_idle()
        await b.cwrite("OWNER", U=1)
        await b.wait_idle()
        await b.window(0, 0x8000_0000, 0x8000_0100, r=1, w=0, lock=1)   # U owns: no lock
        v = await b.cread("WIN0_CTRL")
        assert _field(CONTROL_REGS["WIN0_CTRL"], v, "R") and not _field(CONTROL_REGS["WIN0_CTRL"], v, "LOCK")
        await b.cwrite("OWNER", U=0)                          # revoke: windows closed
        assert await b.cread("WIN0_CTRL") == 0
    simulate(body_u)


# ---- revocation --------------------------------------------------------------------------

SRC = 0x8000_1000
DST = 0x8000_2000


@pytest.mark.parametrize("register", [False, True], ids=["direct", "request_register"])
@pytest.mark.parametrize("rd_gap, how", [(0, "window"), (3, "window"), (0, "owner")])
def test_revocation_mid_read_is_cycle_exact(rd_gap, how, register):
    """A READ runs; M shrinks the window to its first 4 words (or takes the slot back). The
    bank sees the store in cycle s and acknowledges it in s + 1, the cycle the windows change
    and ``flush`` (a register) takes effect: in s the old window still governs (a streaming
    read issues a request in s itself), from s + 1 on no request is issued, the words waiting
    in the read FIFO never reach the block, and the operation ends with ERROR, cause DMA (or
    the owner's wipe). Behind the pipelined SoC's request register (``register``) the same
    holds at memory: the beat issued in s, still in the register in s + 1, is dropped there;
    memory's last request is the one issued in s - 1, which it takes in s."""
    mem = {SRC + 4 * i: random.getrandbits(32) for i in range(64)}

    async def body(b, log, frag):
        await b.wait_idle()
        await b.window(0, SRC, SRC + 0x100, r=1, w=0)
        await b.write("ADDR", SRC)
        await b.write("WORDS", N=31)
        await b.write("START", OP=Op.READ)
        for _ in range(6):
            await b.ctx.tick()
        level = b.ctx.get(b.dut.engine.chan.busy)
        assert level
        if how == "window":
            _, s, ack = await b.cwrite("WIN0_LIMIT", SRC + 16)
        else:
            _, s, ack = await b.cwrite("OWNER", U=1)
        assert ack == s + 1
        st = await b.wait_idle()
        before = [c for c, *_ in log["req"] if c < ack]
        after = [(c, hex(a)) for c, a, *_ in log["req"] if c >= ack]
        assert before and not after, f"store acknowledged in cycle {ack}: requests from it on {after}"
        if rd_gap == 0:
            # exactly one cycle after the store: the request of the store's own cycle is made
            assert before[-1] == s, f"store in cycle {s}: last request in {before[-1]}"
        issued = [c for c, *_ in log["issued"]]
        assert issued and all(c < ack for c in issued), (ack, issued[-3:])
        if register and rd_gap == 0:
            # the beat of the store's cycle was in the register at the acknowledge: dropped
            assert issued[-1] == s and len(issued) == len(log["req"]) + 1, (s, issued[-3:])
        late = [c for c, _ in log["rd"] if c >= ack]
        assert not late, f"words delivered from the acknowledge (cycle {ack}) on: {late}"
        got = [v for _, v in log["rd"]]
        assert got == [mem[SRC + 4 * i] for i in range(len(got))]
        if rd_gap:
            assert len(log["req"]) > len(got), "no word was waiting in the FIFO"
        if how == "window":
            assert st["DONE"] and st["ERROR"] and st["CAUSE"] == Cause.DMA.value, st
        else:
            assert not st["DONE"] and not st["ERROR"], st
    simulate(body, mem=mem, rd_gap=rd_gap, request_register=register)


@pytest.mark.parametrize("register", [False, True], ids=["direct", "request_register"])
def test_revocation_mid_write_discards_fifo_words(register):
    """A WRITE into a window while memory stalls often, so words wait in the engine's write
    FIFO; M closes the window. No write from the store's acknowledge on (the cycle the window
    closes); the words the engine had taken but not written never reach memory. Behind the
    request register (``register``) a write beat waits there, memory stalling, when the
    window closes: it is dropped, never written."""
    mem = {SRC + 4 * i: 0x5000 + i for i in range(16)}

    async def body(b, log, frag):
        await b.wait_idle()
        await b.window(0, SRC, SRC + 0x40, r=1, w=0)
        await b.window(1, DST, DST + 0x40, r=0, w=1)
        await b.write("ADDR", SRC)
        await b.write("WORDS", N=16)
        await b.write("START", OP=Op.READ)
        await b.wait_idle()
        await b.write("ADDR", DST)
        await b.write("START", OP=Op.WRITE)
        for _ in range(9):
            await b.ctx.tick()
        _, s, ack = await b.cwrite("WIN1_CTRL", R=0, W=0)
        assert ack == s + 1
        st = await b.wait_idle()
        writes = [(c, a, d) for c, a, we, d in log["req"] if we]
        assert writes and all(c < ack for c, _, _ in writes), (ack, writes)
        taken = len(log["wr"])
        assert taken > len(writes), "no word was waiting in the write FIFO"
        written = {a: d for _, a, d in writes}
        assert written == {DST + 4 * i: 0x5000 + i for i in range(len(writes))}
        assert all(DST + 4 * i not in mem for i in range(len(writes), 16))
        assert st["ERROR"] and st["CAUSE"] == Cause.DMA.value
        issued = [(c, a) for c, a, we in log["issued"] if we]
        assert all(c < ack for c, _ in issued)
        if register:
            # one write beat was issued (in the register) but never written: dropped
            assert len(issued) == len(writes) + 1, (ack, issued[-2:], writes[-2:])
            assert issued[-1][1] not in written
        else:
            assert len(issued) == len(writes)
    simulate(body, mem=mem, stall=lambda n: n % 3 != 0, request_register=register)


# ---- the wipe: every flip-flop and memory word, from the netlist --------------------------

def _block_state(frag, dut):
    """Flip-flops and memories of the block and its engine (the harness's own are not)."""
    flops, mems = [], []
    for sub, name, *_ in frag.subfragments:
        if name in ("block", "engine"):
            f, mm = state_elements(sub)
            flops += [(s, f"{name}:{p}") for s, p in f]
            mems += [(d, f"{name}:{p}") for d, p in mm]
    return flops, mems


async def _random_work(b, rng, n):
    for _ in range(n):
        await b.window(rng.randrange(4), SRC, SRC + 0x80, r=1, w=1)
        await b.write("ADDR", SRC + 4 * rng.randrange(8))
        await b.write("WORDS", N=rng.randrange(1, 17))
        await b.write("START", OP=rng.choice([Op.READ, Op.WRITE, Op.COUNT, Op.NOP]))
        if rng.random() < 0.3:
            await b.write("ABORT")
        await b.wait_idle()


def _wipe_body(seed, expect_dirty=None, measured=None):
    async def body(b, log, frag):
        ctl = b.dut.block
        flops, mems = _block_state(frag, b.dut)
        rng = random.Random(seed)
        await b.wait_idle()
        await _random_work(b, rng, 6)
        # Start one more operation and wipe while it runs.
        await b.write("WORDS", N=16)
        await b.write("START", OP=Op.READ)
        for _ in range(rng.randrange(1, 12)):
            await b.ctx.tick()
        _, s, ack = await b.cwrite("CTRL", IRQ_EN=1, WIPE=1)
        cycles = 0
        while _field(CONTROL_REGS["STATUS"], await b.cread("STATUS"), "WIPING"):
            cycles += 1
        retained = _retained(frag)
        bad = dirty_state(b.ctx, flops, mems, exclude=retained)
        if expect_dirty is None:
            assert not bad, "state left after a wipe:\n" + "\n".join(bad)
            assert mems and len(flops) > 30
        else:
            assert any(expect_dirty in x for x in bad), bad
        assert _field(CONTROL_REGS["CTRL"], await b.cread("CTRL"), "IRQ_EN")   # M's config stays
    return body


def _retained(frag):
    # CoprocessorControl.retained, found in the elaborated netlist by name (the component
    # instance inside the block is created in elaborate()).
    block = next(sub for sub, name, *_ in frag.subfragments if name == "block")
    ctl = next(sub for sub, name, *_ in block.subfragments if name == "ctl")
    names = {"owner_u", "irq_en", "win_lock", "grant_refused", "booted", "dma_windows__win"}
    out = []
    for stmts in ctl.statements.values():
        for st in stmts:
            out += [s for s in st._lhs_signals() if s.name in names]
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_wipe_leaves_every_flop_at_reset_and_every_word_zero(seed):
    simulate(_wipe_body(seed), mem={SRC + 4 * i: 0xA500_0000 + i for i in range(32)})


def test_wipe_check_catches_a_forgotten_register():
    simulate(_wipe_body(1, expect_dirty="acc"), forget={"acc"},
             mem={SRC + 4 * i: 0xA500_0000 + i for i in range(32)})


def test_reset_wipe_clears_memory_left_from_before_the_reset():
    def plant(ctx, frag, dut):
        for d, _ in _block_state(frag, dut)[1]:
            for i in range(d.depth):
                ctx.set(d[i], 0xDEAD_0000 + i)

    async def body(b, log, frag):
        flops, mems = _block_state(frag, b.dut)
        await b.wait_idle()
        bad = dirty_state(b.ctx, flops, mems, exclude=_retained(frag))
        assert not bad, bad
    simulate(body, prepare=plant)


# ---- the SoC's control page ----------------------------------------------------------------

def test_init_wrong_control_page_slots():
    from gluon.hdl.coproctl import ControlPage
    with pytest.raises(ValueError, match="0..15"):
        ControlPage(slots=[16])
    with pytest.raises(ValueError, match="twice"):
        ControlPage(slots=[1, 1])


def test_control_page_decodes_each_slot_section():
    """Slot k's section at k * 0x100 reaches slot k's control registers and no other; a
    section with no coprocessor answers with a bus error; the page never stalls."""
    from amaranth import Module
    from amaranth.lib.wiring import connect
    from gluon.hdl.coproctl import ControlPage

    m = Module()
    m.submodules.page = page = ControlPage(slots=[0, 2])
    m.submodules.a = a = ToySystem()
    m.submodules.b = b = ToySystem()
    connect(m, page.slot0, a.ctl_bus)
    connect(m, page.slot2, b.ctl_bus)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    win0 = CONTROL_REGS["WIN0_BASE"].offset

    async def bench(ctx):
        bus = page.bus

        async def access(addr, value=None):
            ctx.set(bus.cyc, 1); ctx.set(bus.stb, 1); ctx.set(bus.sel, 0xF)
            ctx.set(bus.adr, addr // 4); ctx.set(bus.we, value is not None)
            ctx.set(bus.dat_w, value or 0)
            assert not ctx.get(bus.stall)
            await ctx.tick()
            ctx.set(bus.stb, 0)
            for _ in range(4):
                ack, err, dat = ctx.get(bus.ack), ctx.get(bus.err), ctx.get(bus.dat_r)
                if ack or err:
                    ctx.set(bus.cyc, 0)
                    await ctx.tick()
                    return ("ack" if ack else "err"), dat
                await ctx.tick()
            raise AssertionError(f"no answer at {addr:#x}")

        assert await access(0 * CONTROL_STRIDE + win0, 0x8000_0100) == ("ack", 0)
        assert await access(2 * CONTROL_STRIDE + win0, 0x8000_0200) == ("ack", 0)
        assert ctx.get(a.block.dma_windows.win[0].base) == 0x8000_0100
        assert ctx.get(b.block.dma_windows.win[0].base) == 0x8000_0200
        assert await access(0 * CONTROL_STRIDE + win0) == ("ack", 0x8000_0100)
        assert await access(2 * CONTROL_STRIDE + win0) == ("ack", 0x8000_0200)
        assert (await access(1 * CONTROL_STRIDE + win0, 1))[0] == "err"
        assert (await access(15 * CONTROL_STRIDE))[0] == "err"
    sim.add_testbench(bench)
    sim.run()
