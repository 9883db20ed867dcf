"""MATMUL coprocessor against the numpy integer reference (gluon.sim.quantize_mlp).

The coprocessor runs with the real DMAEngine on a Python RAM model (one-cycle acknowledge);
the testbench programs it through its Wishbone register slot like firmware would.
"""
import random

import numpy as np
import pytest
from amaranth import *
from amaranth.lib import wiring
from amaranth.sim import Simulator

from gluon.hdl.dma import DMAEngine
from gluon.hdl.matmul import MatMulCoprocessor, Cause, MAX_K, VERSION
from gluon.sim.quantize_mlp import (matmul_ref, requantize, srdhm, rounding_divide_by_pot,
                                    INT32_MIN, INT32_MAX)


RAM_BASE = 0x8000_0000
RAM_SIZE = 0x10000
REGS = MatMulCoprocessor.REGS
STORE = {"none": 0, "int8": 1, "int32": 2}


class Top(Elaboratable):
    def __init__(self, **params):
        self.copro = MatMulCoprocessor(**params)
        self.dma = DMAEngine()

    def elaborate(self, platform):
        m = Module()
        m.submodules.copro = self.copro
        m.submodules.dma = self.dma
        wiring.connect(m, self.copro.dma, self.dma.chan)
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


class Bench:
    """Runs testbench coroutines against one Top instance in one simulation."""

    def __init__(self, *, params=None, ram=None, stall=None):
        self.top = Top(**(dict(dim=4, max_m=16, max_n=16, k_chunk=8) if params is None else params))
        self.ram = ram or Ram()
        self.stall = stall
        self.requests = 0

    def run(self, body):
        top, ram = self.top, self.ram
        bus = top.dma.bus
        sim = Simulator(top)
        sim.add_clock(1e-6)

        async def memory(ctx):
            cycle = 0
            async for _clk, _rst, cyc, stb, we, adr, dat in ctx.tick().sample(
                    bus.cyc, bus.stb, bus.we, bus.adr, bus.dat_w):
                stalled = bool(self.stall and self.stall(cycle))
                cycle += 1
                ctx.set(bus.ack, 0)
                ctx.set(bus.err, 0)
                if cyc and stb and not stalled:
                    self.requests += 1
                    off = (adr << 2) - RAM_BASE
                    if not 0 <= off < len(ram.data):
                        ctx.set(bus.err, 1)
                    elif we:
                        ram.data[off:off + 4] = dat.to_bytes(4, "little")
                        ctx.set(bus.ack, 1)
                    else:
                        ctx.set(bus.dat_r, int.from_bytes(ram.data[off:off + 4], "little"))
                        ctx.set(bus.ack, 1)
                ctx.set(bus.stall, bool(self.stall and self.stall(cycle)))
        sim.add_process(memory)

        async def bench(ctx):
            win = top.dma.windows.win[0]
            ctx.set(win.base, RAM_BASE)
            ctx.set(win.limit, RAM_BASE + len(ram.data))
            ctx.set(win.r, 1)
            ctx.set(win.w, 1)
            await body(ctx, self)
        sim.add_testbench(bench)
        sim.run()

    # -- register access through the Wishbone slot, like firmware --
    async def write(self, ctx, name, value):
        bus = self.top.copro.bus
        ctx.set(bus.cyc, 1); ctx.set(bus.stb, 1); ctx.set(bus.we, 1); ctx.set(bus.sel, 0xF)
        ctx.set(bus.adr, REGS[name].offset // 4)
        ctx.set(bus.dat_w, value & 0xFFFF_FFFF)
        await ctx.tick()
        ctx.set(bus.stb, 0)
        while not (ctx.get(bus.ack) or ctx.get(bus.err)):
            await ctx.tick()
        err = ctx.get(bus.err)
        ctx.set(bus.cyc, 0)
        return err

    async def read(self, ctx, name):
        bus = self.top.copro.bus
        ctx.set(bus.cyc, 1); ctx.set(bus.stb, 1); ctx.set(bus.we, 0)
        ctx.set(bus.adr, REGS[name].offset // 4)
        await ctx.tick()
        ctx.set(bus.stb, 0)
        while not (ctx.get(bus.ack) or ctx.get(bus.err)):
            await ctx.tick()
        value = ctx.get(bus.dat_r)
        ctx.set(bus.cyc, 0)
        return value

    async def status(self, ctx):
        v = await self.read(ctx, "STATUS")
        return {"busy": v & 1, "done": (v >> 1) & 1, "error": (v >> 2) & 1,
                "cause": Cause((v >> 4) & 0xF)}

    async def program(self, ctx, *, a, lda, b, ldb, c=0, ldc=0, m, n, k, store="int8",
                      acc=False, bias=None, relu=False, qmul=1 << 30, qshift=0, qzp=0):
        op = int(acc) | STORE.get(store, store) << 1 | int(bias is not None) << 3 | int(relu) << 4
        for name, value in [("A_ADDR", a), ("B_ADDR", b), ("C_ADDR", c),
                            ("BIAS_ADDR", bias or 0), ("A_STRIDE", lda), ("B_STRIDE", ldb),
                            ("C_STRIDE", ldc), ("M", m), ("N", n), ("K", k), ("OP", op),
                            ("QMUL", qmul), ("QSHIFT", qshift), ("QZP", qzp), ("IRQ_EN", 1)]:
            assert not await self.write(ctx, name, value)

    async def start_and_wait(self, ctx, timeout=200_000):
        await self.write(ctx, "START", 1)
        for _ in range(timeout):
            if ctx.get(self.top.copro.irq):
                break
            await ctx.tick()
        else:
            raise AssertionError(f"no DONE after {timeout} cycles")
        st = await self.status(ctx)
        cycles = await self.read(ctx, "CYCLES")
        assert not ctx.get(self.top.copro.busy)
        await self.write(ctx, "STATUS", 2)                 # acknowledge
        assert not ctx.get(self.top.copro.irq)
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
