"""Branch condition unit (BEQ/BNE/BLT/BGE/BLTU/BGEU, Unprivileged ISA 20191213 section 2.5).

Purely combinational: the condition is known in the cycle the branch executes, and the core
uses it to choose the *next fetch address* in that same cycle: no prediction, and the same
single cycle whether the branch is taken or not.

One 33-bit subtractor gives both orders: its borrow is ``a <u b``, and ``a <s b`` is that
borrow flipped when the signs differ. The core reuses ``diff``, ``lt`` and ``ltu`` for SUB,
SLT[I] and SLTU[I] (it feeds the unit the same operands), so the whole core has one
subtractor/comparator carry chain.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["BranchUnit"]


class BranchUnit(wiring.Component):
    a:      In(32)
    b:      In(32)
    funct3: In(3)
    taken:  Out(1)
    diff:   Out(32)       # a - b
    lt:     Out(1)        # a < b, signed
    ltu:    Out(1)        # a < b, unsigned

    def elaborate(self, platform):
        m = Module()
        eq = self.a == self.b
        sub = Signal(33)
        m.d.comb += sub.eq(Cat(self.a, C(0, 1)) - Cat(self.b, C(0, 1)))
        ltu = sub[32]                                   # the borrow
        lt = ltu ^ self.a[31] ^ self.b[31]
        m.d.comb += [self.diff.eq(sub[:32]), self.lt.eq(lt), self.ltu.eq(ltu)]
        with m.Switch(self.funct3):
            with m.Case(0):
                m.d.comb += self.taken.eq(eq)
            with m.Case(1):
                m.d.comb += self.taken.eq(~eq)
            with m.Case(4):
                m.d.comb += self.taken.eq(lt)
            with m.Case(5):
                m.d.comb += self.taken.eq(~lt)
            with m.Case(6):
                m.d.comb += self.taken.eq(ltu)
            with m.Case(7):
                m.d.comb += self.taken.eq(~ltu)
        return m
