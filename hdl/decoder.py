"""Instruction decoder of the pipelined core's ``D`` stage (RV32IM + Zicsr).

Reference: The RISC-V Instruction Set Manual, Volume I: Unprivileged ISA (20191213), chapter 24
(opcode map, instruction formats); Volume II: Privileged Architecture (20211203) for MRET/WFI.

Purely combinational: ``word`` in, a :class:`Decoded` out. Everything here is a function of the
instruction bits alone (no register value, no privilege), so the core registers it into ``X``
at the end of ``D`` and ``X`` decides from flip-flops.
"""

from amaranth import *
from amaranth.lib import wiring, data
from amaranth.lib.wiring import In, Out

from .isa import Opcode, Instruction


__all__ = ["Decoded", "Decoder", "ECALL", "EBREAK", "MRET", "WFI"]

ECALL = 0x0000_0073
EBREAK = 0x0010_0073
MRET = 0x3020_0073
WFI = 0x1050_0073


class Decoded(data.Struct):
    """What ``X`` needs to know about an instruction, besides its word.

    ``imm`` is the immediate of the instruction's format (I, S, B, U or J); ``legal`` is false
    for every encoding RV32IM + Zicsr + MRET/WFI does not define; ``writes_rd`` includes
    writes to x0 (the core drops those)."""
    load:      1
    store:     1
    opimm:     1
    op:        1
    mul:       1
    div:       1
    branch:    1
    jal:       1
    jalr:      1
    lui:       1
    auipc:     1
    csr:       1
    fence_i:   1
    ecall:     1
    ebreak:    1
    mret:      1
    wfi:       1
    legal:     1
    uses_rs1:  1
    uses_rs2:  1
    writes_rd: 1
    imm:       32


class Decoder(wiring.Component):
    """``pc_imm``: the immediate of the pc-relative instructions, equal to ``dec.imm`` for
    BRANCH, JAL and AUIPC (anything for the others), chosen by two opcode bits instead of the
    whole opcode: it feeds ``D``'s target adder, whose sum a JAL or branch loads into the fetch
    register in the same cycle the word leaves the instruction RAM.

    ``split_legal`` (the pipelined core's): two more outputs, the legality verdict in two parts
    that are each a few LUT levels deep, so that ``D`` registers them and ``X`` combines them
    (``legal`` is unchanged: ``~(bad_op | bad_sys)``). ``bad_op``: not an instruction by its
    opcode and funct fields (SYSTEM with funct3 = 0 counted legal here); ``bad_sys``: a SYSTEM
    word with funct3 = 0 that is none of ECALL, EBREAK, MRET, WFI."""

    def __init__(self, *, split_legal=False):
        self.split_legal = bool(split_legal)
        ports = {"bad_op": Out(1), "bad_sys": Out(1)} if split_legal else {}
        super().__init__({"word": In(32), "dec": Out(Decoded), "pc_imm": Out(32), **ports})

    def elaborate(self, platform):
        m = Module()
        raw = self.word
        inst = Signal(Instruction)
        m.d.comb += inst.eq(raw)
        op, f3, f7 = inst.opcode, inst.funct3, inst.funct7
        d = self.dec

        is_system = op == Opcode.SYSTEM
        is_muldiv = (op == Opcode.OP) & (f7 == 0b0000001)
        m.d.comb += [
            d.load.eq(op == Opcode.LOAD),
            d.store.eq(op == Opcode.STORE),
            d.opimm.eq(op == Opcode.OP_IMM),
            d.op.eq(op == Opcode.OP),
            d.mul.eq(is_muldiv & ~f3[2]),
            d.div.eq(is_muldiv & f3[2]),
            d.branch.eq(op == Opcode.BRANCH),
            d.jal.eq(op == Opcode.JAL),
            d.jalr.eq(op == Opcode.JALR),
            d.lui.eq(op == Opcode.LUI),
            d.auipc.eq(op == Opcode.AUIPC),
            d.csr.eq(is_system & (f3 != 0) & (f3 != 4)),
            d.fence_i.eq((op == Opcode.MISC_MEM) & (f3 == 1)),
            d.ecall.eq(raw == ECALL),
            d.ebreak.eq(raw == EBREAK),
            d.mret.eq(raw == MRET),
            d.wfi.eq(raw == WFI),
        ]

        # the legality table into d.legal; with split_legal into op_legal, the SYSTEM funct3 = 0
        # words left to bad_sys (a 32-bit compare, made apart)
        legal = d.legal
        sys_legal = d.ecall | d.ebreak | d.mret | d.wfi | d.csr
        if self.split_legal:
            legal = op_legal = Signal()
            sys_legal = f3 != 4
            imm12 = raw[20:32]
            sys_ok = ((raw[7:12] == 0) & (raw[15:20] == 0)
                      & ((imm12 == 0x000) | (imm12 == 0x001) | (imm12 == 0x302) | (imm12 == 0x105)))
            m.d.comb += [self.bad_op.eq(~op_legal), self.bad_sys.eq(is_system & (f3 == 0) & ~sys_ok),
                         d.legal.eq(~self.bad_op & ~self.bad_sys)]
        with m.If(inst.quadrant == 0b11):
            with m.Switch(op):
                with m.Case(Opcode.LOAD):
                    m.d.comb += legal.eq((f3 != 3) & (f3 != 6) & (f3 != 7))
                with m.Case(Opcode.STORE):
                    m.d.comb += legal.eq(f3 < 3)
                with m.Case(Opcode.OP_IMM):
                    with m.If(f3 == 1):
                        m.d.comb += legal.eq(f7 == 0)
                    with m.Elif(f3 == 5):
                        m.d.comb += legal.eq((f7 == 0) | (f7 == 0b0100000))
                    with m.Else():
                        m.d.comb += legal.eq(1)
                with m.Case(Opcode.OP):
                    m.d.comb += legal.eq((f7 == 0) | (f7 == 1) |
                                           (f7 == 0b0100000) & ((f3 == 0) | (f3 == 5)))
                with m.Case(Opcode.LUI, Opcode.AUIPC, Opcode.JAL):
                    m.d.comb += legal.eq(1)
                with m.Case(Opcode.JALR):
                    m.d.comb += legal.eq(f3 == 0)
                with m.Case(Opcode.BRANCH):
                    m.d.comb += legal.eq((f3 != 2) & (f3 != 3))
                with m.Case(Opcode.MISC_MEM):
                    m.d.comb += legal.eq(f3 < 2)
                with m.Case(Opcode.SYSTEM):
                    m.d.comb += legal.eq(sys_legal)

        m.d.comb += [
            d.uses_rs1.eq(~((op == Opcode.LUI) | (op == Opcode.AUIPC) | (op == Opcode.JAL)
                            | (op == Opcode.MISC_MEM) | is_system & (f3[2] | (f3 == 0)))),
            d.uses_rs2.eq((op == Opcode.OP) | (op == Opcode.BRANCH) | (op == Opcode.STORE)),
            d.writes_rd.eq(~((op == Opcode.STORE) | (op == Opcode.BRANCH)
                             | (op == Opcode.MISC_MEM) | is_system & ~d.csr)),
        ]

        b_imm = Signal(32)
        j_imm = Signal(32)
        u_imm = Signal(32)
        m.d.comb += [
            b_imm.eq(Cat(C(0, 1), raw[8:12], raw[25:31], raw[7], raw[31]).as_signed()),
            j_imm.eq(Cat(C(0, 1), raw[21:31], raw[20], raw[12:20], raw[31]).as_signed()),
            u_imm.eq(Cat(C(0, 12), raw[12:32])),
        ]
        with m.Switch(op):
            with m.Case(Opcode.STORE):
                m.d.comb += d.imm.eq(Cat(raw[7:12], raw[25:32]).as_signed())
            with m.Case(Opcode.BRANCH):
                m.d.comb += d.imm.eq(b_imm)
            with m.Case(Opcode.LUI, Opcode.AUIPC):
                m.d.comb += d.imm.eq(u_imm)
            with m.Case(Opcode.JAL):
                m.d.comb += d.imm.eq(j_imm)
            with m.Default():
                m.d.comb += d.imm.eq(raw[20:32].as_signed())
        # BRANCH 1100011, JAL 1101111, AUIPC 0010111: bit 6 tells AUIPC, bit 3 JAL from BRANCH
        m.d.comb += self.pc_imm.eq(Mux(raw[6], Mux(raw[3], j_imm, b_imm), u_imm))
        return m
