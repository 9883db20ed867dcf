"""sim/cpi_projection.py's classifier and hazard counts on hand-made instruction streams (the
projection prices the pipelined core's cycle table with them, docs/core.md)."""

from gluon.sim.cpi_projection import profile, price, PIPELINED, MUL_ALTERNATIVES, HAZARDS


def r_type(funct7, rs2, rs1, funct3, rd, opcode=0x33):
    return funct7 << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode


MUL_X5 = r_type(1, 7, 6, 0, 5)           # mul  x5, x6, x7
ADD_USES_X5 = r_type(0, 1, 5, 0, 8)      # add  x8, x5, x1
ADD_USES_X5_AS_RS2 = r_type(0, 5, 1, 0, 8)
ADD_OTHER = r_type(0, 2, 1, 0, 8)        # add  x8, x1, x2
LW_X5 = 0x0000_2283                      # lw   x5, 0(x0)


def counts(words):
    return profile([(i, w) for i, w in enumerate(words)])


def test_mul_use_counted_only_when_the_next_instruction_reads_the_product():
    _, h = counts([MUL_X5, ADD_USES_X5, MUL_X5, ADD_USES_X5_AS_RS2, MUL_X5, ADD_OTHER,
                   MUL_X5, ADD_OTHER, ADD_USES_X5])
    assert h["mul_use"] == 2, h
    assert h["load_use"] == 0, h


def test_load_use_is_not_mul_use():
    c, h = counts([LW_X5, ADD_USES_X5])
    assert c["load"] == 1 and h["load_use"] == 1 and h["mul_use"] == 0, (c, h)


def test_pricing_of_the_multiplier_options():
    c, h = counts([MUL_X5, ADD_USES_X5])
    built = price(c, h, PIPELINED, "pipelined")
    assert built == PIPELINED["mul"] + PIPELINED["alu"] == 3
    assert HAZARDS["pipelined"]["mul_use"] == 0
    wait = MUL_ALTERNATIVES["MUL-use wait"]
    assert wait["mul"] + PIPELINED["alu"] + wait["mul_use"] == 4
