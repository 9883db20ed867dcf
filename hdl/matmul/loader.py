"""The matrix engine's loader: DMA reads into the A buffer (one half per unit), the B buffer
(one half per K chunk) and the bias buffer.

Units (c, g): chunk c of the rows of group g. Order: A(c,0), B(c), [bias after the second
unit], A(c,1), A(c,2), ... so the array starts on the first rows of B. Each load is one
descriptor for all its rows when they are contiguous in memory, else one per row.
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out, connect, flipped
from amaranth.utils import ceil_log2, exact_log2

from ..dma import DMARequestSignature, DMAMover
from .registers import Job, Store
from .geometry import smul


__all__ = ["Loader"]


class Loader(wiring.Component):
    """Fills the buffers of a :class:`~.engine.MatMulEngine` whose :class:`~.geometry.Geometry`
    is ``geo``, from ``run`` until every chunk is loaded.

    ``a_full``/``b_full`` (bit h: half h holds data the sequencer has not released) say where
    it may load; ``a_loaded``/``b_loaded`` pulse the half it has just filled. ``b_loading``,
    ``bh`` and ``row`` tell the sequencer which B rows have arrived in the half being filled.
    ``bias_done``: the bias vector is in its buffer (or not used).
    """

    def __init__(self, geo):
        self._geo = geo
        wp = lambda depth, width: Out(WritePort.Signature(
            addr_width=ceil_log2(depth), shape=width, granularity=32).flip())
        super().__init__({
            "job": In(Job),
            "sizes": In(geo.sizes),
            "run": In(1),
            "a_full": In(2),
            "b_full": In(2),
            "a_loaded": Out(2),
            "b_loaded": Out(2),
            "b_loading": Out(1),
            "bh": Out(1),
            "row": Out(range(max(geo.G, geo.Kc) + 1)),
            "bias_done": Out(1),
            "dma": Out(DMARequestSignature()),
            "rd": In(stream.Signature(32)),
            "a_w": wp(2 * geo.half_a, 8 * geo.P),
            "b_w": wp(2 * geo.half_b, 8 * geo.P),
            "bias_w": wp(max(geo.MN // 4, 1), 128),
        })

    def elaborate(self, platform):
        m = Module()
        geo, job, sz = self._geo, self.job, self.sizes
        Kc, G, MN = geo.Kc, geo.G, geo.MN
        wpe, lg_wpe = geo.wpe, geo.lg_wpe
        rd = self.rd
        m.submodules.mover = mover = DMAMover()
        connect(m, mover.chan, flipped(self.dma))
        m.d.comb += rd.ready.eq(1)
        got = Signal()                            # a word of the current descriptor
        m.d.comb += got.eq(rd.valid & mover.active)

        ld_c = Signal(range(geo.max_chunks + 1))
        ld_g = Signal(range(geo.max_groups + 1))
        ld_ah = Signal()
        ld_bh = self.bh
        ld_row = self.row
        ld_word = Signal(range(max(MN, Kc) + 1))
        ld_rows = Signal(range(max(G, Kc) + 1))   # rows of the current load
        ld_wpr = Signal(range(max(MN, Kc) + 1))   # words per row of the current load
        ld_merge = Signal()                       # one descriptor for all rows
        ld_words = Signal(16)                     # words per descriptor of the current load
        a_chunk_ptr = Signal(32)
        a_ptr = Signal(32)
        b_ptr = Signal(32)
        bias_pending = Signal()
        bias_done = self.bias_done
        ld_is_last = ld_c == sz.last_c
        k_c = Mux(ld_is_last, sz.k_last, Kc)
        a_words = Mux(ld_is_last, sz.a_words_last, Kc // 4)
        ld_mg = Mux(ld_g == sz.last_g, sz.mg_last, G)
        storing_bias = job.op.bias & (job.op.store != Store.NONE)

        def count_word():
            with m.If(got):
                with m.If(ld_word == ld_wpr - 1):
                    m.d.sync += [ld_word.eq(0), ld_row.eq(ld_row + 1)]
                with m.Else():
                    m.d.sync += ld_word.eq(ld_word + 1)

        def next_unit():
            with m.If(ld_g == sz.last_g):
                m.d.sync += [ld_g.eq(0), ld_c.eq(ld_c + 1),
                             a_chunk_ptr.eq(a_chunk_ptr + Kc), a_ptr.eq(a_chunk_ptr + Kc)]
            with m.Else():
                m.d.sync += ld_g.eq(ld_g + 1)
            m.next = "WAIT"

        def write_entry(port, half, half_size, epr):
            """The word at (row, word) of buffer half ``half``: a write-enabled word lane."""
            m.d.comb += [
                port.addr.eq(half * half_size + (ld_row << exact_log2(epr)) + (ld_word >> lg_wpe)),
                port.data.eq(Cat([rd.payload] * wpe)),
                port.en.eq(Mux(got, C(1, wpe) << (ld_word & (wpe - 1)), 0)),
            ]

        def request(addr, words):
            m.d.comb += [mover.req.eq(1), mover.desc.addr.eq(addr), mover.desc.words.eq(words),
                         mover.desc.write.eq(0)]

        with m.FSM(name="loader"):
            with m.State("IDLE"):
                with m.If(self.run):
                    m.d.sync += [
                        ld_c.eq(0), ld_g.eq(0), ld_ah.eq(0), ld_bh.eq(0),
                        a_chunk_ptr.eq(job.a_addr), a_ptr.eq(job.a_addr), b_ptr.eq(job.b_addr),
                        bias_pending.eq(storing_bias), bias_done.eq(~storing_bias),
                    ]
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(bias_pending & ((ld_c != 0) | (ld_g == 2))):
                    m.next = "BIAS"
                with m.Elif(ld_c == sz.n_chunks):
                    m.next = "END"
                with m.Elif(~self.a_full.bit_select(ld_ah, 1)):
                    a_merge = job.lda == (a_words << 2)
                    m.d.sync += [
                        ld_row.eq(0), ld_word.eq(0), ld_rows.eq(ld_mg), ld_wpr.eq(a_words),
                        ld_merge.eq(a_merge),
                        ld_words.eq(Mux(a_merge, smul(a_words, ld_mg), a_words)),
                    ]
                    m.next = "A"
            with m.State("BIAS"):
                request(job.bias_addr, job.n[:ceil_log2(MN + 1)])
                with m.If(mover.accepted):
                    m.d.sync += [ld_word.eq(0), bias_pending.eq(0)]
                m.d.comb += [
                    self.bias_w.addr.eq(ld_word >> 2),
                    self.bias_w.data.eq(Cat([rd.payload] * 4)),
                    self.bias_w.en.eq(Mux(got, C(1, 4) << ld_word[:2], 0)),
                ]
                with m.If(got):
                    m.d.sync += ld_word.eq(ld_word + 1)
                with m.If(mover.done):
                    m.d.sync += bias_done.eq(1)
                    m.next = "WAIT"
            with m.State("A"):
                request(a_ptr, ld_words)
                write_entry(self.a_w, ld_ah, geo.half_a, geo.a_epr)
                count_word()
                with m.If(mover.done):
                    m.d.sync += a_ptr.eq(a_ptr + Mux(ld_merge, ld_words << 2, job.lda))
                    with m.If(ld_row == ld_rows):
                        m.d.comb += self.a_loaded.eq(Mux(ld_ah, 0b10, 0b01))
                        m.d.sync += ld_ah.eq(~ld_ah)
                        with m.If(ld_g == 0):
                            m.next = "B_WAIT"
                        with m.Else():
                            next_unit()
            with m.State("B_WAIT"):
                with m.If(~self.b_full.bit_select(ld_bh, 1)):
                    b_merge = job.ldb == (sz.b_words << 2)
                    m.d.sync += [
                        ld_row.eq(0), ld_word.eq(0), ld_rows.eq(k_c), ld_wpr.eq(sz.b_words),
                        ld_merge.eq(b_merge),
                        ld_words.eq(Mux(b_merge, smul(sz.b_words, k_c), sz.b_words)),
                    ]
                    m.next = "B"
            with m.State("B"):
                m.d.comb += self.b_loading.eq(1)
                request(b_ptr, ld_words)
                write_entry(self.b_w, ld_bh, geo.half_b, geo.b_epr)
                count_word()
                with m.If(mover.done):
                    m.d.sync += b_ptr.eq(b_ptr + Mux(ld_merge, ld_words << 2, job.ldb))
                    with m.If(ld_row == ld_rows):
                        m.d.comb += self.b_loaded.eq(Mux(ld_bh, 0b10, 0b01))
                        m.d.sync += ld_bh.eq(~ld_bh)
                        next_unit()
            with m.State("END"):
                pass
        return m
