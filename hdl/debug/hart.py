"""The hart's side of debug mode: halt/resume/step, ``dcsr`` and ``dpc``, abstract register access.

Reference: RISC-V External Debug Support 0.13.2, chapter 4 (Debug Mode, Core Debug Registers).

The core instantiates one :class:`HartDebug` and gives it a narrow view of its X stage; the
Debug Module talks to it through :class:`DebugHartSignature`. The design point: debug mode is
entered exactly as an interrupt is taken (the instruction in X does not execute; it is the one
``dpc`` points at), so every wait X may be in (WFI, a divide, a stalled bus request) is left the
same way, and nothing outside changes while the Debug Module is idle (``halt`` stays 0). The
hart does not execute anything in debug mode (no program buffer): registers and CSRs are reached
by the Debug Module's Access Register command, memory by its system-bus port.

``dcsr`` (0x7b0), ``dpc`` (0x7b1) and ``dscratch0/1`` (0x7b2/3) exist only here: the core's CSR
instructions do not know them, so software gets an illegal-instruction trap, as for ``dret``
(which the core does not decode: there is no program buffer to execute it from).

``dcsr`` fields implemented: ``xdebugver`` = 4, ``ebreakm``, ``ebreaku``, ``stepie``,
``stopcount`` = ``stoptime`` = 0 (counters and ``mtime`` keep running while halted), ``cause``,
``step``, ``prv`` (reads the privilege the hart halted in; writes are ignored).
"""

import enum

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["DebugHartSignature", "HartDebug", "DebugCause", "DCSR", "DPC", "DSCRATCH0",
           "DSCRATCH1"]


DCSR, DPC, DSCRATCH0, DSCRATCH1 = 0x7B0, 0x7B1, 0x7B2, 0x7B3


class DebugCause(enum.IntEnum):
    """``dcsr.cause``: why the hart entered debug mode."""
    EBREAK = 1
    TRIGGER = 2
    HALTREQ = 3
    STEP = 4


class DebugHartSignature(wiring.Signature):
    """The Debug Module's port into the hart, seen from the Debug Module.

    ``haltreq``   Out(1)  level: halt at the next instruction boundary
    ``resumereq`` Out(1)  pulse: leave debug mode (at ``dpc``; one instruction if ``dcsr.step``)
    ``enable``    Out(1)  debug entry allowed (0 while locked: no halt, ``ebreak`` traps as usual)
    ``halted``    In(1)   the hart is in debug mode
    ``resumeack`` In(1)   pulse: the hart left debug mode
    ``acc_req``   Out(1)  an Access Register request, held until ``acc_ack`` or ``acc_err``
    ``acc_we``, ``acc_regno`` (abstract register number: 0x1000+n GPR n, else a CSR),
    ``acc_wdata``; ``acc_rdata`` In(32) valid with ``acc_ack``; ``acc_err`` In(1): no such
    register (or a write to a read-only one)
    """

    def __init__(self):
        super().__init__({
            "haltreq": Out(1), "resumereq": Out(1), "enable": Out(1),
            "halted": In(1), "resumeack": In(1),
            "acc_req": Out(1), "acc_we": Out(1), "acc_regno": Out(16), "acc_wdata": Out(32),
            "acc_rdata": In(32), "acc_ack": In(1), "acc_err": In(1),
        })


class HartDebug(wiring.Component):
    """Debug mode state inside the core.

    From the core: ``x_valid``/``x_pc`` (the instruction in X), ``x_ebreak`` (it is EBREAK),
    ``priv_m``, ``take`` (X left this cycle and ``halt`` was high: the hart enters debug mode),
    ``x_left`` (X's instruction committed or trapped this cycle), ``w_idle`` (nothing left in
    W), ``trig_halt`` (an action-1 execute trigger matches X's pc: hdl/triggers.py), ``w_take``
    with ``w_pc``/``w_priv_m`` (an action-1 load/store trigger matched W's instruction, which
    enters debug mode from W without accessing memory; X is dropped), ``gpr_rdata``, ``csr_rdata``/``csr_exists``/``csr_readonly`` for ``gpr_addr``/``csr_addr``.
    To the core: ``halt`` (treat X's instruction like an interrupt, but enter debug mode),
    ``halted``, ``resume`` (pulse: restart fetching at ``dpc``), ``irq_mask`` (stepping with
    ``stepie`` clear), and the register-file and CSR write requests of an abstract command.
    """

    dm: In(DebugHartSignature())
    x_valid: In(1)
    x_pc: In(32)
    x_ebreak: In(1)
    priv_m: In(1)
    take: In(1)
    x_left: In(1)
    w_idle: In(1)
    trig_halt: In(1)
    w_take: In(1)
    w_pc: In(32)
    w_priv_m: In(1)
    halt: Out(1)
    halted: Out(1)
    resume: Out(1)
    dpc: Out(32)
    irq_mask: Out(1)
    gpr_addr: Out(5)
    gpr_rdata: In(32)
    gpr_we: Out(1)
    csr_addr: Out(12)
    csr_rdata: In(32)
    csr_exists: In(1)
    csr_readonly: In(1)
    csr_we: Out(1)
    wdata: Out(32)

    def elaborate(self, platform):
        m = Module()
        dm = self.dm

        ebreakm = Signal()
        ebreaku = Signal()
        stepie = Signal()
        step = Signal()
        cause = Signal(3)
        prv_m = Signal()
        dscratch = Array([Signal(32, name=f"dscratch{i}") for i in range(2)])
        dcsr = Cat(prv_m.replicate(2), step, C(0, 3), cause, C(0, 2), stepie,
                   ebreaku, C(0, 2), ebreakm, C(0, 12), C(4, 4))

        stepping = Signal()          # resumed with dcsr.step: halt after one instruction
        stepped = Signal()           # ... and that instruction has left X
        with m.If(self.x_left & stepping):
            m.d.sync += stepped.eq(1)

        ebreak_hit = self.x_ebreak & Mux(self.priv_m, ebreakm, ebreaku)
        why = Signal(3)
        # dcsr.cause priority (0.13.2, 4.9.1): trigger, ebreak, haltreq, step
        with m.If(self.trig_halt):
            m.d.comb += why.eq(DebugCause.TRIGGER)
        with m.Elif(ebreak_hit):
            m.d.comb += why.eq(DebugCause.EBREAK)
        with m.Elif(dm.haltreq):
            m.d.comb += why.eq(DebugCause.HALTREQ)
        with m.Elif(stepping & stepped):
            m.d.comb += why.eq(DebugCause.STEP)
        m.d.comb += [
            self.halt.eq(self.x_valid & ~self.halted & dm.enable & (why != 0)),
            self.halted.eq(dm.halted),
            self.irq_mask.eq(stepping & ~stepie),
        ]

        halted = Signal()
        m.d.comb += dm.halted.eq(halted)
        with m.If(self.take):
            m.d.sync += [halted.eq(1), self.dpc.eq(self.x_pc), cause.eq(why), prv_m.eq(self.priv_m),
                         stepping.eq(0), stepped.eq(0)]
        with m.If(self.w_take):
            m.d.sync += [halted.eq(1), self.dpc.eq(self.w_pc), cause.eq(DebugCause.TRIGGER),
                         prv_m.eq(self.w_priv_m), stepping.eq(0), stepped.eq(0)]
        with m.If(halted & dm.resumereq):
            m.d.sync += [halted.eq(0), stepping.eq(step), stepped.eq(0)]
            m.d.comb += [self.resume.eq(1), dm.resumeack.eq(1)]

        # Abstract register access: answered in the cycle it is asked, once W is empty.
        regno = dm.acc_regno
        is_gpr = regno[5:] == (0x1000 >> 5)
        m.d.comb += [self.gpr_addr.eq(regno[:5]), self.csr_addr.eq(regno[:12]),
                     self.wdata.eq(dm.acc_wdata)]
        go = dm.acc_req & halted & self.w_idle
        rdata = Signal(32)
        ok = Signal()
        with m.If(is_gpr):
            m.d.comb += [rdata.eq(self.gpr_rdata), ok.eq(1)]
        with m.Elif(regno == DCSR):
            m.d.comb += [rdata.eq(dcsr), ok.eq(1)]
            with m.If(go & dm.acc_we):
                m.d.sync += [ebreakm.eq(dm.acc_wdata[15]), ebreaku.eq(dm.acc_wdata[12]),
                             stepie.eq(dm.acc_wdata[11]), step.eq(dm.acc_wdata[2])]
        with m.Elif(regno == DPC):
            m.d.comb += [rdata.eq(self.dpc), ok.eq(1)]
            with m.If(go & dm.acc_we):
                m.d.sync += self.dpc.eq(Cat(C(0, 2), dm.acc_wdata[2:]))
        with m.Elif((regno == DSCRATCH0) | (regno == DSCRATCH1)):
            m.d.comb += [rdata.eq(dscratch[regno[0]]), ok.eq(1)]
            with m.If(go & dm.acc_we):
                m.d.sync += dscratch[regno[0]].eq(dm.acc_wdata)
        with m.Elif(regno[12:] == 0):
            m.d.comb += [rdata.eq(self.csr_rdata),
                         ok.eq(self.csr_exists & ~(dm.acc_we & self.csr_readonly))]
        m.d.comb += [
            dm.acc_rdata.eq(rdata),
            dm.acc_ack.eq(go & ok),
            dm.acc_err.eq(go & ~ok),
            self.gpr_we.eq(go & dm.acc_we & is_gpr),
            self.csr_we.eq(go & dm.acc_we & ok & ~is_gpr & (regno[12:] == 0) & (regno[4:12] != 0x7B)),
        ]
        return m
