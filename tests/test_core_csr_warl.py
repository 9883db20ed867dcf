"""What the machine-mode trap CSRs hold when software writes arbitrary values (Privileged
Architecture 20211203, 3.1.14-3.1.16): mscratch and mtval every bit; mepc bits 31:2
(IALIGN = 32); mtvec direct mode, BASE word aligned and limited to RAM (the bits above the RAM
window read as RAM's base, docs/core.md); mcause is WLRL and holds the interrupt bit and a 5-bit code,
every code this core raises (exceptions 0-11; interrupts 3, 7, 11 and local 16-31)."""

from asmprog import run_asm

from gluon.hdl.config import get_config
from gluon.hdl.soc import RAM_BASE

RAM_SIZE = get_config("minimal").ram_size

VALUES = [0xFFFF_FFFF, 0x8000_001F, 0x7FFF_FFE0, 0x8000_000B, 0x0000_0013, 0xA5A5_5A5A, 0]
CSRS = ["mscratch", "mtval", "mepc", "mtvec", "mcause"]


def expected(csr, v):
    if csr in ("mscratch", "mtval"):
        return v
    if csr == "mepc":
        return v & ~3
    if csr == "mtvec":
        return RAM_BASE | v & (RAM_SIZE - 1) & ~3
    return v & 0x8000_001F                      # mcause: interrupt bit, 5-bit code


def test_trap_csrs_hold_what_they_are_specified_to():
    lines = []
    for csr in CSRS:
        for v in VALUES:
            lines += [f"    li t0, {v:#x}", f"    csrw {csr}, t0", f"    csrr t1, {csr}",
                      "    sw t1, 0(gp)", "    addi gp, gp, 4"]
    # mtvec last written 0: leave a valid one (nothing traps here anyway)
    _, words = run_asm("\n".join(lines) + "\n")
    got = words[:len(CSRS) * len(VALUES)]
    want = [expected(c, v) for c in CSRS for v in VALUES]
    assert got == want, [(c, hex(v), hex(g), hex(w)) for (c, v), g, w in
                         zip([(c, v) for c in CSRS for v in VALUES], got, want) if g != w]
