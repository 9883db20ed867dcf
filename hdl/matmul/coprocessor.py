"""The int8 matrix coprocessor's control (slot 2, register map ``MATMUL``): its register bank,
the shared :class:`~gluon.hdl.coproctl.CoprocessorControl` (STATUS/START/ABORT/CYCLES, the
M-only control section, the wipe; docs/coprocessor-contract.md), the parameter checks and the
wipe of the engine. It holds the :class:`~gluon.hdl.matmul.engine.MatMulEngine` in reset
whenever no operation runs, so an aborted operation leaves nothing in flight.
"""

from amaranth import *
from amaranth.hdl import ResetInserter, DomainRenamer
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, connect, flipped

from ..bus import WishboneSignature
from ..regs import RegisterBank
from ..dma import DMAChannelSignature, DMAControlSignature, WindowSignature
from ..coproctl import CoprocessorControl
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

    Ports: ``bus`` (its 4 KiB slot page), ``ctl_bus`` (its section of the M-only control
    page), ``dma``/``dma_windows``/``dma_ctl`` (to its DMAEngine), ``irq`` (the control
    component's: STATUS.DONE & CTRL.IRQ_EN while M owns the slot), ``busy`` (an operation
    runs).

    Wipe (``ctl.block.wipe``): whatever runs stops; the engine is reset, then writes zeros
    into every word of its memories for :attr:`~.engine.MatMulEngine.wipe_depth` cycles, its
    read ports take a zero word, and it is reset again; the latched operation and the
    parameter registers return to reset. :attr:`wipe_cycles` from ``wipe`` to ``wipe_done``,
    whatever the state.
    """

    NAME = "MATMUL"
    SLOT = 2
    REGS = matmul_regs()
    sim_gating = False        # sim/simtop.py: stop the engine's clock while idle (hdl/simgate.py)

    bus: In(WishboneSignature(addr_width=10))
    ctl_bus: In(WishboneSignature(addr_width=6))
    dma: Out(DMAChannelSignature())
    dma_windows: Out(WindowSignature())
    dma_ctl: Out(DMAControlSignature())
    irq: Out(1)
    busy: Out(1)

    def __init__(self, *, dim=8, max_m=64, max_n=64, k_chunk=32, requant_dsp=False):
        # MatMulEngine checks the parameters.
        self.engine = MatMulEngine(dim=dim, max_m=max_m, max_n=max_n, k_chunk=k_chunk,
                                   requant_dsp=requant_dsp)
        self.ctl = CoprocessorControl(kind="MX", version=VERSION, op=Op, cause=Cause)
        self.dim, self.max_m, self.max_n, self.k_chunk = dim, max_m, max_n, k_chunk
        super().__init__()

    @property
    def wipe_cycles(self):
        """Cycles from ``wipe`` rising to ``wipe_done``: one to stop and reset the engine, one
        per word of the deepest memory, one for the read ports, one to reset the engine."""
        return self.engine.wipe_depth + 4

    @property
    def retained(self):
        """Flip-flops a wipe keeps by design: M-mode's configuration of the slot."""
        return self.ctl.retained

    def elaborate(self, platform):
        rst_next = Signal()                       # engine_rst's next value
        job_load = Signal()                       # START accepted or a wipe: load the job
        awake = Signal()                          # an operation or a wipe runs
        if not self.sim_gating:
            return self._elaborate(platform, rst_next, job_load, awake, None)
        # Simulation model only (hdl/simgate.py). The engine (and the job it reads) gets a
        # clock that stops while the engine sits in reset (see sim_gated_domain); the rest
        # (control, register bank) one that stops while idle: it changes only on a bus request
        # to its slot or its control section, while an operation or a wipe runs, and in the
        # cycle after (the register bank's response).
        # The control component stays on ``sync``'s clock: it must see the SoC's resets
        # (``hold``), after which it starts the wipe, exactly as in the synthesised design
        # (the gated domains have no reset).
        m = Module()
        m.submodules.ctl = self.ctl
        edom = sim_gated_domain(m, "mmeng", rst_next, job_load)
        m.submodules.engine = ResetInserter({edom.name: edom.rst})(
            DomainRenamer(edom.name)(self.engine))
        sim_gated_block(m, "matmul", self.bus.cyc | self.ctl_bus.cyc | self.busy | awake, 16,
                        lambda platform: self._elaborate(platform, rst_next, job_load, awake,
                                                         edom.name))
        return m

    def _elaborate(self, platform, rst_next, job_load, awake, engine_domain):
        m = Module()
        m.submodules.regs = regs = RegisterBank(self.REGS, addr_width=10)
        connect(m, flipped(self.bus), regs.bus)
        ctl = self.ctl
        if engine_domain is None:
            m.submodules.ctl = ctl          # (else elaborate() adds it, on sync's clock)
        ctl.connect_block(m, self, regs)
        c = ctl.block
        m.d.comb += [
            self.irq.eq(ctl.irq),
            self.busy.eq(c.busy | c.wipe),      # a wipe occupies the slot too
            awake.eq(regs.status.r_data.busy),
            regs.config.r_data.dim.eq(self.dim),
            regs.config.r_data.max_m.eq(self.max_m),
            regs.config.r_data.max_n.eq(self.max_n),
        ]

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
        connect(m, flipped(self.dma), eng.dma)
        m.d.comb += eng.job.eq(job)

        # Parameter checks, in this order of priority.
        bad_op = Signal()                         # START.OP was neither MUL nor MAC
        mode = job.op
        stores = mode.store != Store.NONE
        misaligned = Cat(
            job.a_addr[:2], job.b_addr[:2], job.lda[:2], job.ldb[:2],
            Mux(stores, Cat(job.c_addr[:2], job.ldc[:2]), 0),
            Mux(stores & mode.bias, job.bias_addr[:2], 0)).any()
        check = Signal(Cause)
        with m.If(bad_op | (mode.store.as_value() == 3)):
            m.d.comb += check.eq(Cause.BAD_OP)
        with m.Elif((job.m == 0) | (job.n == 0) | (job.k == 0)):
            m.d.comb += check.eq(Cause.ZERO_SIZE)
        with m.Elif((job.m > self.max_m) | (job.n > self.max_n) | (job.k > MAX_K)):
            m.d.comb += check.eq(Cause.TOO_BIG)
        with m.Elif(misaligned):
            m.d.comb += check.eq(Cause.ALIGN)

        halt_cause = Signal(Cause)                # why HALT ends the operation
        wcnt = Signal(range(eng.wipe_depth))      # the wipe's memory address
        m.d.comb += eng.wipe_addr.eq(wcnt)

        def wipe_stops_this():
            # A wipe stops whatever runs (the control component starts nothing meanwhile, and
            # ignores the ends it may see in this cycle): the engine goes to reset.
            with m.If(c.wipe):
                m.d.comb += rst_next.eq(1)
                m.next = "WIPE_RST"

        with m.FSM(name="ctrl"):
            with m.State("IDLE"):
                # The job's registers follow the parameter registers in every idle cycle, so
                # the ones a START takes are these (the edge at the end of START's cycle): the
                # 325 flip-flops' enable is the state, not the bus's START strobe (in the
                # compact-pipelined build that strobe, late behind the core's verdict on the
                # access, drove their enable through 6.4 ns of routing, docs/fpga.md).
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
                    job.op.acc.eq(c.op == Op.MAC),
                    job.op.store.eq(regs.mode.data.store),
                    job.op.bias.eq(regs.mode.data.bias),
                    job.op.relu.eq(regs.mode.data.relu),
                    job.qmul.eq(regs.qmul.data),
                    job.qshift.eq(regs.qshift.data.shift),
                    job.qzp.eq(regs.qzp.data.zp),
                ]
                with m.If(c.start):
                    m.d.comb += job_load.eq(1)
                    m.d.sync += bad_op.eq((c.op != Op.MUL) & (c.op != Op.MAC))
                    m.next = "CHECK"
                wipe_stops_this()
            with m.State("CHECK"):
                m.d.comb += c.busy.eq(1)
                with m.If(c.abort):
                    m.d.comb += [c.error.eq(1), c.cause.eq(Cause.ABORTED)]
                    m.next = "IDLE"
                with m.Elif(check != Cause.NONE):
                    m.d.comb += [c.error.eq(1), c.cause.eq(check)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += go.eq(1)
                    m.d.comb += rst_next.eq(0)
                    m.next = "RUN"
                wipe_stops_this()
            with m.State("RUN"):
                m.d.comb += [c.busy.eq(1), eng.start.eq(go)]
                m.d.sync += go.eq(0)
                with m.If(c.abort):
                    m.d.sync += halt_cause.eq(Cause.ABORTED)
                    m.d.comb += rst_next.eq(1)
                    m.next = "HALT"
                with m.Elif(eng.error):
                    m.d.sync += halt_cause.eq(Cause.DMA)
                    m.d.comb += rst_next.eq(1)
                    m.next = "HALT"
                with m.Elif(eng.done):
                    m.d.comb += [c.done.eq(1), rst_next.eq(1)]
                    m.next = "IDLE"
                wipe_stops_this()
            with m.State("HALT"):
                # Engine held in reset (nothing in flight), DMA told to abort; wait until the
                # DMA engine has drained its bus responses and gone idle.
                m.d.comb += [c.busy.eq(1), eng.halt.eq(1)]
                with m.If(~self.dma.busy):
                    m.d.comb += [c.error.eq(1), c.cause.eq(halt_cause)]
                    m.next = "IDLE"
                wipe_stops_this()

            # ---- wipe (fixed length: wipe_cycles) ----
            with m.State("WIPE_RST"):
                # engine_rst is 1 in this cycle: every engine flip-flop resets at its end.
                m.d.comb += rst_next.eq(0)
                m.next = "WIPE_ZERO"
            with m.State("WIPE_ZERO"):
                # The engine, idle, writes zero into word wcnt of every memory.
                m.d.comb += [eng.wipe.eq(1), job_load.eq(1), regs.clear.eq(1)]
                job_d += job.eq(0)
                m.d.sync += [wcnt.eq(wcnt + 1), bad_op.eq(0), halt_cause.eq(Cause.NONE),
                             go.eq(0)]
                with m.If(wcnt == eng.wipe_depth - 1):
                    m.d.sync += wcnt.eq(0)
                    m.next = "WIPE_SETTLE"
            with m.State("WIPE_SETTLE"):
                # The memories are zero: the read ports' data registers take a zero word.
                m.d.comb += [eng.wipe.eq(1), rst_next.eq(1)]
                m.next = "WIPE_CLEAR"
            with m.State("WIPE_CLEAR"):
                # engine_rst is 1: the FIFO pointers and every engine flip-flop reset.
                m.next = "WIPED"
            with m.State("WIPED"):
                m.d.comb += c.wipe_done.eq(1)
                with m.If(~c.wipe):
                    m.next = "IDLE"
        return m
