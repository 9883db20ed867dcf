"""A small coprocessor built on the control component, as every real block is: its own
RegisterBank holding the common slot registers, a 16-word buffer memory, an accumulator and
one DMA channel. The tests of the control component, of revocation and of the wipe check run
it with the real DMAEngine on a Wishbone RAM model.

Ops: READ (ADDR, WORDS words into the buffer, summed into ACC), WRITE (the buffer to ADDR),
COUNT (WORDS cycles, no DMA). ``rd_gap``: idle cycles between two words taken from the DMA
read stream (a slow consumer keeps the engine's read FIFO full).
"""

from amaranth import *
from amaranth.lib import wiring, enum
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect, flipped

from gluon.hdl.bus import WishboneSignature, RequestRegister
from gluon.hdl.dma import DMAChannelSignature, DMAControlSignature, WindowSignature, DMAEngine
from gluon.hdl.coproctl import CoprocessorControl, ControlSignature, slot_registers
from gluon.hdl.regs import Field, Register, RegisterMap, RegisterBank


class Op(enum.Enum, shape=2):
    NOP = 0
    READ = 1
    WRITE = 2
    COUNT = 3


class Cause(enum.Enum, shape=4):
    NONE = 0
    BUSY = 1
    WIPING = 2
    ABORTED = 3
    DMA = 4
    OP = 5


DEPTH = 16

REGS = RegisterMap("TOY", slot_registers(kind="TY", version=3, op=Op, cause=Cause) + [
    Register("ADDR", 0x20, "ext", desc="DMA address"),
    Register("WORDS", 0x24, "ext", [Field("N", 5)], desc="Words (READ/WRITE) or cycles (COUNT)"),
    Register("ACC", 0x28, "r", desc="Sum of the words READ"),
])


class ToyBlock(wiring.Component):
    bus: In(WishboneSignature(addr_width=10))
    ctl_bus: In(WishboneSignature(addr_width=6))
    dma: Out(DMAChannelSignature())
    dma_windows: Out(WindowSignature())
    dma_ctl: Out(DMAControlSignature())
    irq: Out(1)
    busy: Out(1)

    def __init__(self, *, rd_gap=0, forget=()):
        self._rd_gap = rd_gap
        self._forget = set(forget)      # names of registers the wipe "forgets" (test mutants)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.regs = regs = RegisterBank(REGS, addr_width=10)
        connect(m, flipped(self.bus), regs.bus)
        m.submodules.ctl = ctl = CoprocessorControl(kind="TY", version=3, op=Op, cause=Cause)
        ctl.connect_block(m, self, regs)
        m.d.comb += self.irq.eq(ctl.irq)
        c = ctl.block

        m.submodules.buf = buf = Memory(shape=32, depth=DEPTH, init=[])
        wp = buf.write_port()
        rp = buf.read_port(domain="comb")
        addr = Signal(32)
        words = Signal(5)
        acc = Signal(32)
        idx = Signal(5)
        gap = Signal(range(self._rd_gap + 1))
        op = Signal(Op, name="op")
        wcnt = Signal(range(DEPTH))   # the wipe's address; 0 outside a wipe
        m.d.comb += [
            regs.addr.r_data.eq(addr), regs.words.r_data.n.eq(words), regs.acc.r_data.eq(acc),
            self.busy.eq(c.busy),
        ]
        with m.If(regs.addr.w_stb & ~c.busy):
            m.d.sync += addr.eq(regs.addr.w_data)
        with m.If(regs.words.w_stb & ~c.busy):
            m.d.sync += words.eq(regs.words.w_data.n)

        dma = self.dma
        m.d.comb += [
            dma.cmd.payload.addr.eq(addr), dma.cmd.payload.words.eq(words),
            dma.cmd.payload.write.eq(op == Op.WRITE),
            wp.addr.eq(idx), wp.data.eq(dma.rd.payload), rp.addr.eq(idx),
            dma.wr.payload.eq(rp.data),
        ]
        with m.FSM(name="toy"):
            with m.State("IDLE"):
                with m.If(c.wipe):
                    m.next = "WIPE"
                with m.Elif(c.start):
                    m.d.sync += [op.eq(c.op), idx.eq(0)]
                    with m.Switch(c.op):
                        with m.Case(Op.READ, Op.WRITE):
                            m.next = "CMD"
                        with m.Case(Op.COUNT):
                            m.next = "COUNT"
                        with m.Default():
                            m.next = "BADOP"
            with m.State("BADOP"):
                m.d.comb += [c.busy.eq(1), c.error.eq(1), c.cause.eq(Cause.OP)]
                m.next = "IDLE"
            with m.State("CMD"):
                m.d.comb += [c.busy.eq(1), dma.cmd.valid.eq(1)]
                with m.If(c.wipe):
                    m.next = "WIPE"
                with m.Elif(dma.cmd.ready):
                    m.next = "MOVE"
            with m.State("MOVE"):
                m.d.comb += c.busy.eq(1)
                with m.If(op == Op.READ):
                    m.d.comb += dma.rd.ready.eq(gap == 0)
                    with m.If(dma.rd.valid & dma.rd.ready):
                        m.d.comb += wp.en.eq(1)
                        m.d.sync += [acc.eq(acc + dma.rd.payload), idx.eq(idx + 1),
                                     gap.eq(self._rd_gap)]
                    with m.Elif(gap != 0):
                        m.d.sync += gap.eq(gap - 1)
                with m.Else():
                    m.d.comb += dma.wr.valid.eq(idx < words)
                    with m.If(dma.wr.valid & dma.wr.ready):
                        m.d.sync += idx.eq(idx + 1)
                with m.If(c.wipe):
                    m.next = "WIPE"
                with m.Elif(c.abort):
                    m.next = "ABORT"
                with m.Elif(dma.done):
                    m.d.comb += c.done.eq(1)
                    m.next = "IDLE"
                with m.Elif(dma.error):
                    m.d.comb += [c.error.eq(1), c.cause.eq(Cause.DMA)]
                    m.next = "IDLE"
            with m.State("ABORT"):
                m.d.comb += [c.busy.eq(1), dma.abort.eq(1)]
                with m.If(c.wipe):
                    m.next = "WIPE"
                with m.Elif(~dma.busy):
                    m.d.comb += [c.error.eq(1), c.cause.eq(Cause.ABORTED)]
                    m.next = "IDLE"
            with m.State("COUNT"):
                m.d.comb += c.busy.eq(1)
                m.d.sync += idx.eq(idx + 1)
                with m.If(c.wipe):
                    m.next = "WIPE"
                with m.Elif(idx + 1 >= words):
                    m.d.comb += c.done.eq(1)
                    m.next = "IDLE"
            with m.State("WIPE"):
                # DEPTH cycles writing zeros, then every register back to its reset value.
                m.d.comb += [dma.abort.eq(1), wp.en.eq(1), wp.addr.eq(wcnt), wp.data.eq(0)]
                m.d.sync += wcnt.eq(wcnt + 1)
                with m.If(wcnt == DEPTH - 1):
                    m.d.sync += [Value.cast(r).eq(Value.cast(r).init)
                                 for r in (addr, words, acc, idx, gap, op, wcnt)
                                 if Value.cast(r).name not in self._forget]
                    m.next = "WIPED"
            with m.State("WIPED"):
                m.d.comb += c.wipe_done.eq(1)
                with m.If(~c.wipe):
                    m.next = "IDLE"
        return m


class ToySystem(wiring.Component):
    """ToyBlock + its DMAEngine, wired as the SoC wires a slot; ``mem`` is the engine's bus."""

    bus: In(WishboneSignature(addr_width=10))
    ctl_bus: In(WishboneSignature(addr_width=6))
    mem: Out(WishboneSignature(addr_width=30))
    irq: Out(1)
    cycle: Out(32)

    def __init__(self, *, rd_gap=0, forget=(), request_register=False):
        self.block = ToyBlock(rd_gap=rd_gap, forget=forget)
        # ``request_register``: the engine reaches ``mem`` through the pipelined SoC's request
        # register (hdl/bus.py), dropped on the slot's flush or wipe as hdl/soc.py wires it
        self.request_register = request_register
        self.engine = DMAEngine(latency=2 if request_register else 1)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = blk = self.block
        m.submodules.engine = eng = self.engine
        connect(m, flipped(self.bus), blk.bus)
        connect(m, flipped(self.ctl_bus), blk.ctl_bus)
        connect(m, blk.dma, eng.chan)
        connect(m, blk.dma_windows, eng.windows)
        connect(m, blk.dma_ctl, eng.ctl)
        if self.request_register:
            m.submodules.request = req = RequestRegister(addr_width=30, tags=1)
            connect(m, eng.bus, req.bus)
            connect(m, req.out, flipped(self.mem))
            m.d.comb += [req.tag.eq(eng.bus.cyc & eng.bus.stb & ~eng.bus.stall),
                         req.drop.eq(eng.ctl.flush | eng.ctl.wipe)]
        else:
            connect(m, eng.bus, flipped(self.mem))
        m.d.comb += self.irq.eq(blk.irq)
        m.d.sync += self.cycle.eq(self.cycle + 1)
        return m
