"""MODMUL coprocessor with the real DMA engine and a RAM model, driven over its Wishbone slot:
SETMOD (derived N' and R² checked through TOMONT/FROMMONT), programs against Python integers
for secp256k1, BN254, BLS12-381 and a 768-bit modulus, a Montgomery-ladder modexp, the CMD
queue, every misuse cause, abort, and constant time of whole programs."""
import gc
import random
import re
from pathlib import Path

import pytest
from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, connect
from amaranth.sim import Simulator

from gluon.hdl.bus import WishboneSignature, RequestRegister
from gluon.hdl.coproctl import CONTROL_REGS
from gluon.hdl.dma import DMAEngine
from gluon.hdl.modmul import ModMulCoprocessor, OpCode, Op, Cause, encode, XIN_WAIT


REGS = ModMulCoprocessor.REGS
RAM_BASE = 0x8000_0000
RAM_SIZE = 0x4_0000
PROG = RAM_BASE + 0x100
DATA = RAM_BASE + 0x4000
BAD = RAM_BASE + 0x3_0000         # inside the DMA window, but the RAM answers with a bus error
TIMEOUT = 100_000

SECP256K1_P = 2**256 - 2**32 - 977
BN254_P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
BLS12_381_P = int("1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153"
                  "ffffb9feffffffffaaab", 16)

O = OpCode


def field(reg, name, value):
    f = next(f for f in REGS[reg].fields if f.name == name)
    return (value >> f.offset) & ((1 << f.width) - 1)


def mask(reg, name):
    f = next(f for f in REGS[reg].fields if f.name == name)
    return ((1 << f.width) - 1) << f.offset


W1C = mask("STATUS", "DONE") | mask("STATUS", "ERROR")     # clears DONE and ERROR


class RAM(wiring.Component):
    """RAM_SIZE bytes at RAM_BASE answering the next cycle; a bus error outside it and at BAD.
    An Amaranth memory rather than a Python process, so the simulator runs no Python code
    per cycle for it (the tests are simulation-bound)."""

    bus: In(WishboneSignature(addr_width=30))

    def __init__(self):
        super().__init__()
        self.mem = Memory(shape=32, depth=RAM_SIZE // 4, init=[])

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = self.mem
        rd, wr = mem.read_port(), mem.write_port()
        bus = self.bus
        req = bus.cyc & bus.stb
        ok = ((bus.adr >> (RAM_SIZE.bit_length() - 3)) == (RAM_BASE // RAM_SIZE)) & \
             ((bus.adr >> 6) != (BAD >> 8))
        m.d.comb += [rd.addr.eq(bus.adr), wr.addr.eq(bus.adr), wr.data.eq(bus.dat_w),
                     wr.en.eq(req & bus.we & ok), bus.dat_r.eq(rd.data)]
        m.d.sync += [bus.ack.eq(req & ok), bus.err.eq(req & ~ok)]
        return m


class Harness(Elaboratable):
    """The coprocessor wired to its own DMA engine, as the SoC does, and the DMA to RAM
    (``request_register``: through the pipelined SoC's request register, hdl/bus.py, dropped
    on the engine's flush or wipe as hdl/soc.py wires it)."""

    def __init__(self, *, request_register=False, **kw):
        self.copro = ModMulCoprocessor(**kw)
        self.dma = DMAEngine(latency=2 if request_register else 1)
        self.request = RequestRegister(addr_width=30, tags=1) if request_register else None
        self.ram = RAM()
        self.now = Signal(32)             # cycle counter, for hang detection
        self.deadline = Signal(32)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.now.eq(self.now + 1)
        m.submodules.copro = self.copro
        m.submodules.dma = self.dma
        m.submodules.ram = self.ram
        connect(m, self.copro.dma, self.dma.chan)
        connect(m, self.copro.dma_windows, self.dma.windows)
        connect(m, self.copro.dma_ctl, self.dma.ctl)
        if self.request is None:
            connect(m, self.dma.bus, self.ram.bus)
        else:
            m.submodules.request = req = self.request
            bus = self.dma.bus
            connect(m, bus, req.bus)
            connect(m, req.out, self.ram.bus)
            m.d.comb += [req.tag.eq(bus.cyc & bus.stb & ~bus.stall),
                         req.drop.eq(self.dma.ctl.flush | self.dma.ctl.wipe)]
        return m


class Bench:
    def __init__(self, ctx, h):
        self.ctx, self.h = ctx, h
        self.bus = h.copro.bus
        self.limbs = None

    def word(self, addr):
        return self.h.ram.mem.data[(addr - RAM_BASE) >> 2]

    async def _access(self, reg, we, value=0, *, ctl=False):
        ctx = self.ctx
        bus = self.h.copro.ctl_bus if ctl else self.bus
        offset = (CONTROL_REGS if ctl else REGS)[reg].offset
        ctx.set(bus.cyc, 1); ctx.set(bus.stb, 1); ctx.set(bus.we, we); ctx.set(bus.sel, 0xF)
        ctx.set(bus.adr, offset >> 2); ctx.set(bus.dat_w, value)
        await ctx.tick()
        ctx.set(bus.stb, 0); ctx.set(bus.we, 0)
        ack, err, data = ctx.get(bus.ack), ctx.get(bus.err), ctx.get(bus.dat_r)
        ctx.set(bus.cyc, 0)
        return ack, err, data

    async def read(self, reg):
        ack, err, data = await self._access(reg, 0)
        assert ack and not err, f"read {reg}: no ack"
        return data

    async def write(self, reg, value):
        ack, err, _ = await self._access(reg, 1, value)
        return ack and not err

    async def cwrite(self, reg, value):
        """A write to the slot's section of the (M-only) control page."""
        ack, err, _ = await self._access(reg, 1, value, ctl=True)
        assert ack and not err, f"control write {reg}: no ack"

    async def cread(self, reg):
        ack, err, data = await self._access(reg, 0, ctl=True)
        assert ack and not err, f"control read {reg}: no ack"
        return data

    async def window(self, i, base, limit, r=1, w=1):
        await self.cwrite(f"WIN{i}_BASE", base)
        await self.cwrite(f"WIN{i}_LIMIT", limit)
        await self.cwrite(f"WIN{i}_CTRL", r | w << 1)

    async def state(self, name):
        return field("STATE", name, await self.read("STATE"))

    def put(self, addr, value, limbs):
        for i in range(limbs):
            self.ctx.set(self.word(addr + 4 * i), (value >> (32 * i)) & 0xFFFF_FFFF)

    def get(self, addr, limbs):
        return sum(self.ctx.get(self.word(addr + 4 * i)) << (32 * i) for i in range(limbs))

    async def wait_idle(self):
        """Waits for BUSY to drop; a program running TIMEOUT cycles counts as a hang."""
        ctx, h = self.ctx, self.h
        ctx.set(h.deadline, ctx.get(h.now) + TIMEOUT)
        await ctx.tick().until(~h.copro.busy | (h.now == h.deadline))
        assert not ctx.get(h.copro.busy), "coprocessor hangs"

    async def start(self, ops, prog=PROG, data=DATA):
        for i, op in enumerate(ops):
            if RAM_BASE <= prog + 4 * i < RAM_BASE + RAM_SIZE:    # (some tests point outside)
                self.ctx.set(self.word(prog + 4 * i), op)
        await self.write("PROG_ADDR", prog)
        await self.write("PROG_LEN", len(ops))
        await self.write("DATA_BASE", data)
        await self.write("START", 0)

    async def run(self, ops, **kw):
        """Runs a program to its end; returns (STATUS, CYCLES)."""
        await self.start(ops, **kw)
        await self.wait_idle()
        return await self.read("STATUS"), await self.read("CYCLES")

    async def run_ok(self, ops, **kw):
        status, cycles = await self.run(ops, **kw)
        assert field("STATUS", "DONE", status) and not field("STATUS", "ERROR", status), \
            f"status {status:#x} (cause {field('STATUS', 'CAUSE', status)})"
        return cycles

    async def expect_error(self, ops, cause, pc=None, **kw):
        status, _ = await self.run(ops, **kw)
        assert field("STATUS", "DONE", status) and field("STATUS", "ERROR", status), hex(status)
        assert field("STATUS", "CAUSE", status) == cause.value, \
            f"cause {field('STATUS', 'CAUSE', status)}, expected {cause}"
        if pc is not None:
            assert await self.state("PC") == pc
        return status

    async def setmod(self, n, limbs, offset=0):
        self.put(DATA + 4 * offset, n, limbs)
        await self.write("LIMBS", limbs)
        cycles = await self.run_ok([encode(O.SETMOD, imm=offset)])
        self.limbs = limbs
        return cycles

    def value_at(self, index):
        """Word offset of the index-th value buffer after the modulus."""
        return self.limbs * (index + 1)

    async def compute(self, n, values, ops_fn, outputs):
        """Loads ``values`` into slots 0.., runs ``ops_fn(offset)`` and stores ``outputs``
        slots; returns their values and the cycle count."""
        L = self.limbs
        ops = []
        for i, v in enumerate(values):
            self.put(DATA + 4 * self.value_at(i), v, L)
            ops.append(encode(O.LOAD, d=i, imm=self.value_at(i)))
        ops += ops_fn()
        out_base = len(values)
        for j, slot in enumerate(outputs):
            ops.append(encode(O.STORE, a=slot, imm=self.value_at(out_base + j)))
        cycles = await self.run_ok(ops)
        return [self.get(DATA + 4 * self.value_at(out_base + j), L)
                for j in range(len(outputs))], cycles


async def abort_after(b, cycles):
    """Let the running operation go on for ``cycles``, ABORT it, wait until the block is idle;
    asserts it was busy and ends ABORTED. Returns STATUS."""
    await b.ctx.tick().repeat(cycles)
    assert b.ctx.get(b.h.copro.busy)
    await b.write("ABORT", 1)
    await b.wait_idle()
    status = await b.read("STATUS")
    assert field("STATUS", "CAUSE", status) == Cause.ABORTED.value
    return status


def simulate(body, **kw):
    h = Harness(**kw)
    sim = Simulator(h)
    sim.add_clock(1e-6)

    async def bench(ctx):
        b = Bench(ctx, h)
        await ctx.tick()
        await b.wait_idle()                 # the wipe that follows a reset
        await b.window(0, RAM_BASE, RAM_BASE + RAM_SIZE)
        await body(b)
    sim.add_testbench(bench)
    sim.run()


def arith_program():
    """Slots 0 (a), 1 (b) in → 2..9 out: a·b, a+b, a-b, b-a, a·R, a², copy, chained."""
    return [
        encode(O.TOMONT, d=10, a=0), encode(O.TOMONT, d=11, a=1),
        encode(O.MUL, d=12, a=10, b=11), encode(O.FROMMONT, d=2, a=12),      # a·b
        encode(O.ADD, d=3, a=0, b=1), encode(O.SUB, d=4, a=0, b=1),
        encode(O.SUB, d=5, a=1, b=0), encode(O.COPY, d=6, a=10),             # a·R
        encode(O.MUL, d=13, a=10, b=10), encode(O.FROMMONT, d=7, a=13),      # a²
        encode(O.COPY, d=8, a=0),
        encode(O.ADD, d=14, a=12, b=10), encode(O.MUL, d=14, a=14, b=14),    # in place
        encode(O.SUB, d=14, a=14, b=11), encode(O.FROMMONT, d=9, a=14),      # (ab+a)²-b
    ]


def arith_expected(a, b, n, limbs):
    r = 1 << (32 * limbs)
    return [a * b % n, (a + b) % n, (a - b) % n, (b - a) % n, a * r % n, a * a % n, a,
            ((a * b + a) ** 2 - b) % n]


def test_id_info_and_reset_state():
    async def body(b):
        assert await b.read("ID") == 0x4D4D_0002
        info = await b.read("INFO")
        assert [field("INFO", f, info) for f in ("MAX_LIMBS", "SLOTS", "LANES", "PROG_DEPTH")] \
            == [24, 32, 4, 512]
        status = await b.read("STATUS")
        assert status == 0, hex(status)
        assert not await b.write("ID", 0)            # read-only: bus error
        assert await b.read("QUEUE") == 0
    simulate(body)


@pytest.mark.parametrize("name,n", [("secp256k1_p", SECP256K1_P), ("bn254_p", BN254_P),
                                    ("bls12_381_p", BLS12_381_P)],
                         ids=["secp256k1_p", "bn254_p", "bls12_381_p"])
def test_programs_against_python(name, n):
    limbs = -(-n.bit_length() // 32)
    rng = random.Random(name)

    async def body(b):
        await b.setmod(n, limbs)
        assert await b.state("MODSET") and await b.state("ACTIVE_LIMBS") == limbs
        for a, c in [(rng.randrange(n), rng.randrange(n)), (0, n - 1), (n - 1, n - 1), (1, 0)]:
            got, _ = await b.compute(n, [a, c], arith_program, range(2, 10))
            assert got == arith_expected(a, c, n, limbs), (hex(a), hex(c))
    simulate(body)


def test_768_bit_modulus_and_setmod_time():
    rng = random.Random(768)
    n = rng.randrange(1 << 767, 1 << 768) | 1

    async def body(b):
        cycles = await b.setmod(n, 24)
        assert cycles < 20_000, cycles
        a, c = rng.randrange(n), rng.randrange(n)
        got, _ = await b.compute(n, [a, c], arith_program, range(2, 10))
        assert got == arith_expected(a, c, n, 24)
    simulate(body)


def test_small_moduli_and_width_change():
    """N = 3, a 33-bit N in 3 limbs, then a new SETMOD with another width clears the store."""
    async def body(b):
        for n, limbs in [(3, 1), ((1 << 32) + 15, 3), (0xFFFF_FFFB, 1)]:
            await b.setmod(n, limbs)
            for a, c in [(2, 2), (1, n - 1), (n // 3, n - 2)]:
                got, _ = await b.compute(n, [a, c], arith_program, range(2, 10))
                assert got == arith_expected(a, c, n, limbs)
        # After SETMOD every slot reads zero.
        await b.setmod(SECP256K1_P, 8)
        got, _ = await b.compute(SECP256K1_P, [], lambda: [], [0, 5, 31])
        assert got == [0, 0, 0]
    simulate(body)


def ladder_program(bits):
    """Montgomery ladder on slots 0 (R0 = 1·R) and 1 (R1 = x·R); slot indices depend on the
    exponent bits, the ops do not."""
    ops = []
    for bit in bits:
        ops.append(encode(O.MUL, d=1 - bit, a=0, b=1))
        ops.append(encode(O.MUL, d=bit, a=bit, b=bit))
    return ops


def test_modexp_ladder_constant_time():
    n = SECP256K1_P
    rng = random.Random(5)

    async def body(b):
        await b.setmod(n, 8)
        x = rng.randrange(n)
        results = []
        for e in (rng.getrandbits(64) | 1 << 63, (1 << 64) - 1, 1 << 63):
            bits = [int(c) for c in f"{e:064b}"]

            def ops():
                return [encode(O.TOMONT, d=0, a=2), encode(O.TOMONT, d=1, a=3)] + \
                    ladder_program(bits) + [encode(O.FROMMONT, d=4, a=0)]
            (got,), cycles = await b.compute(n, [0, 0, 1, x], ops, [4])
            assert got == pow(x, e, n)
            results.append(cycles)
        assert len(set(results)) == 1, results
        # 128 multiplies dominate: the program-level period of one 256-bit MUL.
        (got,), c2 = await b.compute(n, [0, 0, 1, x], lambda: [encode(O.MUL, d=5, a=3, b=3)] * 65,
                                     [5])
        (got,), c1 = await b.compute(n, [0, 0, 1, x], lambda: [encode(O.MUL, d=5, a=3, b=3)], [5])
        per_mul = (c2 - c1) / 64
        assert per_mul <= 32, per_mul
    simulate(body)


@pytest.mark.parametrize("register", [False, True], ids=["direct", "request_register"])
def test_constant_time_programs(register):
    n = BN254_P
    rng = random.Random(11)

    async def body(b):
        await b.setmod(n, 8)
        seen = set()
        for a, c in [(0, 0), (n - 1, n - 1), (1, n - 1)] + \
                [(rng.randrange(n), rng.randrange(n)) for _ in range(4)]:
            _, cycles = await b.compute(n, [a, c], arith_program, range(2, 10))
            seen.add(cycles)
        assert len(seen) == 1, seen
    simulate(body, request_register=register)


def test_queue():
    n = SECP256K1_P

    async def body(b):
        await b.setmod(n, 8)
        b.put(DATA + 32, 7, 8)
        b.put(DATA + 64, n - 2, 8)
        ops = [encode(O.LOAD, d=0, imm=8), encode(O.LOAD, d=1, imm=16),
               encode(O.ADD, d=2, a=0, b=1), encode(O.STORE, a=2, imm=24)]
        await b.write("DATA_BASE", DATA)
        for op in ops:
            assert await b.write("CMD", op)
        assert await b.read("QUEUE") == 4
        await b.write("START", 1)
        await b.wait_idle()
        status = await b.read("STATUS")
        assert field("STATUS", "DONE", status) and not field("STATUS", "ERROR", status)
        assert b.get(DATA + 96, 8) == 5
        assert await b.read("QUEUE") == 0
        # START.QUEUE with nothing queued ends at once.
        await b.write("START", Op.QUEUE.value)
        await b.wait_idle()
        status = await b.read("STATUS")
        assert field("STATUS", "ERROR", status) and \
            field("STATUS", "CAUSE", status) == Cause.LENGTH.value
        assert not field("STATUS", "BUSY", status)
    simulate(body)


def test_misuse_ends_with_defined_errors():
    n = (1 << 63) + 25                     # odd, two limbs

    async def body(b):
        b.limbs = 2
        # Nothing before a modulus.
        await b.expect_error([encode(O.ADD, d=0, a=0, b=0)], Cause.NOMOD, pc=0)
        await b.write("LIMBS", 0)
        await b.expect_error([encode(O.SETMOD)], Cause.LIMBS)
        await b.write("LIMBS", 25)
        await b.expect_error([encode(O.SETMOD)], Cause.LIMBS)
        for bad in (n - 1, 1, 0):           # even, too small
            b.put(DATA, bad, 2)
            await b.write("LIMBS", 2)
            await b.expect_error([encode(O.SETMOD)], Cause.MODULUS)
            assert not await b.state("MODSET")
        await b.expect_error([encode(O.SETMOD, imm=0)], Cause.DMA, data=RAM_BASE + RAM_SIZE)
        await b.setmod(n, 2)
        # LOAD of a value >= N: rejected, slot unchanged.
        b.put(DATA + 8, 1234, 2)
        b.put(DATA + 16, n, 2)
        b.put(DATA + 24, n + 5, 2)
        await b.run_ok([encode(O.LOAD, d=3, imm=2)])
        await b.expect_error([encode(O.COPY, d=0, a=0), encode(O.LOAD, d=3, imm=4)], Cause.RANGE, pc=1)
        await b.expect_error([encode(O.LOAD, d=3, imm=6)], Cause.RANGE)
        await b.run_ok([encode(O.STORE, a=3, imm=10)])
        assert b.get(DATA + 40, 2) == 1234
        # Slots, opcodes.
        await b.expect_error([encode(O.ADD, d=32, a=0, b=0)], Cause.SLOT)
        await b.expect_error([encode(O.MUL, d=0, a=0, b=63)], Cause.SLOT)
        await b.expect_error([encode(O.STORE, a=40, imm=0)], Cause.SLOT)
        await b.expect_error([encode(O.COPY, d=1, a=0), 0], Cause.OPCODE, pc=1)
        await b.expect_error([15], Cause.OPCODE)
        # DMA refused (outside the window) and a bus error during the transfer.
        await b.expect_error([encode(O.LOAD, d=0, imm=0)], Cause.DMA, data=RAM_BASE + RAM_SIZE - 4)
        await b.expect_error([encode(O.STORE, a=0, imm=0)], Cause.DMA, data=RAM_BASE + RAM_SIZE)
        await b.expect_error([encode(O.LOAD, d=0, imm=0)], Cause.DMA, data=BAD - 4)
        await b.expect_error([encode(O.STORE, a=0, imm=0)], Cause.DMA, data=BAD - 4)
        await b.expect_error([encode(O.COPY)], Cause.DMA, prog=RAM_BASE + RAM_SIZE)
        await b.expect_error([encode(O.COPY)] * 4, Cause.DMA, prog=BAD - 8)
        # Program lengths.
        await b.write("PROG_LEN", 0)
        await b.write("START", Op.PROG.value)
        await b.wait_idle()
        status = await b.read("STATUS")
        assert field("STATUS", "CAUSE", status) == Cause.LENGTH.value and not field("STATUS", "BUSY", status)
        await b.write("PROG_LEN", 513)
        await b.write("START", Op.PROG.value)
        await b.wait_idle()
        assert field("STATUS", "CAUSE", await b.read("STATUS")) == Cause.LENGTH.value
        await b.write("START", 3)                           # no such START op
        await b.wait_idle()
        assert field("STATUS", "CAUSE", await b.read("STATUS")) == Cause.OPCODE.value
        # Writes while busy are refused; the running program still ends well.
        b.put(DATA + 8, 5, 2)
        await b.start([encode(O.LOAD, d=0, imm=2), encode(O.MUL, d=1, a=0, b=0)] +
                      [encode(O.MUL, d=1, a=1, b=1)] * 19 +
                      [encode(O.STORE, a=1, imm=12)])
        await b.ctx.tick().repeat(30)
        await b.write("LIMBS", 9)
        await b.write("DATA_BASE", 0)
        await b.write("CMD", 0)
        await b.write("START", 0)
        await b.wait_idle()
        # START while busy: refused by the slot (STATUS), the program goes on; the block's
        # registers: refused (STATE).
        status = await b.read("STATUS")
        assert field("STATUS", "DONE", status) and field("STATUS", "ERROR", status)
        assert field("STATUS", "CAUSE", status) == Cause.BUSY.value
        assert await b.state("REFUSED") and await b.state("REFUSED_CAUSE") == Cause.BUSY.value
        await b.write("STATE", mask("STATE", "REFUSED"))
        assert not await b.state("REFUSED") and await b.state("REFUSED_CAUSE") == 0
        assert await b.read("LIMBS") == 2 and await b.read("DATA_BASE") == DATA
        assert await b.read("QUEUE") == 0
        r_inv = pow(1 << 64, -1, n)
        assert b.get(DATA + 48, 2) == pow(5, 2**20, n) * pow(r_inv, 2**20 - 1, n) % n
        # Clearing ERROR by writing 1.
        await b.write("STATUS", W1C)
        assert (await b.read("STATUS")) & 0b110 == 0
        # ABORT ends a long program with ABORTED, the DMA drained, and no hang.
        await b.start([encode(O.MUL, d=1, a=0, b=0)] * 100)
        status = await abort_after(b, 50)
        assert await b.state("MODSET")
        await b.write("ABORT", 1)              # idle: no effect
        assert field("STATUS", "CAUSE", await b.read("STATUS")) == Cause.ABORTED.value
        # Abort while a STORE's DMA runs.
        await b.start([encode(O.STORE, a=0, imm=20)] * 3)
        await b.ctx.tick().repeat(12)
        await b.write("ABORT", 1)
        await b.wait_idle()
        assert not b.ctx.get(b.h.dma.chan.busy)
        assert field("STATUS", "CAUSE", await b.read("STATUS")) == Cause.ABORTED.value
        # Interrupt: DONE & the control page's CTRL.IRQ_EN.
        await b.cwrite("CTRL", 1)
        await b.run_ok([encode(O.COPY, d=1, a=0)])
        assert b.ctx.get(b.h.copro.irq)
        await b.write("STATUS", 0b010)
        assert not b.ctx.get(b.h.copro.irq)
        # Still fully working.
        got, _ = await b.compute(n, [3, n - 1], arith_program, range(2, 10))
        assert got == arith_expected(3, n - 1, n, 2)
    simulate(body)


@pytest.mark.filterwarnings("ignore::amaranth.hdl._ir.UnusedElaboratable")
@pytest.mark.parametrize("kw", [{"slots": 0}, {"slots": 33}, {"max_limbs": 0},
                                {"prog_depth": 100}, {"lanes": 3}])
def test_init_wrong_parameters(kw):
    with pytest.raises(ValueError):
        ModMulCoprocessor(**kw)
    gc.collect()        # the half-built object warns "never used" when collected: do it here


def test_narrow_configuration():
    """One multiplier per engine (12 DSP), 8 limbs, 8 slots: same results, same interface."""
    n = SECP256K1_P

    async def body(b):
        await b.setmod(n, 8)
        got, _ = await b.compute(n, [5, n - 7], arith_program, [2, 3, 4, 5, 6, 7])
        assert got == arith_expected(5, n - 7, n, 8)[:6]
        await b.expect_error([encode(O.COPY, d=16, a=0)], Cause.SLOT)
        # The register path: FIFOs of 16 words (two 8-limb values), one limb per block.
        assert field("XFIFO", "DEPTH", await b.read("XFIFO")) == 16
        for x, y in [(n - 1, n - 2), (3, 1 << 200)]:
            await push(b, x, 8)
            await push(b, y, 8)
            status, _ = await run_queued(b, mulmod_ops())
            assert not field("STATUS", "ERROR", status), hex(status)
            assert await pull(b, 8) == x * y % n
    simulate(body, lanes=1, max_limbs=8, slots=16, prog_depth=64)


# ---- the C header agrees with the hardware ------------------------------------------------------

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"


def test_c_header_matches_hardware():
    text = (FIRMWARE / "include" / "gluon" / "modmul.h").read_text()
    regs_h = (FIRMWARE / "include" / "gluon" / "regs.h").read_text()
    for cause in Cause:
        if cause is Cause.NONE:
            continue
        assert re.search(rf"#define GLUON_MODMUL_E_{cause.name}\s+GLUON_MODMUL_STATUS_CAUSE_{cause.name}\s",
                         text), cause
        assert f"#define GLUON_MODMUL_STATUS_CAUSE_{cause.name} {cause.value}u\n" in regs_h, cause
    for op in OpCode:
        m = re.search(rf"#define GLUON_MODMUL_OP_{op.name}\s+(\d+)", text)
        assert m and int(m.group(1)) == op.value, op
    m = re.search(r"#define GLUON_MODMUL_OP\(opc, d, a, tail\) \\\s*(.*)", text)
    assert m and "<< 4" in m.group(1) and "<< 10" in m.group(1) and "<< 16" in m.group(1)


def test_doc_tables_match_enums():
    """docs/modmul.md's START.OP and cause tables list the enums' members with their values."""
    text = (FIRMWARE.parent / "docs" / "modmul.md").read_text()
    causes = dict(re.findall(r"^\| (\d+) \| `([A-Z]+)` \|", text[text.index("## Error causes"):], re.M))
    assert {name: int(v) for v, name in causes.items()} == {c.name: c.value for c in Cause}
    ops = re.findall(r"^\| (\d) \| `([A-Z]+)` \| ", text[text.index("| `START.OP` |"):text.index("## Error causes")], re.M)
    assert {name: int(v) for v, name in ops} == {o.name: o.value for o in Op}


# ---- end to end: driver and firmware on the simulated SoC (Verilator) -----------------------------

DRIVER = [FIRMWARE / "drivers" / name for name in ("modmul.c", "mont_sw.c")]


def _run_firmware(tmp_path, prog, config_name="full"):
    from gluon.firmware import cc
    from gluon.hdl.config import get_config
    from gluon.sim.verilator import run
    elf = cc.compile([FIRMWARE / "examples" / f"{prog}.c", *DRIVER], tmp_path / f"{prog}.elf",
                     opt="-O2", extra_flags=["-Wall", "-Wextra", "-Werror"])
    res = run(elf, get_config(config_name), max_cycles=50_000_000)
    out = res.output.decode(errors="replace")
    print(out)
    return res, out


# 'compact-pipelined', the ULX3S-85F's default SoC, in the default run (its model, built once
# for the hash, modmul and matmul firmware tests: ~55 CPU-s); 'compact' (its own model, the same
# blocks with the unpipelined core) in -m slow.
@pytest.mark.parametrize("config_name", ["full", "compact-pipelined",
                                         pytest.param("compact", marks=pytest.mark.slow)])
def test_firmware_end_to_end(tmp_path, config_name):
    """modmul_test.c on the SoC; also on 'compact-pipelined' (a 2-lane Montgomery unit and the
    pipelined core: the ULX3S-85F's SoC) and 'compact': the same program, unchanged (the lane
    count and the core change only the cycles)."""
    from gluon.hdl.config import get_config
    assert get_config(config_name).params("modmul") == ({} if config_name == "full" else
                                                        {"lanes": 2})
    res, out = _run_firmware(tmp_path, "modmul_test", config_name)
    assert res.passed and "modmul_test: PASS" in out, out
    line = next(l for l in out.splitlines() if l.startswith("modexp "))
    x, e, r = (int(v, 16) for v in line.split()[1:4])
    assert r == pow(x, e, SECP256K1_P) and e.bit_length() > 200


def test_firmware_benchmark(tmp_path):
    res, out = _run_firmware(tmp_path, "modmul_bench")
    assert res.passed and "modmul_bench: ok" in out, out
    # the target, from the cycle counts the program prints (exact in simulation):
    # one 256-bit mulmod call (operands in RAM, result to RAM) >= 25x the software one,
    # the first call (which also sends the driver's program) included
    m = re.search(r"mulmod256 sw (\d+) hw (\d+) \(engine \d+; first call (\d+)\)", out)
    assert m, out
    sw, hw, first = map(int, m.groups())
    assert sw / hw >= 25 and sw / first >= 25, (sw, hw, first)


# ---- the register path: XIN → LOADX, STOREX → XOUT, programs pushed through CMD -----------------

async def push(b, value, limbs):
    for i in range(limbs):
        assert await b.write("XIN", (value >> (32 * i)) & 0xFFFF_FFFF)


async def pull(b, limbs):
    value = 0
    for i in range(limbs):
        value |= await b.read("XOUT") << (32 * i)
    return value


async def run_queued(b, ops):
    """Pushes ``ops`` through CMD, runs them (START.QUEUE); returns (STATUS, CYCLES)."""
    for op in ops:
        assert await b.write("CMD", op)
    await b.write("START", 1)
    await b.wait_idle()
    return await b.read("STATUS"), await b.read("CYCLES")


def mulmod_ops():
    """a·b mod N in plain form from XIN, result to XOUT (the driver's gluon_modmul_mulmod)."""
    return [encode(O.LOADX, d=0), encode(O.LOADX, d=1), encode(O.TOMONT, d=2, a=0),
            encode(O.MUL, d=3, a=2, b=1), encode(O.STOREX, a=3)]


@pytest.mark.parametrize("name,n", [("secp256k1_p", SECP256K1_P), ("bls12_381_p", BLS12_381_P),
                                    ("768", (1 << 767) + 1234567), ("64", (1 << 64) - 59)],
                         ids=["secp256k1_p", "bls12_381_p", "768", "64"])
def test_register_path_against_python(name, n):
    """LOADX/STOREX through the FIFOs against Python integers, edge operands included, with
    cycles independent of the values."""
    limbs = -(-n.bit_length() // 32)
    rng = random.Random(name)
    r = 1 << (32 * limbs)

    async def body(b):
        await b.setmod(n, limbs)
        seen = set()
        for a, c in [(0, 0), (n - 1, n - 1), (1, r % n), (rng.randrange(n), rng.randrange(n)),
                     (rng.randrange(n), rng.randrange(n))]:
            await push(b, a, limbs)
            await push(b, c, limbs)
            assert field("XFIFO", "IN_LEVEL", await b.read("XFIFO")) == 2 * limbs
            status, cycles = await run_queued(b, mulmod_ops())
            assert field("STATUS", "DONE", status) and not field("STATUS", "ERROR", status), \
                hex(status)
            xf = await b.read("XFIFO")
            assert field("XFIFO", "IN_LEVEL", xf) == 0 and field("XFIFO", "OUT_LEVEL", xf) == limbs
            assert await pull(b, limbs) == a * c % n, (hex(a), hex(c))
            seen.add(cycles)
        assert len(seen) == 1, seen
        # STOREX of a DMA-loaded value and LOADX of a value read back by STORE agree.
        b.put(DATA + 4 * limbs, n - 2, limbs)
        await push(b, 5, limbs)
        status, _ = await run_queued(b, [encode(O.LOAD, d=4, imm=limbs), encode(O.STOREX, a=4),
                                         encode(O.LOADX, d=5),
                                         encode(O.STORE, a=5, imm=2 * limbs)])
        assert not field("STATUS", "ERROR", status)
        assert await pull(b, limbs) == n - 2 and b.get(DATA + 8 * limbs, limbs) == 5
    simulate(body)


@pytest.mark.parametrize("register", [False, True], ids=["direct", "request_register"])
def test_op_cycles_pinned(register):
    """The period of each op inside a program at L = 8 (docs/modmul.md's table), the queued
    and DMA-fetched start-up and SETMOD, as exact cycle counts: the op word's register after
    the program memory costs each program one cycle from START to DONE and no op's period.
    Behind the pipelined SoC's request register (``register``) every DMA descriptor waited
    for costs one cycle: LOAD and STORE one each, SETMOD two, a DMA-fetched program one."""
    rng = random.Random(8)
    n = rng.randrange(1 << 255, 1 << 256) | 1
    L = 8
    r = int(register)
    period = {"MUL": 31, "ADD": 8, "COPY": 8, "LOAD": 19 + r, "STORE": 17 + r, "LOADX": 14,
              "STOREX": 11}

    async def body(b):
        assert await b.setmod(n, L) == 3044 + 2 * r
        for i in range(2):
            b.put(DATA + 4 * b.value_at(i), rng.randrange(n), L)
        base = [encode(O.LOAD, d=i, imm=b.value_at(i)) for i in range(2)]
        await b.run_ok(base)
        ops = {"MUL": encode(O.MUL, d=2, a=0, b=1), "ADD": encode(O.ADD, d=2, a=0, b=1),
               "COPY": encode(O.COPY, d=2, a=0), "LOAD": encode(O.LOAD, d=2, imm=b.value_at(0)),
               "STORE": encode(O.STORE, a=0, imm=b.value_at(3)), "LOADX": encode(O.LOADX, d=2),
               "STOREX": encode(O.STOREX, a=0)}
        for name, op in ops.items():
            seen = []
            for k in (1, 2):
                if name == "LOADX":
                    for _ in range(k):
                        await push(b, rng.randrange(n), L)
                status, cycles = await run_queued(b, [op] * k)
                assert field("STATUS", "DONE", status) and not field("STATUS", "ERROR", status), \
                    (name, k, hex(status))
                if name == "STOREX":
                    await b.write("XFIFO", mask("XFIFO", "CLEAR_OUT"))
                seen.append(cycles)
            assert seen[1] - seen[0] == period[name], (name, seen)
            # A queued program: 2 cycles of start-up and end, 1 for the op word's register.
            assert seen[0] == period[name] + 2, (name, seen)
        cycles = await b.run_ok(base + [ops["MUL"]] * 20 + [ops["STORE"]])
        # the program's fetch, two LOADs and a STORE: four descriptors
        assert cycles == 706 + 4 * r, cycles
    simulate(body, request_register=register)


def test_load_range_check_at_every_limb():
    """LOAD and LOADX accept x exactly when x < N, for x one below and one above N in each limb
    (the check compares every word with N's limb of the same index: its limb is read a word
    ahead, so a misaligned limb would pass some of these)."""
    rng = random.Random(5)
    L = 5
    n = rng.randrange(1 << (32 * L - 1), 1 << (32 * L)) | 1

    async def body(b):
        await b.setmod(n, L)
        cases = [n - 1, n, n + 1, 0]
        for i in range(L):
            cases += [n - (1 << (32 * i)), n + (1 << (32 * i))]
        cases = [x for x in cases if 0 <= x < 1 << (32 * L)]
        for x in cases:
            b.put(DATA, x, L)
            status, _ = await b.run([encode(O.LOAD, d=1, imm=0)])
            assert field("STATUS", "ERROR", status) == (x >= n), (hex(x), hex(status))
            await push(b, x, L)
            status, _ = await run_queued(b, [encode(O.LOADX, d=1)])
            assert field("STATUS", "ERROR", status) == (x >= n), ("LOADX", hex(x), hex(status))
            if x < n:
                status, _ = await run_queued(b, [encode(O.STOREX, a=1)])
                assert await pull(b, L) == x
    simulate(body)


def test_register_path_timing_and_misuse():
    n = SECP256K1_P

    async def body(b):
        await b.write("LIMBS", 8)
        await push(b, 3, 8)
        # Before a modulus: NOMOD (and the failing program empties XIN).
        status, _ = await run_queued(b, [encode(O.LOADX, d=0)])
        assert field("STATUS", "CAUSE", status) == Cause.NOMOD.value
        assert field("XFIFO", "IN_LEVEL", await b.read("XFIFO")) == 0
        await b.setmod(n, 8)
        xf = await b.read("XFIFO")
        assert field("XFIFO", "DEPTH", xf) == 64
        # Too few words: the LOADX waits XIN_WAIT cycles for them, then fails with FIFO.
        await push(b, 3, 7)
        status, cycles = await run_queued(b, [encode(O.COPY, d=1, a=1), encode(O.LOADX, d=0)])
        assert field("STATUS", "CAUSE", status) == Cause.FIFO.value
        assert await b.state("PC") == 1
        assert XIN_WAIT <= cycles <= XIN_WAIT + 20, cycles
        # ABORT ends a LOADX waiting for its words.
        await push(b, 3, 5)
        await b.write("CMD", encode(O.LOADX, d=0))
        await b.write("START", 1)
        status = await abort_after(b, 50)
        assert field("XFIFO", "IN_LEVEL", await b.read("XFIFO")) == 0
        # Words written after START (as the driver does): taken as they arrive.
        for op in mulmod_ops():
            await b.write("CMD", op)
        await b.write("START", 1)
        await push(b, 1111, 8)
        await b.ctx.tick().repeat(40)
        await push(b, n - 3, 8)
        await b.wait_idle()
        status = await b.read("STATUS")
        assert not field("STATUS", "ERROR", status), hex(status)
        assert await pull(b, 8) == 1111 * (n - 3) % n
        # x >= N: RANGE, slot unchanged; the remaining words are dropped.
        await push(b, 77, 8)
        assert not field("STATUS", "ERROR", (await run_queued(b, [encode(O.LOADX, d=0)]))[0])
        await push(b, n, 8)
        await push(b, 5, 8)
        status, _ = await run_queued(b, [encode(O.LOADX, d=0), encode(O.LOADX, d=1)])
        assert field("STATUS", "CAUSE", status) == Cause.RANGE.value and \
            await b.state("PC") == 0
        assert field("XFIFO", "IN_LEVEL", await b.read("XFIFO")) == 0
        status, _ = await run_queued(b, [encode(O.STOREX, a=0)])
        assert await pull(b, 8) == 77
        # XOUT read empty, XIN written full: refused with FIFO, no hang, no bus error.
        await b.write("STATUS", W1C)
        assert await b.read("XOUT") == 0
        assert await b.state("REFUSED") and await b.state("REFUSED_CAUSE") == Cause.FIFO.value
        assert not field("STATUS", "ERROR", await b.read("STATUS"))
        await b.write("STATE", mask("STATE", "REFUSED"))
        for i in range(64):
            assert await b.write("XIN", i)
        assert not await b.state("REFUSED")
        await b.write("XIN", 99)
        assert await b.state("REFUSED_CAUSE") == Cause.FIFO.value
        await b.write("XFIFO", 1 << 24)
        assert field("XFIFO", "IN_LEVEL", await b.read("XFIFO")) == 0
        # STOREX with no room: FIFO.
        await b.write("STATUS", W1C)
        status, _ = await run_queued(b, [encode(O.STOREX, a=0)] * 9)
        assert field("STATUS", "CAUSE", status) == Cause.FIFO.value and \
            await b.state("PC") == 8
        assert field("XFIFO", "OUT_LEVEL", await b.read("XFIFO")) == 64
        await b.write("XFIFO", 1 << 25)
        assert field("XFIFO", "OUT_LEVEL", await b.read("XFIFO")) == 0
        # Clearing while busy is refused; XIN accepts words while a program runs.
        await push(b, 9, 8)
        for op in [encode(O.MUL, d=2, a=0, b=0)] * 4 + [encode(O.LOADX, d=3), encode(O.STOREX, a=3)]:
            await b.write("CMD", op)
        await b.write("START", 1)
        await b.write("STATE", mask("STATE", "REFUSED"))
        await b.write("XFIFO", 3 << 24)
        await b.wait_idle()
        assert await b.state("REFUSED_CAUSE") == Cause.BUSY.value
        assert not field("STATUS", "ERROR", await b.read("STATUS"))
        assert await pull(b, 8) == 9
        # START.AGAIN re-runs the last queued program; a CMD write or a DMA program ends that.
        await b.write("STATUS", W1C)
        for op in mulmod_ops():
            await b.write("CMD", op)
        await push(b, 3, 8)
        await push(b, 4, 8)
        await b.write("START", 1)
        await b.wait_idle()
        assert await pull(b, 8) == 12
        for x, y in [(5, 6), (n - 1, n - 2)]:
            await push(b, x, 8)
            await b.write("START", 2)
            await push(b, y, 8)
            await b.wait_idle()
            assert not field("STATUS", "ERROR", await b.read("STATUS"))
            assert await pull(b, 8) == x * y % n
        await b.write("CMD", encode(O.COPY, d=1, a=1))
        await b.write("START", 2)
        await b.wait_idle()
        status = await b.read("STATUS")
        assert field("STATUS", "CAUSE", status) == Cause.LENGTH.value and \
            not field("STATUS", "BUSY", status)
        await b.write("START", 1)                   # runs the COPY
        await b.wait_idle()
        await b.run_ok([encode(O.COPY, d=1, a=1)])  # a DMA program replaces it
        await b.write("START", 2)
        await b.wait_idle()
        assert field("STATUS", "CAUSE", await b.read("STATUS")) == Cause.LENGTH.value
        # Cycle figures of the register path (8 limbs), docs/modmul.md.
        await b.write("STATUS", W1C)
        await push(b, 1234, 8)
        await push(b, 5678, 8)
        status, cycles = await run_queued(b, mulmod_ops())
        assert not field("STATUS", "ERROR", status)
        assert await pull(b, 8) == 1234 * 5678 % n
        print("mulmod program (LOADX, LOADX, TOMONT, MUL, STOREX):", cycles, "cycles")
        status, one_mul = await run_queued(b, [encode(O.MUL, d=3, a=2, b=1)])
        print("one queued MUL:", one_mul, "cycles")
        assert one_mul <= 34, one_mul
    simulate(body)


def test_register_path_fifo_against_a_deque():
    """The XIN/XOUT FIFO alone (amaranth's SyncFIFOBuffered, emptied by a reset as the
    coprocessor builds it): random pushes, pops and clears against collections.deque."""
    from collections import deque
    from amaranth.lib.fifo import SyncFIFOBuffered

    class Clearable(Elaboratable):
        def __init__(self):
            self.fifo, self.clear = SyncFIFOBuffered(width=32, depth=8), Signal()

        def elaborate(self, platform):
            m = Module()
            m.submodules.fifo = ResetInserter(self.clear)(self.fifo)
            return m

    top = Clearable()
    dut = top.fifo
    dut.clear = top.clear
    sim = Simulator(top)
    sim.add_clock(1e-6)
    rng = random.Random(8)

    async def bench(ctx):
        ref = deque()
        seen_full = False
        for step in range(600):
            w_en, r_en, clear = rng.random() < 0.55, rng.random() < 0.45, rng.random() < 0.02
            value = rng.getrandbits(32)
            assert ctx.get(dut.level) == len(ref), step
            if len(ref) < 7:
                assert ctx.get(dut.w_rdy), step
            if len(ref) == 8:
                assert not ctx.get(dut.w_rdy), step
            if ctx.get(dut.r_rdy):
                assert ctx.get(dut.r_data) == ref[0], step
            ctx.set(dut.w_en, w_en); ctx.set(dut.w_data, value)
            ctx.set(dut.r_en, r_en); ctx.set(dut.clear, clear)
            pushed = w_en and ctx.get(dut.w_rdy)
            popped = r_en and ctx.get(dut.r_rdy)
            await ctx.tick()
            if popped:
                ref.popleft()
            if pushed:
                ref.append(value)
            if clear:
                ref.clear()
            seen_full = seen_full or len(ref) == 8
        assert seen_full
    sim.add_testbench(bench)
    sim.run()
