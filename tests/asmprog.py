"""Assemble small RV32 test programs with the pip ziglang toolchain and run them on the SoC.

A program is assembly text placed after a fixed prologue; it ends with ``PASS`` (store 1 to
``tohost``). ``results`` is a zero-initialised word array the program fills; the harness dumps
it after the run.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from gluon.hdl.config import get_config
from gluon.sim.verilator import run, cache_dir


PROLOGUE = """
.section .text.init, "ax"
.globl _start
_start:
    la sp, _stack_top
    la gp, results
"""

EPILOGUE = """
.section .tohost, "aw"
.align 3
.globl tohost
tohost: .word 0, 0
.section .bss
.align 4
.globl results
results: .space {nres}
.align 4
.space 1024
_stack_top:
"""

MACROS = """
.macro PASS
    la t6, tohost
    li t5, 1
    sw t5, 0(t6)
99: j 99b
.endm
.macro FAIL code
    la t6, tohost
    li t5, (\\code << 1) | 1
    sw t5, 0(t6)
98: j 98b
.endm
"""

LINK = """
ENTRY(_start)
SECTIONS {
  . = 0x80000000;
  .text : { *(.text.init) *(.text*) }
  .rodata : { *(.rodata*) }
  .data : { *(.data*) *(.sdata*) }
  .tohost : ALIGN(8) { *(.tohost) }
  .bss : ALIGN(16) { *(.bss*) *(.sbss*) *(COMMON) }
}
"""


def assemble(body, *, nres=4096, extra_sections=""):
    src = MACROS + PROLOGUE + body + extra_sections + EPILOGUE.format(nres=nres)
    key = hashlib.sha256(src.encode()).hexdigest()[:16]
    d = cache_dir() / "asm" / key
    elf = d / "prog.elf"
    if elf.exists():
        return elf
    d.mkdir(parents=True, exist_ok=True)
    # files of this process only, then renamed: two pytest-xdist workers assembling the same
    # program (a test parametrized over configurations) must not truncate or move each
    # other's files
    for name, text in (("prog.S", src), ("link.ld", LINK)):
        (d / f"{name}.{os.getpid()}").write_text(text)
        os.replace(d / f"{name}.{os.getpid()}", d / name)
    tmp = d / f"tmp-{os.getpid()}.elf"
    cmd = [sys.executable, "-m", "ziglang", "cc", "-target", "riscv32-freestanding-none",
           "-mcpu=generic_rv32+m+zicsr", "-nostdlib", "-mno-relax", "-T", str(d / "link.ld"),
           str(d / "prog.S"), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"assembly failed:\n{proc.stderr}")
    os.replace(tmp, elf)
    return elf


def symbol(elf, name):
    from gluon.firmware.elf import load_elf
    return load_elf(elf).symbols[name]


def run_asm(body, *, nres=4096, config="minimal", max_cycles=2_000_000, extra_sections=""):
    """Returns (SimResult, list of result words)."""
    elf = assemble(body, nres=nres, extra_sections=extra_sections)
    base = symbol(elf, "results")
    res = run(elf, get_config(config), max_cycles=max_cycles, dumps=[(base, nres)])
    raw = res.dumps[0]
    words = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, len(raw), 4)]
    return res, words


# A trap handler that records each trap (mcause, mepc, mtval, mstatus: 16 bytes at gp, gp
# advanced) and returns past the trapping instruction; an ecall with a0 = 0xDEAD ends at the
# program's `finished` label in M-mode. Put it first: it jumps to `body`.
TRAP_RECORDER = """
    la t0, trap
    csrw mtvec, t0
    j body
.align 2
trap:
    csrr t0, mcause
    li t1, 8
    bne t0, t1, 1f
    li t1, 0xDEAD
    beq a0, t1, finished          # the user task's final ecall: back in M-mode for good
1:  sw t0, 0(gp)
    csrr t0, mepc
    sw t0, 4(gp)
    csrr t0, mtval
    sw t0, 8(gp)
    csrr t0, mstatus
    sw t0, 12(gp)                 # MPP shows the privilege the trap came from
    addi gp, gp, 16
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    mret
body:
"""


def default_sigint():
    """``preexec_fn`` for a child that a test interrupts with SIGINT: a shell runs background
    jobs with SIGINT ignored, that is inherited, and Python then installs no KeyboardInterrupt
    handler, so Ctrl-C would not reach the program as it does from a terminal."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
