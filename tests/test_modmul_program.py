"""ProgramMemory (hdl/modmul/program.py): ops written then read at the program counter, and
the checks DECODE relies on (unknown opcode, slot out of range) against a Python model of the
op word (encode) for every opcode, two cycles after the address (block RAM, then the output
register) and not one."""

import random

from amaranth.sim import Simulator

from gluon.hdl.modmul import OpCode, encode
from gluon.hdl.modmul.program import ProgramMemory

USES = {  # the slots each opcode names: d, a, b
    OpCode.SETMOD: "", OpCode.LOAD: "d", OpCode.STORE: "a", OpCode.COPY: "da",
    OpCode.ADD: "dab", OpCode.SUB: "dab", OpCode.MUL: "dab", OpCode.TOMONT: "da",
    OpCode.FROMMONT: "da", OpCode.LOADX: "d", OpCode.STOREX: "a",
}


def test_fetch_and_checks():
    slots, depth = 12, 64
    dut = ProgramMemory(depth=depth, slots=slots)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    rng = random.Random(3)
    words = []
    for _ in range(depth):
        opcode = rng.randrange(16)
        d, a, b = (rng.choice([0, slots - 1, slots, 63, rng.randrange(64)]) for _ in range(3))
        words.append(opcode | (d << 4) | (a << 10) | (b << 16))
    words[:len(OpCode)] = [encode(op, d=1, a=2, b=3) for op in OpCode]

    def expect(word):
        opcode, d, a, b = word & 15, (word >> 4) & 63, (word >> 10) & 63, (word >> 16) & 63
        known = opcode in [op.value for op in OpCode]
        uses = USES[OpCode(opcode)] if known else ""
        bad = any(v >= slots for k, v in zip("dab", (d, a, b)) if k in uses)
        return known, bad

    async def bench(ctx):
        ctx.set(dut.pc, 9)
        for i, w in enumerate(words):
            ctx.set(dut.w.en, 1); ctx.set(dut.w.addr, i); ctx.set(dut.w.data, w)
            await ctx.tick()
        ctx.set(dut.w.en, 0)
        ctx.set(dut.fetch_first, 1)
        await ctx.tick()
        ctx.set(dut.fetch_first, 0)
        assert ctx.get(dut.op.as_value()) == words[9], "the op is registered: not there yet"
        await ctx.tick()
        assert ctx.get(dut.op.as_value()) == words[0], "fetch_first reads op 0"
        # Every cycle a new address: each op is there in the second cycle after the one that
        # presented its address (the read, then the register), not in the first.
        ctx.set(dut.pc, 0)
        await ctx.tick()
        for pc in range(1, depth + 1):
            ctx.set(dut.pc, pc % depth)
            assert ctx.get(dut.op.as_value()) == words[9 if pc == 1 else pc - 2], pc
            await ctx.tick()
            want = words[pc - 1]
            assert ctx.get(dut.op.as_value()) == want, (pc, hex(want))
            known, bad = expect(want)
            assert ctx.get(dut.known) == known, (pc, hex(want))
            if known:
                assert ctx.get(dut.bad_slot) == bad, (pc, hex(want))
        ctx.set(dut.pc, 5)
        ctx.set(dut.fetch_next, 1)
        await ctx.tick()
        ctx.set(dut.fetch_next, 0)
        await ctx.tick()
        assert ctx.get(dut.op.as_value()) == words[6], "fetch_next reads op pc + 1"
    sim.add_testbench(bench)
    sim.run()
