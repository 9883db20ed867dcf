"""The decoder's ``pc_imm`` (hdl/decoder.py), which feeds the pipelined core's target adder in
``D``, equals the instruction's immediate ``dec.imm`` for every BRANCH, JAL and AUIPC word
(random words of each opcode, checked against an independent decoding of the formats); the
split legality verdict (``Decoder(split_legal=True)``) against the spec's opcode map."""

import random

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from gluon.hdl.decoder import Decoder


def sext(v, bits):
    return (v - (1 << bits) if v >> (bits - 1) else v) & 0xFFFF_FFFF


def reference_imm(w):
    op = w & 0x7F
    bit = lambda i: (w >> i) & 1
    field = lambda hi, lo: (w >> lo) & ((1 << (hi - lo + 1)) - 1)
    if op == 0b1100011:                                  # B
        return sext(bit(31) << 12 | bit(7) << 11 | field(30, 25) << 5 | field(11, 8) << 1, 13)
    if op == 0b1101111:                                  # J
        return sext(bit(31) << 20 | field(19, 12) << 12 | bit(20) << 11 | field(30, 21) << 1, 21)
    assert op == 0b0010111                               # U (AUIPC)
    return w & 0xFFFF_F000


def test_pc_imm_is_the_immediate_of_branches_jal_auipc():
    rng = random.Random(18)
    words = [(rng.getrandbits(25) << 7) | op
             for op in (0b1100011, 0b1101111, 0b0010111) for _ in range(300)]
    words += [0xFFFF_FFFF & ~0x7F | 0b1100011, 0x0000_0000 | 0b1101111, 0x8000_0000 | 0b1101111]
    dut = Decoder()

    async def bench(ctx):
        for w in words:
            ctx.set(dut.word, w)
            want = reference_imm(w)
            got, imm = ctx.get(dut.pc_imm), ctx.get(dut.dec.imm) & 0xFFFF_FFFF
            assert got == want and imm == want, f"{w:#010x}: pc_imm {got:#x}, imm {imm:#x}, want {want:#x}"

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def reference_legal(w):
    """RV32IM + Zicsr + MRET/WFI (Unprivileged ISA chapter 24, Privileged 3.3), from the spec's
    opcode map, independent of hdl/decoder.py."""
    op, f3, f7 = w & 0x7F, (w >> 12) & 7, w >> 25
    if op == 0b0000011:                                  # LB LH LW LBU LHU
        return f3 in (0, 1, 2, 4, 5)
    if op == 0b0100011:                                  # SB SH SW
        return f3 in (0, 1, 2)
    if op == 0b0010011:                                  # OP-IMM
        if f3 == 1:
            return f7 == 0                               # SLLI
        if f3 == 5:
            return f7 in (0, 0x20)                       # SRLI SRAI
        return True
    if op == 0b0110011:                                  # OP, M
        return f7 in (0, 1) or f7 == 0x20 and f3 in (0, 5)
    if op in (0b0110111, 0b0010111, 0b1101111):          # LUI AUIPC JAL
        return True
    if op == 0b1100111:                                  # JALR
        return f3 == 0
    if op == 0b1100011:                                  # branches
        return f3 in (0, 1, 4, 5, 6, 7)
    if op == 0b0001111:                                  # FENCE FENCE.I
        return f3 in (0, 1)
    if op == 0b1110011:                                  # ECALL EBREAK MRET WFI, Zicsr
        if f3 == 0:
            return w in (0x0000_0073, 0x0010_0073, 0x3020_0073, 0x1050_0073)
        return f3 != 4
    return False


def test_split_legality_verdict_matches_the_opcode_map():
    """The pipelined core's decoder (``split_legal``) gives the legality verdict in two parts
    that ``D`` registers and ``X`` combines: ``bad_op | bad_sys`` is the illegal-instruction
    verdict of the default decoder and of the spec's opcode map, for every opcode and funct3
    with funct7 at its meaningful values and at random, and for SYSTEM words around
    ECALL/EBREAK/MRET/WFI (one bit flipped at a time)."""
    rng = random.Random(1818)
    words = []
    for op in range(128):
        for f3 in range(8):
            for f7 in (0, 1, 0x20, 0x21, 0x40, rng.getrandbits(7)):
                rest = rng.getrandbits(32) & ~0xFE00_707F
                words.append(f7 << 25 | rest | f3 << 12 | op)
    for base in (0x0000_0073, 0x0010_0073, 0x3020_0073, 0x1050_0073):
        words += [base] + [base ^ (1 << i) for i in range(7, 32)]
    words += [0, 0xFFFF_FFFF, 0x0000_0013, 0x0010_0013]
    split, plain = Decoder(split_legal=True), Decoder()
    wrapper = Module()
    wrapper.submodules.split, wrapper.submodules.plain = split, plain
    word = Signal(32)
    wrapper.d.comb += [split.word.eq(word), plain.word.eq(word)]
    illegal_seen = [0, 0]

    async def bench(ctx):
        for w in words:
            ctx.set(word, w)
            want = reference_legal(w)
            bad_op, bad_sys = ctx.get(split.bad_op), ctx.get(split.bad_sys)
            got = not (bad_op or bad_sys)
            assert got == want, f"{w:#010x}: bad_op {bad_op} bad_sys {bad_sys}, legal {want}"
            assert ctx.get(plain.dec.legal) == want, f"{w:#010x}: default decoder's legal"
            assert ctx.get(split.dec.legal) == want, f"{w:#010x}: split decoder's legal"
            illegal_seen[bad_sys] += not want

    sim = Simulator(wrapper)
    sim.add_testbench(bench)
    sim.run()
    assert illegal_seen[0] > 1000 and illegal_seen[1] > 50, illegal_seen


def test_decoder_split_legal_is_keyword_only():
    with pytest.raises(TypeError):
        Decoder(True)
