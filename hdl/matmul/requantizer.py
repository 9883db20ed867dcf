"""int32 → int8 requantization of the matrix coprocessor's output, following gemmlowp /
TensorFlow Lite integer-only inference (B. Jacob et al., "Quantization and training of neural
networks for efficient integer-arithmetic-only inference", CVPR 2018; gemmlowp
``fixedpoint.h``); docs/matmul.md gives the exact definitions::

    x   = acc + bias[n]                          (int32, wraps modulo 2**32)
    y   = SaturatingRoundingDoublingHighMul(x, QMUL)
    q   = RoundingDivideByPOT(y, QSHIFT)
    out = clamp(q + QZP, QZP if RELU else -128, 127)
"""

from amaranth import *
from amaranth.lib import wiring, data, stream
from amaranth.lib.wiring import In, Out


__all__ = ["Requantizer"]


class Requantizer(wiring.Component):
    """int32 → int8 requantization, one value per cycle, fixed latency.

    Ports: ``i`` (stream of ``value`` signed(32) and an opaque ``tag``), the parameters
    ``multiplier`` (signed Q0.31), ``shift`` (0..31), ``zero_point`` (signed(8)), ``relu``
    (which must be stable while values flow), and ``o`` (stream of the int8 ``value``, the
    input ``raw`` value and the ``tag``), ``latency`` cycles after ``i``.

    ``dsp=False`` (default): the 32×32 product is a tree of explicit additions, one level per
    pipeline stage, so Yosys maps it to LUTs and carry chains (about 2,800 LUT4 and 1,700
    flip-flops per requantizer on ECP5, in one synthesis of ``MatMulEngine(dim=4)`` with its
    hierarchy kept) and the DSP blocks are left to the systolic array;
    ``latency`` 10. ``dsp=True``: the product is one ``*`` between two registers, which Yosys
    maps to DSP blocks (four MULT18X18D on ECP5) and their adders; ``latency`` 6. The results
    are the same; only the latency and the resources differ.
    """

    def __init__(self, *, tag_width=1, dsp=False):
        if not isinstance(dsp, bool):
            raise TypeError(f"dsp must be a bool, not {dsp!r}")
        self._tag_width = tag_width
        self.dsp = dsp
        self.latency = 6 if dsp else 10
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "value": signed(32), "tag": tag_width}), always_ready=True)),
            "multiplier": In(signed(32)),
            "shift": In(5),
            "zero_point": In(signed(8)),
            "relu": In(1),
            "o": Out(stream.Signature(data.StructLayout({
                "value": signed(8), "raw": signed(32), "tag": tag_width}), always_ready=True)),
        })

    def elaborate(self, platform):
        m = Module()

        # Parameters are constant during an operation: derive their helpers once, registered.
        mask = Signal(32)
        half = Signal(32)
        m.d.sync += [
            mask.eq((C(1, 33) << self.shift) - 1),
            half.eq(((C(1, 33) << self.shift) - 1) >> 1),
        ]

        # Side channel: valid, raw value and tag travel alongside the arithmetic. Every stage
        # register loads only when the value it takes is valid (``sv[0]`` of the stage before):
        # the others are never read, and an idle requantizer costs a simulator little.
        stages = []
        def side(prev_valid, prev_raw, prev_tag):
            v, r, t = Signal(), Signal(signed(32)), Signal(self._tag_width)
            m.d.sync += v.eq(prev_valid)
            with m.If(prev_valid):
                m.d.sync += [r.eq(prev_raw), t.eq(prev_tag)]
            stages.append((v, r, t))
            return v, r, t

        # Stage 0: register the input.
        x = Signal(signed(32))
        with m.If(self.i.valid):
            m.d.sync += x.eq(self.i.payload.value)
        sv = side(self.i.valid, self.i.payload.value, self.i.payload.tag)

        if self.dsp:
            # Stage 1: the product, from registers to a register (the DSP blocks' adders).
            prod = Signal(signed(64))
            with m.If(sv[0]):
                m.d.sync += prod.eq(x * self.multiplier)
            sv = side(*sv)
        else:
            prod, sv = self._product_tree(m, x, sv, side)

        out, (v, r, t) = self._tail(m, prod, mask, half, sv, side)
        assert len(stages) == self.latency, len(stages)
        m.d.comb += [
            self.o.valid.eq(v),
            self.o.payload.value.eq(out),
            self.o.payload.raw.eq(r),
            self.o.payload.tag.eq(t),
        ]
        return m

    def _product_tree(self, m, x, sv, side):
        """Stages 1..5: x · multiplier as a tree of partial sums (value, weight 2**shift).
        Bit 31 of x weighs -2**31 (two's complement), so its row adds -multiplier (a register:
        the parameters are constant during an operation). Returns (product, side channel)."""
        neg_mul = Signal(signed(33))
        m.d.sync += neg_mul.eq(-self.multiplier)
        terms = []
        for b in range(32):
            row = neg_mul if b == 31 else self.multiplier
            terms.append((Mux(x[b], row, 0), b))
        def combine(lo, hi):
            (a, sa), (b, sb) = lo, hi
            d = sb - sa
            # The low d bits of the sum are a's alone; only the rest needs an adder.
            return Cat(a[:d], (a >> d) + b).as_signed(), sa
        while len(terms) > 1:
            level = []
            for k in range(0, len(terms), 2):
                v, s = combine(terms[k], terms[k + 1])
                r = Signal(signed(len(v)), name=f"pp{len(terms) // 2}_{k // 2}")
                with m.If(sv[0]):
                    m.d.sync += r.eq(v)
                level.append((r, s))
            terms = level
            sv = side(*sv)
        return terms[0][0], sv      # exact 64-bit product x·multiplier (sign-extended)

    def _tail(self, m, prod, mask, half, sv, side):
        """The four stages after the product (6..9 after the tree, 2..5 after the DSP product):
        rounding high half, shift, zero point, clamp.
        Returns (int8 result, side channel)."""
        # Stage 6: SaturatingRoundingDoublingHighMul = floor((prod + 2**30) / 2**31),
        # saturated (only INT32_MIN·INT32_MIN overflows). See docs/matmul.md for why this equals
        # gemmlowp's nudge-and-truncate formulation.
        hi = Signal(signed(35))
        m.d.comb += hi.eq(((prod >> 30) + 1) >> 1)
        y = Signal(signed(32))
        with m.If(sv[0]):
            with m.If(hi > (1 << 31) - 1):
                m.d.sync += y.eq((1 << 31) - 1)
            with m.Elif(hi < -(1 << 31)):
                m.d.sync += y.eq(-(1 << 31))
            with m.Else():
                m.d.sync += y.eq(hi)
        sv = side(*sv)

        # Stages 7, 8: RoundingDivideByPOT(y, shift): round half away from zero.
        shifted = Signal(signed(32))
        rem = Signal(32)
        thr = Signal(33)
        with m.If(sv[0]):
            m.d.sync += [
                shifted.eq(y >> self.shift),
                rem.eq(y.as_unsigned() & mask),
                thr.eq(half + y[31]),
            ]
        sv = side(*sv)
        q = Signal(signed(32))
        with m.If(sv[0]):
            m.d.sync += q.eq(shifted + (rem > thr))
        sv = side(*sv)

        # Stage 9: zero point, clamp (ReLU raises the floor to the zero point).
        s = Signal(signed(34))
        m.d.comb += s.eq(q + self.zero_point)
        lo = Mux(self.relu, self.zero_point, -128)
        out = Signal(signed(8))
        with m.If(sv[0]):
            with m.If(s > 127):
                m.d.sync += out.eq(127)
            with m.Elif(s < lo):
                m.d.sync += out.eq(lo)
            with m.Else():
                m.d.sync += out.eq(s)
        return out, side(*sv)


