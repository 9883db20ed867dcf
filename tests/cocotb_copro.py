"""cocotb bench of a coprocessor on the slot contract (hdl/coproctl.py), on its Verilog: the
block with its own DMA engine (cocotb_tops.CoproBenchTop), driven through its slot page and its
control section by pipelined Wishbone initiators, DMA served from a memory model.

Every register name, field, operation and cause comes from the block's declarations
(``REGS``, ``CONTROL_REGS``, the ``Op`` and ``Cause`` enums of its control component): none is
typed here. ``GLUON_COPRO`` names the block (a key of hdl/config.py's COPROCESSORS).

The contract, for any block (test ``contract``):
* after reset the slot wipes itself: STATUS.BUSY and the control STATUS.WIPING until it
  ends; a START meanwhile is refused with ERROR, CAUSE = WIPING;
* ID reads the block's KIND and VERSION; a write to a read-only register and a read of an
  offset no register occupies answer ERR (never a hang);
* an unknown operation is refused (ERROR with a cause other than NONE);
* CTRL.WIPE: BUSY until the wipe ends, START refused with WIPING meanwhile, idle afterwards.

A block's operations (test ``random_ops``: the hash here, MODMUL in cocotb_modmul.py, MATMUL in
cocotb_matmul.py; ``GLUON_COPRO_PARAMS`` gives the block's parameters as JSON) run at random
against independent references (hashlib and pycryptodome, Python integers, numpy), with the error
paths: every cause the block declares, a descriptor outside the slot's windows (ERROR,
CAUSE = DMA, memory untouched), ABORT at a random point (CAUSE = ABORTED, no memory write
after it), START while busy (refused with BUSY, the running operation finishes right), and
the interrupt (``irq`` with DONE only when CTRL.IRQ_EN is set; DONE write-1-to-clear).
Coverage: operation x cause x abort point.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from gluon.hdl.config import coprocessor_class
from gluon.hdl.coproctl import CONTROL_REGS
from cocotb_wb import Initiator, Target, Op, Coverage, run_cycles, merge


class RegMap:
    """Names to offsets and fields, from a :class:`gluon.hdl.regs.RegisterMap`."""

    def __init__(self, regmap):
        self.map = regmap

    def offset(self, name):
        return self.map[name].offset

    def pack(self, name, **fields):
        reg = self.map[name]
        v = 0
        for f in reg.fields:
            if f.name in fields:
                val = fields.pop(f.name)
                val = getattr(val, "value", val)
                assert 0 <= val < 1 << f.width, (name, f.name, val)
                v |= val << f.offset
        assert not fields, f"{name} has no fields {list(fields)}"
        return v

    def unpack(self, name, value):
        return {f.name: value >> f.offset & ((1 << f.width) - 1) for f in self.map[name].fields}

    def unmapped_offset(self, page_bytes):
        used = {r.offset for r in self.map}
        return next(o for o in range(page_bytes - 4, 0, -4) if o not in used)


class Memory:
    """Byte-addressed memory behind the DMA engine's bus: ``size`` bytes from 0."""

    def __init__(self, size, rng):
        self.data = bytearray(rng.getrandbits(8) for _ in range(size))
        self.writes = []        # (cycle, byte address) of each write

    def serve(self, we, word, dat, sel, cycle):
        a = word << 2
        if a + 4 > len(self.data):
            return False, None
        old = int.from_bytes(self.data[a:a + 4], "little")
        if we:
            self.data[a:a + 4] = merge(old, dat, sel).to_bytes(4, "little")
            self.writes.append((cycle, a))
            return True, None
        return True, old


class CoproBench:
    def __init__(self, dut, name, rng):
        self.dut, self.rng = dut, rng
        # the block's parameters (the same as the bench top's): GLUON_COPRO_PARAMS, JSON
        params = json.loads(os.environ.get("GLUON_COPRO_PARAMS", "{}"))
        self.block = coprocessor_class(name)(**params)
        self.ctl = self.block.ctl
        self.regs = RegMap(self.block.REGS)
        self.cregs = RegMap(CONTROL_REGS)
        self.Op, self.Cause = self.ctl.op_enum, self.ctl.cause_enum
        self.mem = Memory(64 * 1024, rng)
        self.slot = Initiator(dut, "bus", rng, gap_prob=0.0, timeout=64)
        self.control = Initiator(dut, "ctl_bus", rng, gap_prob=0.0, timeout=64)
        self.target = Target(dut, "mem", rng, self.mem.serve, stall_prob=0.2,
                             latency=lambda: rng.choice([1, 1, 2, 4]))
        self.models = [self.target, self.slot, self.control]
        self.cycle = 0

    async def reset(self):
        Clock(self.dut.clk, 10, unit="ns").start()
        self.dut.rst.value = 1
        await FallingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def run_until(self, pred, max_cycles=200_000):
        self.cycle = await run_cycles(self.dut, self.models, until=pred, max_cycles=max_cycles,
                                      start=self.cycle) + 1

    async def access(self, ini, op):
        ini.burst([op])
        await self.run_until(lambda c: ini.idle, 200)
        return op

    async def write(self, name, value=None, *, control=False, expect="ack", **fields):
        rm = self.cregs if control else self.regs
        if value is None:
            value = rm.pack(name, **fields)
        op = await self.access(self.control if control else self.slot, Op(rm.offset(name), value))
        assert op.resp == expect, f"write {name}: {op.resp}, expected {expect}"

    async def read(self, name, *, control=False, expect="ack"):
        rm = self.cregs if control else self.regs
        op = await self.access(self.control if control else self.slot, Op(rm.offset(name)))
        assert op.resp == expect, f"read {name}: {op.resp}, expected {expect}"
        return op.rdata

    async def status(self):
        return self.regs.unpack("STATUS", await self.read("STATUS"))

    async def wait_idle(self, max_cycles=200_000):
        start = self.cycle
        while True:
            st = await self.status()
            if not st["BUSY"]:
                return st
            assert self.cycle - start < max_cycles, f"still BUSY after {max_cycles} cycles"

    async def window(self, i, base, limit, r=1, w=1):
        await self.write(f"WIN{i}_BASE", base, control=True)
        await self.write(f"WIN{i}_LIMIT", limit, control=True)
        await self.write(f"WIN{i}_CTRL", control=True, R=r, W=w)

    async def start(self, op):
        await self.write("START", OP=op)

    async def clear(self):
        await self.write("STATUS", DONE=1, ERROR=1)

    async def check_irq_and_clear(self, plan, what):
        """After an operation: the interrupt is up exactly when the plan enabled it; DONE/ERROR
        cleared; under the "irq" plan the line drops with them and IRQ_EN is turned off again.
        Returns whether the interrupt was seen."""
        if plan == "irq":
            assert int(self.dut.irq.value), f"{what}: no interrupt with IRQ_EN and DONE"
        else:
            assert not int(self.dut.irq.value), f"{what}: interrupt without IRQ_EN"
        await self.clear()
        if plan != "irq":
            return False
        await self.run_until(lambda c: True)
        assert not int(self.dut.irq.value), "interrupt held after DONE was cleared"
        await self.write("CTRL", control=True, IRQ_EN=0)
        return True


async def contract(bench):
    b, dut = bench, bench.dut
    # the wipe after reset
    st = await b.status()
    assert st["BUSY"], "no wipe after reset"
    ops = [o for o in b.Op if o.value != 0]
    await b.start(ops[0])
    st = await b.status()
    assert st["ERROR"] and st["CAUSE"] == b.Cause.WIPING.value, st
    st = await b.wait_idle(10_000)
    assert not b.cregs.unpack("STATUS", await b.read("STATUS", control=True))["WIPING"]
    await b.clear()
    # identity, refused accesses
    ident = b.regs.unpack("ID", await b.read("ID"))
    kind = ord(b.ctl.kind[0]) << 8 | ord(b.ctl.kind[1])
    assert ident == {"VERSION": b.ctl.version, "KIND": kind}, ident
    await b.write("ID", 0, expect="err")
    op = await b.access(b.slot, Op(b.regs.unmapped_offset(0x1000)))
    assert op.resp == "err", "an unmapped slot offset answered ACK"
    op = await b.access(b.control, Op(b.cregs.unmapped_offset(0x100)))
    assert op.resp == "err", "an unmapped control offset answered ACK"
    # an unknown operation
    width = b.regs.map["START"].fields[0].width
    unknown = [v for v in range(1 << width) if v not in {o.value for o in b.Op}]
    for v in [0] + unknown[:1]:
        await b.write("START", v)
        st = await b.wait_idle(10_000)
        assert st["ERROR"] and st["CAUSE"] != b.Cause.NONE.value, (v, st)
        await b.clear()
    # CTRL.WIPE
    await b.write("CTRL", control=True, WIPE=1)
    assert (await b.status())["BUSY"]
    await b.start(ops[0])
    st = await b.status()
    assert st["ERROR"] and st["CAUSE"] == b.Cause.WIPING.value, st
    t0 = b.cycle
    await b.wait_idle(10_000)
    dut._log.info(f"CTRL.WIPE: BUSY for about {b.cycle - t0} cycles after the START refused")
    await b.clear()
    assert not (await b.status())["DONE"]


@cocotb.test()
async def slot_contract(dut):
    name = os.environ["GLUON_COPRO"]
    bench = CoproBench(dut, name, random.Random(int(os.environ.get("GLUON_SEED", "1"))))
    await bench.reset()
    await contract(bench)


# ------------------------------------------------------------------------------------ hash

def hash_reference(mode_name, msg, outlen):
    """The independent reference of each hash mode (hashlib; Keccak-256 from pycryptodome)."""
    import hashlib
    if mode_name == "SHA256":
        return hashlib.sha256(msg).digest()
    if mode_name == "SHA3_256":
        return hashlib.sha3_256(msg).digest()
    if mode_name == "SHA3_512":
        return hashlib.sha3_512(msg).digest()
    if mode_name == "KECCAK256":
        from Crypto.Hash import keccak
        return keccak.new(data=msg, digest_bits=256).digest()
    if mode_name == "SHAKE128":
        return hashlib.shake_128(msg).digest(outlen)
    if mode_name == "SHAKE256":
        return hashlib.shake_256(msg).digest(outlen)
    raise KeyError(mode_name)


async def hash_ops(b, n_ops):
    rng, mem = b.rng, b.mem
    Mode = b.regs.map["CTRL"].fields[0].enum_class
    from gluon.hdl.hash.registers import MODE_PARAMS
    modes = [m for m in Mode if m in MODE_PARAMS]
    C = b.Cause
    def unreachable(bin):
        op, cause, point = bin
        if (op == "NONE") != (cause == "OP"):       # only an unknown operation fails with OP
            return True
        if cause == "WIPING" or (cause == "SEQ" and op != "CONT"):   # WIPING: the contract
            return True
        if (cause == "ABORTED") != (point in ("early", "mid")):
            return True
        return point == "after_end" and cause != "NONE"

    cov = Coverage("hash", unreachable=unreachable, op=[o.name for o in b.Op],
                   cause=[c.name for c in C], point=["none", "early", "mid", "after_end"])
    WIN = 0x8000                        # window 0: [0, WIN) read-write; beyond: no access
    await b.window(0, 0, WIN)
    hit_irq = False

    async def setup(mode, src, length, dst, outlen, more=False):
        await b.write("CTRL", MODE=mode, MORE=int(more))
        await b.write("SRC", src)
        await b.write("LEN", length)
        await b.write("DST", dst)
        await b.write("OUTLEN", outlen)

    for i in range(n_ops):
        mode = rng.choice(modes)
        p = MODE_PARAMS[mode]
        plan = rng.choice(["ok", "ok", "two_chunks", "abort", "abort", "busy", "dma", "mode",
                           "align", "len", "outlen", "seq", "op", "irq"])
        length = rng.randrange(0, 400)
        src = 4 * rng.randrange(0x1000 // 4)
        dst = 0x6000 + 4 * rng.randrange(0x400)
        outlen = 4 * rng.randrange(1, 33) if p.out_words is None else 0
        out_bytes = outlen if p.out_words is None else 4 * p.out_words
        msg = bytes(mem.data[src:src + length])
        expect_cause, op, point = C.NONE, b.Op.HASH, "none"
        if plan in ("abort", "busy", "dma") and rng.random() < 0.4:
            plan_cont = True        # the same, as the CONT of a message begun with MORE
        else:
            plan_cont = False
        if plan == "two_chunks":
            first = p.block_bytes * rng.randrange(1, 3)
            msg = bytes(mem.data[src:src + first + length])
            await setup(mode, src, first, dst, outlen, more=True)
            await b.start(b.Op.HASH)
            st = await b.wait_idle()
            assert st["DONE"] and not st["ERROR"], st
            cov.hit(op="HASH", cause="NONE", point="none")
            await b.clear()
            await setup(mode, src + first, length, dst, outlen)
            op = b.Op.CONT
        elif plan == "dma":
            src = WIN + 4 * rng.randrange(0x1000)
            length = max(length, 4)
            expect_cause = C.DMA
            await setup(mode, src, length, dst, outlen)
        elif plan == "mode":
            await b.write("CTRL", MODE=0)
            expect_cause = C.MODE
        elif plan == "align":
            src += rng.randrange(1, 4)
            length = max(length, 1)
            expect_cause = C.ALIGN
            await setup(mode, src, length, dst, outlen)
        elif plan == "len":
            bad = rng.choice([0, p.block_bytes + rng.randrange(1, p.block_bytes)])
            await setup(mode, src, bad, dst, outlen, more=True)
            expect_cause = C.LEN
        elif plan == "outlen":
            mode = rng.choice([m for m in modes if MODE_PARAMS[m].out_words is None])
            await setup(mode, src, length, dst, 0)
            expect_cause = C.OUTLEN
        elif plan == "seq":
            op, expect_cause = b.Op.CONT, C.SEQ
            await setup(mode, src, length, dst, outlen)
        elif plan == "op":
            op, expect_cause = b.Op.NONE, C.OP
        else:
            if plan in ("abort", "busy"):
                length = rng.randrange(600, 2000)
                msg = bytes(mem.data[src:src + length])
            await setup(mode, src, length, dst, outlen)
        if plan_cont:
            # a first chunk (MORE) from elsewhere, then this operation as its CONT
            first_src = 0x4000 + 4 * rng.randrange(0x100)
            first = p.block_bytes * rng.randrange(1, 3)
            await setup(mode, first_src, first, dst, outlen, more=True)
            await b.start(b.Op.HASH)
            st = await b.wait_idle()
            assert st["DONE"] and not st["ERROR"], st
            cov.hit(op="HASH", cause="NONE", point="none")
            await b.clear()
            await setup(mode, src, length, dst, outlen)
            msg = bytes(mem.data[first_src:first_src + first]) + bytes(mem.data[src:src + length])
            op = b.Op.CONT
        if plan == "irq":
            await b.write("CTRL", control=True, IRQ_EN=1)
        before = bytes(mem.data[dst:dst + out_bytes])
        n_writes = len(mem.writes)
        await b.start(op)
        t_start = b.cycle
        if plan == "abort":
            delay = rng.choice([0, rng.randrange(5, 400), rng.randrange(400, 3000)])
            await b.run_until(lambda c: c >= t_start + delay)
            await b.write("ABORT", 0)
            t_abort = b.cycle
        if plan == "busy":
            await b.run_until(lambda c: c >= t_start + rng.randrange(0, 200))
            await b.start(rng.choice([o for o in b.Op if o.value]))
            st = await b.status()
            assert st["ERROR"] and st["CAUSE"] == C.BUSY.value and st["BUSY"], st
        st = await b.wait_idle()
        what = f"op {i}: {plan} {mode.name} len {length} src {src:#x} -> {st}"
        assert st["DONE"] or (st["ERROR"] and plan in ("op",)), what
        got = bytes(mem.data[dst:dst + out_bytes])
        if plan == "abort":
            if st["ERROR"] and st["CAUSE"] == C.ABORTED.value:
                point = "early" if delay < 5 else "mid"
                late = [a for c, a in mem.writes[n_writes:] if c >= t_abort]
                assert not late, f"{what}: memory written after ABORT: {late[:4]}"
                expect_cause = C.ABORTED
            else:                           # it had ended before the ABORT arrived
                point = "after_end"
                assert not st["ERROR"] and got == hash_reference(mode.name, msg, outlen), what
        elif plan == "busy":
            assert st["ERROR"] and st["CAUSE"] == C.BUSY.value, what
            assert got == hash_reference(mode.name, msg, outlen), f"{what}: digest"
            expect_cause = C.BUSY
        elif expect_cause == C.NONE:
            assert not st["ERROR"], what
            assert got == hash_reference(mode.name, msg, outlen), f"{what}: digest"
        else:
            assert st["ERROR"] and st["CAUSE"] == expect_cause.value, f"{what}: expected {expect_cause.name}"
            assert len(mem.writes) == n_writes and got == before, f"{what}: memory written"
        if plan == "irq":
            assert int(b.dut.irq.value), f"{what}: no interrupt with IRQ_EN and DONE"
        await b.clear()
        if plan == "irq":
            await b.run_until(lambda c: True)
            assert not int(b.dut.irq.value), "interrupt held after DONE was cleared"
            await b.write("CTRL", control=True, IRQ_EN=0)
            hit_irq = True
        elif st["DONE"]:
            assert not int(b.dut.irq.value), "interrupt without IRQ_EN"
        cov.hit(op=op.name, cause=expect_cause.name, point=point)
    assert hit_irq
    return cov


def modmul_ops(b, n_ops):
    from cocotb_modmul import modmul_ops
    return modmul_ops(b, n_ops)


def matmul_ops(b, n_ops):
    from cocotb_matmul import matmul_ops
    return matmul_ops(b, n_ops)


BLOCK_OPS = {"hash": hash_ops, "modmul": modmul_ops, "matmul": matmul_ops}


@cocotb.test(skip=os.environ.get("GLUON_COPRO") not in BLOCK_OPS)
async def random_ops(dut):
    name = os.environ["GLUON_COPRO"]
    bench = CoproBench(dut, name, random.Random(int(os.environ.get("GLUON_SEED", "1"))))
    await bench.reset()
    await bench.wait_idle(10_000)
    await bench.clear()
    cov = await BLOCK_OPS[name](bench, int(os.environ.get("GLUON_COPRO_OPS", "60")))
    dut._log.info("\n" + cov.save())
