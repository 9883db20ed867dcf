"""Address-match triggers (Sdtrig): ``tselect``, ``tdata1`` (type 2, ``mcontrol``), ``tdata2``,
``tinfo``, ``tcontrol``.

Reference: RISC-V External Debug Support 0.13.2, chapter 5 (Trigger Module), which is what
GDB through sim/gdbserver.py and OpenOCD 0.12 program; ``tcontrol`` as in that chapter.

Each trigger compares one address with ``tdata2`` (``match`` = 0: equal). Execute triggers
compare the pc of the instruction in the core's X stage; load and store triggers the address
of the access (its lowest byte), computed in X where the PMP decides on it. What a match does
(``action``):

* 0, a breakpoint exception (cause 3, ``mtval`` = the address), raised before the instruction
  executes (``timing`` = 0). In M-mode only while ``tcontrol.mte`` is set; a trap into M-mode
  copies ``mte`` to ``mpte`` and clears it, so a breakpoint does not fire again in its own
  handler, and ``mret`` copies ``mpte`` back. ``mte`` resets to 0.
* 1, entering debug mode (``dcsr.cause`` = 2), only on a trigger with ``dmode`` = 1; ``dmode``
  is set only from debug mode (the Debug Module's register access), and while it is set
  M-mode writes to that trigger's ``tdata1``/``tdata2`` are ignored. Such a trigger does not
  fire while the Debug Module is locked or absent.

The pipelined core (hdl/pipeline.py) decides the execute match a stage early
(``early_execute``): ``x_pc`` is then the pc of the instruction in ``D``, beside the PMP's fetch
verdict, and the match with its action-0 condition (privilege, ``tcontrol.mte``) is registered
when that instruction enters ``X`` (``x_enter``); only ``debug_ok`` is applied after the
register. The core refetches the instruction behind a trigger CSR write, as behind a PMP CSR
write, so the registered match is never made against old trigger state.

``tdata1`` WARL rules: ``type`` reads 2; a write with another ``type``, or ``select``,
``chain`` or a ``match`` other than 0 (features not implemented) leaves the trigger disabled
(all fields 0). ``maskmax``, ``timing``, ``sizelo`` and ``s`` read 0. ``action`` keeps 1 only
with ``dmode`` = 1, else reads 0. ``hit`` is set when the trigger fires and is writable.
``tselect`` keeps a written value only below the number of triggers (a debugger finds the
count by writing and reading back); ``tinfo`` reads 1 << 2 (``mcontrol`` only).
"""

import enum

from amaranth import *
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out


__all__ = ["TriggerCsr", "Mcontrol", "Triggers", "MCONTROL_TYPE"]


class TriggerCsr(enum.IntEnum):
    TSELECT = 0x7A0
    TDATA1 = 0x7A1
    TDATA2 = 0x7A2
    TDATA3 = 0x7A3
    TINFO = 0x7A4
    TCONTROL = 0x7A5


MCONTROL_TYPE = 2


class Mcontrol(data.Struct):
    """``tdata1`` as ``mcontrol`` (RV32)."""
    load: 1
    store: 1
    execute: 1
    u: 1
    s: 1
    _zero5: 1
    m: 1
    match: 4
    chain: 1
    action: 4
    sizelo: 2
    timing: 1
    select: 1
    hit: 1
    maskmax: 6
    dmode: 1
    type: 4


class Triggers(wiring.Component):
    """``count`` triggers.

    CSR side: ``csr_we``/``csr_addr``/``csr_wdata`` (a write this cycle; ``csr_debug``: from
    debug mode), the values to read: ``tselect``, ``tdata1``, ``tdata2``, ``tinfo``,
    ``tcontrol`` (of the selected trigger); ``trap`` (a trap into M-mode is taken this cycle)
    and ``mret`` (an MRET commits) for ``tcontrol``.

    Matching (combinational): ``priv_m``, ``debug_ok`` (debug mode can be entered), ``x_pc``;
    ``d_addr``/``d_load``/``d_store`` (X's load or store). Out: ``exec_exc``/``exec_halt`` (an
    execute trigger with action 0/1 matches X's pc), ``ldst_exc``/``ldst_halt`` (the same for
    X's access). ``x_fire``: X's execute match took effect; ``x_commit``: X's instruction went
    to W (its access match is kept); ``w_fire``: W's access match took effect (both set
    ``hit``). ``x_enter`` (with ``early_execute`` only): the instruction whose pc is on
    ``x_pc`` enters X this cycle.
    """

    csr_we: In(1)
    csr_addr: In(12)
    csr_wdata: In(32)
    csr_debug: In(1)
    tselect: Out(32)
    tdata1: Out(32)
    tdata2: Out(32)
    tinfo: Out(32)
    tcontrol: Out(32)
    trap: In(1)
    mret: In(1)

    priv_m: In(1)
    debug_ok: In(1)
    x_pc: In(32)
    d_addr: In(32)
    d_load: In(1)
    d_store: In(1)
    exec_exc: Out(1)
    exec_halt: Out(1)
    ldst_exc: Out(1)
    ldst_halt: Out(1)
    x_fire: In(1)
    x_commit: In(1)
    w_fire: In(1)
    x_enter: In(1)

    def __init__(self, count=2, *, early_execute=False):
        if not isinstance(count, int) or not 1 <= count <= 16:
            raise ValueError(f"count must be an integer in 1..16, not {count!r}")
        self.count = count
        self.early_execute = bool(early_execute)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        n = self.count

        ctl = [Signal(Mcontrol, name=f"tdata1_{i}", init={"type": MCONTROL_TYPE}) for i in range(n)]
        addr = [Signal(32, name=f"tdata2_{i}") for i in range(n)]
        sel = Signal(range(n))
        mte = Signal()
        mpte = Signal()

        m.d.comb += [
            self.tselect.eq(sel),
            self.tdata1.eq(Array(ctl)[sel]),
            self.tdata2.eq(Array(addr)[sel]),
            self.tinfo.eq(1 << MCONTROL_TYPE),
            self.tcontrol.eq(Cat(C(0, 3), mte, C(0, 3), mpte)),
        ]

        # ---- CSR writes
        wd = Mcontrol(self.csr_wdata)
        with m.If(self.csr_we):
            with m.Switch(self.csr_addr):
                with m.Case(TriggerCsr.TSELECT):
                    with m.If(self.csr_wdata < n):
                        m.d.sync += sel.eq(self.csr_wdata)
                with m.Case(TriggerCsr.TCONTROL):
                    m.d.sync += [mte.eq(self.csr_wdata[3]), mpte.eq(self.csr_wdata[7])]
                with m.Case(TriggerCsr.TDATA1, TriggerCsr.TDATA2):
                    for i in range(n):
                        # a trigger owned by debug mode is written from debug mode only
                        with m.If((sel == i) & (~ctl[i].dmode | self.csr_debug)):
                            with m.If(self.csr_addr == TriggerCsr.TDATA2):
                                m.d.sync += addr[i].eq(self.csr_wdata)
                            with m.Elif((wd.type != MCONTROL_TYPE) | wd.select | wd.chain
                                        | (wd.match != 0)):
                                m.d.sync += ctl[i].eq(Mcontrol.const({"type": MCONTROL_TYPE}))
                            with m.Else():
                                dmode = wd.dmode & self.csr_debug
                                m.d.sync += [
                                    ctl[i].dmode.eq(dmode),
                                    ctl[i].action.eq(Mux(dmode & (wd.action == 1), 1, 0)),
                                    ctl[i].hit.eq(wd.hit),
                                    ctl[i].m.eq(wd.m), ctl[i].u.eq(wd.u),
                                    ctl[i].execute.eq(wd.execute), ctl[i].store.eq(wd.store),
                                    ctl[i].load.eq(wd.load),
                                ]
        # tcontrol on traps and mret (Trigger Module, tcontrol)
        with m.If(self.trap):
            m.d.sync += [mpte.eq(mte), mte.eq(0)]
        with m.Elif(self.mret):
            m.d.sync += mte.eq(mpte)

        # ---- matching
        x_hits = Signal(n)
        d_hits = Signal(n)
        w_hits = Signal(n)
        exec_exc, exec_halt, ldst_exc, ldst_halt = [], [], [], []
        for i in range(n):
            c = ctl[i]
            mode = Mux(self.priv_m, c.m, c.u)
            a0 = (c.action == 0) & (~self.priv_m | mte)
            a1 = (c.action == 1) & self.debug_ok
            x_match = mode & c.execute & (self.x_pc == addr[i])
            d_match = mode & (c.load & self.d_load | c.store & self.d_store) & (self.d_addr == addr[i])
            if self.early_execute:
                # registered as the instruction enters X: X sees two flip-flops per trigger
                x_exc = Signal(name=f"x_exc_{i}")
                x_dm = Signal(name=f"x_dmatch_{i}")
                with m.If(self.x_enter):
                    m.d.sync += [x_exc.eq(x_match & a0), x_dm.eq(x_match & (c.action == 1))]
                x_halt = x_dm & self.debug_ok
            else:
                x_exc, x_halt = x_match & a0, x_match & a1
            m.d.comb += [x_hits[i].eq(x_exc | x_halt), d_hits[i].eq(d_match & (a0 | a1))]
            exec_exc.append(x_exc)
            exec_halt.append(x_halt)
            ldst_exc.append(d_match & a0)
            ldst_halt.append(d_match & a1)
        m.d.comb += [
            self.exec_exc.eq(Cat(*exec_exc).any()),
            self.exec_halt.eq(Cat(*exec_halt).any()),
            self.ldst_exc.eq(Cat(*ldst_exc).any()),
            self.ldst_halt.eq(Cat(*ldst_halt).any()),
        ]
        with m.If(self.x_commit):
            m.d.sync += w_hits.eq(d_hits)
        fired = Mux(self.x_fire, x_hits, 0) | Mux(self.w_fire, w_hits, 0)
        for i in range(n):
            with m.If(fired[i]):
                m.d.sync += ctl[i].hit.eq(1)
        return m
