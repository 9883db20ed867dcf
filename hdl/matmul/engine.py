"""The matrix coprocessor's engine: the buffers and the blocks that run one operation
(see the package documentation for the schedule)."""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, connect, flipped

from ..dma import DMAChannelSignature
from .registers import Job, Store
from .geometry import Geometry
from .systolic import SystolicArray
from .loader import Loader
from .sequencer import Sequencer
from .accumulators import Accumulators
from .store import StoreUnit


__all__ = ["MatMulEngine"]


class MatMulEngine(wiring.Component):
    """Buffers, array, loader, sequencer, accumulators and output stage of the matrix
    coprocessor.

    Runs one operation described by ``job`` (stable while it runs, already checked by
    :class:`~.coprocessor.MatMulCoprocessor`) after a ``start`` pulse; ends with a ``done``
    pulse, or an ``error`` pulse if the DMA engine refused a descriptor or saw a bus error (the
    caller then resets the engine). ``halt`` drives the DMA channel's ``abort``.

    Wipe: while ``wipe`` is held (the engine idle, just out of reset), every memory's write
    port writes zero at ``wipe_addr`` (taken modulo the memory's depth) and the store's output
    FIFO takes zeros; :attr:`wipe_depth` cycles with ``wipe_addr`` = 0, 1, ... zero every word
    (the caller then resets the engine to clear the flip-flops and FIFO pointers).
    """

    def __init__(self, *, dim=8, max_m=64, max_n=64, k_chunk=32, requant_dsp=False):
        if not isinstance(requant_dsp, bool):
            raise TypeError(f"requant_dsp must be a bool, not {requant_dsp!r}")
        for name, v in (("dim", dim), ("max_m", max_m), ("max_n", max_n), ("k_chunk", k_chunk)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} must be an integer, not {v!r}")
            if v < 1 or v & (v - 1):
                raise ValueError(f"{name} must be a power of two, not {v}")
        if not 4 <= dim <= 32:
            raise ValueError(f"dim must be 4..32 (a buffer row holds whole 32-bit words), not {dim}")
        if max_n < dim or k_chunk < dim or max_m < 1:
            raise ValueError(f"max_n ({max_n}) and k_chunk ({k_chunk}) must be at least dim ({dim})")
        if max_m > 2048 or max_n > 2048:
            raise ValueError("max_m and max_n must be at most 2048 (CONFIG has 12-bit fields)")
        self.dim, self.max_m, self.max_n, self.k_chunk = dim, max_m, max_n, k_chunk
        self.requant_dsp = requant_dsp
        self.geometry = geo = Geometry(dim=dim, max_m=max_m, max_n=max_n, k_chunk=k_chunk)
        #: Words of the deepest memory (A, B, bias buffers, an accumulator bank, the store's
        #: output FIFO): the cycles a wipe writes zeros.
        self.wipe_depth = max(2 * geo.half_a, 2 * geo.half_b, geo.MN // 4,
                              geo.bank_rows * geo.b_epr, StoreUnit.FIFO_DEPTH)
        super().__init__({
            "job": In(Job),
            "start": In(1),
            "done": Out(1),
            "error": Out(1),
            "halt": In(1),
            "dma": Out(DMAChannelSignature()),
            "wipe": In(1),
            "wipe_addr": In(range(self.wipe_depth)),
        })

    def elaborate(self, platform):
        m = Module()
        geo = self.geometry
        P, MN = geo.P, geo.MN
        job, dma = self.job, self.dma
        storing = job.op.store != Store.NONE

        m.d.comb += dma.abort.eq(self.halt)

        # ---- buffers (A double-buffered by unit, B by K chunk; the bias vector) -----------
        m.submodules.a_buf = a_buf = Memory(shape=8 * P, depth=2 * geo.half_a, init=[])
        m.submodules.b_buf = b_buf = Memory(shape=8 * P, depth=2 * geo.half_b, init=[])
        m.submodules.bias_buf = bias_buf = Memory(shape=128, depth=max(MN // 4, 1), init=[])

        m.submodules.array = array = SystolicArray(dim=P)
        m.submodules.loader = loader = Loader(geo)
        m.submodules.sequencer = seq = Sequencer(geo)
        m.submodules.acc = acc = Accumulators(geo, latency=array.latency,
                                              sum_width=array.sum_width)
        m.submodules.store = store = StoreUnit(geo, requant_dsp=self.requant_dsp)

        # Per-operation sizes, registered in SETUP.
        sizes = Signal(geo.sizes)
        run = Signal()                            # loader, compute and store active
        for blk in (loader, seq, store):
            m.d.comb += [blk.job.eq(job), blk.sizes.eq(sizes), blk.run.eq(run)]

        a_w = a_buf.write_port(granularity=32)
        b_w = b_buf.write_port(granularity=32)
        bias_w = bias_buf.write_port(granularity=32)
        connect(m, loader.a_w, a_w)
        connect(m, loader.b_w, b_w)
        connect(m, loader.bias_w, bias_w)
        with m.If(self.wipe):                     # (overrides the loader's drive)
            for wp, mem in ((a_w, a_buf), (b_w, b_buf), (bias_w, bias_buf)):
                m.d.comb += [wp.addr.eq(self.wipe_addr[:len(wp.addr)]), wp.data.eq(0),
                             wp.en.eq(-1)]
        m.d.comb += [acc.wipe.eq(self.wipe), acc.wipe_addr.eq(self.wipe_addr),
                     store.wipe.eq(self.wipe)]
        connect(m, seq.a_r, a_buf.read_port())
        connect(m, seq.b_r, b_buf.read_port())
        connect(m, store.bias_r, bias_buf.read_port())
        connect(m, seq.rows, array.rows)
        connect(m, seq.weights, array.weights)
        connect(m, flipped(dma.rd), loader.rd)
        connect(m, store.wr, flipped(dma.wr))

        # A and B buffer halves: full from the loader's fill until the sequencer releases them.
        a_full = Signal(2)
        b_full = Signal(2)
        m.d.sync += [
            a_full.eq((a_full | loader.a_loaded) & ~seq.a_release),
            b_full.eq((b_full | loader.b_loaded) & ~seq.b_release),
        ]
        m.d.comb += [
            loader.a_full.eq(a_full),
            loader.b_full.eq(b_full),
            seq.a_full.eq(a_full),
            seq.b_full.eq(b_full),
            seq.b_loading.eq(loader.b_loading),
            seq.ld_bh.eq(loader.bh),
            seq.ld_row.eq(loader.row),
            seq.pg.eq(store.pg),
            acc.meta.eq(seq.meta),
            acc.sums.eq(array.sums.payload),
            acc.rd_addr.eq(store.acc_addr),
            store.acc_data.eq(acc.rd_data),
            store.group_final.eq(acc.final),
            store.bias_done.eq(loader.bias_done),
        ]

        # ---- DMA arbitration: the loader's descriptors first, then the store's ------------
        owner = Signal(2)                         # 1: loader's descriptor, 2: store's
        ld, st = loader.dma, store.dma
        m.d.comb += [
            ld.cmd.ready.eq((owner == 0) & dma.cmd.ready),
            st.cmd.ready.eq((owner == 0) & ~ld.cmd.valid & dma.cmd.ready),
            dma.cmd.valid.eq((owner == 0) & (ld.cmd.valid | st.cmd.valid)),
            dma.cmd.payload.eq(Mux(ld.cmd.valid, ld.cmd.payload.as_value(),
                                   st.cmd.payload.as_value())),
            ld.done.eq(dma.done & (owner == 1)),
            st.done.eq(dma.done & (owner == 2)),
            ld.error.eq(dma.error),
            st.error.eq(dma.error),
        ]
        with m.If(ld.cmd.valid & ld.cmd.ready):
            m.d.sync += owner.eq(1)
        with m.Elif(st.cmd.valid & st.cmd.ready):
            m.d.sync += owner.eq(2)
        with m.Elif(dma.done):
            m.d.sync += owner.eq(0)

        # ---- phases ------------------------------------------------------------------------
        setup = geo.setup(m, sizes, job)
        drain = Signal(range(array.latency + 8))
        with m.FSM(name="phase"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.next = "SETUP"
            with m.State("SETUP"):
                m.d.sync += setup
                m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += run.eq(1)
                with m.If(seq.compute_end):
                    m.d.sync += drain.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                # Let the last rows leave the array and reach the accumulators; then wait
                # until every group of C is written.
                m.d.comb += run.eq(1)
                with m.If(drain != array.latency + 4):
                    m.d.sync += drain.eq(drain + 1)
                with m.Elif(~storing | (store.groups_done == sizes.last_g + 1)):
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"

        m.d.comb += self.error.eq(dma.error)
        return m
