"""The matrix engine's compute sequencer: slots of G = 2P cycles, one pass each.

Pass order: chunk c, group g, K block kb, column block nb (innermost). "cur" is the pass whose
A rows stream into the array in this slot; "nxt" the pass whose weights are written into the
array's other weight bank in this slot, so consecutive passes follow without a gap.
"""

from amaranth import *
from amaranth.lib import wiring, stream
from amaranth.lib.memory import ReadPort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from .registers import Job, Store
from .systolic import RowLayout, WeightLayout


__all__ = ["Sequencer"]


class Sequencer(wiring.Component):
    """Runs the passes of an operation from ``run`` until the last one has entered the array
    (``compute_end``), for an engine of :class:`~.geometry.Geometry` ``geo``.

    It starts a slot when its A unit is loaded (``a_full``), when the B rows of the next pass's
    weights have arrived (``b_full``, or the loader's ``b_loading``/``ld_bh``/``ld_row``) and,
    in the last chunk, when the store has read out (``pg``) the accumulator bank the group
    reuses; ``a_release``/``b_release`` pulse the buffer halves it has finished with.
    It reads the buffers through ``a_r``/``b_r`` and drives the array's ``rows`` and
    ``weights`` one cycle later; ``meta`` goes with each row read (to the accumulators).
    """

    def __init__(self, geo):
        self._geo = geo
        rp = lambda depth: Out(ReadPort.Signature(addr_width=ceil_log2(depth),
                                                  shape=8 * geo.P).flip())
        super().__init__({
            "job": In(Job),
            "sizes": In(geo.sizes),
            "run": In(1),
            "pg": In(range(geo.max_groups + 1)),
            "a_full": In(2),
            "b_full": In(2),
            "b_loading": In(1),
            "ld_bh": In(1),
            "ld_row": In(range(max(geo.G, geo.Kc) + 1)),
            "a_release": Out(2),
            "b_release": Out(2),
            "compute_end": Out(1),
            "a_r": rp(2 * geo.half_a),
            "b_r": rp(2 * geo.half_b),
            "rows": Out(stream.Signature(RowLayout(geo.P), always_ready=True)),
            "weights": Out(stream.Signature(WeightLayout(geo.P), always_ready=True)),
            "meta": Out(geo.meta),
        })

    def elaborate(self, platform):
        m = Module()
        geo, job, sz = self._geo, self.job, self.sizes
        P, Kc, MN, G, lgP = geo.P, geo.Kc, geo.MN, geo.G, geo.lgP
        storing = job.op.store != Store.NONE

        cur_valid = Signal()
        cur_ah = Signal()
        cur_bh = Signal()
        cur_g = Signal(range(geo.max_groups))
        cur_nb = Signal(range(MN // P))
        cur_kb = Signal(range(Kc // P))
        cur_bank = Signal()
        cur_mg = Signal(range(G + 1))
        cur_first = Signal()                      # first K block: overwrite the accumulators
        cur_partial = Signal()                    # last K block of K: mask lanes past K
        cur_unit_end = Signal()                   # last pass of its unit: free the A half
        cur_chunk_end = Signal()                  # last pass of its chunk: free the B half
        cur_last_c = Signal()                     # a pass of the last chunk

        nxt_valid = Signal()
        nxt_c = Signal(range(geo.max_chunks + 1))
        nxt_g = Signal(range(geo.max_groups))
        nxt_ah = Signal()
        nxt_bh = Signal()
        nxt_nb = Signal(range(MN // P))
        nxt_kb = Signal(range(Kc // P))
        nxt_bank = Signal()
        nxt_kb_end = Mux(nxt_c == sz.last_c, sz.kb_last, Kc // P) - 1
        nxt_unit_end = (nxt_kb == nxt_kb_end) & (nxt_nb == sz.nb_cnt - 1)

        s = Signal(range(G))                      # cycle within the slot

        inj_valid = Signal()                      # this cycle: read A for injection next cycle
        wl_valid = Signal()                       # this cycle: read B for a weight row
        wl_index = Signal(range(P))
        m.d.comb += wl_index.eq(s - P)

        # The weights of nxt need B rows up to (kb+1)·P of its chunk; the rows of cur need
        # their A unit; in the last chunk, group g reuses the accumulator bank of group g-2,
        # whose store must have ended.
        # A half released in this cycle (the end of a slot) no longer counts as full: with one
        # pass per chunk (k_chunk = dim, N <= dim, one group) the successor of nxt reads the B
        # half that cur releases in the same cycle, which must first be loaded again.
        a_full = self.a_full & ~self.a_release
        b_full = self.b_full & ~self.b_release
        def b_ready(bh, kb):
            return (b_full.bit_select(bh, 1)
                    | (self.b_loading & (self.ld_bh == bh) & (self.ld_row >= ((kb + 1) << lgP))))
        def a_ready(ah, g, last):
            return (a_full.bit_select(ah, 1) & ~(storing & last & (g >= self.pg + 2)))
        cur_ok = ~cur_valid | a_ready(cur_ah, cur_g, cur_last_c)
        nxt_ok = ~nxt_valid | b_ready(nxt_bh, nxt_kb)
        # The successor of nxt, to decide at the end of a slot whether the next slot can
        # follow without a gap (nxt becomes cur, the successor becomes nxt).
        succ_valid = Signal()
        succ_bh = Signal()
        succ_kb = Signal(range(Kc // P))
        m.d.comb += [succ_valid.eq(nxt_valid), succ_bh.eq(nxt_bh), succ_kb.eq(nxt_kb)]
        with m.If(nxt_nb != sz.nb_cnt - 1):
            pass
        with m.Elif(nxt_kb != nxt_kb_end):
            m.d.comb += succ_kb.eq(nxt_kb + 1)
        with m.Elif(nxt_g != sz.last_g):
            m.d.comb += succ_kb.eq(0)
        with m.Elif(nxt_c != sz.last_c):
            m.d.comb += [succ_kb.eq(0), succ_bh.eq(~nxt_bh)]
        with m.Else():
            m.d.comb += succ_valid.eq(0)
        next_ok = ((~nxt_valid | a_ready(nxt_ah, nxt_g, nxt_c == sz.last_c))
                   & (~succ_valid | b_ready(succ_bh, succ_kb)) & (nxt_valid | succ_valid))

        with m.FSM(name="compute"):
            with m.State("IDLE"):
                with m.If(self.run):
                    m.d.sync += [
                        cur_valid.eq(0),
                        nxt_valid.eq(1), nxt_c.eq(0), nxt_g.eq(0), nxt_ah.eq(0), nxt_bh.eq(0),
                        nxt_nb.eq(0), nxt_kb.eq(0), nxt_bank.eq(0),
                    ]
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(~cur_valid & ~nxt_valid):
                    m.d.comb += self.compute_end.eq(1)
                    m.next = "END"
                with m.Elif(cur_ok & nxt_ok):
                    m.d.sync += s.eq(0)
                    m.next = "SLOT"
            with m.State("SLOT"):
                m.d.sync += s.eq(s + 1)
                m.d.comb += [
                    inj_valid.eq(cur_valid & (s < cur_mg)),
                    wl_valid.eq(nxt_valid & (s >= P)),
                ]
                with m.If(s == G - 1):
                    with m.If(cur_valid & cur_unit_end):
                        m.d.comb += self.a_release.eq(Mux(cur_ah, 0b10, 0b01))
                    with m.If(cur_valid & cur_chunk_end):
                        m.d.comb += self.b_release.eq(Mux(cur_bh, 0b10, 0b01))
                    # Advance: nxt becomes cur, nxt steps to its successor.
                    m.d.sync += [
                        cur_valid.eq(nxt_valid),
                        cur_ah.eq(nxt_ah),
                        cur_bh.eq(nxt_bh),
                        cur_g.eq(nxt_g),
                        cur_nb.eq(nxt_nb),
                        cur_kb.eq(nxt_kb),
                        cur_bank.eq(nxt_bank),
                        cur_mg.eq(Mux(nxt_g == sz.last_g, sz.mg_last, G)),
                        cur_first.eq((nxt_c == 0) & (nxt_kb == 0) & ~job.op.acc),
                        cur_partial.eq((nxt_c == sz.last_c) & (nxt_kb == sz.kb_last - 1)),
                        cur_unit_end.eq(nxt_unit_end),
                        cur_chunk_end.eq(nxt_unit_end & (nxt_g == sz.last_g)),
                        cur_last_c.eq(nxt_c == sz.last_c),
                        nxt_bank.eq(~nxt_bank),
                    ]
                    with m.If(nxt_nb != sz.nb_cnt - 1):
                        m.d.sync += nxt_nb.eq(nxt_nb + 1)
                    with m.Elif(nxt_kb != nxt_kb_end):
                        m.d.sync += [nxt_nb.eq(0), nxt_kb.eq(nxt_kb + 1)]
                    with m.Elif(nxt_g != sz.last_g):
                        m.d.sync += [nxt_nb.eq(0), nxt_kb.eq(0), nxt_g.eq(nxt_g + 1),
                                     nxt_ah.eq(~nxt_ah)]
                    with m.Elif(nxt_c != sz.last_c):
                        m.d.sync += [nxt_nb.eq(0), nxt_kb.eq(0), nxt_g.eq(0),
                                     nxt_c.eq(nxt_c + 1), nxt_ah.eq(~nxt_ah), nxt_bh.eq(~nxt_bh)]
                    with m.Else():
                        m.d.sync += nxt_valid.eq(0)
                    with m.If(next_ok):
                        m.d.sync += s.eq(0)
                    with m.Else():
                        m.next = "WAIT"
            with m.State("END"):
                pass

        # Buffer reads for this cycle; the array sees the data next cycle.
        a_r, b_r = self.a_r, self.b_r
        m.d.comb += [
            a_r.addr.eq(cur_ah * geo.half_a + (s << exact_log2(geo.a_epr)) + cur_kb),
            b_r.addr.eq(nxt_bh * geo.half_b
                        + (((nxt_kb << lgP) + wl_index) << exact_log2(geo.b_epr)) + nxt_nb),
        ]
        inj_d = Signal()
        bank_d = Signal()
        partial_d = Signal()
        wl_d = Signal()
        wl_index_d = Signal(range(P))
        wl_bank_d = Signal()
        m.d.sync += [
            inj_d.eq(inj_valid), bank_d.eq(cur_bank), partial_d.eq(cur_partial),
            wl_d.eq(wl_valid), wl_index_d.eq(wl_index), wl_bank_d.eq(nxt_bank),
        ]
        for i in range(P):
            lane_on = ~partial_d | (i <= sz.rem_last)
            m.d.comb += [
                self.rows.payload.a[i].eq(Mux(lane_on, a_r.data[8 * i:8 * i + 8], 0)),
                self.weights.payload.w[i].eq(b_r.data[8 * i:8 * i + 8]),
            ]
        m.d.comb += [
            self.rows.valid.eq(inj_d),
            self.rows.payload.bank.eq(bank_d),
            self.weights.valid.eq(wl_d),
            self.weights.payload.index.eq(wl_index_d),
            self.weights.payload.bank.eq(wl_bank_d),
        ]

        # Accumulator bank, address, "first" and "group final" of the row read this cycle.
        bank_row = Cat(s[:geo.lgG], cur_g[1:]) if geo.two_banks else s
        m.d.comb += [
            self.meta.valid.eq(inj_valid),
            self.meta.first.eq(cur_first),
            self.meta.final.eq(cur_last_c & cur_unit_end & (s == cur_mg - 1)),
            self.meta.bank.eq(cur_g[0] if geo.two_banks else 0),
            self.meta.addr.eq((bank_row << exact_log2(geo.b_epr)) + cur_nb),
        ]
        return m
