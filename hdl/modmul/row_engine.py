"""One row engine of the Montgomery unit (:mod:`.montgomery`): ``lanes`` 32×32 multipliers
adding ``s · Y`` into a carry-save accumulator, one block of ``Y`` per cycle; column ``j``
computes ``x_j = lo_{j+1} + hi_j + s·y_j``, which is exactly ``(acc + s·Y)/W`` with
``W = 2^32``. Each multiplier is four 16×16 products (one ECP5 MULT18X18D each) with registered
operands, registered partial products and a registered sum: 4 DSP per lane."""

from amaranth import *
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out


__all__ = ["LIMB_BITS", "HI_BITS", "token_layout", "RowEngine"]


LIMB_BITS = 32
HI_BITS = 34           # high part of a column sum; engine C's column sums stay below 2^66


def token_layout(max_nb, max_limbs):
    return data.StructLayout({
        "first":   1,                   # row 0: the accumulator starts at zero
        "lastrow": 1,
        "lastblk": 1,                   # blk == nb - 1: the column above is zero
        "blk":     range(max_nb),
        "row":     range(max_limbs),
    })



class RowEngine(wiring.Component):
    """``lanes`` multiply-accumulate columns that add ``s·Y`` to a shifting accumulator.

    Rows are fed block by block (``load`` with the block's ``y`` and its ``tok``; ``s_en``
    loads the scalar ``s``, normally at block 0). Stages: load (operand registers), partial
    products, product sum (+ ``e0`` into column 0 of block 0), accumulate. ``early`` is the
    row's lowest limb ``lo(x_0)``, available in the product-sum stage of block 0 (``p_valid``
    with ``p_tok.blk == 0``), two cycles after the load: the next engine loads it directly.

    The accumulator state is ``nb`` blocks of (``lo``, ``hi``) held as a shift register:
    the accumulate stage reads block ``S[0]`` (and ``S[1].lo[0]``), writes the new block into
    ``S[nb-1]`` and shifts the others down. ``rotate`` does the same shift without a new
    block (the final stage reads the finished state in block order). ``s0_lo``/``s0_hi``/
    ``s1_lo0`` show ``S[0]`` and ``S[1].lo[0]``.
    """

    def __init__(self, *, lanes, max_nb, max_limbs):
        self.lanes, self.max_nb, self.max_limbs = lanes, max_nb, max_limbs
        tok = token_layout(max_nb, max_limbs)
        super().__init__({
            "load":  In(1),
            "tok":   In(tok),
            "s_en":  In(1),
            "s":     In(LIMB_BITS),
            "y":     In(data.ArrayLayout(LIMB_BITS, lanes)),
            "e0":    In(LIMB_BITS),
            "nb":    In(range(max_nb + 1)),
            "flush": In(1),
            "rotate": In(1),
            "early": Out(LIMB_BITS),
            "p_valid": Out(1),
            "p_tok": Out(tok),
            "acc_valid": Out(1),
            "acc_tok": Out(tok),
            "s0_lo": Out(data.ArrayLayout(LIMB_BITS, lanes)),
            "s0_hi": Out(data.ArrayLayout(HI_BITS, lanes)),
            "s1_lo0": Out(LIMB_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        P, max_nb = self.lanes, self.max_nb
        tok_layout = token_layout(max_nb, self.max_limbs)

        # Stage tokens.
        v1, v2, v3 = Signal(), Signal(), Signal()
        t1, t2, t3 = Signal(tok_layout), Signal(tok_layout), Signal(tok_layout)
        m.d.sync += [v1.eq(self.load), v2.eq(v1), v3.eq(v2), t2.eq(t1), t3.eq(t2)]
        with m.If(self.load):
            m.d.sync += t1.eq(self.tok)
        with m.If(self.flush):
            m.d.sync += [v1.eq(0), v2.eq(0), v3.eq(0)]
        m.d.comb += [self.p_valid.eq(v2), self.p_tok.eq(t2),
                     self.acc_valid.eq(v3), self.acc_tok.eq(t3)]

        # Accumulator state S[j] = (lo, hi) of each column of block j, one Signal per word:
        # every value stays within 64 bits, so a simulator (Verilator) uses native integers,
        # and each pipeline stage only loads its registers when a token is there (nothing
        # downstream reads them otherwise), so an idle engine costs a simulator little.
        n_state = max(max_nb, 3)
        st_lo = [[Signal(LIMB_BITS, name=f"s{j}_lo{k}") for k in range(P)] for j in range(n_state)]
        st_hi = [[Signal(HI_BITS, name=f"s{j}_hi{k}") for k in range(P)] for j in range(n_state)]
        for k in range(P):
            m.d.comb += [self.s0_lo[k].eq(st_lo[0][k]), self.s0_hi[k].eq(st_hi[0][k])]
        m.d.comb += self.s1_lo0.eq(st_lo[1][0])

        # Stage 0: operand registers.
        s_r = Signal(LIMB_BITS)
        y_r = [Signal(LIMB_BITS, name=f"y_r{k}") for k in range(P)]
        with m.If(self.s_en):
            m.d.sync += s_r.eq(self.s)
        with m.If(self.load):
            m.d.sync += [y_r[k].eq(self.y[k]) for k in range(P)]

        # Stage 1: four 16x16 partial products per lane (one MULT18X18D each).
        pp = [[Signal(32, name=f"pp{k}_{i}") for i in range(4)] for k in range(P)]
        s_l, s_h = s_r[:16], s_r[16:]
        with m.If(v1):
            for k in range(P):
                y_l, y_h = y_r[k][:16], y_r[k][16:]
                m.d.sync += [pp[k][0].eq(s_l * y_l), pp[k][1].eq(s_l * y_h),
                             pp[k][2].eq(s_h * y_l), pp[k][3].eq(s_h * y_h)]

        # Stage 2: product sums (plus e0 into column 0 of block 0), and the early output.
        # p_k = s·y_k (+ e0) < 2^64, kept as its low and high words.
        blk0 = t2.blk == 0
        e0 = Mux(blk0, self.e0, 0)
        p_lo = [Signal(LIMB_BITS, name=f"p_lo{k}") for k in range(P)]
        p_hi = [Signal(LIMB_BITS + 1, name=f"p_hi{k}") for k in range(P)]
        with m.If(v2):
            for k in range(P):
                mid = pp[k][1] + pp[k][2]                                    # 33 bits
                t = pp[k][0] + Cat(C(0, 16), mid[:16]) + (e0 if k == 0 else 0)  # < 3·2^32
                m.d.sync += [p_lo[k].eq(t[:LIMB_BITS]),
                             p_hi[k].eq(pp[k][3] + mid[16:] + t[LIMB_BITS:])]
        # Row i's lowest limb: lo(p_0 + lo_1 + hi_0) of the previous row, whose block 0 now
        # sits in S[1] (its block 1 in S[2] when a block holds a single limb).
        lo1_prev = st_lo[1][1] if P > 1 else st_lo[2][0]
        prev = Mux(t2.first, 0, lo1_prev + st_hi[1][0])
        low = (pp[0][0] + ((pp[0][1] + pp[0][2]) << 16))[:LIMB_BITS]
        m.d.comb += self.early.eq((low + prev + e0)[:LIMB_BITS])

        # Stage 3: accumulate, x_j = p_j + lo_{j+1} + hi_j, and shift the state.
        nb = self.nb
        new_lo = [Signal(LIMB_BITS, name=f"new_lo{k}") for k in range(P)]
        new_hi = [Signal(HI_BITS, name=f"new_hi{k}") for k in range(P)]
        with m.If(v3):
            for k in range(P):
                lo_in = st_lo[0][k + 1] if k + 1 < P else Mux(t3.lastblk, 0, st_lo[1][0])
                add = Mux(t3.first, 0, lo_in + st_hi[0][k])                 # < 2^35
                lo_sum = p_lo[k] + add                                       # < 2^36
                m.d.comb += [new_lo[k].eq(lo_sum[:LIMB_BITS]),
                             new_hi[k].eq(p_hi[k] + lo_sum[LIMB_BITS:])]
        with m.If(v3 | self.rotate):
            for j in range(max_nb):
                with m.If(nb == j + 1):
                    with m.If(v3):
                        m.d.sync += [st_lo[j][k].eq(new_lo[k]) for k in range(P)]
                        m.d.sync += [st_hi[j][k].eq(new_hi[k]) for k in range(P)]
                    with m.Else():
                        m.d.sync += [st_lo[j][k].eq(st_lo[0][k]) for k in range(P)]
                        m.d.sync += [st_hi[j][k].eq(st_hi[0][k]) for k in range(P)]
                if j + 1 < max_nb:
                    with m.Elif(nb > j + 1):
                        m.d.sync += [st_lo[j][k].eq(st_lo[j + 1][k]) for k in range(P)]
                        m.d.sync += [st_hi[j][k].eq(st_hi[j + 1][k]) for k in range(P)]
        return m


