"""The decoder's ``pc_imm`` (hdl/decoder.py), which feeds the pipelined core's target adder in
``D``, equals the instruction's immediate ``dec.imm`` for every BRANCH, JAL and AUIPC word
(random words of each opcode, checked against an independent decoding of the formats)."""

import random

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
