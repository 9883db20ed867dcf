"""Fixed-latency divider for the RV32M DIV/DIVU/REM/REMU instructions.

Reference: The RISC-V Instruction Set Manual, Volume I (20191213), chapter 7 "M" extension,
table 7.1 (division by zero and overflow results).

Constant time by construction: a restoring division of the operands' magnitudes always runs
all 32 steps (no early exit on zero or small operands); the signs, division by zero and the
INT_MIN / -1 overflow are fixed up with multiplexers, never by taking a shorter path. The result
is ready exactly :data:`LATENCY` cycles after ``start``.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["Divider", "LATENCY"]


LATENCY = 33      # cycles from the ``start`` cycle to the ``done`` cycle


class Divider(wiring.Component):
    """``start`` (one cycle) latches ``a``, ``b``, ``signed`` and ``rem``; ``done`` rises for
    one cycle :data:`LATENCY` cycles later with ``result``. ``start`` while busy restarts."""

    start:  In(1)
    a:      In(32)
    b:      In(32)
    signed: In(1)
    rem:    In(1)
    busy:   Out(1)
    done:   Out(1)
    result: Out(32)

    def elaborate(self, platform):
        m = Module()

        count = Signal(range(LATENCY + 1))
        quo = Signal(32)          # shifts in quotient bits; starts as |a|
        part = Signal(33)         # partial remainder
        div = Signal(32)          # |b|
        neg_q = Signal()
        neg_r = Signal()
        zero = Signal()
        a_orig = Signal(32)
        want_rem = Signal()

        a_neg = self.signed & self.a[31]
        b_neg = self.signed & self.b[31]

        with m.If(self.start):
            m.d.sync += [
                count.eq(1),
                quo.eq(Mux(a_neg, -self.a, self.a)),
                part.eq(0),
                div.eq(Mux(b_neg, -self.b, self.b)),
                neg_q.eq(a_neg ^ b_neg),
                neg_r.eq(a_neg),
                zero.eq(self.b == 0),
                a_orig.eq(self.a),
                want_rem.eq(self.rem),
            ]
        with m.Elif((count != 0) & (count != LATENCY)):
            shifted = Cat(quo[31], part[:32])           # (part << 1) | next dividend bit
            diff = Signal(34)
            m.d.comb += diff.eq(shifted - div)
            ge = ~diff[33]
            m.d.sync += [
                part.eq(Mux(ge, diff[:33], shifted)),
                quo.eq(Cat(ge, quo[:31])),
                count.eq(count + 1),
            ]
        with m.Elif(count == LATENCY):
            m.d.sync += count.eq(0)

        q = Mux(neg_q, -quo, quo)
        r = Mux(neg_r, -part[:32], part[:32])
        m.d.comb += [
            self.busy.eq(count != 0),
            self.done.eq(count == LATENCY),
            self.result.eq(Mux(want_rem, Mux(zero, a_orig, r), Mux(zero, 0xFFFF_FFFF, q))),
        ]
        return m
