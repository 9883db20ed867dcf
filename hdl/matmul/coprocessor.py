"""The int8 matrix coprocessor's control (slot 2, register map ``MATMUL``): register bank,
parameter checks, START/ABORT/STATUS/IRQ, per docs/coprocessor-contract.md. It holds the
:class:`~gluon.hdl.matmul.engine.MatMulEngine` in reset whenever no operation runs, so an
aborted operation leaves nothing in flight.
"""

from amaranth import *
from amaranth.hdl import ResetInserter, DomainRenamer
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..bus import WishboneSignature
from ..regs import RegisterBank
from ..dma import DMAChannelSignature
from ..simgate import sim_gated_domain, sim_gated_block
from .registers import VERSION, MAX_K, Cause, Store, Op, Job, matmul_regs
from .engine import MatMulEngine


__all__ = ["MatMulCoprocessor"]


class MatMulCoprocessor(wiring.Component):
    """The int8 matrix coprocessor, per docs/coprocessor-contract.md.

    Parameters (keyword-only): ``dim`` (array side P, power of two 4..32; 8 = 64 MACs/cycle),
    ``max_m``, ``max_n`` (accumulator capacity of one operation, powers of two), ``k_chunk``
    (K elements per double-buffered chunk, power of two >= dim), ``requant_dsp`` (the four
    requantizers' 32×32 products in DSP blocks instead of LUTs: 16 more MULT18X18D on ECP5
    and about 8,900 fewer TRELLIS_COMB in the 'compact' SoC (docs/fpga.md); 4 cycles less
    output latency; :class:`~gluon.hdl.matmul.requantizer.Requantizer`).

    Ports: ``bus`` (its 4 KiB register slot), ``dma`` (to its DMAEngine), ``irq``
    (STATUS.DONE & IRQ_EN.DONE), ``busy`` (an operation runs).
    """

    NAME = "MATMUL"
    SLOT = 2
    REGS = matmul_regs()
    sim_gating = False        # sim/simtop.py: stop the engine's clock while idle (hdl/simgate.py)

    bus: In(WishboneSignature(addr_width=10))
    dma: Out(DMAChannelSignature())
    irq: Out(1)
    busy: Out(1)

    def __init__(self, *, dim=8, max_m=64, max_n=64, k_chunk=32, requant_dsp=False):
        # MatMulEngine checks the parameters.
        self.engine = MatMulEngine(dim=dim, max_m=max_m, max_n=max_n, k_chunk=k_chunk,
                                   requant_dsp=requant_dsp)
        self.dim, self.max_m, self.max_n, self.k_chunk = dim, max_m, max_n, k_chunk
        super().__init__()

    def elaborate(self, platform):
        rst_next = Signal()                       # engine_rst's next value
        job_load = Signal()                       # START accepted: latch the parameters
        if not self.sim_gating:
            return self._elaborate(platform, rst_next, job_load, None)
        # Simulation model only (hdl/simgate.py). The engine (and the job it reads) gets a
        # clock that stops while the engine sits in reset (see sim_gated_domain); the rest
        # (control, register bank) one that stops while idle: it changes only on a bus request
        # to its slot, while busy, and in the cycle after (the register bank's response).
        m = Module()
        edom = sim_gated_domain(m, "mmeng", rst_next, job_load)
        m.submodules.engine = ResetInserter({edom.name: edom.rst})(
            DomainRenamer(edom.name)(self.engine))
        sim_gated_block(m, "matmul", self.bus.cyc | self.busy, 16,
                        lambda platform: self._elaborate(platform, rst_next, job_load, edom.name))
        return m

    def _elaborate(self, platform, rst_next, job_load, engine_domain):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)

        # The engine's reset is a register: it fans out to every flip-flop of the engine, so
        # nothing but a clock-to-output delay may precede it (the parameter checks do not).
        engine_rst = Signal(init=1)
        m.d.comb += rst_next.eq(engine_rst)
        m.d.sync += engine_rst.eq(rst_next)
        go = Signal()                             # first cycle of RUN: start the engine
        job = Signal(Job)
        eng = self.engine
        if engine_domain is None:
            m.submodules.engine = ResetInserter(engine_rst)(eng)
            job_d = m.d.sync
        else:                                     # (elaborate() added the engine)
            job_d = m.d[engine_domain]
        wiring.connect(m, wiring.flipped(self.dma), eng.dma)
        m.d.comb += eng.job.eq(job)

        done = Signal()
        error = Signal()
        cause = Signal(Cause)
        cycles = Signal(32)

        m.d.comb += [
            regs.id.r_data.eq((ord("M") << 24) | (ord("X") << 16) | VERSION),
            regs.config.r_data.dim.eq(self.dim),
            regs.config.r_data.max_m.eq(self.max_m),
            regs.config.r_data.max_n.eq(self.max_n),
            regs.status.r_data.busy.eq(self.busy),
            regs.status.r_data.done.eq(done),
            regs.status.r_data.error.eq(error),
            regs.status.r_data.cause.eq(cause),
            regs.cycles.r_data.eq(cycles),
            self.irq.eq(done & regs.irq_en.data.done),
        ]
        with m.If(regs.status.w_stb & regs.status.w_data.done):
            m.d.sync += done.eq(0)

        start = regs.start.w_stb & regs.start.w_data.go
        abort = regs.abort.w_stb & regs.abort.w_data.go

        # Parameter checks, in this order of priority.
        op = job.op
        stores = op.store != Store.NONE
        misaligned = Cat(
            job.a_addr[:2], job.b_addr[:2], job.lda[:2], job.ldb[:2],
            Mux(stores, Cat(job.c_addr[:2], job.ldc[:2]), 0),
            Mux(stores & op.bias, job.bias_addr[:2], 0)).any()
        check = Signal(Cause)
        with m.If(op.store.as_value() == 3):
            m.d.comb += check.eq(Cause.BAD_OP)
        with m.Elif((job.m == 0) | (job.n == 0) | (job.k == 0)):
            m.d.comb += check.eq(Cause.ZERO_SIZE)
        with m.Elif((job.m > self.max_m) | (job.n > self.max_n) | (job.k > MAX_K)):
            m.d.comb += check.eq(Cause.TOO_BIG)
        with m.Elif(misaligned):
            m.d.comb += check.eq(Cause.ALIGN)

        def finish(why):
            m.d.sync += [done.eq(1), error.eq(why != Cause.NONE), cause.eq(why)]

        with m.FSM(name="ctrl"):
            with m.State("IDLE"):
                with m.If(start):
                    m.d.comb += job_load.eq(1)
                    job_d += [
                        job.a_addr.eq(regs.a_addr.data),
                        job.b_addr.eq(regs.b_addr.data),
                        job.c_addr.eq(regs.c_addr.data),
                        job.bias_addr.eq(regs.bias_addr.data),
                        job.lda.eq(regs.a_stride.data),
                        job.ldb.eq(regs.b_stride.data),
                        job.ldc.eq(regs.c_stride.data),
                        job.m.eq(regs.m.data),
                        job.n.eq(regs.n.data),
                        job.k.eq(regs.k.data),
                        job.op.eq(regs.op.data.as_value()[:Op.as_shape().size]),
                        job.qmul.eq(regs.qmul.data),
                        job.qshift.eq(regs.qshift.data.shift),
                        job.qzp.eq(regs.qzp.data.zp),
                    ]
                    m.d.sync += [
                        done.eq(0), error.eq(0), cause.eq(Cause.NONE),
                        cycles.eq(1),
                    ]
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(start):
                    m.d.sync += cause.eq(Cause.BUSY)
                    m.next = "HALT"
                with m.Elif(check != Cause.NONE):
                    finish(check)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += go.eq(1)
                    m.d.comb += rst_next.eq(0)
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += [self.busy.eq(1), eng.start.eq(go)]
                m.d.sync += [cycles.eq(cycles + 1), go.eq(0)]
                with m.If(start):
                    m.d.sync += cause.eq(Cause.BUSY)
                    m.d.comb += rst_next.eq(1)
                    m.next = "HALT"
                with m.Elif(abort):
                    m.d.sync += cause.eq(Cause.ABORTED)
                    m.d.comb += rst_next.eq(1)
                    m.next = "HALT"
                with m.Elif(eng.error):
                    m.d.sync += cause.eq(Cause.DMA)
                    m.d.comb += rst_next.eq(1)
                    m.next = "HALT"
                with m.Elif(eng.done):
                    finish(Cause.NONE)
                    m.d.comb += rst_next.eq(1)
                    m.next = "IDLE"
            with m.State("HALT"):
                # Engine held in reset (nothing in flight), DMA told to abort; wait until the
                # DMA engine has drained its bus responses and gone idle.
                m.d.comb += [self.busy.eq(1), eng.halt.eq(1)]
                m.d.sync += cycles.eq(cycles + 1)
                with m.If(~self.dma.busy):
                    m.d.sync += [done.eq(1), error.eq(1)]
                    m.next = "IDLE"
        return m

