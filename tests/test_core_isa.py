"""Per-instruction tests of the core: every RV32IM instruction on edge operands, checked
against Python's integer arithmetic (the RISC-V spec's definitions, incl. division by zero and
INT_MIN / -1), all in a few simulation runs."""

import pytest

from asmprog import run_asm

M32 = 0xFFFF_FFFF
EDGE = [0, 1, 2, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, 0x1234_5678, 0xFFFF_0000,
        31, 32, 0xFFFF_FFFE, 0x8000_0001]


def s32(x):
    x &= M32
    return x - (1 << 32) if x >> 31 else x


def trunc_div(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


R_OPS = {
    "add":    lambda a, b: a + b,
    "sub":    lambda a, b: a - b,
    "sll":    lambda a, b: a << (b & 31),
    "slt":    lambda a, b: int(s32(a) < s32(b)),
    "sltu":   lambda a, b: int(a < b),
    "xor":    lambda a, b: a ^ b,
    "srl":    lambda a, b: a >> (b & 31),
    "sra":    lambda a, b: s32(a) >> (b & 31),
    "or":     lambda a, b: a | b,
    "and":    lambda a, b: a & b,
    "mul":    lambda a, b: a * b,
    "mulh":   lambda a, b: (s32(a) * s32(b)) >> 32,
    "mulhsu": lambda a, b: (s32(a) * b) >> 32,
    "mulhu":  lambda a, b: (a * b) >> 32,
    "div":    lambda a, b: -1 if b == 0 else (s32(a) if (s32(a), s32(b)) == (-2**31, -1) else trunc_div(s32(a), s32(b))),
    "divu":   lambda a, b: M32 if b == 0 else a // b,
    "rem":    lambda a, b: s32(a) if b == 0 else (0 if (s32(a), s32(b)) == (-2**31, -1) else s32(a) - trunc_div(s32(a), s32(b)) * s32(b)),
    "remu":   lambda a, b: a if b == 0 else a % b,
}

IMMS = [0, 1, -1, 2047, -2048, 0x555, -0x556, 31]
I_OPS = {
    "addi":  lambda a, i: a + i,
    "slti":  lambda a, i: int(s32(a) < i),
    "sltiu": lambda a, i: int(a < (i & M32)),
    "xori":  lambda a, i: a ^ (i & M32),
    "ori":   lambda a, i: a | (i & M32),
    "andi":  lambda a, i: a & (i & M32),
}
SHIFTS = {
    "slli": lambda a, s: a << s,
    "srli": lambda a, s: a >> s,
    "srai": lambda a, s: s32(a) >> s,
}
BRANCHES = {
    "beq":  lambda a, b: a == b,
    "bne":  lambda a, b: a != b,
    "blt":  lambda a, b: s32(a) < s32(b),
    "bge":  lambda a, b: s32(a) >= s32(b),
    "bltu": lambda a, b: a < b,
    "bgeu": lambda a, b: a >= b,
}

STORE = "    sw a2, 0(gp)\n    addi gp, gp, 4\n"

# "minimal": the default core; "small": Core(regfile_bram=True), the register file in block RAM
# behind a decode cycle (docs/core.md), on the tests where operand timing matters most.
BOTH_CORES = pytest.mark.parametrize("config", ["minimal", "small"])


def _run(cases, body, config="minimal"):
    res, words = run_asm(body + "    PASS\n", nres=4 * len(cases) + 16, config=config)
    assert res.passed, res
    for i, (desc, want) in enumerate(cases):
        got = words[i]
        assert got == want & M32, f"{desc}: got {got:#010x}, expected {want & M32:#010x}"
    return res


@BOTH_CORES
def test_register_register_ops(config):
    cases, body = [], ""
    for op, f in R_OPS.items():
        for a in EDGE:
            for b in EDGE:
                cases.append((f"{op} {a:#x}, {b:#x}", f(a, b)))
                body += f"    li a0, {a:#x}\n    li a1, {b:#x}\n    {op} a2, a0, a1\n" + STORE
    _run(cases, body, config)


def test_register_immediate_ops():
    cases, body = [], ""
    for op, f in I_OPS.items():
        for a in EDGE:
            for i in IMMS:
                cases.append((f"{op} {a:#x}, {i}", f(a, i)))
                body += f"    li a0, {a:#x}\n    {op} a2, a0, {i}\n" + STORE
    for op, f in SHIFTS.items():
        for a in EDGE:
            for s in (0, 1, 4, 16, 31):
                cases.append((f"{op} {a:#x}, {s}", f(a, s)))
                body += f"    li a0, {a:#x}\n    {op} a2, a0, {s}\n" + STORE
    for imm in (0, 1, 0x80000, 0xFFFFF, 0x12345):
        cases.append((f"lui {imm:#x}", imm << 12))
        body += f"    lui a2, {imm:#x}\n" + STORE
        cases.append((f"auipc {imm:#x}", imm << 12))
        body += f"1:  auipc a2, {imm:#x}\n    la a3, 1b\n    sub a2, a2, a3\n" + STORE
    # x0 is hard-wired to zero
    cases.append(("write x0", 0))
    body += "    li a0, 5\n    addi x0, a0, 1\n    add a2, x0, x0\n" + STORE
    _run(cases, body)


@BOTH_CORES
def test_branches_and_jumps(config):
    cases, body = [], ""
    n = 0
    for op, f in BRANCHES.items():
        for a in EDGE[:8]:
            for b in EDGE[:8]:
                n += 1
                cases.append((f"{op} {a:#x}, {b:#x}", int(f(a, b))))
                body += (f"    li a0, {a:#x}\n    li a1, {b:#x}\n    li a2, 1\n"
                         f"    {op} a0, a1, 1f\n    li a2, 0\n1:\n" + STORE)
    # backward taken branch loop: sum 1..10
    cases.append(("backward loop", 55))
    body += ("    li a0, 10\n    li a2, 0\n2:  add a2, a2, a0\n    addi a0, a0, -1\n"
             "    bnez a0, 2b\n" + STORE)
    # jal link value and target, jalr with odd offset (bit 0 cleared)
    cases.append(("jal link = pc + 4", 4))
    body += "3:  jal a3, 4f\n    nop\n4:  la a4, 3b\n    sub a2, a3, a4\n" + STORE
    cases.append(("jalr target, bit 0 cleared", 1))
    body += ("    la a4, 5f\n    li a2, 0\n    jalr a5, 1(a4)\n    j 6f\n5:  li a2, 1\n6:\n" + STORE)
    cases.append(("jalr link", 1))
    body += ("    la a4, 7f\n    jalr a5, 0(a4)\n8:  nop\n7:  la a6, 8b\n    sub a2, a6, a5\n"
             "    seqz a2, a2\n" + STORE)
    _run(cases, body, config)


@BOTH_CORES
def test_loads_and_stores(config):
    pattern = [0x8899AABB, 0xCCDDEEFF, 0x00112233, 0x44556677]
    data = ".section .data\n.align 4\ndata: .word " + ", ".join(f"{p:#x}" for p in pattern) + "\n" \
           ".align 4\nscratch: .space 16\n.section .text\n"
    mem = b"".join(p.to_bytes(4, "little") for p in pattern)
    cases, body = [], "    la s0, data\n"
    for off in range(16):
        for op, size, signed in (("lb", 1, True), ("lbu", 1, False), ("lh", 2, True),
                                 ("lhu", 2, False), ("lw", 4, False)):
            if off % size:
                continue
            v = int.from_bytes(mem[off:off + size], "little", signed=signed)
            cases.append((f"{op} data+{off}", v))
            body += f"    {op} a2, {off}(s0)\n" + STORE
    # stores: each size at each aligned offset into a fresh word, read back the whole word
    for op, size in (("sb", 1), ("sh", 2), ("sw", 4)):
        for off in range(0, 4, size):
            word = bytearray(b"\x11\x22\x33\x44")
            val = 0xA1B2C3D4
            word[off:off + size] = val.to_bytes(4, "little")[:size]
            cases.append((f"{op} at +{off}", int.from_bytes(word, "little")))
            body += ("    la s1, scratch\n    li a0, 0x44332211\n    sw a0, 0(s1)\n"
                     f"    li a1, {val:#x}\n    {op} a1, {off}(s1)\n    lw a2, 0(s1)\n" + STORE)
    # negative offsets, load-use back-to-back, store then load same address
    cases.append(("negative offset", pattern[0]))
    body += "    addi s2, s0, 16\n    lw a2, -16(s2)\n" + STORE
    cases.append(("load-use", pattern[1] + 1))
    body += "    lw a3, 4(s0)\n    addi a2, a3, 1\n" + STORE
    cases.append(("store-load", 0x5A5A5A5A))
    body += "    la s1, scratch\n    li a0, 0x5A5A5A5A\n    sw a0, 8(s1)\n    lw a2, 8(s1)\n" + STORE
    res, words = run_asm(body + "    PASS\n", nres=4 * len(cases) + 16, extra_sections="\n" + data,
                         config=config)
    assert res.passed
    for i, (desc, want) in enumerate(cases):
        assert words[i] == want & M32, f"{desc}: got {words[i]:#010x}, expected {want & M32:#010x}"
