"""The matrix engine's output stage: accumulators → (+bias) → four requantizers → FIFO → DMA.

One 32-bit word of C per cycle: four int8 values, or one int32 value. Group g of C is stored
(from accumulator bank g mod 2) while the array works on group g+1. Per group, one write
descriptor for all its rows if they are contiguous in memory, else one per row; a descriptor
is issued only when the group's words are coming (no descriptor holds the DMA engine
waiting).
"""

from amaranth import *
from amaranth.lib import wiring, data, stream, fifo
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out, connect, flipped
from amaranth.utils import ceil_log2, exact_log2

from ..dma import DMARequestSignature, DMAMover
from .registers import Job, Store
from .requantizer import Requantizer
from .geometry import smul


__all__ = ["StoreUnit"]


class StoreUnit(wiring.Component):
    """Stores C for an engine of :class:`~.geometry.Geometry` ``geo``, from ``run`` on.

    ``group_final`` pulses when a group's accumulators are final; ``bias_done`` says the bias
    buffer is loaded. The unit reads the accumulators through ``acc_addr``/``acc_data`` (one
    bank each) and the bias buffer through ``bias_r``, writes C on ``wr`` with descriptors on
    ``dma``, and reports ``pg`` (groups read out of the accumulators) and ``groups_done``
    (groups completely written). ``requant_dsp``: see :class:`~.requantizer.Requantizer`.
    ``wipe``: the output FIFO takes a zero word every cycle (:data:`FIFO_DEPTH` of them fill
    every word of it and its output register; the engine's reset then empties it).
    """

    #: Words of the output FIFO.
    FIFO_DEPTH = 32

    def __init__(self, geo, *, requant_dsp=False):
        self._geo = geo
        self.requant_dsp = requant_dsp
        self._banks = banks = 2 if geo.two_banks else 1
        super().__init__({
            "job": In(Job),
            "sizes": In(geo.sizes),
            "run": In(1),
            "bias_done": In(1),
            "group_final": In(1),
            "acc_addr": Out(range(geo.bank_rows * geo.b_epr)),
            "acc_data": In(data.ArrayLayout(32 * geo.P, banks)),
            "bias_r": Out(ReadPort.Signature(addr_width=ceil_log2(max(geo.MN // 4, 1)),
                                             shape=128).flip()),
            "pg": Out(range(geo.max_groups + 1)),
            "groups_done": Out(range(geo.max_groups + 1)),
            "dma": Out(DMARequestSignature()),
            "wr": Out(stream.Signature(32)),
            "wipe": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        geo, job, sz, run = self._geo, self.job, self.sizes, self.run
        P, MN, G, lgP = geo.P, geo.MN, geo.G, geo.lgP
        N = job.n[:ceil_log2(MN + 1)]
        is_int8 = job.op.store == Store.INT8
        storing = job.op.store != Store.NONE
        last_g, mg_last, st_words = sz.last_g, sz.mg_last, sz.st_words
        pg, st_done = self.pg, self.groups_done
        bias_done = self.bias_done

        rqs = []
        for lane in range(4):
            rq = Requantizer(tag_width=1, dsp=self.requant_dsp)
            m.submodules[f"requant{lane}"] = rq
            rqs.append(rq)

        st_ready = Signal(range(geo.max_groups + 1))  # groups whose accumulators are final
        with m.If(self.group_final):
            m.d.sync += st_ready.eq(st_ready + 1)

        m.submodules.out_fifo = out_fifo = fifo.SyncFIFOBuffered(width=32, depth=self.FIFO_DEPTH)
        pipe_depth = 3 + rqs[0].latency
        # producer: group pg, row in group, word
        pr = Signal(range(G))
        pw = Signal(range(MN + 1))
        p_mg = Mux(pg == last_g, mg_last, G)
        p_go = run & storing & (pg < st_ready) & bias_done
        issue = Signal()
        m.d.comb += issue.eq(p_go & (out_fifo.level < out_fifo.depth - pipe_depth))
        with m.If(issue):
            with m.If(pw == st_words - 1):
                m.d.sync += [pw.eq(0), pr.eq(pr + 1)]
                with m.If(pr == p_mg - 1):
                    m.d.sync += [pr.eq(0), pg.eq(pg + 1)]
            with m.Else():
                m.d.sync += pw.eq(pw + 1)
        with m.If(~run):
            m.d.sync += [pg.eq(0), pr.eq(0), pw.eq(0)]

        QPE = P // 4                              # quads (4 values) per accumulator entry
        lg_qpe = exact_log2(QPE)
        p_entry = Mux(is_int8, pw >> lg_qpe, pw >> lgP)
        p_quad = Mux(is_int8, pw, pw >> 2)[:lg_qpe] if lg_qpe else C(0, 1)
        p_row = Cat(pr[:geo.lgG], pg[1:]) if geo.two_banks else pr
        m.d.comb += [
            self.acc_addr.eq((p_row << exact_log2(geo.b_epr)) + p_entry),
            self.bias_r.addr.eq(Mux(is_int8, pw, pw >> 2)),
        ]

        # Stage 1: data of the accumulator entry and the bias quad arrive; select the quad.
        p1_valid = Signal()
        p1_bank = Signal()
        p1_quad = Signal(max(lg_qpe, 1))
        p1_lane = Signal(2)
        p1_pad = Signal(4)
        m.d.sync += [
            p1_valid.eq(issue),
            p1_bank.eq(pg[0] if geo.two_banks else 0),
            p1_quad.eq(p_quad),
            p1_lane.eq(pw[:2]),
            p1_pad.eq(Cat(((pw << 2) + l >= N) & is_int8 for l in range(4))),
        ]
        # The requantizers' input registers take the sums directly (their stage 0).
        x = [Signal(signed(32), name=f"x{l}") for l in range(4)]
        entry = Mux(p1_bank, self.acc_data[self._banks - 1], self.acc_data[0])
        quad = entry.word_select(p1_quad, 128) if QPE > 1 else entry
        bquad = Mux(job.op.bias, self.bias_r.data, 0)
        vals = [quad[32 * l:32 * l + 32].as_signed() + bquad[32 * l:32 * l + 32].as_signed()
                for l in range(4)]
        one = Signal(signed(32))
        m.d.comb += one.eq(Array(vals)[p1_lane])
        for l in range(4):
            m.d.comb += x[l].eq(Mux(is_int8, vals[l], one if l == 0 else 0))
        for l, rq in enumerate(rqs):
            m.d.comb += [
                rq.i.valid.eq(p1_valid),
                rq.i.payload.value.eq(x[l]),
                rq.i.payload.tag.eq(p1_pad[l]),
                rq.multiplier.eq(job.qmul),
                rq.shift.eq(job.qshift),
                rq.zero_point.eq(job.qzp),
                rq.relu.eq(job.op.relu),
            ]
        bytes_ = [Mux(rq.o.payload.tag[0], 0, rq.o.payload.value.as_unsigned()) for rq in rqs]
        m.d.comb += [
            out_fifo.w_en.eq(rqs[0].o.valid),
            out_fifo.w_data.eq(Mux(is_int8, Cat(*bytes_), rqs[0].o.payload.raw)),
            self.wr.valid.eq(out_fifo.r_rdy),
            self.wr.payload.eq(out_fifo.r_data),
            out_fifo.r_en.eq(self.wr.ready),
        ]
        with m.If(self.wipe):
            m.d.comb += [out_fifo.w_en.eq(1), out_fifo.w_data.eq(0), out_fifo.r_en.eq(0),
                         self.wr.valid.eq(0)]

        # Store descriptors.
        m.submodules.mover = mover = DMAMover()
        connect(m, mover.chan, flipped(self.dma))
        c_ptr = Signal(32)
        c_row = Signal(range(G + 1))
        c_mg = Signal(range(G + 1))               # rows of the group being stored
        c_merge = Signal()                        # rows of C contiguous: one descriptor
        c_words = Signal(16)                      # words per descriptor
        with m.FSM(name="store"):
            with m.State("IDLE"):
                with m.If(run & storing):
                    m.d.sync += [c_ptr.eq(job.c_addr), c_row.eq(0), st_done.eq(0)]
                    m.next = "WAIT"
            with m.State("WAIT"):
                mg = Mux(st_done == last_g, mg_last, G)
                merge = job.ldc == (st_words << 2)
                m.d.sync += [
                    c_mg.eq(mg), c_merge.eq(merge),
                    c_words.eq(Mux(merge, smul(st_words, mg), st_words)),
                ]
                with m.If(st_done == last_g + 1):
                    m.next = "END"
                with m.Elif((st_done < st_ready) & bias_done):
                    m.next = "MOVE"
            with m.State("MOVE"):
                m.d.comb += [mover.req.eq(1), mover.desc.addr.eq(c_ptr),
                             mover.desc.words.eq(c_words), mover.desc.write.eq(1)]
                with m.If(mover.done):
                    with m.If(c_merge):
                        m.d.sync += [c_ptr.eq(c_ptr + (c_words << 2)),
                                     c_row.eq(0), st_done.eq(st_done + 1)]
                        m.next = "WAIT"
                    with m.Elif(c_row == c_mg - 1):
                        m.d.sync += [c_ptr.eq(c_ptr + job.ldc), c_row.eq(0),
                                     st_done.eq(st_done + 1)]
                        m.next = "WAIT"
                    with m.Else():
                        m.d.sync += [c_ptr.eq(c_ptr + job.ldc), c_row.eq(c_row + 1)]
            with m.State("END"):
                pass
        with m.If(~run):
            m.d.sync += st_ready.eq(0)
        return m
