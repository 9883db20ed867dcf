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

        # Weight storage: two banks per cell.
        w = [[[Signal(signed(8), name=f"w{b}_{i}_{j}") for j in range(P)] for i in range(P)]
             for b in range(2)]
        wp = self.weights.payload
        with m.If(self.weights.valid):
            for b in range(2):
                with m.If(wp.bank == b):
                    for i in range(P):
                        with m.If(wp.index == i):
                            m.d.sync += [w[b][i][j].eq(wp.w[j]) for j in range(P)]

        # Input skew: lane i (with its bank bit) waits i cycles.
        a_in, bank_in = [], []
        for i in range(P):
            a = self.rows.payload.a[i]
            bank = self.rows.payload.bank
            for d in range(i):
                a_d = Signal(signed(8), name=f"skew_a{i}_{d}")
                bank_d = Signal(name=f"skew_bank{i}_{d}")
                m.d.sync += [a_d.eq(a), bank_d.eq(bank)]
                a, bank = a_d, bank_d
            a_in.append(a)
            bank_in.append(bank)

        # The cells.
        psum_above = [C(0, signed(self.sum_width))] * P
        for i in range(P):
            a_left, bank_left = a_in[i], bank_in[i]
            for j in range(P):
                a_r = Signal(signed(8), name=f"a_{i}_{j}")
                bank_r = Signal(name=f"bank_{i}_{j}")
                prod = Signal(signed(16), name=f"prod_{i}_{j}")
                psum = Signal(signed(self.sum_width), name=f"psum_{i}_{j}")
                m.d.sync += [
                    a_r.eq(a_left),
                    bank_r.eq(bank_left),
                    prod.eq(a_r * Mux(bank_r, w[1][i][j], w[0][i][j])),
                    psum.eq(psum_above[j] + prod),
                ]
                psum_above[j] = psum
                a_left, bank_left = a_r, bank_r

        # Output de-skew: column j waits P-1-j cycles.
        for j in range(P):
            s = psum_above[j]
            for d in range(P - 1 - j):
                s_d = Signal(signed(self.sum_width), name=f"deskew{j}_{d}")
                m.d.sync += s_d.eq(s)
                s = s_d
            m.d.comb += self.sums.payload[j].eq(s)

        # valid follows the row with the same latency.
        v = self.rows.valid
        for d in range(self.latency):
            v_d = Signal(name=f"valid_{d}")
            m.d.sync += v_d.eq(v)
            v = v_d
        m.d.comb += self.sums.valid.eq(v)
        return m
