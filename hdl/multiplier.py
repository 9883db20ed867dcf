"""Single-cycle multiplier for MUL, MULH, MULHSU, MULHU (RV32M, Unprivileged ISA 20191213 ch. 7).

One 32×32 unsigned product, with a correction term for signed operands computed a cycle
earlier, covers all four instructions. The core loads the operands in the first cycle a MUL*
spends in X and takes ``result`` in the second (then writes it through W like an ALU
result), so the latency is the same for every operand value: there is no early-out path.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["Multiplier"]


class Multiplier(wiring.Component):
    """``a``, ``b``: registers rs1, rs2; ``funct3[1:0]``: 0 MUL, 1 MULH, 2 MULHSU, 3 MULHU.
    ``load`` latches the operands; ``result`` is valid the next cycle (``valid``)."""

    load:   In(1)
    a:      In(32)
    b:      In(32)
    funct:  In(2)
    valid:  Out(1)
    result: Out(32)

    def elaborate(self, platform):
        m = Module()
        # A 32x32 unsigned product plus a correction for signed operands, computed in X:
        #   signed(a) * signed(b) = a*b - 2^32 * (sa*b + sb*a)   (mod 2^64)
        # (one 64-bit product: cheaper in DSPs and in simulation than a 33x33 signed one).
        ua = Signal(32)
        ub = Signal(32)
        corr = Signal(32)
        high = Signal()
        sa = self.a[31] & (self.funct != 3)          # MULH, MULHSU: rs1 signed
        sb = self.b[31] & (self.funct == 1)          # MULH: rs2 signed
        m.d.sync += self.valid.eq(self.load)
        with m.If(self.load):
            m.d.sync += [
                ua.eq(self.a),
                ub.eq(self.b),
                corr.eq(Mux(sa, self.b, 0) + Mux(sb, self.a, 0)),
                high.eq(self.funct != 0),
            ]
        product = Signal(64)
        m.d.comb += [
            product.eq(ua * ub),
            self.result.eq(Mux(high, product[32:64] - corr, product[:32])),
        ]
        return m
