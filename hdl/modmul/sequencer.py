"""The modular-arithmetic coprocessor's program sequencer: starts a program (fetched by DMA,
queued through CMD, or the last queued one again: the START operations), then fetches, checks
and runs its ops one after the other on the Montgomery unit, the value transfers
(:mod:`.transfer`) and the SETMOD microcode (:mod:`.setmod`). A failing op or an ABORT stops
the program: the DMA channel is drained before the program ends with ``error``."""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out, connect, flipped

from ..dma import DMAChannelSignature, DMAMover
from .registers import OpCode, Op, Cause
from .montgomery import LIMB_BITS, MontMode, ModulusPortSignature
from .value_store import ValueAccessSignature
from .program import ProgramMemory
from .setmod import UnitRequest, SetModSequencer
from .transfer import ValueTransfer


__all__ = ["ProgramSequencer"]


class ProgramSequencer(wiring.Component):
    """Runs programs of the coprocessor ``copro`` (a :class:`~.coprocessor.ModMulCoprocessor`,
    for its parameters and internal slots).

    From the control component (:class:`~gluon.hdl.coproctl.ControlSignature`): ``start`` with
    ``op`` (START), ``abort`` (ABORT); back to it: ``running``, then one ``done`` or one
    ``error`` with ``cause`` when the program is over (a START with nothing to run ends at once
    with cause LENGTH, an unknown op with OPCODE). From the registers: ``push`` of
    ``push_data`` (CMD, accepted only while idle with room), ``limbs_req``, ``prog_addr``,
    ``prog_len``, ``data_base``. To the registers: ``pc``, ``qcount``, ``modset``,
    ``active_l``; ``fail`` with ``fail_cause`` (the program fails now), ``draining`` (the DMA
    channel drains after a failure or ABORT). ``zero`` writes a zero word at ``zero_addr`` of
    the program memory (the wipe; the sequencer's registers are held in reset meanwhile).

    To the datapath: ``u`` (unit requests), ``unit_done``, ``store_port`` and ``modulus`` (the
    transfers'), ``dma`` (the coprocessor's channel), ``xin``/``xout`` (the register-path
    FIFOs) and ``xout_level``.
    """

    def __init__(self, copro, *, xdepth):
        self._c, self._xdepth = copro, xdepth
        depth, unit = copro.prog_depth, copro.unit
        self._n_phys = copro.slots + len(copro.internal_slots)
        store_depth = self._n_phys << (unit.max_nb - 1).bit_length()
        super().__init__({
            "start": In(1), "op": In(Op), "abort": In(1),
            "zero": In(1), "zero_addr": In(range(depth)),
            "push": In(1), "push_data": In(32),
            "limbs_req": In(6), "prog_addr": In(32), "prog_len": In(11), "data_base": In(32),
            "running": Out(1), "pc": Out(range(depth + 1)), "qcount": Out(range(depth + 1)),
            "modset": Out(1), "active_l": Out(range(copro.max_limbs + 1)),
            "done": Out(1), "error": Out(1), "cause": Out(Cause),
            "fail": Out(1), "fail_cause": Out(Cause), "draining": Out(1),
            "u": Out(UnitRequest), "unit_done": In(1),
            "store_port": Out(ValueAccessSignature(depth=store_depth,
                                                   width=copro.lanes * LIMB_BITS)),
            "modulus": Out(ModulusPortSignature(max_limbs=copro.max_limbs)),
            "dma": Out(DMAChannelSignature()),
            "xin": In(stream.Signature(32)),
            "xout": Out(stream.Signature(32)),
            "xout_level": In(range(xdepth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        c = self._c
        S, depth, max_limbs = c.internal_slots, c.prog_depth, c.max_limbs
        running, pc, qcount, modset, active_l = (self.running, self.pc, self.qcount,
                                                  self.modset, self.active_l)
        fail, fail_cause, dma = self.fail, self.fail_cause, self.dma

        m.submodules.program = prog = ProgramMemory(depth=depth, slots=c.slots)
        m.submodules.setmod = ucode = SetModSequencer(slots=S, newton_steps=c.newton_steps,
                                                      max_limbs=max_limbs)
        m.submodules.xfer = xfer = ValueTransfer(lanes=c.lanes, blocks=c.unit.max_nb,
                                                 values=self._n_phys, stage=S["STAGE"],
                                                 n_slot=S["N"], max_limbs=max_limbs)
        connect(m, xfer.store_port, flipped(self.store_port))
        connect(m, xfer.modulus, flipped(self.modulus))
        connect(m, flipped(self.xin), xfer.xin)
        connect(m, xfer.xout, flipped(self.xout))

        # The DMA channel: the program fetch's descriptors and the value transfers' (never
        # both at once).
        m.submodules.prog_mover = pmover = DMAMover()
        for req in (pmover.chan, xfer.dma):
            m.d.comb += [req.cmd.ready.eq(dma.cmd.ready), req.done.eq(dma.done),
                         req.error.eq(dma.error)]
        m.d.comb += [
            dma.cmd.valid.eq(pmover.chan.cmd.valid | xfer.dma.cmd.valid),
            dma.cmd.payload.eq(Mux(pmover.chan.cmd.valid, pmover.chan.cmd.payload.as_value(),
                                   xfer.dma.cmd.payload.as_value())),
            xfer.rd.valid.eq(dma.rd.valid), xfer.rd.payload.eq(dma.rd.payload),
            dma.rd.ready.eq(pmover.active | xfer.rd.ready),
            dma.wr.valid.eq(xfer.wr.valid), dma.wr.payload.eq(xfer.wr.payload),
            xfer.wr.ready.eq(dma.wr.ready),
        ]

        # The queue: CMD pushes ops into the program memory while idle.
        plen = Signal(range(depth + 1))
        qlast = Signal(range(depth + 1))         # length of the last queued program (AGAIN)
        prog_words = Signal(range(depth + 1))
        with m.If(self.push):
            m.d.comb += [prog.w.en.eq(1), prog.w.addr.eq(qcount), prog.w.data.eq(self.push_data)]
            m.d.sync += [qcount.eq(qcount + 1), qlast.eq(0)]
        with m.If(self.zero):
            m.d.comb += [prog.w.en.eq(1), prog.w.addr.eq(self.zero_addr), prog.w.data.eq(0)]

        # ---- the op being run -----------------------------------------------------------
        op = prog.op
        m.d.comb += prog.pc.eq(pc)
        # Unit requests: the op's (DECODE) or the SETMOD microcode's (zero when idle).
        dec_u = Signal(UnitRequest)
        m.d.comb += self.u.eq(dec_u.as_value() | ucode.u.as_value())
        m.d.comb += [ucode.limbs.eq(active_l), ucode.unit_done.eq(self.unit_done),
                     xfer.addr.eq(self.data_base + (op.tail.imm << 2)),
                     xfer.d.eq(op.d), xfer.a.eq(op.a)]
        with m.If(xfer.fail):
            m.d.comb += [fail.eq(1), fail_cause.eq(xfer.cause)]
        with m.If(xfer.bad_modulus):
            m.d.sync += active_l.eq(0)

        abort_req = self.abort & running
        m.d.comb += [ucode.stop.eq(fail | abort_req), xfer.stop.eq(fail | abort_req)]
        # The cause the program ends with: the first failure's, or ABORTED.
        end_cause = Signal(Cause)
        with m.If(~self.draining):
            with m.If(fail):
                m.d.sync += end_cause.eq(fail_cause)
            with m.Elif(abort_req):
                m.d.sync += end_cause.eq(Cause.ABORTED)

        def leave_on_failure():
            with m.If(fail | abort_req):
                m.next = "DRAIN"

        def begin(length):
            m.d.sync += [plen.eq(length), pc.eq(0)]

        def refuse(cause):
            m.d.sync += end_cause.eq(cause)
            m.next = "REFUSE"

        def transfer(kind, x, length, setmod=0):
            m.d.comb += [kind.eq(1), xfer.x.eq(x), xfer.length.eq(length),
                         xfer.setmod.eq(setmod)]
            m.next = "XFER"

        opc = op.opcode
        limbs_req = self.limbs_req
        with m.FSM(name="ctrl"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += running.eq(1)
                    with m.Switch(self.op):
                        with m.Case(Op.AGAIN):
                            with m.If(qlast == 0):
                                refuse(Cause.LENGTH)
                            with m.Else():
                                m.d.comb += prog.fetch_first.eq(1)
                                begin(qlast)
                                m.next = "OP_WAIT"
                        with m.Case(Op.QUEUE):
                            with m.If(qcount == 0):
                                refuse(Cause.LENGTH)
                            with m.Else():
                                m.d.comb += prog.fetch_first.eq(1)
                                begin(qcount)
                                m.d.sync += [qlast.eq(qcount), qcount.eq(0)]
                                m.next = "OP_WAIT"
                        with m.Case(Op.PROG):
                            with m.If((self.prog_len == 0) | (self.prog_len > depth)):
                                refuse(Cause.LENGTH)
                            with m.Else():
                                begin(self.prog_len)
                                m.d.sync += [qcount.eq(0), qlast.eq(0), prog_words.eq(0)]
                                m.next = "PROG"
                        with m.Default():
                            refuse(Cause.OPCODE)

            with m.State("REFUSE"):
                # A START with nothing to run: it ends at once (the component saw it accepted).
                m.d.comb += [self.error.eq(1), self.cause.eq(end_cause)]
                m.d.sync += running.eq(0)
                m.next = "IDLE"

            with m.State("PROG"):
                m.d.comb += [pmover.req.eq(1), pmover.desc.addr.eq(self.prog_addr),
                             pmover.desc.words.eq(plen), pmover.desc.write.eq(0),
                             prog.w.addr.eq(prog_words), prog.w.data.eq(dma.rd.payload),
                             prog.w.en.eq(dma.rd.valid & pmover.active)]
                with m.If(dma.rd.valid & pmover.active):
                    m.d.sync += prog_words.eq(prog_words + 1)
                with m.If(pmover.error):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.DMA)]
                with m.Elif(pmover.done):
                    m.next = "FETCH_OP"
                leave_on_failure()

            with m.State("FETCH_OP"):
                # prog.pc = pc now (the program's last word is written by now).
                m.next = "OP_WAIT"
                leave_on_failure()

            with m.State("OP_WAIT"):
                # The program memory's output register takes the op: DECODE has it next cycle.
                m.next = "DECODE"
                leave_on_failure()

            with m.State("DECODE"):
                with m.If(~prog.known):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.OPCODE)]
                with m.Elif(prog.bad_slot):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.SLOT)]
                with m.Elif((opc != OpCode.SETMOD) & ~modset):
                    m.d.comb += [fail.eq(1), fail_cause.eq(Cause.NOMOD)]
                with m.Else():
                    with m.Switch(opc):
                        with m.Case(OpCode.SETMOD):
                            with m.If((limbs_req == 0) | (limbs_req > max_limbs)):
                                m.d.comb += [fail.eq(1), fail_cause.eq(Cause.LIMBS)]
                            with m.Else():
                                m.d.sync += [modset.eq(0), active_l.eq(limbs_req)]
                                transfer(xfer.load, 0, limbs_req, setmod=1)
                        with m.Case(OpCode.LOAD):
                            transfer(xfer.load, 0, active_l)
                        with m.Case(OpCode.STORE):
                            transfer(xfer.store, 0, active_l)
                        with m.Case(OpCode.LOADX):
                            # The words may still be on their way: the core can start the
                            # program first and write XIN while it runs.
                            transfer(xfer.load, 1, active_l)
                        with m.Case(OpCode.STOREX):
                            with m.If(self._xdepth - self.xout_level < active_l):
                                m.d.comb += [fail.eq(1), fail_cause.eq(Cause.FIFO)]
                            with m.Else():
                                transfer(xfer.store, 1, active_l)
                        with m.Default():
                            m.d.comb += [dec_u.start.eq(1), dec_u.d.eq(op.d), dec_u.a.eq(op.a)]
                            with m.Switch(opc):
                                with m.Case(OpCode.COPY):
                                    m.d.comb += [dec_u.mode.eq(MontMode.ADDR), dec_u.zb.eq(1)]
                                with m.Case(OpCode.ADD):
                                    m.d.comb += [dec_u.mode.eq(MontMode.ADD), dec_u.b.eq(op.tail.b)]
                                with m.Case(OpCode.SUB):
                                    m.d.comb += [dec_u.mode.eq(MontMode.SUB), dec_u.b.eq(op.tail.b)]
                                with m.Case(OpCode.MUL):
                                    m.d.comb += [dec_u.mode.eq(MontMode.MONT), dec_u.b.eq(op.tail.b)]
                                with m.Case(OpCode.TOMONT):
                                    m.d.comb += [dec_u.mode.eq(MontMode.MONT), dec_u.b.eq(S["R2"])]
                                with m.Case(OpCode.FROMMONT):
                                    m.d.comb += [dec_u.mode.eq(MontMode.MONT), dec_u.b.eq(S["ONE"])]
                            # Prefetch the next op while the unit runs.
                            m.d.sync += pc.eq(pc + 1)
                            m.next = "UNIT"
                leave_on_failure()

            with m.State("UNIT"):
                with m.If(self.unit_done):
                    with m.If(pc == plen):
                        m.next = "FINISH"
                        m.d.sync += pc.eq(pc - 1)
                    with m.Else():
                        m.next = "DECODE"
                leave_on_failure()

            with m.State("NEXT"):
                # The op at pc + 1, read from XFER or UCODE on, is in the memory's output
                # register in the next cycle (DECODE).
                m.d.comb += prog.fetch_next.eq(1)
                with m.If(pc + 1 == plen):
                    m.next = "FINISH"
                with m.Else():
                    m.d.sync += pc.eq(pc + 1)
                    m.next = "DECODE"
                leave_on_failure()

            with m.State("XFER"):
                # The transfer keeps its operands (address, slots) from its first cycle: the
                # next op is read meanwhile, so that DECODE follows NEXT with no cycle lost.
                m.d.comb += prog.fetch_next.eq(1)
                with m.If(xfer.done):
                    m.next = "NEXT"
                with m.Elif(xfer.setmod_ok):
                    m.d.comb += ucode.start.eq(1)
                    m.next = "UCODE"
                leave_on_failure()

            with m.State("UCODE"):
                m.d.comb += prog.fetch_next.eq(1)
                with m.If(ucode.done):
                    m.d.sync += modset.eq(1)
                    m.next = "NEXT"
                leave_on_failure()

            with m.State("FINISH"):
                m.d.comb += self.done.eq(1)
                m.d.sync += running.eq(0)
                m.next = "IDLE"

            # Failure: stop the unit and the DMA, wait for the DMA to drain, then report.
            with m.State("DRAIN"):
                m.d.comb += [self.draining.eq(1), dma.abort.eq(dma.busy)]
                with m.If(~dma.busy):
                    m.d.comb += [self.error.eq(1), self.cause.eq(end_cause)]
                    m.d.sync += running.eq(0)
                    m.next = "IDLE"
        return m
