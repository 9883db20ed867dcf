"""Single-cycle multiplier for MUL, MULH, MULHSU, MULHU (RV32M, Unprivileged ISA 20191213 ch. 7).

One 33×33 signed product covers all four instructions: each operand is extended by one bit,
its sign for a signed operand and 0 for an unsigned one (MULHSU: rs1 signed, rs2 unsigned),
and the low or high 32 bits of the 66-bit product are the result. The core loads the operands
in the first cycle a MUL* spends in X and takes ``result`` in the second (then writes it
through W like an ALU result), so the latency is the same for every operand value: there is
no early-out path.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["Multiplier"]


def _partials(ua, ub):
    """The four partial products of two 33-bit operands (sign- or zero-extended): 16-bit low
    halves unsigned, 17-bit high halves signed (each fits an 18x18 DSP, and no sign correction
    is needed): a * b = ll + (hl + lh) * 2^16 + hh * 2^32."""
    al, bl = ua[:16], ub[:16]
    ah, bh = ua[16:33].as_signed(), ub[16:33].as_signed()
    return (al * bl, ah * Cat(bl, C(0, 1)).as_signed(), Cat(al, C(0, 1)).as_signed() * bh,
            ah * bh)


def _product_halves(m, p_ll, p_hl, p_lh, p_hh):
    """The low and high 32 bits of ``p_ll + (p_hl + p_lh) * 2^16 + p_hh * 2^32``, added in two
    halves of at most 34 bits: with mid = p_hl + p_lh, the product is
    (p_ll + mid[:16] * 2^16) + (p_hh + (mid >> 16)) * 2^32, the low half's carry going into
    the high one. The same adders as one 66-bit sum (a carry chain through the low half into
    the high one); a Verilator model computes a product or a sum wider than 64 bits on arrays
    of 32-bit words, in every cycle, and these on 64-bit words (docs/simulation.md)."""
    mid = Signal(signed(35))
    lo = Signal(33)
    hi = Signal(32)
    m.d.comb += [
        mid.eq(p_hl + p_lh),
        lo.eq(p_ll + Cat(C(0, 16), mid[:16])),
        # mid >> 16, sign-extended to 32 bits (a multiplexer of constants rather than a
        # replicated bit: Verilator evaluates a replication bit by bit)
        hi.eq(p_hh[:32] + Cat(mid[16:35], Mux(mid[34], 0x1FFF, 0)) + lo[32]),
    ]
    return lo[:32], hi


class Multiplier(wiring.Component):
    """``a``, ``b``: registers rs1, rs2; ``funct3[1:0]``: 0 MUL, 1 MULH, 2 MULHSU, 3 MULHU.
    ``result`` is the product of the operands of ``stages`` cycles before; ``valid``: ``load``
    was high then. ``stages``: 1, or 2 with the product registered (for slow FPGAs: the
    partial-product adders then end at a register instead of the core's result path), or 3:
    four 16×16 unsigned partial products, each between registers, then the sum and the sign
    correction. With 3, Yosys' ``ice40_dsp`` puts the operand and product registers inside
    the iCE40's ``SB_MAC16`` blocks, so the multiplication itself is a clocked DSP stage that
    nextpnr times (a combinational ``SB_MAC16`` is not timed by nextpnr 0.11: its paths end at
    the DSP's unconnected clock pin, docs/fpga.md).

    ``split`` (``stages=1`` only; the pipelined core's): the one register sits between the DSPs
    and the adders instead of before the DSPs. The operands go straight into four partial
    products (16-bit low halves unsigned, 17-bit high halves signed: each fits an 18×18 DSP,
    and no sign correction is needed), which are registered; ``result`` is their sum in the
    next cycle. The latency is the same (one cycle after ``load``); the DSPs and the carry
    chains are no longer on one path."""

    load:   In(1)
    a:      In(32)
    b:      In(32)
    funct:  In(2)
    valid:  Out(1)
    result: Out(32)

    def __init__(self, stages=1, *, split=False):
        if stages not in (1, 2, 3):
            raise ValueError(f"stages must be 1, 2 or 3, not {stages!r}")
        if split and stages != 1:
            raise ValueError(f"split=True needs stages=1, not {stages!r}")
        self.stages = stages
        self.split = bool(split)
        super().__init__()

    def _signs(self):
        """(rs1 signed, rs2 signed) for ``funct``: MULH and MULHSU take rs1 signed, MULH rs2."""
        return self.a[31] & (self.funct != 3), self.b[31] & (self.funct == 1)

    def elaborate(self, platform):
        if self.stages == 3:
            return self._elaborate_dsp16()
        if self.split:
            return self._elaborate_split()
        m = Module()
        # 33x33 signed (ECP5: the same four 18x18 DSPs as a 32x32 unsigned product, and no
        # correction term: 143 LUT4 and 68 FF against 267 and 98 for the unsigned product
        # with a sign correction; iCE40: four SB_MAC16 either way).
        ua = Signal(signed(33))
        ub = Signal(signed(33))
        high = Signal()
        sa, sb = self._signs()
        # The operand registers load in every cycle, ``load`` only sets ``valid``: the product
        # in the cycle after ``load`` is that of the operands of the ``load`` cycle, and the
        # core's late ``load`` decision drives one flip-flop instead of 67 enables.
        valid1 = Signal()
        m.d.sync += [
            valid1.eq(self.load),
            self.valid.eq(self.load if self.stages == 1 else valid1),
            ua.eq(Cat(self.a, sa)),
            ub.eq(Cat(self.b, sb)),
            high.eq(self.funct != 0),
        ]
        product = Signal(66)
        m.d.comb += product.eq(ua * ub)
        if self.stages == 1:
            m.d.comb += self.result.eq(Mux(high, product[32:64], product[:32]))
        else:
            m.d.sync += self.result.eq(Mux(high, product[32:64], product[:32]))
        return m

    def _elaborate_dsp16(self):
        m = Module()
        # cycle 1 (load): operands and their signedness registered (the DSPs' input registers)
        # no reset on the operand and product registers: Yosys packs only reset-less ones into
        # the SB_MAC16 (``valid`` says when they hold a product)
        ua, ub = Signal(32, reset_less=True), Signal(32, reset_less=True)
        sa, sb, high = Signal(), Signal(), Signal()
        valid1, valid2 = Signal(), Signal()
        m.d.sync += [
            ua.eq(self.a), ub.eq(self.b),
            Cat(sa, sb).eq(Cat(*self._signs())),
            high.eq(self.funct != 0),
            valid1.eq(self.load), valid2.eq(valid1), self.valid.eq(valid2),
        ]
        # cycle 2: the four unsigned 16x16 products (the DSPs' product registers) and the sign
        # correction: signed(a) * signed(b) = a * b - 2^32 * (sa * b + sb * a) modulo 2^64
        p = [Signal(32, name=f"p{i}", reset_less=True) for i in range(4)]
        corr = Signal(33)
        high2 = Signal()
        m.d.sync += [
            p[0].eq(ua[:16] * ub[:16]),
            p[1].eq(ua[16:] * ub[:16]),
            p[2].eq(ua[:16] * ub[16:]),
            p[3].eq(ua[16:] * ub[16:]),
            corr.eq(Mux(sa, ub, 0) + Mux(sb, ua, 0)),
            high2.eq(high),
        ]
        # cycle 3: the sum, corrected, and the half the instruction asks for
        product = Signal(64)
        m.d.comb += product.eq(Cat(p[0], p[3]) + (p[1] << 16) + (p[2] << 16) - (corr << 32))
        m.d.sync += self.result.eq(Mux(high2, product[32:64], product[:32]))
        return m

    def _elaborate_split(self):
        m = Module()
        sa, sb = self._signs()
        # the partial products of the 33-bit operands (sign- or zero-extended), registered in
        # every cycle (``load`` only sets ``valid``)
        p_ll = Signal(32)
        p_hl = Signal(signed(34))
        p_lh = Signal(signed(34))
        p_hh = Signal(signed(34))
        high = Signal()
        parts = _partials(Cat(self.a, sa), Cat(self.b, sb))
        m.d.sync += [
            Cat(p_ll, p_hl, p_lh, p_hh).eq(Cat(*parts)),
            high.eq(self.funct != 0),
            self.valid.eq(self.load),
        ]
        lo, hi = _product_halves(m, p_ll, p_hl, p_lh, p_hh)
        m.d.comb += self.result.eq(Mux(high, hi, lo))
        return m
