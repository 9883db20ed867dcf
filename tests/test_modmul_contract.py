"""MODMUL on the coprocessor contract (hdl/coproctl.py), block level, with its real DMAEngine on
a RAM model: the wipe leaves every flip-flop of block and engine at its reset value and every
memory word at zero (state taken from the netlist, tests/wipecheck.py) in a fixed number of
cycles, after random real work and whatever runs when it starts; a mutant that zeroes too
little is caught; START during a wipe; M-only interrupt; a window revoked at every point of a
STORE ends it with cause DMA, never a hang."""
import random

import pytest
from amaranth.hdl import Fragment, Value
from amaranth.sim import Simulator

from gluon.hdl.coproctl import CONTROL_REGS
from gluon.hdl.modmul import ModMulCoprocessor, OpCode, Op, Cause, encode, xfifo_depth

from test_modmul import (Harness, Bench, field, mask, W1C, push, pull, run_queued, mulmod_ops,
                         RAM_BASE, RAM_SIZE, DATA, PROG, SECP256K1_P, BN254_P)
from wipecheck import state_elements, dirty_state


O = OpCode


def ctl_field(reg, name, value):
    f = next(f for f in CONTROL_REGS[reg].fields if f.name == name)
    return (value >> f.offset) & ((1 << f.width) - 1)


def simulate(body, *, harness=None, prepare=None, **kw):
    """Like test_modmul.simulate, with the elaborated netlist given to ``body(b, frag)``."""
    h = harness or Harness(**kw)
    frag = Fragment.get(h, None)
    sim = Simulator(frag)
    sim.add_clock(1e-6)

    async def bench(ctx):
        if prepare:
            prepare(ctx, frag)
        b = Bench(ctx, h)
        await ctx.tick()
        await b.wait_idle()                 # the wipe that follows a reset
        await b.window(0, RAM_BASE, RAM_BASE + RAM_SIZE)
        await body(b, frag)
    sim.add_testbench(bench)
    sim.run()


class _Words:
    """A memory's words as plain values (the program memory's words are OpWord views)."""

    def __init__(self, data):
        self.data, self.depth = data, data.depth

    def __getitem__(self, i):
        return Value.cast(self.data[i])


def block_state(frag):
    """Flip-flops and memories of the coprocessor and its DMA engine (not the RAM model's)."""
    flops, mems = [], []
    for sub, name, *_ in frag.subfragments:
        if name in ("copro", "dma"):
            f, mm = state_elements(sub)
            flops += [(s, f"{name}:{p}") for s, p in f]
            mems += [(_Words(d), f"{name}:{p}") for d, p in mm]
    return flops, mems


async def wipe(b):
    """CTRL.WIPE; returns the cycles the control component held ``wipe`` (wipe_done comes in
    the last of them; the write's acknowledge cycle is the first)."""
    c = b.h.copro.ctl.block
    irq_en = await b.cread("CTRL") & ctl_field_mask("CTRL", "IRQ_EN")
    await b.cwrite("CTRL", irq_en | ctl_field_mask("CTRL", "WIPE"))
    n = 0
    while b.ctx.get(c.wipe):
        await b.ctx.tick()
        n += 1
    return n


def ctl_field_mask(reg, name):
    f = next(f for f in CONTROL_REGS[reg].fields if f.name == name)
    return ((1 << f.width) - 1) << f.offset


async def random_work(b, rng):
    """Real operations touching every kind of state: a modulus, values in many slots, a DMA
    program in the program memory, a queued program, words left in XIN and XOUT, a refused
    access, an aborted program, DMA descriptors."""
    n = rng.choice([SECP256K1_P, BN254_P])
    await b.setmod(n, 8)
    vals = [rng.randrange(n) for _ in range(4)]
    ops = []
    for i, v in enumerate(vals):
        b.put(DATA + 4 * b.value_at(i), v, 8)
        ops.append(encode(O.LOAD, d=i, imm=b.value_at(i)))
    for _ in range(rng.randrange(8, 40)):
        ops.append(encode(rng.choice([O.MUL, O.ADD, O.SUB, O.TOMONT]),
                          d=rng.randrange(32), a=rng.randrange(4), b=rng.randrange(4)))
    ops.append(encode(O.STORE, a=rng.randrange(32), imm=b.value_at(6)))
    await b.run_ok(ops)
    await push(b, vals[0], 8)
    await push(b, vals[1], 8)
    status, _ = await run_queued(b, mulmod_ops() + [encode(O.STOREX, a=0)])
    assert not field("STATUS", "ERROR", status), hex(status)
    await push(b, rng.getrandbits(32), 5)                  # left in XIN
    await b.read("XOUT")                                   # one word taken, 15 left in XOUT
    await b.write("LIMBS", rng.randrange(1, 25))
    await b.write("STATE", 0)
    await b.cwrite("CTRL", 1)                              # IRQ_EN: M's, kept by the wipe
    # A program that runs when the wipe comes, at a random point of it.
    long = [encode(O.LOAD, d=5, imm=b.value_at(0)), encode(O.STORE, a=5, imm=b.value_at(7))] * 3 \
        + [encode(O.MUL, d=6, a=1, b=2)] * 6
    await b.start(long)
    await b.ctx.tick().repeat(rng.randrange(1, 200))


def wipe_body(seed, *, expect_dirty=None, cycles=None):
    async def body(b, frag):
        flops, mems = block_state(frag)
        rng = random.Random(seed)
        await random_work(b, rng)
        n = await wipe(b)
        if cycles is not None:
            cycles.append(n)
        await b.ctx.tick().repeat(3)
        bad = dirty_state(b.ctx, flops, mems, exclude=b.h.copro.retained)
        if expect_dirty is None:
            assert not bad, "state left after a wipe:\n" + "\n".join(bad[:40])
            # (the list comes from the netlist: the value store, the program memory, XIN, XOUT
            # and the engine's two FIFOs; the unit's and sequencer's registers)
            names = " ".join(p for _, p in mems)
            assert len(mems) == 6 and all(n in names for n in ("values", "program", "xin",
                                                               "xout", "rfifo", "wfifo")), names
            assert len(flops) > 400 and any("engine_c" in p for _, p in flops), len(flops)
            # M's configuration stays; the slot works again.
            assert ctl_field("CTRL", "IRQ_EN", await b.cread("CTRL"))
            assert await b.cread("WIN0_LIMIT") == RAM_BASE + RAM_SIZE
            assert await b.read("STATUS") == 0 and await b.read("STATE") == 0
            await b.setmod(SECP256K1_P, 8)
            await push(b, 3, 8)
            await push(b, 5, 8)
            status, _ = await run_queued(b, mulmod_ops())
            assert not field("STATUS", "ERROR", status)
            assert await pull(b, 8) == 15
        else:
            assert any(expect_dirty in x for x in bad), bad[:20]
    return body


@pytest.mark.parametrize("seed", [1, 2])
def test_wipe_leaves_every_flop_at_reset_and_every_word_zero(seed):
    cycles = []
    simulate(wipe_body(seed, cycles=cycles))
    # From the cycle the control component raises ``wipe`` to the one after wipe_done.
    assert cycles == [ModMulCoprocessor().wipe_cycles + 1], cycles


def test_wipe_cycles_do_not_depend_on_state():
    """Wipes started idle, in a SETMOD, in a DMA LOAD/STORE, in a MUL, in a LOADX waiting for
    its words: the block holds ``wipe`` the same number of cycles every time."""
    seen = []

    async def body(b, frag):
        seen.append(await wipe(b))
        await b.write("LIMBS", 8)
        b.put(DATA, SECP256K1_P, 8)
        await b.start([encode(O.SETMOD)])
        await b.ctx.tick().repeat(700)
        seen.append(await wipe(b))
        await b.setmod(SECP256K1_P, 8)
        for delay in (3, 9, 17):
            await b.start([encode(O.LOAD, d=1, imm=0), encode(O.STORE, a=1, imm=8)] * 4)
            await b.ctx.tick().repeat(delay)
            seen.append(await wipe(b))
            await b.setmod(SECP256K1_P, 8)
        await b.start([encode(O.MUL, d=1, a=1, b=1)] * 8)
        await b.ctx.tick().repeat(50)
        seen.append(await wipe(b))
        await b.setmod(SECP256K1_P, 8)
        await b.write("CMD", encode(O.LOADX, d=0))
        await b.write("START", Op.QUEUE.value)
        await b.ctx.tick().repeat(20)
        seen.append(await wipe(b))
    simulate(body)
    assert len(set(seen)) == 1 and seen[0] == ModMulCoprocessor().wipe_cycles + 1, seen


class ZeroesTooLittle(ModMulCoprocessor):
    """A mutant whose wipe stops after the FIFOs: most of the value store and the program
    memory keep their words."""

    @property
    def _zero_cycles(self):
        return xfifo_depth(self.max_limbs) + 2


def test_wipe_check_catches_a_wipe_that_zeroes_too_little():
    h = Harness()
    h.copro = ZeroesTooLittle()
    simulate(wipe_body(1, expect_dirty="values"), harness=h)


def test_wipe_check_catches_a_forgotten_register():
    """A mutant whose wipe does not hold the sequencer at reset."""
    import gluon.hdl.modmul.coprocessor as cop

    real = cop.ResetInserter

    def skip_sequencer(ctl):
        def apply(elaboratable):
            if type(elaboratable).__name__ == "ProgramSequencer":
                return elaboratable
            return real(ctl)(elaboratable)
        return apply
    cop.ResetInserter = skip_sequencer
    try:
        simulate(wipe_body(2, expect_dirty="sequencer"))
    finally:
        cop.ResetInserter = real


def test_reset_wipe_clears_memory_left_from_before_the_reset():
    """Block RAM keeps its contents across a reset: the wipe that follows every reset zeroes
    it before the slot answers START."""
    def plant(ctx, frag):
        for d, _ in block_state(frag)[1]:
            for i in range(d.depth):
                ctx.set(d[i], (0xDEAD_0000 + i) & ((1 << len(d[i])) - 1) or 1)

    async def body(b, frag):
        flops, mems = block_state(frag)
        await b.ctx.tick().repeat(2)
        bad = dirty_state(b.ctx, flops, mems, exclude=b.h.copro.retained)
        # (the window just opened is M's configuration, retained)
        assert not bad, bad[:20]
    simulate(body, prepare=plant)


def test_start_during_wipe_refused_and_irq_m_only():
    async def body(b, frag):
        await b.cwrite("CTRL", 1)                          # IRQ_EN
        await b.cwrite("CTRL", 1 | ctl_field_mask("CTRL", "WIPE"))
        await b.write("CMD", encode(O.COPY))               # ignored while wiping
        await b.write("START", Op.QUEUE.value)
        status = await b.read("STATUS")
        assert field("STATUS", "BUSY", status) and field("STATUS", "ERROR", status) and \
            field("STATUS", "CAUSE", status) == Cause.WIPING.value, hex(status)
        await b.wait_idle()
        assert await b.read("QUEUE") == 0
        await b.write("STATUS", W1C)
        await b.setmod(SECP256K1_P, 8)
        assert b.ctx.get(b.h.copro.irq)                    # M owns: DONE raises the line
        # Lent to U: the owner change wipes (modulus gone) and clears DONE; U's DONE never
        # reaches M's interrupt line.
        await b.cwrite("OWNER", 1)
        assert not b.ctx.get(b.h.copro.irq)
        await b.wait_idle()
        assert not await b.state("MODSET")
        await b.window(0, RAM_BASE, RAM_BASE + RAM_SIZE)
        await b.setmod(SECP256K1_P, 8)
        assert field("STATUS", "DONE", await b.read("STATUS"))
        for _ in range(3):
            assert not b.ctx.get(b.h.copro.irq)
            await b.ctx.tick()
        # Taken back: wiped again, DONE cleared.
        await b.cwrite("OWNER", 0)
        await b.wait_idle()
        assert await b.read("STATUS") == 0 and await b.read("STATE") == 0
    simulate(body)


def test_window_revoked_at_every_point_of_a_store_ends_it():
    """STORE by DMA, the window shrunk to nothing at each of 48 successive cycles: every
    program ends (no hang), with cause DMA whenever the store was cut. (A STORE missed the
    engine's error in its READ/HOLD states and then waited for ever: this test hangs on it.)"""
    n = SECP256K1_P

    async def body(b, frag):
        await b.setmod(n, 8)
        b.put(DATA + 32, n - 5, 8)
        await b.run_ok([encode(O.LOAD, d=3, imm=8)])
        cut = 0
        for k in range(1, 49):
            b.put(DATA + 64, 0, 16)
            await b.start([encode(O.STORE, a=3, imm=16), encode(O.STORE, a=3, imm=24)])
            await b.ctx.tick().repeat(k)
            await b.cwrite("WIN0_CTRL", 0)                 # no permission at all
            await b.wait_idle()                            # (asserts no hang)
            status = await b.read("STATUS")
            assert field("STATUS", "DONE", status), hex(status)
            if field("STATUS", "ERROR", status):
                assert field("STATUS", "CAUSE", status) == Cause.DMA.value, (k, hex(status))
                cut += 1
            await b.write("STATUS", W1C)
            await b.window(0, RAM_BASE, RAM_BASE + RAM_SIZE)
        assert cut >= 30, cut
    simulate(body)
