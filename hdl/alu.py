"""The integer ALU of the pipelined core's ``X`` stage (RV32I OP and OP-IMM, Unprivileged ISA
20191213 section 2.4).

Purely combinational. One adder serves ADD/ADDI and, through ``sum``, the load/store address
and the JALR target; one comparator pair SLT[I][U]; one right shifter SLL/SRL/SRA (a left shift
is a right shift of the bit-reversed word, the arithmetic fill a thermometer mask of the shift
amount). Every result takes the same path for every operand value.
"""

from amaranth import *
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["ALU"]


def _reverse(v):
    return Cat(*[v[len(v) - 1 - i] for i in range(len(v))])


class ALU(wiring.Component):
    """``a``: rs1; ``b``: rs2 or the immediate; ``funct3``; ``sub``: SUB (OP, funct7[5], funct3
    0); ``arith``: funct7[5] (SRA/SRAI). ``result``: the OP/OP-IMM result; ``sum``: ``a + b``.

    For the default core's block-RAM variant (iCE40 timing; off, the netlist is unchanged):
    ``registered_shift``: SLL/SRL/SRA's ``result`` is the shifter's output registered, so it
    is the shift of the operands of the cycle before (the core holds them two cycles);
    ``split_add``: funct3 0 gives 0 in ``result``, the core ORs the sum or difference in after
    its own result multiplexer (one LUT between the carry chain and its register).

    ``shared_adder`` (the pipelined core's): one adder for ADD, SUB, SLT[I][U] and ``sum``:
    ``sub`` then means "subtract" for SUB and SLT[I][U] alike (the core sets it from
    registers; never for a load, store or JALR, whose address is ``sum``), ``sum`` is
    ``a + b`` or ``a - b`` accordingly, SLTU is the subtraction's borrow and SLT its sign
    corrected for overflow. One carry chain where there were four (a + b, a - b, two
    comparators), and no multiplexer between the adder and the result's."""

    a:      In(32)
    b:      In(32)
    funct3: In(3)
    sub:    In(1)
    arith:  In(1)
    result: Out(32)
    sum:    Out(32)

    def __init__(self, *, registered_shift=False, split_add=False, shared_adder=False):
        self.registered_shift = bool(registered_shift)
        self.split_add = bool(split_add)
        self.shared_adder = bool(shared_adder)
        if self.shared_adder and self.split_add:
            raise ValueError("ALU: shared_adder and split_add are exclusive")
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        a, b, f3 = self.a, self.b, self.funct3
        if self.shared_adder:
            # a + (b ^ sub) + sub in 33 bits: bit 32 is the carry out, 1 when a >= b unsigned
            # for a subtraction
            wide = Signal(33)
            m.d.comb += [wide.eq(a + (b ^ self.sub.replicate(32)) + self.sub),
                         self.sum.eq(wide[:32])]
            ltu = ~wide[32]
            lt = Mux(a[31] ^ b[31], a[31], wide[31])
        else:
            m.d.comb += self.sum.eq(a + b)
            ltu = a < b
            lt = a.as_signed() < b.as_signed()
        shamt = b[:5]
        sh_in = Mux(f3[2], a, _reverse(a))
        fill = f3[2] & self.arith & a[31]
        fill_mask = Signal(32)
        shifted = Signal(32)
        m.d.comb += [fill_mask.eq(~(C(0xFFFF_FFFF, 32) >> shamt)),
                     shifted.eq((sh_in >> shamt) | (fill_mask & fill.replicate(32)))]
        sll, srl = _reverse(shifted), shifted
        if self.registered_shift:
            sh_r = Signal(32)
            m.d.sync += sh_r.eq(Mux(f3[2], shifted, _reverse(shifted)))
            sll = srl = sh_r
        with m.Switch(f3):
            with m.Case(0):
                if self.shared_adder:
                    m.d.comb += self.result.eq(self.sum)
                elif not self.split_add:
                    m.d.comb += self.result.eq(Mux(self.sub, a - b, self.sum))
            with m.Case(1):
                m.d.comb += self.result.eq(sll)
            with m.Case(2):
                m.d.comb += self.result.eq(lt)
            with m.Case(3):
                m.d.comb += self.result.eq(ltu)
            with m.Case(4):
                m.d.comb += self.result.eq(a ^ b)
            with m.Case(5):
                m.d.comb += self.result.eq(srl)
            with m.Case(6):
                m.d.comb += self.result.eq(a | b)
            with m.Case(7):
                m.d.comb += self.result.eq(a & b)
        return m
