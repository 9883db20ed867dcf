"""The matrix coprocessor on the shared control contract, with its DMAEngine on a RAM model
(tests/test_matmul.py's bench): the wipe leaves every flip-flop of block and engine at its
reset value and every memory word at zero (state taken from the netlist, tests/wipecheck.py)
in a fixed number of cycles, whatever ran; a mutant wipe is caught; revocation, START during a
wipe, and what a new owner finds (the accumulators, the parameter registers)."""
import numpy as np
import pytest

from gluon.hdl.coproctl import CONTROL_REGS
from gluon.hdl.matmul import Cause, Op
from gluon.sim.quantize_mlp import matmul_ref

from test_matmul import Bench, matmul, rand_i8, RAM_BASE
from wipecheck import state_elements, dirty_state


async def wipe(ctx, b, *, owner=None):
    """Start a wipe (CTRL.WIPE, or a write of OWNER) and wait for its end. Returns the cycles
    the control component held ``wipe`` (from the clock edge after the store)."""
    if owner is None:
        assert not await b.cwrite(ctx, "CTRL", 0b11)          # IRQ_EN kept, WIPE
    else:
        assert not await b.cwrite(ctx, "OWNER", owner)
    wipe_sig = b.top.copro.dma_ctl.wipe
    n = 1                       # the store's cycle ended with ``wipe`` rising; the ack's:
    while ctx.get(wipe_sig):
        await ctx.tick()
        n += 1
    await ctx.tick().repeat(2)  # block and engine back in IDLE
    return n - 1


async def check_clean(ctx, b, what):
    await ctx.tick().repeat(2)          # (the register bank's last bus response ends)
    flops, memories = state_elements(b.frag)
    assert len(memories) >= 6 and len(flops) > 100, (len(flops), len(memories))
    bad = dirty_state(ctx, flops, memories, exclude=b.top.copro.retained)
    assert not bad, f"after {what}: {len(bad)} dirty:\n" + "\n".join(bad[:20])


async def dirty(ctx, b, rng, *, stop_after=None):
    """Real operations leaving state everywhere: buffers, accumulators (MAC, no store), bias,
    the output FIFO; with ``stop_after``, one more left running for that many cycles."""
    b.ram.alloc = RAM_BASE
    M, N, K = 13, 16, 20
    A, B = rand_i8(rng, (M, K)), rand_i8(rng, (K, N))
    bias = rng.integers(-5000, 5000, size=N)
    await matmul(ctx, b, A, B, store="int8", bias=bias, relu=True, qmul=int(rng.integers(1 << 30, 1 << 31)),
                 qshift=9, qzp=int(rng.integers(-128, 128)))
    b.ram.alloc = RAM_BASE
    await matmul(ctx, b, A, B, store="none")
    if stop_after is not None:
        b.ram.alloc = RAM_BASE
        a, lda = b.ram.matrix(A)
        bb, ldb = b.ram.matrix(B)
        await b.program(ctx, a=a, lda=lda, b=bb, ldb=ldb, c=b.ram.reserve(M * 64), ldc=64,
                        m=M, n=N, k=K, store="int32", acc=True)
        await b.start(ctx)
        await ctx.tick().repeat(stop_after)
        assert (await b.status(ctx))["busy"]


def test_wipe_clears_every_flop_and_memory_word_in_fixed_cycles():
    """After real operations, while idle, in the middle of one (engine streaming, DMA busy,
    FIFOs holding words) and on an owner change: every state element of block and DMA
    engine clean, and the same number of cycles each time."""
    rng = np.random.default_rng(40)
    seen = {}

    async def body(ctx, b):
        copro = b.top.copro
        await check_clean(ctx, b, "the wipe after reset")
        await dirty(ctx, b, rng)
        seen["idle"] = await wipe(ctx, b)
        await check_clean(ctx, b, "a wipe while idle")
        for when in (30, 150, 400):
            await dirty(ctx, b, rng, stop_after=when)
            seen[f"running {when}"] = await wipe(ctx, b)
            await check_clean(ctx, b, f"a wipe {when} cycles into an operation")
            st = await b.status(ctx)
            assert st == {"busy": 0, "done": 0, "error": 0, "cause": Cause.NONE}, st
        await dirty(ctx, b, rng, stop_after=100)
        seen["grant"] = await wipe(ctx, b, owner=1)
        await check_clean(ctx, b, "a grant (OWNER = U)")
        # The slot works after all of it (windows reopened: the grant closed them).
        for name, value in (("OWNER", 0), ("WIN0_BASE", RAM_BASE),
                            ("WIN0_LIMIT", RAM_BASE + len(b.ram.data)), ("WIN0_CTRL", 0b011)):
            await b.cwrite(ctx, name, value)
        await b.wait_idle(ctx)
        b.ram.alloc = RAM_BASE
        await matmul(ctx, b, rand_i8(rng, (9, 7)), rand_i8(rng, (7, 11)), store="int32")
        # Fixed: the block's wipe_cycles (the longer of block and DMA engine) plus one cycle
        # for the control component to see both done.
        assert set(seen.values()) == {copro.wipe_cycles + 1}, (seen, copro.wipe_cycles)
    Bench().run(body)


def test_wipe_check_catches_a_mutant():
    """A wipe that stops writing zeros before the deepest memory's end (the B buffer) is
    caught by the netlist-derived check, naming the memory."""
    rng = np.random.default_rng(41)
    found = []

    async def body(ctx, b):
        await dirty(ctx, b, rng)
        await wipe(ctx, b)
        flops, memories = state_elements(b.frag)
        found.extend(dirty_state(ctx, flops, memories, exclude=b.top.copro.retained))
    bench = Bench()
    bench.top.copro.engine.wipe_depth = 16        # the mutant: 16 of 64 words
    bench.run(body)
    assert any("engine/b_buf[" in line for line in found), found[:5]
    assert not any("engine/b_buf[15]" in line for line in found), found[:5]


def test_new_owner_finds_nothing_of_the_old_one():
    """The accumulators M left (a MAC with A = 0 after the grant returns zeros, not M's
    values), the parameter registers (M's addresses, requantization) and STATUS/CYCLES."""
    rng = np.random.default_rng(42)

    async def body(ctx, b):
        A, B = rand_i8(rng, (16, 16)), rand_i8(rng, (16, 16))
        await matmul(ctx, b, A, B, store="none")              # M's accumulators
        await b.program(ctx, a=RAM_BASE + 0x40, lda=16, b=RAM_BASE + 0x400, ldb=16,
                        c=RAM_BASE + 0x800, ldc=64, m=16, n=16, k=16, bias=RAM_BASE + 0xC00,
                        qmul=0x1234_5678, qshift=7, qzp=-9)
        await wipe(ctx, b, owner=1)
        for reg in b.top.copro.REGS:
            if reg.name not in ("ID", "CONFIG", "START", "ABORT"):
                assert await b.read(ctx, reg.name) == 0, reg.name
        # M lends U a window over U's own buffer; U runs MAC with A = 0 and stores int32.
        u_base = RAM_BASE + 0x8000
        for name, value in (("WIN0_BASE", u_base), ("WIN0_LIMIT", u_base + 0x2000),
                            ("WIN0_CTRL", 0b011)):
            await b.cwrite(ctx, name, value)
        b.ram.alloc = u_base
        got, _ = await matmul(ctx, b, np.zeros((16, 16), np.int8), rand_i8(rng, (16, 16)),
                              store="int32", acc=True, check=False)
        assert not got.any(), got
        # Control: without a wipe between them, MAC does continue from the accumulators the
        # previous operation left (so the zeros above come from the wipe, not from the test).
        await wipe(ctx, b, owner=0)
        for name, value in (("WIN0_BASE", RAM_BASE), ("WIN0_LIMIT", RAM_BASE + len(b.ram.data)),
                            ("WIN0_CTRL", 0b011)):
            await b.cwrite(ctx, name, value)
        b.ram.alloc = RAM_BASE
        await matmul(ctx, b, A, B, store="none")
        _, prev = matmul_ref(A, B, store="none")
        await matmul(ctx, b, np.zeros((16, 16), np.int8), rand_i8(rng, (16, 16)), store="int32",
                     acc=True, prev=prev)
    Bench().run(body)


def test_start_during_wipe_refused_and_revocation_mid_operation():
    """START while a wipe runs: ERROR, CAUSE = WIPING, nothing starts. A window closed in the
    middle of an operation: no RAM access from the store's acknowledge on, the operation
    ends with ERROR, CAUSE = DMA (no hang), the DMA engine idle; the next operation exact."""
    rng = np.random.default_rng(43)

    async def body(ctx, b):
        assert not await b.cwrite(ctx, "CTRL", 0b11)
        await b.start(ctx, Op.MUL)
        st = await b.wait_idle(ctx)
        assert st == {"busy": 0, "done": 0, "error": 1, "cause": Cause.WIPING}, st
        await b.write(ctx, "STATUS", 0b110)

        A, B = rand_i8(rng, (16, 24)), rand_i8(rng, (24, 16))
        a, lda = b.ram.matrix(A)
        bb, ldb = b.ram.matrix(B)
        c = b.ram.reserve(16 * 64)
        before_c = b.ram.get(c, 16 * 64)
        await b.program(ctx, a=a, lda=lda, b=bb, ldb=ldb, c=c, ldc=64, m=16, n=16, k=24,
                        store="int32")
        await b.start(ctx)
        await ctx.tick().repeat(120)
        assert ctx.get(b.top.dma.chan.busy) or (await b.status(ctx))["busy"]
        assert not await b.cwrite(ctx, "WIN0_CTRL", 0)       # revoke
        seen = b.requests
        await ctx.tick().until(b.top.copro.irq)
        st = await b.status(ctx)
        assert st == {"busy": 0, "done": 1, "error": 1, "cause": Cause.DMA}, st
        assert b.requests == seen, "a RAM access after the revocation was acknowledged"
        assert not ctx.get(b.top.dma.chan.busy)
        assert b.ram.get(c, 16 * 64) == before_c
        await b.write(ctx, "STATUS", 0b110)
        assert not await b.cwrite(ctx, "WIN0_CTRL", 0b011)
        b.ram.alloc = RAM_BASE
        await matmul(ctx, b, A, B, store="int8", qshift=9)
    Bench().run(body)
