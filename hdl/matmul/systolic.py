"""A weight-stationary systolic array of signed int8 multiply-accumulate cells.

References: H. T. Kung, "Why systolic architectures?", IEEE Computer 15(1), 1982 (the cell
array and its skewed data flow); N. P. Jouppi et al., "In-datacenter performance analysis of a
tensor processing unit", ISCA 2017 (the weight-stationary variant: weights sit in the cells,
activations flow right, partial sums flow down).

Geometry (``dim`` = P)::

              w[0][0..P-1]      each cell (i, j) holds two weights w0[i][j], w1[i][j] (banks)
    a[0] ─▶ (0,0) ─▶ (0,1) ─▶ …      a flows right one cell per cycle,
    a[1] ─▶ (1,0) ─▶ (1,1) ─▶ …      partial sums flow down one cell per cycle
     …         ▼        ▼
             sum[0]   sum[1]  …   column j: sum over i of a[i] * w[i][j]

One *row* entering on ``rows`` is a vector ``a[0..P-1]`` (P consecutive K-elements of one
row of A); ``LATENCY`` cycles later ``sums`` carries ``sum_j = Σ_i a[i] · w[bank][i][j]``
for every column j: P dot products of length P, i.e. P·P multiply-accumulates per row. A row
can enter every cycle, so the array does P·P MACs per cycle.

Skew: row lane i is delayed i cycles before it enters the array, and column j's sum is delayed
P-1-j cycles after it leaves, so callers see whole, aligned vectors at a fixed latency.

Weight banks: each row carries a ``bank`` bit that travels with it through the cells, and every
cell multiplies by the weight of that bank. So one bank can be rewritten (``weights``, one row
of P weights per cycle) while rows using the other bank are still in flight, without any global
switch-over instant: the double buffering that lets weight loading overlap computation. The rule
callers must keep (see :mod:`gluon.hdl.matmul`): weight row i of bank b may be written in cycle
``u`` (``weights.valid`` high in that cycle) only if every row using the old contents of bank b
entered in cycle ``u - i - P`` or earlier, and every row that needs the new weights enters in
cycle ``u - i`` or later.

Per cell: an 8-bit input register, a registered 8×8 product (one MULT18X18D on ECP5, or LUTs
elsewhere) and a registered partial sum (``sum_width`` bits, enough for P products of
(-128)·(-128) without overflow). Every path is one multiply or one add between registers.
"""

from amaranth import *
from amaranth.lib import wiring, data, stream
from amaranth.lib.wiring import In, Out


__all__ = ["RowLayout", "WeightLayout", "SystolicArray"]


def RowLayout(dim):
    """One row entering the array: ``a`` (P × int8) and the weight ``bank`` to use."""
    return data.StructLayout({"a": data.ArrayLayout(signed(8), dim), "bank": 1})


def WeightLayout(dim):
    """One weight row written into the array: cell row ``index`` of ``bank`` gets ``w``."""
    return data.StructLayout({
        "w": data.ArrayLayout(signed(8), dim),
        "index": range(dim),
        "bank": 1,
    })


class SystolicArray(wiring.Component):
    """A ``dim`` × ``dim`` weight-stationary array of int8 MAC cells.

    Parameters: ``dim`` (keyword-only) cells per side, 1..32.

    Ports (all streams are ``always_ready``: the array never stalls):

    ``rows``    In(stream of :func:`RowLayout`)     one activation vector per cycle at most
    ``weights`` In(stream of :func:`WeightLayout`)  one weight row per cycle at most
    ``sums``    Out(stream of P × signed(``sum_width``)) the column sums, ``latency`` cycles
                after the row entered (``valid`` follows ``rows.valid``)

    Attributes: ``latency`` = 2·dim + 1 cycles, ``sum_width`` bits per column sum.
    """

    def __init__(self, *, dim=8):
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"dim must be an integer, not {dim!r}")
        if not 1 <= dim <= 32:
            raise ValueError(f"dim must be 1..32, not {dim}")
        self.dim = dim
        # P products of at most (-128)·(-128) = 16384 each, plus a sign bit.
        self.sum_width = (16384 * dim).bit_length() + 1
        # input register + (P-1) skew + P cells across + multiply + add chain + de-skew.
        self.latency = 2 * dim + 1
        super().__init__({
            "rows":    In(stream.Signature(RowLayout(dim), always_ready=True)),
            "weights": In(stream.Signature(WeightLayout(dim), always_ready=True)),
            "sums":    Out(stream.Signature(data.ArrayLayout(signed(self.sum_width), dim),
                                            always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()
        P = self.dim

        SW = self.sum_width

        def chunks(n, width):
            """Registers of at most 64 bits holding n fields of `width` bits: a simulator then
            handles a few native words instead of hundreds of small registers."""
            per = max(1, 64 // width)
            return [(k, min(per, n - k)) for k in range(0, n, per)]

        # vd: bit d is set when a valid row entered d+1 cycles ago. The array only moves while
        # a valid row is in flight (``active``); otherwise every register holds. Nothing reads
        # the registers' contents outside valid rows, so the valid results are those of an
        # array that always moves, and an idle array costs a simulator almost nothing.
        vd = Signal(self.latency)
        m.d.sync += vd.eq(Cat(self.rows.valid, vd[:-1]))
        m.d.comb += self.sums.valid.eq(vd[-1])
        active = self.rows.valid | vd[:-1].any()

        # Weight storage: two banks per cell, one P x int8 register per bank and cell row.
        w_row = [[Signal(8 * P, name=f"w{b}_{i}") for i in range(P)] for b in range(2)]
        wp = self.weights.payload
        with m.If(self.weights.valid):
            for b in range(2):
                with m.If(wp.bank == b):
                    for i in range(P):
                        with m.If(wp.index == i):
                            m.d.sync += w_row[b][i].eq(wp.w.as_value())

        def field(vec, k, width):
            return vec[width * k:width * (k + 1)]

        with m.If(active):
            # Input skew: lane i (9 bits: a and the bank bit) waits i cycles, in one shift
            # register per lane.
            lane_in = []
            for i in range(P):
                x = Cat(self.rows.payload.a[i], self.rows.payload.bank)
                if i:
                    sk = Signal(9 * i, name=f"skew{i}")
                    m.d.sync += sk.eq(Cat(x, sk[:-9]) if i > 1 else x)
                    x = sk[-9:]
                lane_in.append(x)

            # The cells of row i: a and bank registers (shift registers along the row),
            # products, partial sums. Cell (i, j) sees its row's lane i i+j+1 cycles after the
            # row entered, its product one cycle later, its partial sum one more cycle later.
            psum_above = [C(0, signed(SW))] * P
            for i in range(P):
                a_row = Signal(8 * P, name=f"a_row{i}")
                bank_row = Signal(P, name=f"bank_row{i}")
                a_new, bank_new = lane_in[i][:8], lane_in[i][8]
                m.d.sync += [a_row.eq(Cat(a_new, a_row[:-8]) if P > 1 else a_new),
                             bank_row.eq(Cat(bank_new, bank_row[:-1]) if P > 1 else bank_new)]
                prods = []
                for k, n in chunks(P, 16):
                    reg = Signal(16 * n, name=f"prod{i}_{k}")
                    vals = []
                    for j in range(k, k + n):
                        a_ij = field(a_row, j, 8).as_signed()
                        w_ij = Mux(bank_row[j], field(w_row[1][i], j, 8),
                                   field(w_row[0][i], j, 8)).as_signed()
                        vals.append((a_ij * w_ij)[:16])
                    m.d.sync += reg.eq(Cat(*vals))
                    prods += [field(reg, j, 16).as_signed() for j in range(n)]
                sums = []
                for k, n in chunks(P, SW):
                    reg = Signal(SW * n, name=f"psum{i}_{k}")
                    m.d.sync += reg.eq(Cat(*((psum_above[j] + prods[j])[:SW]
                                             for j in range(k, k + n))))
                    sums += [field(reg, j, SW).as_signed() for j in range(n)]
                psum_above = sums

            # Output de-skew: column j waits P-1-j cycles, in one shift register per column.
            outs = []
            for j in range(P):
                s = psum_above[j]
                depth = P - 1 - j
                if depth:
                    dk = Signal(SW * depth, name=f"deskew{j}")
                    m.d.sync += dk.eq(Cat(s, dk[:-SW]) if depth > 1 else s)
                    s = dk[-SW:].as_signed()
                outs.append(s)
        m.d.comb += [self.sums.payload[j].eq(outs[j]) for j in range(P)]
        return m
