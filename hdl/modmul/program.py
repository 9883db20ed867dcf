"""The modular-arithmetic coprocessor's program memory: the ops of the program that runs (pushed
through CMD or fetched by DMA), read at the program counter, and the checks every op gets
before it runs."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory, WritePort
from amaranth.lib.wiring import In, Out

from .registers import OpCode, OpWord


__all__ = ["ProgramMemory"]


class ProgramMemory(wiring.Component):
    """``depth`` ops, written through ``w``. ``op`` is the op at ``pc`` (op 0 after
    ``fetch_first``, op ``pc + 1`` after ``fetch_next``), a cycle after the address; ``known``:
    its opcode exists; ``bad_slot``: a slot it uses is not below ``slots``."""

    def __init__(self, *, depth, slots):
        self._depth, self._slots = depth, slots
        super().__init__({
            "w": Out(WritePort.Signature(addr_width=(depth - 1).bit_length(), shape=32)),
            "pc": In(range(depth + 1)),
            "fetch_first": In(1),
            "fetch_next": In(1),
            "op": Out(OpWord),
            "known": Out(1),
            "bad_slot": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.program = program = Memory(shape=OpWord, depth=self._depth, init=[])
        prog_rd = program.read_port()
        prog_wr = program.write_port()
        m.d.comb += [prog_wr.addr.eq(self.w.addr), prog_wr.data.eq(self.w.data),
                     prog_wr.en.eq(self.w.en)]
        pc, op = self.pc, self.op
        m.d.comb += [prog_rd.addr.eq(Mux(self.fetch_first, 0,
                                         Mux(self.fetch_next, pc + 1, pc))),
                     op.eq(prog_rd.data)]

        opc = op.opcode
        m.d.comb += self.known.eq((opc.as_value() >= OpCode.SETMOD.value) &
                                  (opc.as_value() <= OpCode.STOREX.value))
        uses_d = Signal()
        uses_a = Signal()
        uses_b = Signal()
        with m.Switch(opc):
            with m.Case(OpCode.LOAD, OpCode.LOADX):
                m.d.comb += uses_d.eq(1)
            with m.Case(OpCode.STORE, OpCode.STOREX):
                m.d.comb += uses_a.eq(1)
            with m.Case(OpCode.COPY, OpCode.TOMONT, OpCode.FROMMONT):
                m.d.comb += [uses_d.eq(1), uses_a.eq(1)]
            with m.Case(OpCode.ADD, OpCode.SUB, OpCode.MUL):
                m.d.comb += [uses_d.eq(1), uses_a.eq(1), uses_b.eq(1)]
        m.d.comb += self.bad_slot.eq((uses_d & (op.d >= self._slots)) |
                                     (uses_a & (op.a >= self._slots)) |
                                     (uses_b & (op.tail.b >= self._slots)))
        return m
