"""Hash coprocessor with the real DMA engine and a RAM model, driven over its Wishbone slot
page and its control section: every mode against hashlib / pycryptodome, padding at every
length, streaming, misuse, DMA window refusal, constant time, the wipe (every flip-flop of
block and engine from the netlist)."""
import hashlib
import random
from pathlib import Path

import pytest
from amaranth import *
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator
from Crypto.Hash import keccak as pycryptodome_keccak

from gluon.hdl.bus import RequestRegister
from gluon.hdl.coproctl import CONTROL_REGS
from gluon.hdl.dma import DMAEngine
from gluon.hdl.hash import HashCoprocessor, Mode, Op, Cause, MODE_PARAMS

from wbmodel import wishbone_ram


REGS = HashCoprocessor.REGS
RAM_BASE = 0x8000_0000
SRC = RAM_BASE + 0x1000
DST = RAM_BASE + 0x100
TIMEOUT = 200_000             # cycles: any wait longer than this is a hang


def keccak256(msg):
    return pycryptodome_keccak.new(digest_bits=256, data=msg).digest()


def reference(mode, msg, outlen=0):
    return {
        Mode.SHA256:    lambda: hashlib.sha256(msg).digest(),
        Mode.SHA3_256:  lambda: hashlib.sha3_256(msg).digest(),
        Mode.SHA3_512:  lambda: hashlib.sha3_512(msg).digest(),
        Mode.KECCAK256: lambda: keccak256(msg),
        Mode.SHAKE128:  lambda: hashlib.shake_128(msg).digest(outlen),
        Mode.SHAKE256:  lambda: hashlib.shake_256(msg).digest(outlen),
    }[mode]()


def digest_len(mode, outlen):
    p = MODE_PARAMS[mode]
    return outlen if p.out_words is None else 4 * p.out_words


def fields(reg, **values):
    """A register value from field values (names as in the register map)."""
    v = 0
    for f in REGS[reg].fields:
        if f.name in values:
            v |= (int(values.pop(f.name)) & ((1 << f.width) - 1)) << f.offset
    assert not values, values
    return v


def field(reg, name, value):
    f = next(f for f in REGS[reg].fields if f.name == name)
    return (value >> f.offset) & ((1 << f.width) - 1)


class Harness(Elaboratable):
    """The coprocessor wired to its own DMA engine, as the SoC does; ``ram_bus`` is the bus
    memory sees: the engine's, or with ``request_register`` the pipelined SoC's request
    register's (hdl/bus.py), dropped on the engine's flush or wipe as hdl/soc.py wires it."""

    def __init__(self, *, request_register=False, **kwargs):
        self.copro = HashCoprocessor(**kwargs)
        self.dma = DMAEngine(latency=2 if request_register else 1)
        self.request = RequestRegister(addr_width=30, tags=1) if request_register else None
        self.ram_bus = self.request.out if request_register else self.dma.bus

    def elaborate(self, platform):
        m = Module()
        m.submodules.copro = self.copro
        m.submodules.dma = self.dma
        connect(m, self.copro.dma, self.dma.chan)
        connect(m, self.copro.dma_windows, self.dma.windows)
        connect(m, self.copro.dma_ctl, self.dma.ctl)
        if self.request is not None:
            m.submodules.request = req = self.request
            bus = self.dma.bus
            connect(m, bus, req.bus)
            m.d.comb += [req.tag.eq(bus.cyc & bus.stb & ~bus.stall),
                         req.drop.eq(self.dma.ctl.flush | self.dma.ctl.wipe)]
        return m


class Bench:
    """Register access, RAM contents and waiting, for one simulation."""

    def __init__(self, ctx, h, mem):
        self.ctx, self.h, self.mem = ctx, h, mem
        self.bus = h.copro.bus

    async def read(self, reg, *, regs=REGS, bus=None):
        ctx, bus = self.ctx, bus or self.bus
        ctx.set(bus.cyc, 1); ctx.set(bus.stb, 1); ctx.set(bus.we, 0)
        ctx.set(bus.adr, regs[reg].offset >> 2); ctx.set(bus.sel, 0xF)
        await ctx.tick()
        ctx.set(bus.stb, 0)
        assert ctx.get(bus.ack) and not ctx.get(bus.err), f"read {reg}: no ack"
        value = ctx.get(bus.dat_r)
        ctx.set(bus.cyc, 0)
        return value

    async def write(self, reg, value, *, regs=REGS, bus=None):
        ctx, bus = self.ctx, bus or self.bus
        ctx.set(bus.cyc, 1); ctx.set(bus.stb, 1); ctx.set(bus.we, 1)
        ctx.set(bus.adr, regs[reg].offset >> 2); ctx.set(bus.sel, 0xF); ctx.set(bus.dat_w, value)
        await ctx.tick()
        ctx.set(bus.stb, 0); ctx.set(bus.we, 0)
        ok = ctx.get(bus.ack) and not ctx.get(bus.err)
        ctx.set(bus.cyc, 0)
        return ok

    async def cread(self, reg):
        """A register of the slot's section of the control page."""
        return await self.read(reg, regs=CONTROL_REGS, bus=self.h.copro.ctl_bus)

    async def cwrite(self, reg, value):
        return await self.write(reg, value, regs=CONTROL_REGS, bus=self.h.copro.ctl_bus)

    async def window(self, i, base, limit, r=1, w=1):
        assert await self.cwrite(f"WIN{i}_BASE", base)
        assert await self.cwrite(f"WIN{i}_LIMIT", limit)
        assert await self.cwrite(f"WIN{i}_CTRL", r | w << 1)

    def put(self, addr, data, junk=True):
        """Store bytes at ``addr`` (word aligned); the rest of the last word gets junk."""
        assert addr % 4 == 0
        rng = random.Random(len(data) ^ addr)
        tail = bytes(rng.getrandbits(8) for _ in range(-len(data) % 4)) if junk else b"\0" * (-len(data) % 4)
        data = data + tail
        for i in range(0, len(data), 4):
            self.mem[addr + i] = int.from_bytes(data[i:i + 4], "little")

    def get(self, addr, n):
        out = b"".join(self.mem.get(addr + i, 0).to_bytes(4, "little") for i in range(0, n + 3 & ~3, 4))
        return out[:n]

    async def wait_idle(self):
        cycles = 0
        while self.ctx.get(self.h.copro.busy):
            await self.ctx.tick()
            cycles += 1
            assert cycles < TIMEOUT, "coprocessor hangs"

    async def wait_ready(self):
        """Until STATUS.BUSY reads 0 (an operation or a wipe)."""
        for _ in range(TIMEOUT):
            if not field("STATUS", "BUSY", await self.read("STATUS")):
                return
        raise AssertionError("slot stays busy")

    async def start(self, mode, src, length, dst, outlen=0, cont=0, more=0):
        await self.write("CTRL", fields("CTRL", MODE=mode.value if isinstance(mode, Mode) else mode,
                                        MORE=more))
        await self.write("SRC", src)
        await self.write("LEN", length)
        await self.write("DST", dst)
        await self.write("OUTLEN", outlen)
        await self.write("START", (Op.CONT if cont else Op.HASH).value)

    async def run(self, mode, src, length, dst, outlen=0, cont=0, more=0):
        """One operation to its end. Returns (status, cycles)."""
        for i in range(0, min(digest_len(mode, outlen), 4096) if isinstance(mode, Mode) else 0, 4):
            self.mem.pop(dst + i, None)
        await self.start(mode, src, length, dst, outlen, cont, more)
        await self.wait_idle()
        status = await self.read("STATUS")
        return status, await self.read("CYCLES")

    async def hash(self, mode, msg, outlen=0, src=SRC, dst=DST):
        self.put(src, msg)
        status, cycles = await self.run(mode, src, len(msg), dst, outlen)
        assert field("STATUS", "DONE", status) and not field("STATUS", "ERROR", status), \
            f"{mode} len {len(msg)}: status {status:#x}"
        return self.get(dst, digest_len(mode, outlen)), cycles


def simulate(body, *, stall_pattern=None, **kwargs):
    h = Harness(**kwargs)
    mem = {}
    sim = Simulator(h)
    sim.add_clock(1e-6)
    bus = h.ram_bus

    def load(byte):
        return mem.get(byte, 0) if RAM_BASE <= byte < RAM_BASE + 0x10_0000 else None

    def store(byte, data):
        if not RAM_BASE <= byte < RAM_BASE + 0x10_0000:
            return False
        mem[byte] = data
        return True

    ram = wishbone_ram(bus, load, store, stall=stall_pattern)
    sim.add_process(ram)

    async def bench(ctx):
        b = Bench(ctx, h, mem)
        await b.wait_ready()                # the wipe that follows a reset
        await b.window(0, RAM_BASE, RAM_BASE + 0x10_0000)
        await body(b)
    sim.add_testbench(bench)
    sim.run()


# ---------------------------------------------------------------------------------------------

def test_id_and_reset_state():
    async def body(b):
        ident = await b.read("ID")
        assert ident >> 16 == (ord("H") << 8) | ord("S"), hex(ident)
        assert ident & 0xFFFF == 2
        assert await b.read("STATUS") == 0
        assert not await b.write("ID", 0), "ID must refuse writes"
    simulate(body)


def test_known_answers():
    async def body(b):
        got, _ = await b.hash(Mode.KECCAK256, b"")
        assert got.hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        got, _ = await b.hash(Mode.SHA256, b"abc")
        assert got.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        got, _ = await b.hash(Mode.SHA3_256, b"")
        assert got.hex() == "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
    simulate(body)


def _all_lengths(mode, lengths, seed):
    rng = random.Random(seed)
    cycles = {}

    async def body(b):
        for n in lengths:
            msg = rng.randbytes(n)
            got, cycles[n] = await b.hash(mode, msg)
            want = reference(mode, msg)
            assert got == want, f"{mode.name} length {n}: got {got.hex()} want {want.hex()}"
    simulate(body)
    return cycles


BOUNDARIES = [0, 1, 2, 3, 4, 5, 55, 56, 57, 63, 64, 65, 71, 72, 73, 119, 120, 127, 128, 129,
              135, 136, 137, 143, 144, 167, 168, 169, 271, 272, 273, 300]


# The default run sweeps SHA-256; the two Keccak-f modes' sweeps are -m slow (their rate
# boundaries are in test_boundary_lengths, which the default run keeps).
@pytest.mark.parametrize("mode", [Mode.SHA256, pytest.param(Mode.SHA3_256, marks=pytest.mark.slow),
                                  pytest.param(Mode.KECCAK256, marks=pytest.mark.slow)])
def test_every_length_0_to_300(mode):
    cycles = _all_lengths(mode, range(301), seed=mode.value)
    # Cycles depend on the block count only (and on whether there is anything to read).
    bb = MODE_PARAMS[mode].block_bytes
    per_block = {}
    for n, c in cycles.items():
        if n:
            blocks = (n + 8) // 64 + 1 if mode is Mode.SHA256 else n // bb + 1
            per_block.setdefault(blocks, set()).add(c)
    print(mode.name, "empty:", cycles[0], "per block count:", per_block)
    assert all(len(v) == 1 for v in per_block.values()), per_block


@pytest.mark.parametrize("mode", [Mode.SHA3_256, Mode.KECCAK256, Mode.SHA3_512, Mode.SHAKE128,
                                  Mode.SHAKE256])
def test_boundary_lengths(mode):
    rng = random.Random(mode.value)

    async def body(b):
        for n in BOUNDARIES:
            msg = rng.randbytes(n)
            outlen = rng.choice([4, 32, 64, 136, 168, 172, 340]) if MODE_PARAMS[mode].out_words is None else 0
            got, _ = await b.hash(mode, msg, outlen)
            want = reference(mode, msg, outlen)
            assert got == want, f"{mode.name} length {n} out {outlen}: got {got.hex()} want {want.hex()}"
    simulate(body)


def test_long_random_messages_and_throughput():
    rng = random.Random(7)
    results = {}

    async def body(b):
        for mode in MODE_PARAMS:
            for n in [1000, 4096]:
                msg = rng.randbytes(n)
                outlen = 1000 if MODE_PARAMS[mode].out_words is None else 0
                got, cycles = await b.hash(mode, msg, outlen)
                assert got == reference(mode, msg, outlen), f"{mode.name} length {n}"
                results[mode.name, n] = cycles
    simulate(body)
    print(results)
    # SHA-256 is compute-bound: 64 bytes per 66 cycles.
    assert results["SHA256", 4096] <= 66 * 65 + 60, results
    # Keccak-256 is bus-bound: 136 bytes = 34 words, about one word per cycle.
    assert results["KECCAK256", 4096] <= 35 * 31 + 80, results


def _stream(mode, chunks, outlen, b):
    """Feed a message in chunks the way the driver does: whole blocks with MORE, the rest last."""
    async def go():
        bb = MODE_PARAMS[mode].block_bytes
        pending = b""
        first = True
        for chunk in chunks:
            pending += chunk
            whole = len(pending) // bb * bb
            if len(pending) > bb and whole:      # keep at least one byte for the final chunk
                if whole == len(pending):
                    whole -= bb
                if whole:
                    b.put(SRC, pending[:whole])
                    status, _ = await b.run(mode, SRC, whole, DST, cont=not first, more=1)
                    assert field("STATUS", "DONE", status) and not field("STATUS", "ERROR", status), hex(status)
                    first = False
                    pending = pending[whole:]
        b.put(SRC, pending)
        status, _ = await b.run(mode, SRC, len(pending), DST, outlen, cont=not first)
        assert field("STATUS", "DONE", status) and not field("STATUS", "ERROR", status), hex(status)
        return b.get(DST, digest_len(mode, outlen))
    return go()


def test_streaming_odd_chunks():
    rng = random.Random(11)

    async def body(b):
        for mode in MODE_PARAMS:
            for _ in range(3):
                sizes = [rng.choice([1, 3, 7, 64, 100, 136, 137, 200, 333]) for _ in range(rng.randrange(1, 7))]
                chunks = [rng.randbytes(s) for s in sizes]
                outlen = 68 if MODE_PARAMS[mode].out_words is None else 0
                got = await _stream(mode, chunks, outlen, b)
                want = reference(mode, b"".join(chunks), outlen)
                assert got == want, f"{mode.name} chunks {sizes}"
            # Exactly block-sized chunks and an empty final chunk.
            bb = MODE_PARAMS[mode].block_bytes
            msg = rng.randbytes(3 * bb)
            b.put(SRC, msg[:2 * bb])
            status, _ = await b.run(mode, SRC, 2 * bb, DST, more=1)
            b.put(SRC, msg[2 * bb:])
            status, _ = await b.run(mode, SRC, bb, DST, cont=1, more=1)
            outlen = 32 if MODE_PARAMS[mode].out_words is None else 0
            status, _ = await b.run(mode, SRC, 0, DST, outlen, cont=1)
            assert not field("STATUS", "ERROR", status), hex(status)
            assert b.get(DST, digest_len(mode, outlen)) == reference(mode, msg, outlen), mode.name
    simulate(body)


def _expect_error(status, cause, what):
    assert field("STATUS", "DONE", status) and field("STATUS", "ERROR", status), \
        f"{what}: status {status:#x}"
    assert field("STATUS", "CAUSE", status) == cause.value, \
        f"{what}: cause {field('STATUS', 'CAUSE', status)} instead of {cause.name}"


def test_misuse_ends_with_defined_errors():
    async def body(b):
        b.put(SRC, bytes(range(200)))
        cases = [
            ("no mode", dict(mode=0, src=SRC, length=10, dst=DST), Cause.MODE),
            ("unknown mode", dict(mode=15, src=SRC, length=10, dst=DST), Cause.MODE),
            ("mode 7", dict(mode=7, src=SRC, length=10, dst=DST), Cause.MODE),
            ("continue nothing", dict(mode=Mode.SHA256, src=SRC, length=64, dst=DST, cont=1), Cause.SEQ),
            ("unaligned src", dict(mode=Mode.SHA256, src=SRC + 1, length=10, dst=DST), Cause.ALIGN),
            ("unaligned dst", dict(mode=Mode.SHA3_256, src=SRC, length=10, dst=DST + 2), Cause.ALIGN),
            ("more, len 0", dict(mode=Mode.SHA256, src=SRC, length=0, dst=DST, more=1), Cause.LEN),
            ("more, partial block", dict(mode=Mode.SHA256, src=SRC, length=100, dst=DST, more=1), Cause.LEN),
            ("more, partial sponge block", dict(mode=Mode.SHA3_256, src=SRC, length=137, dst=DST, more=1),
             Cause.LEN),
            ("more, 64 is not a SHA3 block", dict(mode=Mode.SHA3_512, src=SRC, length=64, dst=DST, more=1),
             Cause.LEN),
            ("huge length", dict(mode=Mode.SHA256, src=SRC, length=0xFFFF_FF00, dst=DST), Cause.LEN),
            ("shake outlen 0", dict(mode=Mode.SHAKE128, src=SRC, length=10, dst=DST, outlen=0), Cause.OUTLEN),
            ("shake outlen 5", dict(mode=Mode.SHAKE256, src=SRC, length=10, dst=DST, outlen=5), Cause.OUTLEN),
            ("shake outlen wraps", dict(mode=Mode.SHAKE256, src=SRC, length=10, dst=DST, outlen=0xFFFF_FFF0),
             Cause.OUTLEN),
            ("src outside windows", dict(mode=Mode.SHA256, src=0x4000_0000, length=10, dst=DST), Cause.DMA),
            ("dst outside windows", dict(mode=Mode.SHA3_512, src=SRC, length=10, dst=0x4000_0000), Cause.DMA),
            ("src straddles window end", dict(mode=Mode.KECCAK256, src=RAM_BASE + 0x10_0000 - 100, length=200,
                                              dst=DST), Cause.DMA),
        ]
        for what, kw, cause in cases:
            status, _ = await b.run(**kw)
            _expect_error(status, cause, what)
            assert not b.ctx.get(b.h.copro.busy)
        # A read-only window refuses the digest write.
        await b.window(0, RAM_BASE, RAM_BASE + 0x10_0000, r=1, w=0)
        status, _ = await b.run(Mode.SHA256, SRC, 10, DST)
        _expect_error(status, Cause.DMA, "read-only window")
        # A window that does not allow reading refuses the message.
        await b.window(0, RAM_BASE, RAM_BASE + 0x10_0000, r=0, w=1)
        status, _ = await b.run(Mode.KECCAK256, SRC, 10, DST)
        _expect_error(status, Cause.DMA, "write-only window")
        await b.window(0, RAM_BASE, RAM_BASE + 0x10_0000)
        # START with an operation that does not exist.
        for op in (Op.NONE.value, 3):
            await b.write("START", op)
            await b.wait_idle()
            _expect_error(await b.read("STATUS"), Cause.OP, f"op {op}")
        # A CONT after a failed chunk is refused: the streaming state was discarded.
        status, _ = await b.run(Mode.SHA256, SRC, 64, DST, more=1)
        assert not field("STATUS", "ERROR", status)
        status, _ = await b.run(Mode.SHA3_256, SRC, 10, DST, cont=1)
        _expect_error(status, Cause.SEQ, "continue with another mode")
        status, _ = await b.run(Mode.SHA256, 0x4000_0000, 64, DST, cont=1, more=1)
        _expect_error(status, Cause.DMA, "chunk outside windows")
        status, _ = await b.run(Mode.SHA256, SRC, 10, DST, cont=1)
        _expect_error(status, Cause.SEQ, "continue after a failed chunk")
        # After all that, the engine still works.
        got, _ = await b.hash(Mode.SHA256, b"abc")
        assert got == hashlib.sha256(b"abc").digest()
    simulate(body)


def test_start_while_busy_abort_and_irq():
    rng = random.Random(3)

    async def body(b):
        msg = rng.randbytes(1000)
        b.put(SRC, msg)
        # START during an operation: refused with BUSY, the running one still finishes right.
        await b.start(Mode.SHA256, SRC, len(msg), DST)
        await b.ctx.tick().repeat(50)
        await b.write("START", Op.HASH.value)
        status = await b.read("STATUS")
        assert field("STATUS", "BUSY", status) and field("STATUS", "ERROR", status)
        assert field("STATUS", "CAUSE", status) == Cause.BUSY.value
        await b.wait_idle()
        status = await b.read("STATUS")
        assert field("STATUS", "DONE", status)
        assert b.get(DST, 32) == hashlib.sha256(msg).digest()
        # Write-1-to-clear.
        await b.write("STATUS", fields("STATUS", DONE=1, ERROR=1))
        assert await b.read("STATUS") == 0
        # ABORT while reading, while computing, while writing: always ends, no hang.
        for delay in [3, 20, 400, 1040, 1065]:
            await b.start(Mode.SHA256, SRC, len(msg), DST)
            await b.ctx.tick().repeat(delay)
            await b.write("ABORT", 1)
            await b.wait_idle()
            status = await b.read("STATUS")
            if field("STATUS", "ERROR", status):
                _expect_error(status, Cause.ABORTED, f"abort after {delay}")
        # Abort of a Keccak operation mid-stream, then a good one.
        b.put(SRC, msg)
        await b.start(Mode.SHAKE128, SRC, len(msg), DST, outlen=400)
        await b.ctx.tick().repeat(100)
        await b.write("ABORT", 1)
        await b.wait_idle()
        _expect_error(await b.read("STATUS"), Cause.ABORTED, "shake abort")
        got, _ = await b.hash(Mode.SHAKE128, msg, 400)
        assert got == hashlib.shake_128(msg).digest(400)
        # IRQ = DONE & the control page's CTRL.IRQ_EN (M owns the slot).
        irq_en = 1 << CONTROL_REGS["CTRL"].fields[0].offset
        assert not b.ctx.get(b.h.copro.irq)
        await b.cwrite("CTRL", irq_en)
        assert b.ctx.get(b.h.copro.irq)
        await b.write("STATUS", fields("STATUS", DONE=1))
        assert not b.ctx.get(b.h.copro.irq)
        await b.start(Mode.KECCAK256, SRC, 5, DST)
        assert not b.ctx.get(b.h.copro.irq)
        await b.wait_idle()
        assert b.ctx.get(b.h.copro.irq)
        await b.cwrite("CTRL", 0)
        assert not b.ctx.get(b.h.copro.irq)
    simulate(body)


def test_constant_time():
    rng = random.Random(99)

    async def body(b):
        for mode in MODE_PARAMS:
            for n in [0, 3, 64, 137, 500]:
                outlen = 200 if MODE_PARAMS[mode].out_words is None else 0
                seen = set()
                for _ in range(3):
                    _, cycles = await b.hash(mode, rng.randbytes(n), outlen)
                    seen.add(cycles)
                assert len(seen) == 1, f"{mode.name} length {n}: cycles {seen}"
    simulate(body)


@pytest.mark.parametrize("register", [False, True], ids=["direct", "request_register"])
def test_cycles_pinned(register):
    """CYCLES (START to DONE) of docs/hash.md's table, exactly: the filler's input register
    costs an operation with a message one cycle and an empty one none. Behind the pipelined
    SoC's request register (``register``) each descriptor's words come, or are acknowledged,
    one cycle later: one cycle more per descriptor, the message read's and the digest
    write's (2 with a message, 1 for an empty one), the same for every message."""
    expected = {(Mode.SHA256, 0): 97, (Mode.SHA256, 1): 102, (Mode.SHA256, 64): 168,
                (Mode.SHA256, 1024): 1158, (Mode.SHA3_256, 0): 73, (Mode.SHA3_256, 64): 78,
                (Mode.SHA3_256, 1024): 316}
    rng = random.Random(11)

    async def body(b):
        for (mode, n), cycles in expected.items():
            msg = rng.randbytes(n)
            got, took = await b.hash(mode, msg)
            assert got == reference(mode, msg), (mode, n)
            if register:
                cycles += 2 if n else 1
            assert took == cycles, (mode.name, n, took, cycles)
    simulate(body, request_register=register)


def test_dma_stalls():
    rng = random.Random(5)

    async def body(b):
        for mode in MODE_PARAMS:
            for n in [0, 70, 300]:
                msg = rng.randbytes(n)
                outlen = 180 if MODE_PARAMS[mode].out_words is None else 0
                got, _ = await b.hash(mode, msg, outlen)
                assert got == reference(mode, msg, outlen), f"{mode.name} length {n}"
    simulate(body, stall_pattern=lambda c: c % 3 == 0 or c % 7 == 0)


def test_c_header_matches_register_map():
    """firmware/include/gluon/hash.h repeats the MODE numbers: they must equal
    hdl/hash/registers.py's enum; its error codes are the CAUSE constants regs.h generates
    from the Cause enum (no number typed by hand)."""
    import re
    text = (Path(__file__).resolve().parent.parent / "firmware/include/gluon/hash.h").read_text()
    regs_h = (Path(__file__).resolve().parent.parent / "firmware/include/gluon/regs.h").read_text()
    for mode in Mode:
        if mode is Mode.NONE:
            continue
        m = re.search(rf"GLUON_HASH_{mode.name}\s*=\s*(\d+)", text)
        assert m and int(m.group(1)) == mode.value, mode
    for cause in Cause:
        if cause is Cause.NONE:
            continue
        assert re.search(rf"#define GLUON_HASH_E_{cause.name}\s+GLUON_HASH_STATUS_CAUSE_{cause.name}\s",
                         text), cause
        assert f"#define GLUON_HASH_STATUS_CAUSE_{cause.name} {cause.value}u\n" in regs_h, cause


# ---- end to end: the driver and firmware on the simulated SoC (Verilator) -------------------

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"
LCG_SEED = 0x00C0FFEE            # hash_test.c / hash_bench.c message bytes


def _lcg_bytes(n, seed=LCG_SEED):
    x, out = seed, bytearray()
    for _ in range(n):
        x = (1664525 * x + 1013904223) & 0xFFFF_FFFF
        out.append(x >> 24)
    return bytes(out)


def _run_firmware(tmp_path, prog, config_name="full"):
    """Build ``firmware/examples/<prog>.c`` (the SDK links the hash driver) and run it on the
    ``config_name`` SoC; returns (result, UART text)."""
    from gluon.firmware import cc
    from gluon.hdl.config import get_config
    from gluon.sim.verilator import run
    cfg = get_config(config_name)
    assert "hash" in cfg.coprocessors
    elf = cc.compile([FIRMWARE / "examples" / f"{prog}.c"], tmp_path / f"{prog}.elf", opt="-O2")
    res = run(elf, cfg, max_cycles=200_000_000)
    return res, res.output.decode(errors="replace")


AGG_MODES = {"SHA256": Mode.SHA256, "SHA3_256": Mode.SHA3_256, "SHA3_512": Mode.SHA3_512,
             "KECCAK256": Mode.KECCAK256, "SHAKE128": Mode.SHAKE128, "SHAKE256": Mode.SHAKE256}


# On 'compact-pipelined', the ULX3S-85F's default SoC (its model is shared with the modmul and
# matmul firmware tests); on 'full' in -m slow: the hash block is the same in both, and
# hash_bench.c runs the driver on 'full' in the default run.
@pytest.mark.parametrize("config_name", ["compact-pipelined",
                                         pytest.param("full", marks=pytest.mark.slow)])
def test_firmware_end_to_end(tmp_path, config_name):
    """hash_test.c on the SoC: every mode's aggregate digest of hardware digests equals
    hashlib's over the reference's (the same program on either configuration)."""
    res, out = _run_firmware(tmp_path, "hash_test", config_name)
    print(out)
    assert res.passed and "hash_test: PASS" in out, out
    msg = _lcg_bytes(2048)
    seen = set()
    for line in out.splitlines():
        if not line.startswith("agg "):
            continue
        _, name, count, digest = line.split()[:4]
        mode = AGG_MODES[name]
        outlen = 64 if MODE_PARAMS[mode].out_words is None else 0
        want = hashlib.sha256(b"".join(reference(mode, msg[:n], outlen)
                                       for n in range(int(count)))).hexdigest()
        assert digest == want, f"{name}: aggregate of {count} hardware digests differs"
        seen.add(mode)
    assert seen == set(AGG_MODES.values()), out


def test_firmware_benchmark(tmp_path):
    res, out = _run_firmware(tmp_path, "hash_bench")
    print(out)
    assert res.passed and "hash_bench: ok" in out, out


def test_init_wrong_max_descriptor_words():
    with pytest.raises(TypeError, match="must be an integer"):
        HashCoprocessor(max_descriptor_words="big")
    with pytest.raises(ValueError, match="1..65535"):
        HashCoprocessor(max_descriptor_words=0)
    with pytest.raises(ValueError, match="1..65535"):
        HashCoprocessor(max_descriptor_words=1 << 16)


def test_descriptor_splitting():
    """Messages and outputs longer than one descriptor (7 words here) are split."""
    rng = random.Random(8)

    async def body(b):
        for mode in MODE_PARAMS:
            for n in [27, 28, 29, 300]:
                msg = rng.randbytes(n)
                outlen = 100 if MODE_PARAMS[mode].out_words is None else 0
                got, _ = await b.hash(mode, msg, outlen)
                assert got == reference(mode, msg, outlen), f"{mode.name} length {n}"
        # A window refusal in the middle of a split message still ends with DMA.
        status, _ = await b.run(Mode.SHA256, RAM_BASE + 0x10_0000 - 40, 100, DST)
        _expect_error(status, Cause.DMA, "second descriptor outside the window")
    simulate(body, max_descriptor_words=7)
