"""Branch condition unit (BEQ/BNE/BLT/BGE/BLTU/BGEU, Unprivileged ISA 20191213 section 2.5).

Purely combinational: the condition is known in the cycle the branch executes, and the core
uses it to choose the *next fetch address* in that same cycle: no prediction, and the same
single cycle whether the branch is taken or not.
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

    def elaborate(self, platform):
        m = Module()
        eq = self.a == self.b
        lt = self.a.as_signed() < self.b.as_signed()
        ltu = self.a < self.b
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
