"""Self-composition ("miter") harnesses for the data-independent-timing claims, a Wishbone B4
pipelined protocol checker for the core's data bus, and deliberately broken variants
("mutants") that the same harnesses must reject.

Every property is added with :meth:`Harness.check` under a name, so a failing sby run can be
mapped back to the property it broke (sby reports the source line of the assertion).
tests/test_formal.py says what each harness does and does not prove.
"""

import sys

from amaranth import *
from amaranth.lib import wiring, data
from amaranth.hdl import Assert, Assume, Cover
from amaranth.asserts import AnyConst, AnySeq

from gluon.hdl.divider import Divider, LATENCY
from gluon.hdl.multiplier import Multiplier
from gluon.hdl.branch import BranchUnit
from gluon.hdl.core import Core
from gluon.hdl.decoder import Decoded


__all__ = [
    "Harness", "DividerMiter", "MultiplierMiter", "BranchTimingMiter", "BranchStatelessMiter",
    "BranchSpecCheck", "CoreBusCheck", "PipelinedCore",
    "EarlyExitDivider", "SmallOperandMultiplier", "SerialBranchUnit", "StatefulBranchUnit",
    "WrongBranchUnit", "CORE_MUTANTS", "CoreTimingMiter", "EarlyExitDividerCore",
    "DMAConfinement", "acceptance_only_engine", "DMA_SCRIPT", "NotTakenSlowerCore",
    "NotTakenSlowerPipelinedCore", "NotTakenSlowerFetchRegCore",
]


class Harness(Elaboratable):
    """Base of the harnesses.

    It owns the ``sync`` domain: its clock is the one top-level port (sby clocks every
    flip-flop with it) and its reset is tied low, so every trace starts from the registers'
    init values (sby's initial state) and is never reset midway. Left undriven, ``rst`` would
    be a free input; and a domain clock that is not a port is tied to 0 by the RTLIL export,
    which would freeze every register and make every property pass vacuously.
    """

    def __init__(self):
        self.sync = ClockDomain("sync")
        self.properties = {}           # "file:line" -> property name
        self.covers = {}

    @property
    def ports(self):
        return [self.sync.clk]

    def domain(self, m):
        m.domains.sync = self.sync
        m.d.comb += self.sync.rst.eq(0)

    def _add(self, table, m, name, stmt, cond):
        caller = sys._getframe(2)
        table[f"{caller.f_code.co_filename}:{caller.f_lineno}"] = name
        m.d.comb += stmt(cond, src_loc_at=2)

    def check(self, m, name, cond):
        """``Assert(cond)`` (under the enclosing ``m.If``), known as ``name``. One per line."""
        self._add(self.properties, m, name, Assert, cond)

    def cover(self, m, name, cond):
        """``Cover(cond)``: sby's cover mode must reach it (non-vacuity of the environment)."""
        self._add(self.covers, m, name, Cover, cond)

    def names(self, failures):
        """The property names of sby's ``(location, step)`` failures."""
        return sorted({self.properties.get(loc, loc) for loc, _ in failures})


def _any(width, seq):
    return AnySeq(width) if seq else AnyConst(width)


# --------------------------------------------------------------------------------- divider

class DividerMiter(Harness):
    """Two dividers; shared ``start``/``signed``/``rem`` (free in every cycle); each copy has
    its own free operands (``operands="seq"``: new ones in every cycle, busy or not;
    ``"const"``: one arbitrary pair per copy for the whole trace).

    Properties: ``done`` equal, ``busy`` equal in every cycle; with ``reference=True`` also
    ``done`` exactly :data:`LATENCY` cycles after the last ``start`` (a counter kept here,
    not the divider's). The mutant tests leave the reference out, so that the two-copy
    comparison alone has to catch them.
    """

    def __init__(self, cls=Divider, *, operands="seq", reference=True):
        super().__init__()
        self.a = cls()
        self.b = cls()
        self.operands = operands
        self.reference = reference

    def elaborate(self, platform):
        m = Module()
        self.domain(m)
        m.submodules.a = a = self.a
        m.submodules.b = b = self.b
        seq = self.operands == "seq"
        start, signed, rem = AnySeq(1), AnySeq(1), AnySeq(1)
        for d in (a, b):
            m.d.comb += [d.start.eq(start), d.signed.eq(signed), d.rem.eq(rem),
                         d.a.eq(_any(32, seq)), d.b.eq(_any(32, seq))]
        since = Signal(range(LATENCY + 2))      # cycles since the last start; saturates
        with m.If(start):
            m.d.sync += since.eq(1)
        with m.Elif((since != 0) & (since != LATENCY + 1)):
            m.d.sync += since.eq(since + 1)
        self.check(m, "done equal", a.done == b.done)
        self.check(m, "busy equal", a.busy == b.busy)
        if self.reference:
            self.check(m, "done LATENCY cycles after start", a.done == (since == LATENCY))
        return m


class EarlyExitDivider(Divider):
    """Mutant: answers one cycle after ``start`` when the divisor is zero (the classic
    "division by zero needs no work" shortcut). Only the timing is broken."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        fast = Signal()
        m.d.sync += fast.eq(self.start & (self.b == 0))
        with m.If(fast):                       # overrides the original driver of done
            m.d.comb += self.done.eq(1)
        return m


# --------------------------------------------------------------------------------- multiplier

class MultiplierMiter(Harness):
    """Two multipliers; shared ``load``/``funct``, free operands per copy in every cycle.
    Properties: ``valid`` equal in every cycle; with ``reference=True`` also exactly ``load``
    delayed by one cycle."""

    def __init__(self, cls=Multiplier, *, reference=True):
        super().__init__()
        self.a = cls()
        self.b = cls()
        self.reference = reference

    def elaborate(self, platform):
        m = Module()
        self.domain(m)
        m.submodules.a = a = self.a
        m.submodules.b = b = self.b
        load, funct = AnySeq(1), AnySeq(2)
        for d in (a, b):
            m.d.comb += [d.load.eq(load), d.funct.eq(funct), d.a.eq(AnySeq(32)), d.b.eq(AnySeq(32))]
        load_q = Signal()
        m.d.sync += load_q.eq(load)
        self.check(m, "valid equal", a.valid == b.valid)
        if self.reference:
            self.check(m, "valid one cycle after load", a.valid == load_q)
        return m


class SmallOperandMultiplier(Multiplier):
    """Mutant: a fast path when rs2 fits in 16 bits; otherwise ``valid`` one cycle later (as
    a 16x16 multiplier used twice would)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        second = Signal()
        m.d.sync += second.eq(self.load & (self.b[16:] != 0))
        m.d.sync += self.valid.eq(self.load & (self.b[16:] == 0) | second)
        return m


# --------------------------------------------------------------------------------- branch unit

class BranchStage(Elaboratable):
    """How the core consumes the branch unit, reduced to timing: in an ``issue`` cycle the
    operands and funct3 are presented; the decision is *made* (``decided``, a register, as the
    core's next-PC register) in the first cycle the unit reports ``ready``. A unit without a
    ``ready`` port, like :class:`BranchUnit`, is combinational: always ready, as the core
    assumes when it picks the next fetch address in the branch's own cycle."""

    def __init__(self, unit):
        self.unit = unit
        self.issue = Signal()
        self.decided = Signal()
        self.taken = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = u = self.unit
        ready = getattr(u, "ready", C(1, 1))
        waiting = Signal()
        with m.If(self.issue | waiting):
            m.d.sync += [self.decided.eq(ready), waiting.eq(~ready), self.taken.eq(u.taken)]
        with m.Else():
            m.d.sync += self.decided.eq(0)
        return m


class BranchTimingMiter(Harness):
    """Two :class:`BranchStage`s; shared ``issue``/``funct3``, free operands per copy.
    Property: ``decided`` equal in every cycle."""

    def __init__(self, cls=BranchUnit):
        super().__init__()
        self.a = BranchStage(cls())
        self.b = BranchStage(cls())

    def elaborate(self, platform):
        m = Module()
        self.domain(m)
        m.submodules.a = a = self.a
        m.submodules.b = b = self.b
        issue, f3 = AnySeq(1), AnySeq(3)
        for s in (a, b):
            m.d.comb += [s.issue.eq(issue), s.unit.funct3.eq(f3),
                         s.unit.a.eq(AnySeq(32)), s.unit.b.eq(AnySeq(32))]
        self.check(m, "decision in the same cycle", a.decided == b.decided)
        return m


class BranchStatelessMiter(Harness):
    """Two branch units with arbitrary, different input histories. Property: in any cycle
    where their present inputs are equal, ``taken`` is equal, i.e. the decision is a function
    of the present inputs only (no state that could carry one branch's data into the next)."""

    def __init__(self, cls=BranchUnit):
        super().__init__()
        self.a = cls()
        self.b = cls()

    def elaborate(self, platform):
        m = Module()
        self.domain(m)
        m.submodules.a = a = self.a
        m.submodules.b = b = self.b
        same = AnySeq(1)
        va, vb, f3 = AnySeq(32), AnySeq(32), AnySeq(3)
        m.d.comb += [a.a.eq(va), a.b.eq(vb), a.funct3.eq(f3),
                     b.a.eq(Mux(same, va, AnySeq(32))), b.b.eq(Mux(same, vb, AnySeq(32))),
                     b.funct3.eq(Mux(same, f3, AnySeq(3)))]
        with m.If(same):
            self.check(m, "taken depends on present inputs only", a.taken == b.taken)
        return m


class BranchSpecCheck(Harness):
    """One branch unit against the six branch conditions of the ISA (section 2.5), written
    here independently (signed order by flipping the sign bits). funct3 2 and 3 are not
    branches: the core raises an illegal instruction for them, the unit's output is unused."""

    def __init__(self, cls=BranchUnit):
        super().__init__()
        self.u = cls()

    def elaborate(self, platform):
        m = Module()
        self.domain(m)
        m.submodules.u = u = self.u
        va, vb, f3 = AnySeq(32), AnySeq(32), AnySeq(3)
        m.d.comb += [u.a.eq(va), u.b.eq(vb), u.funct3.eq(f3)]
        sa, sb = va ^ 0x8000_0000, vb ^ 0x8000_0000
        spec = Signal()
        with m.Switch(f3):
            with m.Case(0): m.d.comb += spec.eq(va == vb)
            with m.Case(1): m.d.comb += spec.eq(va != vb)
            with m.Case(4): m.d.comb += spec.eq(sa < sb)
            with m.Case(5): m.d.comb += spec.eq(sa >= sb)
            with m.Case(6): m.d.comb += spec.eq(va < vb)
            with m.Case(7): m.d.comb += spec.eq(va >= vb)
        with m.If((f3 != 2) & (f3 != 3)):
            self.check(m, "taken as the ISA defines", u.taken == spec)
        return m


class SerialBranchUnit(BranchUnit):
    """Mutant: an "optimised" comparator that decides at once when the top bytes differ and
    needs one more cycle (``ready`` low) when they are equal."""

    def __init__(self):
        super().__init__()
        self.ready = Signal()

    def elaborate(self, platform):
        m = super().elaborate(platform)
        second = Signal()
        m.d.sync += second.eq(~second & (self.a[24:] == self.b[24:]))
        m.d.comb += self.ready.eq((self.a[24:] != self.b[24:]) | second)
        return m


class StatefulBranchUnit(BranchUnit):
    """Mutant: remembers the last operand ``a`` and answers BEQ "taken" from that memory (a
    toy result cache): the output depends on history."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        last = Signal(32)
        m.d.sync += last.eq(self.a)
        with m.If((self.funct3 == 0) & (last == self.b)):
            m.d.comb += self.taken.eq(1)
        return m


class WrongBranchUnit(BranchUnit):
    """Mutant: BLT compares unsigned."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.funct3 == 4):
            m.d.comb += self.taken.eq(self.a < self.b)
        return m


# --------------------------------------------------------------------------------- core data bus

#: Yosys commands for :class:`CoreBusCheck`: the multiplier, divider and PMP are replaced by
#: free outputs (``cutpoint``: any value in any cycle). Sound for these properties (the real
#: blocks' behaviours are among the free ones; a pass stays a pass) and 2-3x faster.
CORE_CUTPOINTS = "cutpoint top.core.multiplier top.core.divider top.core.pmp"


class CoreBusCheck(Harness):
    """The core with a free environment, and Wishbone B4 pipelined properties of its data-bus
    initiator (``Core.dbus``).

    Environment (assumptions):

    * instruction port: a synchronous-read RAM whose output word is *arbitrary* (AnySeq) after
      each enabled read and held otherwise, as the BRAM port is: every instruction sequence;
    * interrupt lines, ``mtime``: arbitrary in every cycle;
    * data-bus target: ``stall`` and ``dat_r`` arbitrary; ``ack``/``err`` arbitrary but never
      both, and only while a request accepted in an earlier cycle is unanswered, so each
      accepted request gets at most one answer, at least one cycle later, in any later cycle
      or never (safety properties need no liveness).

    Properties, with ``out`` the number of accepted, unanswered requests:

    * ``stb implies cyc``;
    * ``cyc while outstanding``: ``out != 0`` implies ``cyc`` (no abort with a load pending);
    * ``at most one outstanding``: ``out <= 1``;
    * ``no request while unanswered``: ``cyc & stb`` only when ``out == 0`` or the answer
      arrives in the same cycle;
    * ``stalled request held``: after a cycle with ``cyc & stb & stall``, if ``cyc`` is still
      high then ``stb`` is, and ``adr``, ``we``, ``sel`` (and ``dat_w`` for a write) are
      unchanged. Dropping ``cyc`` withdraws the request, which B4 allows and the core does when
      it takes an interrupt while its access is stalled;
    * ``sel aligned``: ``sel`` is one byte, an aligned half-word or the whole word;
    * the pipelined core only: ``request only when claimed`` (``Core.dbus_claim``, the
      flip-flop RAM's port owner follows, is high in every cycle with ``cyc & stb``);
    * the default core only (it requests from ``X``, where its blocks judge the address):
      ``no request for a misaligned access`` (its load/store unit, ``core.lsu.misaligned``)
      and ``no request PMP refuses`` (``core.pmp.d_ok``, the PMP's verdict, whatever it is:
      the PMP is cut to free outputs), for requests made while none is outstanding.
    """

    def __init__(self, cls=Core):
        super().__init__()
        self.core = cls()

    def elaborate(self, platform):
        m = Module()
        self.domain(m)
        m.submodules.core = core = self.core
        bus = core.dbus

        iword = Signal(32)
        with m.If(core.ibus.en):
            m.d.sync += iword.eq(AnySeq(32))
        m.d.comb += [
            core.ibus.data.eq(iword),
            core.timer_irq.eq(AnySeq(1)), core.soft_irq.eq(AnySeq(1)),
            core.local_irq.eq(AnySeq(16)), core.mtime.eq(AnySeq(64)),
        ]

        out = Signal(2)                        # accepted, unanswered; saturates at 3
        answer = Signal()
        accepted = Signal()
        m.d.comb += [
            bus.stall.eq(AnySeq(1)), bus.dat_r.eq(AnySeq(32)),
            bus.ack.eq(AnySeq(1)), bus.err.eq(AnySeq(1)),
            answer.eq(bus.ack | bus.err),
            accepted.eq(bus.cyc & bus.stb & ~bus.stall),
            Assume(~(bus.ack & bus.err)),
            Assume(~answer | (out != 0)),
        ]
        nxt = Signal(4)
        m.d.comb += nxt.eq(out + accepted - answer)
        m.d.sync += out.eq(Mux(nxt > 3, 3, nxt))
        cancel = C(0, 1)
        if core.pipeline:
            # the pipelined core judges an access in W and cancels a refused one's request in
            # the cycle after it was taken (``Core.dbus_cancel``: RAM drops the buffered write,
            # the decoder its registered request): the request then expects no answer (one may
            # still come in that cycle, as RAM's acknowledge does), and cyc may drop
            cancel = core.dbus_cancel
            m.d.comb += nxt.eq(out + accepted - (answer | cancel))
            p_accepted = Signal()
            m.d.sync += p_accepted.eq(accepted)
            self.check(m, "cancel only after a request was taken", ~cancel | p_accepted)

        # the previous cycle (Amaranth 0.5 has no Past)
        p_req = Signal()
        p_adr = Signal.like(bus.adr)
        p_we = Signal()
        p_sel = Signal(4)
        p_dat = Signal(32)
        m.d.sync += [p_req.eq(bus.cyc & bus.stb & bus.stall), p_adr.eq(bus.adr),
                     p_we.eq(bus.we), p_sel.eq(bus.sel), p_dat.eq(bus.dat_w)]

        self.check(m, "stb implies cyc", ~bus.stb | bus.cyc)
        self.check(m, "cyc while outstanding", (out == 0) | bus.cyc | cancel)
        self.check(m, "at most one outstanding", out <= 1)
        self.check(m, "no request while unanswered", ~(bus.cyc & bus.stb) | (out == 0) | answer)
        with m.If(p_req & bus.cyc):
            self.check(m, "stalled request held: stb", bus.stb)
            self.check(m, "stalled request held: adr", bus.adr == p_adr)
            self.check(m, "stalled request held: we", bus.we == p_we)
            self.check(m, "stalled request held: sel", bus.sel == p_sel)
            with m.If(p_we):                   # DAT_O means something on writes only
                self.check(m, "stalled request held: dat_w", bus.dat_w == p_dat)
        with m.If(bus.cyc & bus.stb):
            self.check(m, "sel aligned", (bus.sel == 0b0001) | (bus.sel == 0b0010) |
                       (bus.sel == 0b0100) | (bus.sel == 0b1000) | (bus.sel == 0b0011) |
                       (bus.sel == 0b1100) | (bus.sel == 0b1111))
        if not (core.pipeline or core.regfile_bram):
            # the default core requests from X, in the cycle its load/store unit and PMP judge
            # the address (named blocks of the core; the PMP is cut to free outputs, so this
            # holds whatever the PMP decides): nothing misaligned or refused goes on the bus.
            # Checked on requests made with nothing outstanding (the other case is ``no request
            # while unanswered``'s, which answers for a request made too early)
            with m.If(bus.cyc & bus.stb & (out == 0)):
                self.check(m, "no request for a misaligned access", ~core.lsu.misaligned)
                if core.pmp is not None:
                    self.check(m, "no request PMP refuses", core.pmp.d_ok)
        if core.pipeline:
            # RAM's shared port goes to the DMA side in every cycle the core does not claim it
            # (hdl/ram.py, ``claim``): a request outside a claimed cycle would meet the DMA's
            self.check(m, "request only when claimed", ~(bus.cyc & bus.stb) | core.dbus_claim)

        # reachability: sby's cover mode must reach each (the environment is not vacuous)
        p_store = Signal()
        m.d.sync += p_store.eq(accepted & bus.we)
        acks = Signal(2)
        with m.If(bus.ack & (acks != 3)):
            m.d.sync += acks.eq(acks + 1)
        self.cover(m, "accepted after a stall", p_req & accepted)
        self.cover(m, "accepted in the cycle of an answer", accepted & answer)
        self.cover(m, "store answered with err one cycle later", bus.err & p_store)
        self.cover(m, "stalled request withdrawn (cyc dropped)", p_req & ~bus.cyc)
        self.cover(m, "two requests answered with ack", acks == 2)
        return m


def _core_mutant(name, doc, patch):
    def elaborate(self, platform):
        m = Core.elaborate(self, platform)
        patch(self, m)                     # later statements override the core's drivers
        return m
    return type(name, (Core,), {"__doc__": doc, "elaborate": elaborate})


def _no_hold(core, m):
    flip = Signal()
    m.d.sync += flip.eq(~flip)
    with m.If(core.dbus.stall & flip):
        m.d.comb += core.dbus.adr.eq(0x123)


def _eager(core, m):
    with m.If(core.dbus.cyc):
        m.d.comb += core.dbus.stb.eq(1)


def _drop_cyc(core, m):
    m.d.comb += core.dbus.cyc.eq(core.dbus.stb)


def _stb_alone(core, m):
    with m.If(core.dbus.stall):
        m.d.comb += core.dbus.cyc.eq(0)


def _pmp_ignored(core, m):
    # a load/store's request made when the PMP refuses it (the alignment still checked)
    x_mem = core.decoder.dec.load | core.decoder.dec.store
    with m.If(x_mem & ~core.lsu.misaligned & ~core.pmp.d_ok):
        m.d.comb += [core.dbus.cyc.eq(1), core.dbus.stb.eq(1)]


def _store_unclaimed(core, m):
    # the claim made for loads only
    with m.If(core.dbus.we):
        m.d.comb += core.dbus_claim.eq(0)


def _pipelined_mutant(name, doc, patch, **core_kw):
    """A mutant of the pipelined core (``core_kw``: more of its parameters, e.g. ``fetch_reg``)."""
    cls = _core_mutant(name, doc, patch)
    cls.__init__ = lambda self, **kw: Core.__init__(self, pipeline=True, **core_kw, **kw)
    return cls


#: name -> (Core subclass, the property it must break)
CORE_MUTANTS = {
    "no_hold": (_core_mutant("NoHoldCore", "Mutant: the address moves while stalled.",
                             _no_hold), "stalled request held: adr"),
    "eager": (_core_mutant("EagerCore", "Mutant: stb whenever cyc is high, answer pending or "
                           "not.", _eager), "no request while unanswered"),
    "drop_cyc": (_core_mutant("DropCycCore", "Mutant: cyc only with stb (forgets the pending "
                              "answer).", _drop_cyc), "cyc while outstanding"),
    "stb_alone": (_core_mutant("StbAloneCore", "Mutant: cyc low while stalled, stb not.",
                               _stb_alone), "stb implies cyc"),
    "pmp_ignored": (_core_mutant("PmpIgnoredCore", "Mutant: a load/store's request is made "
                                 "even when PMP refuses it.", _pmp_ignored),
                    "no request PMP refuses"),
    "store_unclaimed": (_pipelined_mutant("StoreUnclaimedCore", "Mutant: the pipelined core "
                                          "claims RAM's port for loads only.", _store_unclaimed),
                        "request only when claimed"),
}


# --------------------------------------------------------------------------------- whole core

def _drive_two_cores(m, feeds, word, *, timer, soft, local, mtime, stall, ack, err,
                     done=C(0, 1)):
    """The environment both two-core miters give their copies: ``feeds`` is ``((core, dat_r),
    ...)``; each copy's instruction port returns ``word`` (one value for all copies, or one per
    copy) as it was when it read, the interrupt
    inputs, ``mtime`` and the data bus's ``stall``/``ack``/``err`` are the same for both, and an
    answer comes only while a request of the first copy is outstanding (``done``: a cycle in
    which its outstanding request ends without an answer, the pipelined core's cancel).
    Returns the first copy's ``accepted`` (a request taken this cycle)."""
    words = word if isinstance(word, (list, tuple)) else [word] * len(feeds)
    for (core, data), w in zip(feeds, words):
        iword = Signal(32)
        with m.If(core.ibus.en):
            m.d.sync += iword.eq(w)
        m.d.comb += [
            core.ibus.data.eq(iword),
            core.timer_irq.eq(timer), core.soft_irq.eq(soft),
            core.local_irq.eq(local), core.mtime.eq(mtime),
            core.dbus.stall.eq(stall), core.dbus.ack.eq(ack), core.dbus.err.eq(err),
            core.dbus.dat_r.eq(data),
        ]
    a = feeds[0][0]
    out = Signal(2)
    accepted = a.dbus.cyc & a.dbus.stb & ~stall
    m.d.sync += out.eq(out + accepted - (ack | err | done))
    m.d.comb += [Assume(~(ack & err)), Assume(~(ack | err) | (out != 0))]
    return accepted


def _decoded_word(core):
    """A signal following the word ``core``'s decoder is given in every cycle (the pipelined
    core's ``D`` word: the port's output, ``D``'s own register or the word kept behind a
    branch; the default core's: the port's output). The decoder is a named submodule of both
    elaborations; the core's ``elaborate`` is wrapped to copy its input out."""
    word = Signal(32, name="decoded_word")
    elaborate = core.elaborate

    def probed(platform):
        m = elaborate(platform)
        m.d.comb += word.eq(m.submodules.decoder.word)
        return m
    core.elaborate = probed
    return word


class CoreTimingMiter(Harness):
    """Two cores, one instruction stream, different data: their timing must agree.

    The instruction stream is what the cores *decode*: in every cycle both decoders are given
    the same word (the default core decodes the port's output, the pipelined ones ``D``'s
    word). Each copy's instruction port answers with its own arbitrary words (AnySeq, through a
    BRAM-like port), so the fetch *addresses* are free and may differ (a branch taken in one
    copy and not in the other, JALR targets computed from different data), and so may the
    words a copy fetches and never decodes (a pipelined core's word behind a taken branch or a
    JAL, a branch's target when it is not taken): the assumption constrains the port's words
    only through what reaches the decoder (a word the decoder is given and then drops is tied
    too: with the fetched word registered, ``D``'s register takes the word behind a JAL and
    holds it, invalid, while the target is read). Both copies get the same ``mtime`` and the same bus
    timing (``stall``, ``ack``/``err``, shared); the *data* differ: each copy's loads return its
    own arbitrary words (``dat_r``), so every register value downstream differs (the "secret"),
    and with them branch outcomes, JALR targets and load/store addresses.

    Scope: executions without traps, in which both copies decode the same words in the same
    cycles. Assumed: interrupt lines are low; no decoded word writes ``mtvec`` (which therefore
    stays at its reset value 0x8000_0000, the cores starting at 0x8000_0100), and no copy
    fetches from 0x8000_0000 (every trap fetches from there: this keeps the traces trap-free
    without assuming anything of the other addresses); ``trap`` is equal in both copies (the
    pipelined core redirects the fetch to mtvec a cycle after its trap, the unpipelined one in
    the trap's cycle), and so are the data-dependent verdicts that trap (``mem_denied``: a
    misaligned or PMP-refused load/store; the pipelined core's ``dbus_cancel``). So a fetch
    outside RAM, one PMP refuses to execute, a misaligned jump target, each a trap, are out of
    the scope when they occur in one copy only, as any other data-dependent trap.

    Properties: in every cycle both cores fetch (``ibus.en``), retire (``trace.valid``) and
    make data requests (``cyc``, ``stb``) alike.

    Covers (non-vacuity): two results differ between the copies; a request is accepted after a
    stall; with ``diverge_cover``, a retirement at different pcs in the two copies (their control
    flow went different ways: the most expensive cover, reached at step 5 on the default core
    and 7 on the pipelined one).
    """

    RESET = 0x8000_0100            # mtvec resets to 0x8000_0000: a fetch from there is a trap

    def __init__(self, cls=Core, *, diverge_cover=False):
        super().__init__()
        self.a = cls(reset_vector=self.RESET)
        self.b = cls(reset_vector=self.RESET)
        self.diverge_cover = diverge_cover
        self.a_word = _decoded_word(self.a)
        self.b_word = _decoded_word(self.b)

    def elaborate(self, platform):
        m = Module()
        self.domain(m)
        m.submodules.a = a = self.a
        m.submodules.b = b = self.b

        # one instruction stream: both decoders see the same word in every cycle
        word = self.a_word
        m.d.comb += Assume(self.b_word == word)
        # mtvec stays 0x8000_0000 (its reset value): no CSR write to it (csrrw/s/c, immediate
        # forms too)
        m.d.comb += Assume(~((word[:7] == 0b1110011) & (word[12:14] != 0) &
                             (word[20:32] == 0x305)))
        timer, soft, local, mtime = C(0, 1), C(0, 1), C(0, 16), AnySeq(64)
        stall, ack, err = AnySeq(1), AnySeq(1), AnySeq(1)
        accepted = _drive_two_cores(m, ((a, AnySeq(32)), (b, AnySeq(32))),
                                    [AnySeq(32), AnySeq(32)],
                                    timer=timer, soft=soft, local=local, mtime=mtime,
                                    stall=stall, ack=ack, err=err)
        # A load/store that is misaligned or PMP refuses (its address or the privilege may be
        # data) traps, one cycle later from W: control flow, outside the scope like any other
        # data-dependent trap
        m.d.comb += Assume(a.mem_denied == b.mem_denied)
        if getattr(a, "pipeline", False):
            # the pipelined core's PMP/M-only verdict comes in W, where it cancels the request
            # (Core.dbus_cancel): a data-dependent refusal, outside the scope likewise
            m.d.comb += Assume(a.dbus_cancel == b.dbus_cancel)
        # Any trap in one copy only is data-dependent control flow: outside the scope. (The
        # unpipelined core redirects the fetch to mtvec in the trap's own cycle, which the fetch
        # assumptions below exclude; the pipelined one a cycle later.)
        m.d.comb += Assume(a.trap == b.trap)
        for core in (a, b):
            with m.If(core.ibus.en):
                m.d.comb += Assume(core.ibus.adr != 0x8000_0000 >> 2)    # not mtvec: no trap

        self.check(m, "fetch in the same cycles", a.ibus.en == b.ibus.en)
        self.check(m, "retire in the same cycles", a.trace.valid == b.trace.valid)
        self.check(m, "cyc alike", a.dbus.cyc == b.dbus.cyc)
        self.check(m, "stb alike", a.dbus.stb == b.dbus.stb)

        # the scope is not empty: retirements with different results in the two copies, and
        # one at different addresses (the copies' control flow went different ways)
        differ = Signal(2)
        with m.If(a.trace.valid & a.trace.rd_we & (a.trace.rd_data != b.trace.rd_data) &
                  (differ != 3)):
            m.d.sync += differ.eq(differ + 1)
        self.cover(m, "two results differ between the copies", differ == 2)
        if self.diverge_cover:
            self.cover(m, "a retirement at different addresses in the two copies",
                       a.trace.valid & b.trace.valid & (a.trace.pc != b.trace.pc))
        p_stalled = Signal()
        m.d.sync += p_stalled.eq(a.dbus.cyc & a.dbus.stb & stall)
        self.cover(m, "a request accepted after a stall", p_stalled & accepted)
        return m


def PipelinedCore(**kw):
    """The F/D/X/W core (``Core(pipeline=True)``, hdl/pipeline.py) for the same harnesses."""
    return Core(pipeline=True, **kw)


def PipelinedFetchRegCore(**kw):
    """The F/D/X/W core with the fetched word registered (``Core(pipeline=True,
    fetch_reg=True)``) for the same harnesses."""
    return Core(pipeline=True, fetch_reg=True, **kw)


class EarlyExitDividerCore(Core):
    """Mutant: the core built with :class:`EarlyExitDivider` (DIV by zero finishes early)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.divider = EarlyExitDivider()


def _local(m, name):
    """The one signal called ``name`` that the statements of ``m`` (an elaborated core's top
    module, not its submodules) assign: how a mutant reaches a register or a net the core keeps
    local to its ``elaborate``."""
    ports = set()                       # the submodules' ports the module drives
    for sub, _ in m._named_submodules.values():
        if isinstance(sub, wiring.Component):
            ports.update(id(v) for _, _, v in sub.signature.flatten(sub))
    found = {}                          # id -> signal (signals are not hashable)
    for stmts in m._statements.values():
        for st in stmts:
            found.update((id(s), s) for s in st._lhs_signals()
                         if s.name == name and id(s) not in ports)
    if len(found) != 1:
        raise LookupError(f"{len(found)} signals called {name!r} in the core's module")
    return found.popitem()[1]


def _assigned(m, name):
    """The value the core's module assigns to ``name`` at its top level (not under an ``If``)."""
    sig = _local(m, name)
    rhs = [st.rhs for st in m._statements["comb"] if getattr(st, "lhs", None) is sig]
    if len(rhs) != 1:
        raise LookupError(f"{len(rhs)} top-level assignments to {name!r}")
    return sig, rhs[0]


def _not_taken_slower(core, m):
    # the default core: a branch that is not taken waits one cycle more in X (the first cycle
    # it could leave is a stall), unless its target is the next instruction (B-immediate 4)
    stall, waits = _assigned(m, "stall")
    dec, taken = core.decoder.dec, core.branch.taken
    slow = Signal()
    waited = Signal()
    m.d.comb += slow.eq(_local(m, "x_valid") & ~waits & dec.branch & ~taken & (dec.imm != 4))
    m.d.sync += waited.eq(slow & ~waited)
    with m.If(slow & ~waited):
        m.d.comb += stall.eq(1)


def _not_taken_slower_pipelined(core, m):
    # the pipelined cores: after a branch not taken, the word behind it waits one cycle more in
    # D (the first cycle it could move to X is a hold); the branch itself retires on time
    d_go, goes = _assigned(m, "d_go")
    dec = data.View(Decoded, _local(m, "x_dec"))
    pending = Signal()
    with m.If(_local(m, "x_commit") & dec.branch & ~m.submodules.branch.taken):
        m.d.sync += pending.eq(1)
    with m.Elif(goes):
        m.d.sync += pending.eq(0)
    with m.If(pending & goes):
        m.d.comb += d_go.eq(0)


#: Mutants: a branch costs one cycle more when it is not taken (the default core: taken 1,
#: not taken 2; the pipelined core: taken 2, not taken 3; with the fetched word registered:
#: 3 and 4). tests/test_core_timing.py measures the difference (``beq``); the timing miter must
#: find it too, which it can only if the copies may fetch from different addresses: a miter
#: assuming equal fetch addresses passes both at depth 8. (The default core's mutant spares
#: branches to pc + 4, whose two outcomes fetch from the same address: there, such a miter
#: does find it.)
NotTakenSlowerCore = _core_mutant(
    "NotTakenSlowerCore", "Mutant: a branch not taken costs one cycle more, unless its target "
    "is pc + 4.", _not_taken_slower)
NotTakenSlowerPipelinedCore = _pipelined_mutant(
    "NotTakenSlowerPipelinedCore", "Mutant: the pipelined core's branch not taken costs one "
    "cycle more.", _not_taken_slower_pipelined)
NotTakenSlowerFetchRegCore = _pipelined_mutant(
    "NotTakenSlowerFetchRegCore", "Mutant: with the fetched word registered, a branch not "
    "taken costs one cycle more.", _not_taken_slower_pipelined, fetch_reg=True)


# ----------------------------------------------------------------------- DMA confinement

#: Flattened, the engine's window check and the property's share their terms; kept
#: hierarchical, Yices had not decided step 1 after 5 minutes.
DMA_SCRIPT = "flatten; opt -fast"


class DMAConfinement(Harness):
    """Two DMA engines behind the SoC's arbiter, each with its *own* window set, in a free
    environment; every request an engine presents must lie inside that engine's windows of
    the same cycle, with the permission its direction needs.

    Environment: each engine's windows (base, limit, R, W) are arbitrary in every cycle (so
    they change at any time, with or without ``flush``); descriptors, ``rd.ready``, ``wr``
    words, ``abort``, ``flush`` and ``wipe`` are arbitrary; the target's ``stall`` and
    ``dat_r`` are arbitrary, ``ack``/``err`` arbitrary but never both and only while a
    request is unanswered (``out`` counts them).

    Property ``engine k in its windows`` (k = 0, 1): ``cyc & stb`` of engine k implies
    ``base <= adr·4`` and ``adr·4 + 4 <= limit`` for some window of engine k with R (a read)
    or W (a write). The arbiter's output carries only the granted engine's request, so a
    request reaching memory from engine k was checked against engine k's windows.

    ``register=True``: the pipelined SoC's DMA side, the arbiter into the request register
    (``RequestRegister``, tagged and dropped by each engine's ``flush``/``wipe`` as hdl/soc.py
    wires it) and the engines built with ``latency=2``; the target is behind the register.
    Property ``register's beat of engine k not revoked``: a beat the register presents to
    memory, taken from engine k, was taken in a cycle where engine k's ``flush`` and ``wipe``
    were low, and neither has been high since, this cycle included. With the property above
    (a beat lies in its engine's windows of the cycle it is issued) and the control
    component's ``flush`` in the first cycle of every window change (tests/test_coproctl.py),
    no beat checked against a window reaches memory once that window has changed.
    """

    def __init__(self, cls=None, *, n=2, fifo_depth=8, register=False, drop=True):
        super().__init__()
        from gluon.hdl.dma import DMAEngine
        cls = cls or DMAEngine
        self.register = register
        self.drop = drop            # False: a mutant whose register never drops a beat
        self.engines = [cls(fifo_depth=fifo_depth, latency=2 if register else 1)
                        for _ in range(n)]

    def elaborate(self, platform):
        from gluon.hdl.bus import Arbiter, RequestRegister
        from gluon.hdl.dma import N_WINDOWS
        m = Module()
        self.domain(m)
        m.submodules.arbiter = arb = Arbiter(addr_width=30, n=len(self.engines))
        if self.register:
            m.submodules.request = req = RequestRegister(addr_width=30, tags=len(self.engines))
            wiring.connect(m, arb.bus, req.bus)
        for k, eng in enumerate(self.engines):
            m.submodules[f"engine{k}"] = eng
            wiring.connect(m, eng.bus, arb.initiators[k])
            chan = eng.chan
            m.d.comb += [
                chan.cmd.valid.eq(AnySeq(1)), chan.cmd.payload.eq(AnySeq(len(chan.cmd.payload.as_value()))),
                chan.rd.ready.eq(AnySeq(1)), chan.wr.valid.eq(AnySeq(1)),
                chan.wr.payload.eq(AnySeq(32)), chan.abort.eq(AnySeq(1)),
                eng.ctl.flush.eq(AnySeq(1)), eng.ctl.wipe.eq(AnySeq(1)),
            ]
            for i in range(N_WINDOWS):
                w = eng.windows.win[i]
                m.d.comb += [w.base.eq(AnySeq(32)), w.limit.eq(AnySeq(32)),
                             w.r.eq(AnySeq(1)), w.w.eq(AnySeq(1))]
            if self.register:
                b = eng.bus
                m.d.comb += req.tag[k].eq(b.cyc & b.stb & ~b.stall)
                if self.drop:
                    m.d.comb += req.drop[k].eq(eng.ctl.flush | eng.ctl.wipe)

        bus = req.out if self.register else arb.bus
        out = Signal(4)
        answer = Signal()
        m.d.comb += [
            bus.stall.eq(AnySeq(1)), bus.dat_r.eq(AnySeq(32)),
            bus.ack.eq(AnySeq(1)), bus.err.eq(AnySeq(1)),
            answer.eq(bus.ack | bus.err),
            Assume(~(bus.ack & bus.err)),
            Assume(~answer | (out != 0)),
        ]
        nxt = out + (bus.cyc & bus.stb & ~bus.stall) - answer
        m.d.sync += out.eq(Mux(nxt > 15, 15, nxt))

        for k, eng in enumerate(self.engines):
            b = eng.bus
            byte = Cat(C(0, 2), b.adr)
            inside = []
            for i in range(N_WINDOWS):
                w = eng.windows.win[i]
                inside.append(Mux(b.we, w.w, w.r) & (byte >= w.base) & (byte + 4 <= w.limit))
            with m.If(b.cyc & b.stb):
                self.check(m, f"engine {k} in its windows", Cat(*inside).any())
        if self.register:
            # which engine the register's beat came from (the one whose request it took), and
            # whether that engine was revoked or wiped since (its take's cycle included)
            src = Signal(range(len(self.engines)))
            revoked = Signal()
            stop = [eng.ctl.flush | eng.ctl.wipe for eng in self.engines]
            m.d.sync += revoked.eq(revoked | Array(stop)[src])
            for k, eng in enumerate(self.engines):
                b = eng.bus
                with m.If(b.cyc & b.stb & ~b.stall):
                    m.d.sync += [src.eq(k), revoked.eq(stop[k])]
            for k in range(len(self.engines)):
                with m.If(bus.cyc & bus.stb & (src == k)):
                    self.check(m, f"register's beat of engine {k} not revoked",
                               ~revoked & ~stop[k])
            self.cover(m, "the register presents a beat", bus.cyc & bus.stb)
            self.cover(m, "a beat is dropped", req.bus.err & ~bus.err)
        last = self.engines[-1].bus
        self.cover(m, "the last engine issues a request", last.cyc & last.stb)
        return m


def acceptance_only_engine():
    from gluon.hdl.dma import DMAEngine

    class AcceptanceOnlyDMAEngine(DMAEngine):
        """Mutant: windows checked only when a descriptor is accepted (the engine before
        revocation existed): a window closed mid-descriptor does not stop it."""

        def _beat_allowed(self, adr, write):
            return C(1, 1)
    return AcceptanceOnlyDMAEngine


class RefusedDataMiter(Harness):
    """Refused data reach nothing: two pipelined cores that differ only in the data a refused
    access is answered with (and in ``dat_r`` whenever no answer is given) behave alike.

    The pipelined core makes a load's or store's request from ``X`` and judges it (PMP, the
    M-only regions) in ``W``, from the address matches ``X`` registered; RAM reads the array for
    a load whatever the verdict, so a refused load's word arrives on ``dat_r`` with the
    acknowledge in ``W``'s cycle, in which the core raises ``dbus_cancel`` (docs/security.md).
    Both copies get the same instruction stream, interrupt lines, ``mtime`` and bus timing
    (``stall``, ``ack``, ``err``), and the same ``dat_r`` in every answered cycle without a
    cancel; in a cancelled cycle, and in every cycle without an answer, copy ``b`` sees another
    arbitrary word. The PMP is real (4 entries, so that the solver can refuse an access within
    a few instructions, e.g. MPRV with MPP = U and no entry: every data access refused).

    Properties: in every cycle both fetch alike (``ibus.en``, ``adr``), retire alike
    (``trace.valid``, ``pc``), write the same register with the same value (``trace.rd*``,
    the register file's write port), make the same data requests (``cyc``, ``stb``, ``we``,
    ``adr``, ``sel``, ``dat_w``), cancel and trap alike. So refused data reach no register, no
    operand bypass (a later result or request would differ), no CSR (``csrr`` results, trap
    targets) and no timing (fetch, retire, request cycles), within the depth (bounded).
    """

    RESET = 0x8000_0100

    def __init__(self, cls=None):
        super().__init__()
        cls = cls or (lambda **kw: Core(pipeline=True, **kw))
        self.a = cls(reset_vector=self.RESET, pmp_entries=4, triggers=0)
        self.b = cls(reset_vector=self.RESET, pmp_entries=4, triggers=0)

    def elaborate(self, platform):
        m = Module()
        self.domain(m)
        m.submodules.a = a = self.a
        m.submodules.b = b = self.b

        word = Signal(32)
        m.d.comb += word.eq(AnySeq(32))
        # no MUL/DIV (their units are cut to free outputs, REFUSED_CUTPOINTS, which would
        # answer the copies differently); they compute on registers as the ALU does
        m.d.comb += Assume(~((word[:7] == 0b0110011) & (word[25:32] == 1)))
        timer, soft, local, mtime = AnySeq(1), AnySeq(1), AnySeq(16), AnySeq(64)
        stall, ack, err = AnySeq(1), AnySeq(1), AnySeq(1)
        same, other = AnySeq(32), AnySeq(32)
        cancel = a.dbus_cancel | b.dbus_cancel
        accepted = _drive_two_cores(m, ((a, same), (b, Mux(ack & ~cancel, same, other))),
                                    word, timer=timer, soft=soft, local=local, mtime=mtime,
                                    stall=stall, ack=ack, err=err, done=a.dbus_cancel)

        self.check(m, "fetch alike", (a.ibus.en == b.ibus.en) & (a.ibus.adr == b.ibus.adr))
        self.check(m, "retire alike", (a.trace.valid == b.trace.valid)
                   & (~a.trace.valid | (a.trace.pc == b.trace.pc)))
        with m.If(a.trace.valid & a.trace.rd_we):
            self.check(m, "register writes alike", b.trace.rd_we & (a.trace.rd == b.trace.rd)
                       & (a.trace.rd_data == b.trace.rd_data))
        self.check(m, "requests alike", (a.dbus.cyc == b.dbus.cyc) & (a.dbus.stb == b.dbus.stb))
        with m.If(a.dbus.cyc & a.dbus.stb):
            self.check(m, "request contents alike",
                       (a.dbus.we == b.dbus.we) & (a.dbus.adr == b.dbus.adr)
                       & (a.dbus.sel == b.dbus.sel) & (~a.dbus.we | (a.dbus.dat_w == b.dbus.dat_w)))
        self.check(m, "cancel and trap alike",
                   (a.dbus_cancel == b.dbus_cancel) & (a.trap == b.trap))

        # not vacuous: a refused load answered with different words in the two copies
        p_load = Signal()
        m.d.sync += p_load.eq(accepted & ~a.dbus.we)
        self.cover(m, "a refused load answered with different data",
                   a.dbus_cancel & p_load & ack & (a.dbus.dat_r != b.dbus.dat_r))
        return m


def _refused_load_written(core, m):
    # the refused load written back as an allowed one would be (the verdict forgotten in W)
    rf = m.submodules.regfile
    with m.If(core.dbus_cancel):
        m.d.comb += [rf.we.eq(rf.waddr != 0), core.trace.valid.eq(1)]


#: the refused-data miter's cuts (MUL/DIV are left out of its instruction stream)
REFUSED_CUTPOINTS = ("cutpoint top.a.multiplier top.a.divider "
                     "top.b.multiplier top.b.divider")

RefusedLoadWrittenCore = _pipelined_mutant(
    "RefusedLoadWrittenCore", "Mutant: a load PMP refuses in W is written back.",
    _refused_load_written)
