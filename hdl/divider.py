"""Fixed-latency divider for the RV32M DIV/DIVU/REM/REMU instructions.

Reference: The RISC-V Instruction Set Manual, Volume I (20191213), chapter 7 "M" extension,
table 7.1 (division by zero and overflow results).

Constant time by construction: a restoring division of the dividend's magnitude always runs
all 32 steps (no early exit on zero or small operands); the signs, division by zero and the
INT_MIN / -1 overflow are handled by multiplexers, never by taking a shorter path. The result
is ready exactly :data:`LATENCY` cycles after ``start``.

Two adders (on an FPGA every adder bit is a carry cell): one negates a negative dividend in
the ``start`` cycle (``|a|``); the other, in each of the 32 steps, compares the shifted partial
remainder with the divisor, subtracting ``b`` or, for a negative signed divisor, adding it
(``x - |b| = x + b``: the divisor is never negated), and in the ``done`` cycle negates the
quotient or the remainder if its sign says so. Division by zero needs no special path for the remainder (32 steps of ``x - 0`` leave ``|a|``, which gets
``a``'s sign back); the quotient of a division by zero is all ones, so its negation is off.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["Divider", "LATENCY"]


LATENCY = 33      # cycles from the ``start`` cycle to the ``done`` cycle


class Divider(wiring.Component):
    """``start`` (one cycle) latches ``a``, ``b``, ``signed`` and ``rem``; ``done`` rises for
    one cycle :data:`LATENCY` cycles later with ``result`` (valid in that cycle only).
    ``start`` while busy restarts."""

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
        quo = Signal(32, reset_less=True)          # |a|; dividend bits out, quotient bits in
        part = Signal(32, reset_less=True)         # partial remainder (< |b|, so 32 bits hold it)
        div = Signal(32, reset_less=True)          # b as given (its sign is b_neg)
        b_neg = Signal()          # signed division by a negative divisor: add it
        neg = Signal()            # the answer (quotient or remainder) is to be negated
        want_rem = Signal()
        done = Signal()           # count == LATENCY, as a register

        a_neg = self.signed & self.a[31]
        stepping = (count != 0) & ~done

        # The adder: total = x + (y ^ inv) + inv, 34 bits, its role chosen by registers only
        # (``start`` comes late in the core's cycle: it must not steer a carry chain).
        #   a step: shifted - |b|          -> its sign: the quotient bit
        #   done:   0 + -r or r, 0 + -q or q   -> the signed answer
        shifted = Cat(quo[31], part)                    # (part << 1) | next dividend bit
        x = Mux(done, 0, shifted)
        y = Mux(done, Mux(want_rem, part, quo), Cat(div, b_neg, b_neg))
        inv = Mux(done, neg, ~b_neg)
        total = Signal(34)
        # carry in through an extra low bit (inv + inv), so that it is one carry chain
        m.d.comb += total.eq((Cat(inv, x) + Cat(inv, y ^ inv.replicate(34)))[1:])
        ge = ~total[33]                                 # shifted >= |b|

        m.d.sync += done.eq(~self.start & (count == LATENCY - 1))
        with m.If(self.start):
            b_neg_in = self.signed & self.b[31]
            m.d.sync += [
                count.eq(1),
                quo.eq(Mux(a_neg, -self.a, self.a)),     # |a|
                part.eq(0),
                div.eq(self.b),
                b_neg.eq(b_neg_in),
                # the quotient of a division by zero is all ones, whatever the signs
                neg.eq(Mux(self.rem, a_neg, (a_neg ^ b_neg_in) & (self.b != 0))),
                want_rem.eq(self.rem),
            ]
        with m.Elif(stepping):
            m.d.sync += [
                part.eq(Mux(ge, total[:32], shifted[:32])),
                quo.eq(Cat(ge, quo[:31])),
                count.eq(count + 1),
            ]
        with m.Elif(done):
            m.d.sync += count.eq(0)

        m.d.comb += [
            self.busy.eq(count != 0),
            self.done.eq(done),
            self.result.eq(total[:32]),
        ]
        return m
