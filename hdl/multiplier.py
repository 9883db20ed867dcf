"""Single-cycle multiplier for MUL, MULH, MULHSU, MULHU (RV32M, Unprivileged ISA 20191213 ch. 7).

One 33×33 signed product covers all four instructions (operands sign- or zero-extended by
``funct3``). The core registers the operands at the end of X and reads ``result`` in W, so the
latency is one cycle for every operand value: there is no early-out path to take.
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
        ma = Signal(33)
        mb = Signal(33)
        high = Signal()
        m.d.sync += self.valid.eq(self.load)
        with m.If(self.load):
            m.d.sync += [
                ma.eq(Cat(self.a, self.a[31] & (self.funct != 3))),   # MULH, MULHSU: rs1 signed
                mb.eq(Cat(self.b, self.b[31] & (self.funct == 1))),   # MULH: rs2 signed
                high.eq(self.funct != 0),
            ]
        product = Signal(66)
        m.d.comb += [
            product.eq(ma.as_signed() * mb.as_signed()),
            self.result.eq(Mux(high, product[32:64], product[:32])),
        ]
        return m
