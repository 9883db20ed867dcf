"""The modular-arithmetic coprocessor's registers (slot 1, register map ``MODMUL``): the
register bank, the register-path FIFOs XIN/XOUT (amaranth's ``SyncFIFOBuffered``: block RAM
plus an output register, emptied by a reset), the value store and the Montgomery unit, run by
the :class:`~.sequencer.ProgramSequencer`. See the package documentation and docs/modmul.md."""

from amaranth import *
from amaranth.hdl import ResetInserter
from amaranth.lib import wiring, fifo
from amaranth.lib.wiring import In, Out, connect, flipped

from ..bus import WishboneSignature
from ..dma import DMAChannelSignature
from ..regs import RegisterBank
from ..simgate import sim_gated_block
from .registers import VERSION, NEWTON_START_BITS, UNIT_SETTLE, Cause, xfifo_depth, modmul_regs
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

    ``bus``  In(WishboneSignature(addr_width=10))  the 4 KiB control slot (target side)
    ``dma``  Out(DMAChannelSignature())            to this coprocessor's DMA engine
    ``irq``  Out(1)                                STATUS.DONE & IRQ_EN.DONE
    ``busy`` Out(1)                                a program runs or its DMA is active
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
        super().__init__({
            "bus":  In(WishboneSignature(addr_width=10)),
            "dma":  Out(DMAChannelSignature()),
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

    def elaborate(self, platform):
        if not self.sim_gating:
            return self._elaborate(platform)
        # Simulation model only (hdl/simgate.py): two clocks that stop while idle.
        m = Module()
        # The Montgomery unit's registers change only while it runs (start .. done, then its
        # pipelines drain within UNIT_SETTLE cycles) and when N is written through the modulus
        # port: every other register loads under a valid token, or copies one that no longer
        # changes.
        unit = self.unit
        mp = unit.modulus
        sim_gated_block(m, "mmunit", unit.busy | unit.start | mp.clear | mp.we, UNIT_SETTLE,
                        lambda platform: unit, submodule="unit")
        # The rest (control, value store, FIFOs, register bank) changes only on a bus request
        # to its slot, while busy (a program runs or its DMA is active) and, through the
        # register bank's response and the unit's ports, in the cycles after.
        sim_gated_block(m, "modmul", self.bus.cyc | self.busy, UNIT_SETTLE, self._elaborate)
        return m

    def _elaborate(self, platform):
        m = Module()
        P, max_limbs = self.lanes, self.max_limbs

        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        connect(m, flipped(self.bus), regs.bus)
        unit = self.unit
        if not self.sim_gating:
            m.submodules.unit = unit        # (else elaborate() adds it, on its own clock)

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

        m.submodules.sequencer = seq = ProgramSequencer(self, xdepth=xdepth)
        connect(m, seq.store_port, vstore.xfer)
        connect(m, seq.modulus, unit.modulus)
        connect(m, flipped(self.dma), seq.dma)
        m.d.comb += [
            seq.xin.valid.eq(xin.r_rdy), seq.xin.payload.eq(xin.r_data),
            xin.r_en.eq(seq.xin.ready),
            xout.w_en.eq(seq.xout.valid), xout.w_data.eq(seq.xout.payload),
            seq.xout.ready.eq(xout.w_rdy), seq.xout_level.eq(xout.level),
        ]

        # The unit: requests from the sequencer; its slots are registers set with the start,
        # its first read happens the cycle after.
        u = seq.u
        with m.If(u.start):
            m.d.sync += [vstore.ua.eq(u.a), vstore.ub.eq(u.b), vstore.ud.eq(u.d)]
        m.d.comb += [unit.limbs.eq(seq.active_l), unit.start.eq(u.start), unit.mode.eq(u.mode),
                     unit.zero_a.eq(u.za), unit.zero_b.eq(u.zb), unit.imm.eq(u.imm),
                     unit.to_np.eq(u.np), seq.unit_done.eq(unit.done)]

        # ---- registers ------------------------------------------------------------------
        m.d.comb += regs.id.r_data.eq((ord("M") << 24) | (ord("M") << 16) | VERSION)
        m.d.comb += [
            regs.info.r_data.max_limbs.eq(max_limbs),
            regs.info.r_data.slots.eq(self.slots),
            regs.info.r_data.lanes.eq(P),
            regs.info.r_data.prog_depth.eq(self.prog_depth),
        ]
        running = seq.running
        done = Signal()
        error = Signal()
        cause = Signal(Cause)
        cycles = Signal(32)

        limbs_req = Signal(6)
        prog_addr = Signal(32)
        prog_len = Signal(11)
        data_base = Signal(32)
        m.d.comb += [
            seq.start.eq(regs.start.w_stb), seq.again.eq(regs.start.w_data.again),
            seq.queue.eq(regs.start.w_data.queue), seq.abort.eq(regs.abort.w_stb),
            seq.limbs_req.eq(limbs_req), seq.prog_addr.eq(prog_addr),
            seq.prog_len.eq(prog_len), seq.data_base.eq(data_base),
            regs.status.r_data.busy.eq(running),
            regs.status.r_data.done.eq(done),
            regs.status.r_data.error.eq(error),
            regs.status.r_data.modset.eq(seq.modset),
            regs.status.r_data.cause.eq(cause),
            regs.status.r_data.pc.eq(seq.pc),
            regs.status.r_data.active_limbs.eq(Mux(seq.modset, seq.active_l, 0)),
            regs.limbs.r_data.value.eq(limbs_req),
            regs.prog_addr.r_data.eq(prog_addr),
            regs.prog_len.r_data.value.eq(prog_len),
            regs.data_base.r_data.eq(data_base),
            regs.queue.r_data.count.eq(seq.qcount),
            regs.cycles.r_data.eq(cycles),
            self.busy.eq(running),
            self.irq.eq(done & regs.irq_en.data.done),
        ]

        refuse = Signal()                # a register write is refused
        refuse_cause = Signal(Cause)

        with m.If(regs.status.w_stb):
            with m.If(regs.status.w_data.done):
                m.d.sync += done.eq(0)
            with m.If(regs.status.w_data.error):
                m.d.sync += [error.eq(0), cause.eq(Cause.NONE)]

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

        # XIN, XOUT, XFIFO.
        m.d.comb += [
            regs.xfifo.r_data.in_level.eq(xin.level),
            regs.xfifo.r_data.out_level.eq(xout.level),
            regs.xfifo.r_data.depth.eq(xdepth),
            xin.w_data.eq(regs.xin.w_data.as_value()),
            regs.xout.r_data.eq(Mux(xout.r_rdy, xout.r_data, 0)),
        ]
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
        with m.If(regs.cmd.w_stb):
            with m.If(running):
                m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.BUSY)]
            with m.Elif(seq.qcount == self.prog_depth):
                m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.LENGTH)]
            with m.Else():
                m.d.comb += seq.push.eq(1)

        with m.If(running):
            m.d.sync += cycles.eq(cycles + 1)

        # ---- a program's start, end and failure ------------------------------------------
        with m.If(seq.refuse):
            m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.LENGTH)]
        with m.If(seq.begin):
            m.d.sync += [done.eq(0), error.eq(0), cause.eq(Cause.NONE), cycles.eq(0)]
        with m.If(seq.ended):
            m.d.sync += done.eq(1)
        abort_req = regs.abort.w_stb & running
        with m.If((seq.fail | abort_req) & ~seq.draining):
            m.d.comb += [unit.abort.eq(1), xin_clear.eq(1)]
            m.d.sync += [error.eq(1), cause.eq(Mux(seq.fail, seq.fail_cause, Cause.ABORTED))]
        with m.If(regs.start.w_stb & running):
            m.d.comb += [refuse.eq(1), refuse_cause.eq(Cause.BUSY)]
        with m.If(refuse):
            m.d.sync += [error.eq(1), cause.eq(refuse_cause)]
        return m
