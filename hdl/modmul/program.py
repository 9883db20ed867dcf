"""The modular-arithmetic coprocessor's program memory: the ops of the program that runs (pushed
through CMD or fetched by DMA), read at the program counter, and the checks every op gets
before it runs. The op word and its checks leave through a register: the block RAM's
clock-to-output (5.6 ns on the ECP5) then ends there instead of running on into the
sequencer's decode, the value store's addresses and the DMA command."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory, WritePort
from amaranth.lib.wiring import In, Out

from .registers import OpCode, OpWord


__all__ = ["ProgramMemory"]


class ProgramMemory(wiring.Component):
    """``depth`` ops, written through ``w``. The read address is ``pc`` (0 with
    ``fetch_first``, ``pc + 1`` with ``fetch_next``); ``op`` is the word read there two cycles
    after the address (the block RAM's read, then a register), ``known``: its opcode exists,
    ``bad_slot``: a slot it uses is not below ``slots`` (both computed from the block RAM's
    output and registered with the word)."""

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
                                         Mux(self.fetch_next, pc + 1, pc)))]
        word = Signal(OpWord)
        m.d.comb += word.eq(prog_rd.data)
        m.d.sync += op.eq(word)

        opc = word.opcode
        m.d.sync += self.known.eq((opc.as_value() >= OpCode.SETMOD.value) &
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
        m.d.sync += self.bad_slot.eq((uses_d & (word.d >= self._slots)) |
                                     (uses_a & (word.a >= self._slots)) |
                                     (uses_b & (word.tail.b >= self._slots)))
        return m
