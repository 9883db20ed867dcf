"""The modular-arithmetic coprocessor's slot (slot 1, register map ``MODMUL``): the register
bank, the slot's control component (:class:`~gluon.hdl.coproctl.CoprocessorControl`: STATUS,
START, ABORT, CYCLES, owner, windows, interrupt, wipe), the register-path FIFOs XIN/XOUT
(amaranth's ``SyncFIFOBuffered``: block RAM plus an output register), the value store and the
Montgomery unit, run by the :class:`~.sequencer.ProgramSequencer`, and the wipe. See the
package documentation and docs/modmul.md."""

from amaranth import *
from amaranth.hdl import ResetInserter
from amaranth.lib import wiring, fifo
from amaranth.lib.wiring import In, Out, connect, flipped

from ..bus import WishboneSignature
from ..coproctl import CoprocessorControl
from ..dma import DMAChannelSignature, WindowSignature, DMAControlSignature
from ..regs import RegisterBank
from ..simgate import sim_gated_block
from .registers import (VERSION, NEWTON_START_BITS, UNIT_SETTLE, Op, Cause, xfifo_depth,
                        modmul_regs)
from .montgomery import MontgomeryUnit, LIMB_BITS
from .value_store import ValueStore
from .sequencer import ProgramSequencer


__all__ = ["ModMulCoprocessor"]


class ModMulCoprocessor(wiring.Component):
    """The modular-arithmetic coprocessor (see the module docstring and docs/modmul.md).

    Parameters: ``lanes`` (32×32 multipliers per row engine: ``12·lanes`` ECP5 DSP blocks),
    ``max_limbs`` (largest modulus, in 32-bit limbs), ``slots`` (user values),
    ``prog_depth`` (program memory, in ops).

    Ports (the coprocessor contract, docs/coprocessor-contract.md):

    ``bus``         In(WishboneSignature(addr_width=10))  the 4 KiB slot page (target side)
    ``ctl_bus``     In(WishboneSignature(addr_width=6))   its section of the M-only control page
    ``dma``         Out(DMAChannelSignature())            to this coprocessor's DMA engine
    ``dma_windows`` Out(WindowSignature()), ``dma_ctl`` Out(DMAControlSignature()): the
                    engine's windows, revocation and wipe (from the control component)
    ``irq``         Out(1)   the control component's interrupt line (M-only)
    ``busy``        Out(1)   a program runs, its DMA is active, or a wipe runs

    Wipe (``ctl.block.wipe``): every register of the block is held at its reset value and
    every word of the value store, the program memory and the XIN/XOUT FIFOs is written with
    zero, :attr:`wipe_cycles` cycles from ``wipe`` to ``wipe_done`` whatever the block was
    doing. :attr:`retained`: the flip-flops a wipe keeps (the control component's).
    """

    NAME = "MODMUL"
    SLOT = 1
    REGS = modmul_regs(24, 32, 4, 512)

    def __init__(self, *, lanes=4, max_limbs=24, slots=32, prog_depth=512):
        if not isinstance(slots, int) or not 1 <= slots <= 32:
            raise ValueError(f"slots must be an integer in 1..32, not {slots!r}")
        if not isinstance(max_limbs, int) or not 1 <= max_limbs <= 63:
            raise ValueError(f"max_limbs must be an integer in 1..63, not {max_limbs!r}")
        if not isinstance(prog_depth, int) or prog_depth < 2 or prog_depth & (prog_depth - 1) \
                or prog_depth > 1024:
            raise ValueError(f"prog_depth must be a power of two in 2..1024, not {prog_depth!r}")
        self.lanes, self.max_limbs, self.slots, self.prog_depth = lanes, max_limbs, slots, prog_depth
        # The unit checks lanes.
        self.unit = MontgomeryUnit(lanes=lanes, max_limbs=max_limbs)
        self.REGS = modmul_regs(max_limbs, slots, lanes, prog_depth)
        self.ctl = CoprocessorControl(kind="MM", version=VERSION, op=Op, cause=Cause)
        self._wipe = Signal(name="wipe_hold")     # the wipe holds every register at reset
        super().__init__({
            "bus":  In(WishboneSignature(addr_width=10)),
            "ctl_bus": In(WishboneSignature(addr_width=6)),
            "dma":  Out(DMAChannelSignature()),
            "dma_windows": Out(WindowSignature()),
            "dma_ctl": Out(DMAControlSignature()),
            "irq":  Out(1),
            "busy": Out(1),
        })

    sim_gating = False        # sim/simtop.py: stop the unit's clock while idle (hdl/simgate.py)

    # Internal slots after the user's.
    @property
    def internal_slots(self):
        names = ["N", "X", "Y", "TWO", "ONE", "R2", "STAGE"]
        return {n: self.slots + i for i, n in enumerate(names)}

    @property
    def newton_steps(self):
        bits, steps = NEWTON_START_BITS, 0
        while bits < LIMB_BITS * self.max_limbs:
            bits, steps = 2 * bits, steps + 1
        return steps

    @property
    def dsp_count(self):
        return self.unit.dsp_count

    @property
    def store_depth(self):
        """Words of the value store (blocks of ``lanes`` limbs)."""
        n_values = self.slots + len(self.internal_slots)
        return n_values << (self.unit.max_nb - 1).bit_length()

    @property
    def _zero_cycles(self):
        # The store, the program memory and (clear, fill, clear) the FIFOs, in parallel.
        return max(self.store_depth, self.prog_depth, xfifo_depth(self.max_limbs) + 2)

    @property
    def wipe_cycles(self):
        """Cycles from ``wipe`` rising to ``wipe_done``, whatever the block was doing: one
        zero word per memory and cycle (the largest memory sets the length), one cycle for
        the read ports to take a zero word, then ``wipe_done``."""
        return self._zero_cycles + 2

    @property
    def retained(self):
        """Flip-flops a wipe leaves as they are, by design (M-mode's configuration of the slot)."""
        return self.ctl.retained

    def elaborate(self, platform):
        if not self.sim_gating:
            return self._elaborate(platform)
        # Simulation model only (hdl/simgate.py): two clocks that stop while idle.
        m = Module()
        # The Montgomery unit's registers change only while it runs (start .. done, then its
        # pipelines drain within UNIT_SETTLE cycles), when N is written through the modulus
        # port and while a wipe holds them at reset: every other register loads under a valid
        # token, or copies one that no longer changes.
        unit = self.unit
        mp = unit.modulus
        sim_gated_block(m, "mmunit", unit.busy | unit.start | mp.clear | mp.we | self._wipe,
                        UNIT_SETTLE, lambda platform: ResetInserter(self._wipe)(unit),
                        submodule="unit")
        # The rest (control, value store, FIFOs, register banks) changes only on a bus request
        # to its slot or its control section, while busy (a program runs, its DMA is active,
        # or a wipe runs) and, through the register bank's response and the unit's ports, in
        # the cycles after. The control component stays on ``sync``'s clock: it is small, and
        # it must see the SoC's resets (``hold``), after which it starts the wipe, exactly as
        # in the synthesised design (the gated domains have no reset).
        m.submodules.ctl = self.ctl
        sim_gated_block(m, "modmul", self.bus.cyc | self.busy, UNIT_SETTLE, self._elaborate)
        return m

    def _elaborate(self, platform):
        m = Module()
        P, max_limbs = self.lanes, self.max_limbs

        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        connect(m, flipped(self.bus), regs.bus)
        ctl = self.ctl
        if not self.sim_gating:
            m.submodules.ctl = ctl          # (else elaborate() adds it, on sync's clock)
        ctl.connect_block(m, self, regs)
        c = ctl.block
        wipe = self._wipe
        m.d.comb += [wipe.eq(c.wipe), regs.clear.eq(c.wipe), self.irq.eq(ctl.irq)]

        unit = self.unit
        if not self.sim_gating:
            # (else elaborate() adds it, on its own clock)
            m.submodules.unit = ResetInserter(wipe)(unit)

        m.submodules.values = vstore = ValueStore(
            values=self.slots + len(self.internal_slots), blocks=unit.max_nb,
            width=P * LIMB_BITS)
        connect(m, unit.rd_a, vstore.unit_a)
        connect(m, unit.rd_b, vstore.unit_b)
        connect(m, unit.wr, vstore.unit_wr)

        # The register path: XIN → LOADX, STOREX → XOUT (no DMA, no program fetch).
        xdepth = xfifo_depth(max_limbs)
        xin_clear, xout_clear = Signal(), Signal()
        m.submodules.xin = xin = ResetInserter(xin_clear)(
            fifo.SyncFIFOBuffered(width=LIMB_BITS, depth=xdepth))
        m.submodules.xout = xout = ResetInserter(xout_clear)(
            fifo.SyncFIFOBuffered(width=LIMB_BITS, depth=xdepth))

        m.submodules.sequencer = seq = ResetInserter(wipe)(ProgramSequencer(self, xdepth=xdepth))
        connect(m, seq.modulus, unit.modulus)
        connect(m, flipped(self.dma), seq.dma)
        m.d.comb += [
            seq.xin.valid.eq(xin.r_rdy), seq.xin.payload.eq(xin.r_data),
            xin.r_en.eq(seq.xin.ready),
            xout.w_en.eq(seq.xout.valid), xout.w_data.eq(seq.xout.payload),
            seq.xout.ready.eq(xout.w_rdy), seq.xout_level.eq(xout.level),
        ]

        # The control component's operation interface.
        running = seq.running
        m.d.comb += [
            seq.start.eq(c.start), seq.op.eq(c.op), seq.abort.eq(c.abort),
            c.busy.eq(running), c.done.eq(seq.done), c.error.eq(seq.error),
            c.cause.eq(seq.cause),
            self.busy.eq(running | c.wipe),
        ]

        # The unit: requests from the sequencer; its slots are registers set with the start,
        # its first read happens the cycle after.
        u = seq.u
        with m.If(u.start):
            m.d.sync += [vstore.ua.eq(u.a), vstore.ub.eq(u.b), vstore.ud.eq(u.d)]
        m.d.comb += [unit.limbs.eq(seq.active_l), unit.start.eq(u.start), unit.mode.eq(u.mode),
                     unit.zero_a.eq(u.za), unit.zero_b.eq(u.zb), unit.imm.eq(u.imm),
                     unit.to_np.eq(u.np), seq.unit_done.eq(unit.done)]

        # ---- the wipe: zero every memory word, hold every register at reset ------------
        zero = Signal()
        zcnt = Signal(range(self._zero_cycles))
        sp, xs = seq.store_port, vstore.xfer
        m.d.comb += [
            xs.sel.eq(sp.sel), xs.raddr.eq(sp.raddr), sp.rdata.eq(xs.rdata),
            xs.we.eq(sp.we), xs.waddr.eq(sp.waddr), xs.wdata.eq(sp.wdata),
        ]
        with m.If(zero):
            m.d.comb += [seq.zero.eq(zcnt < self.prog_depth), seq.zero_addr.eq(zcnt),
                         xs.we.eq(zcnt < self.store_depth), xs.waddr.eq(zcnt), xs.wdata.eq(0)]
        fill = Signal()
        with m.FSM(name="wipe"):
            with m.State("IDLE"):
                with m.If(c.wipe):
                    m.next = "ZERO"
            with m.State("ZERO"):
                # FIFOs: pointers cleared, xdepth zero words written (every memory word and
                # the output register), pointers cleared again.
                m.d.comb += [zero.eq(1), fill.eq((zcnt >= 1) & (zcnt <= xdepth)),
                             xin_clear.eq((zcnt == 0) | (zcnt == xdepth + 1)),
                             xout_clear.eq((zcnt == 0) | (zcnt == xdepth + 1))]
                m.d.sync += zcnt.eq(zcnt + 1)
                with m.If(zcnt == self._zero_cycles - 1):
                    m.d.sync += zcnt.eq(0)
                    m.next = "SETTLE"
            with m.State("SETTLE"):
                # The memories' read ports take a (zero) word.
                m.next = "WIPED"
            with m.State("WIPED"):
                m.d.comb += c.wipe_done.eq(1)
                with m.If(~c.wipe):
                    m.next = "IDLE"

        # ---- registers ------------------------------------------------------------------
        m.d.comb += [
            regs.info.r_data.max_limbs.eq(max_limbs),
            regs.info.r_data.slots.eq(self.slots),
            regs.info.r_data.lanes.eq(P),
            regs.info.r_data.prog_depth.eq(self.prog_depth),
        ]
        limbs_req = Signal(6)
        prog_addr = Signal(32)
        prog_len = Signal(11)
        data_base = Signal(32)
        refused = Signal()
        refused_cause = Signal(Cause)
        m.d.comb += [
            seq.limbs_req.eq(limbs_req), seq.prog_addr.eq(prog_addr),
            seq.prog_len.eq(prog_len), seq.data_base.eq(data_base),
            regs.state.r_data.modset.eq(seq.modset),
            regs.state.r_data.refused.eq(refused),
            regs.state.r_data.refused_cause.eq(refused_cause),
            regs.state.r_data.pc.eq(seq.pc),
            regs.state.r_data.active_limbs.eq(Mux(seq.modset, seq.active_l, 0)),
            regs.limbs.r_data.value.eq(limbs_req),
            regs.prog_addr.r_data.eq(prog_addr),
            regs.prog_len.r_data.value.eq(prog_len),
            regs.data_base.r_data.eq(data_base),
            regs.queue.r_data.count.eq(seq.qcount),
        ]

        refuse = Signal()                # a register access is refused
        refuse_cause = Signal(Cause)

        with m.If(regs.state.w_stb & regs.state.w_data.refused):
            m.d.sync += [refused.eq(0), refused_cause.eq(Cause.NONE)]

        for reg, store in ((regs.limbs, limbs_req), (regs.prog_addr, prog_addr),
                           (regs.prog_len, prog_len), (regs.data_base, data_base)):
            with m.If(reg.w_stb):
                with m.If(running):
                    m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.BUSY)]
                with m.Else():
                    value = reg.w_data.as_value()
                    if store is prog_addr or store is data_base:
                        value = value & ~3
                    m.d.sync += store.eq(value)

        # XIN, XOUT, XFIFO (nothing moves in or out while a wipe runs).
        m.d.comb += [
            regs.xfifo.r_data.in_level.eq(xin.level),
            regs.xfifo.r_data.out_level.eq(xout.level),
            regs.xfifo.r_data.depth.eq(xdepth),
            xin.w_data.eq(Mux(fill, 0, regs.xin.w_data.as_value())),
            xout.w_data.eq(Mux(fill, 0, seq.xout.payload)),
            regs.xout.r_data.eq(Mux(xout.r_rdy & ~zero, xout.r_data, 0)),
        ]
        with m.If(fill):
            m.d.comb += [xin.w_en.eq(1), xin.r_en.eq(0), xout.w_en.eq(1), xout.r_en.eq(0)]
        with m.Elif(~c.wipe):
            with m.If(regs.xin.w_stb):
                with m.If(xin.w_rdy):
                    m.d.comb += xin.w_en.eq(1)
                with m.Else():
                    m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.FIFO)]
            with m.If(regs.xout.r_stb):
                with m.If(xout.r_rdy):
                    m.d.comb += xout.r_en.eq(1)
                with m.Else():
                    m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.FIFO)]
            with m.If(regs.xfifo.w_stb):
                with m.If(running):
                    m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.BUSY)]
                with m.Else():
                    m.d.comb += [xin_clear.eq(regs.xfifo.w_data.clear_in),
                                 xout_clear.eq(regs.xfifo.w_data.clear_out)]

        # CMD: push into the program memory while idle.
        m.d.comb += seq.push_data.eq(regs.cmd.w_data.as_value())
        with m.If(regs.cmd.w_stb & ~c.wipe):
            with m.If(running):
                m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.BUSY)]
            with m.Elif(seq.qcount == self.prog_depth):
                m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.LENGTH)]
            with m.Else():
                m.d.comb += seq.push.eq(1)

        # ---- a program's failure --------------------------------------------------------
        # A failure the sequencer decides (a bad op, a failed transfer) stops the unit and
        # empties XIN one cycle later, from a register: the decision is made on the op word
        # straight out of the program memory's block RAM, and the unit's flush and the FIFO's
        # reset reach hundreds of flip-flops (that path limited the block alone to 59.3 MHz).
        # The unit is idle whenever the sequencer fails (it decodes only after the unit's
        # last write), and the sequencer reports the error no earlier than that cycle (DRAIN),
        # so nothing the core can see changes but XIN's level for that one cycle. ABORT, which
        # may stop a running operation, still stops it in the cycle it is written.
        fail_stop = Signal()
        m.d.sync += fail_stop.eq(seq.fail & ~seq.draining)
        abort_req = c.abort & running
        with m.If(fail_stop | (abort_req & ~seq.draining)):
            m.d.comb += [unit.abort.eq(1), xin_clear.eq(1)]
        with m.If(refuse):
            m.d.sync += [refused.eq(1), refused_cause.eq(refuse_cause)]

        # The wipe holds the block's own registers at reset (last: it wins).
        with m.If(c.wipe):
            m.d.sync += [Value.cast(r).eq(Value.cast(r).init) for r in (
                limbs_req, prog_addr, prog_len, data_base, refused, refused_cause,
                vstore.ua, vstore.ub, vstore.ud)]
        return m
