"""Reference runner: execute a Gluon ELF on Unicorn, independently of the HDL.

Unicorn (QEMU's RISC-V translator) runs the program with a small model of
the Gluon memory map around it, placed by the SoC's address map
(hdl/soc.py ``ADDRESS_MAP``):

=================  ==========================================================
RAM                0x8000_0000, 128 KiB by default; PT_LOAD segments copied in
UART (0x1000_0000) TXDATA writes are collected; STATUS reads TX_READY=1 and
                   RX_VALID while ``uart_input`` has bytes; RXDATA pops them
SYSINFO            ID 0x474C554E, CLK_HZ 50 MHz, RAM_BASE, RAM_SIZE, COPROCS 0
SIMCTRL            a write to EXIT ends the run with that tohost-style value;
                   a U-mode access stops the run (M-only on the SoC: a fault)
CLINT              MSIP/MTIMECMP are plain registers; MTIME reads the number
                   of instructions executed so far (one tick per instruction)
``tohost``         a store to the ELF's ``tohost`` symbol ends the run
=================  ==========================================================

What it is good for: the architectural result of a program (UART output,
tohost value, final integer registers, instruction count) to compare with
the HDL simulations.  What it is not:

* Unicorn does not take traps into ``mtvec`` by itself: it reports ecall
  and illegal instructions to an interrupt hook and stops on ebreak.  This
  runner does the machine-mode trap entry itself (mepc, mcause, mtval,
  mstatus.MPIE/MIE/MPP, pc = mtvec) and goes on; ``mtval`` is the
  instruction word for an illegal instruction and 0 otherwise.  Accesses to
  unmapped addresses stop the run (``reason == "error"``) instead of
  trapping, and misaligned loads/stores are performed rather than trapped.
  Unicorn's ``mret`` sets mstatus.MPP to U (it implements U-mode), where a
  machine-mode-only core leaves M: mstatus may differ after a trap.
* No interrupts are ever delivered (the CLINT model raises none).
* The ``cycle``/``instret`` CSRs read the host's time stamp counter:
  compare architectural state, never timing.
* The instruction count is exact when the run ends through tohost/SIMCTRL:
  the ending store and every instruction before it that retired (ecall,
  ebreak and trapping instructions do not retire).  It is counted from
  basic blocks (no compressed instructions: 4 bytes each).  A run stopped
  by ``max_instructions`` reports the limit.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from unicorn import (UC_ARCH_RISCV, UC_HOOK_BLOCK, UC_HOOK_INTR, UC_HOOK_MEM_WRITE,
                     UC_ERR_INSN_INVALID, UC_MODE_RISCV32, Uc, UcError)
from unicorn import riscv_const as rv

from gluon.hdl.config import get_config
from gluon.hdl.soc import ADDRESS_MAP, RAM_BASE
from gluon.hdl.sysinfo import SYSINFO_ID

__all__ = ["RefResult", "RefSimError", "run_elf", "RAM_BASE", "DEFAULT_RAM_SIZE",
           "DEFAULT_MAX_INSTRUCTIONS", "SYSINFO_ID", "SYSINFO_CLK_HZ"]

DEFAULT_RAM_SIZE = get_config("full").ram_size
DEFAULT_MAX_INSTRUCTIONS = 20_000_000

# The devices this runner models, placed and laid out by the SoC's address map (hdl/soc.py
# ADDRESS_MAP, the block's REGS): nothing here retypes an address or an offset.
DEVICES = {d.name: d for d in ADDRESS_MAP if d.name in ("UART", "SYSINFO", "SIMCTRL", "CLINT")}
UART_REGS = DEVICES["UART"].regs
SYSINFO_REGS = DEVICES["SYSINFO"].regs
CLINT_REGS = DEVICES["CLINT"].regs
UART_TXDATA, UART_STATUS, UART_RXDATA = (UART_REGS[n].offset
                                         for n in ("TXDATA", "STATUS", "RXDATA"))
_STATUS_BITS = {f.name: f.offset for f in UART_REGS["STATUS"].fields}
UART_STATUS_TX_READY = 1 << _STATUS_BITS["TX_READY"]
UART_STATUS_RX_VALID = 1 << _STATUS_BITS["RX_VALID"]
SYSINFO_CLK_HZ = get_config("full").clk_hz
SIMCTRL_EXIT = DEVICES["SIMCTRL"].regs["EXIT"].offset
CLINT_MSIP, CLINT_MTIMECMP, CLINT_MTIME = (CLINT_REGS[n].offset
                                           for n in ("MSIP", "MTIMECMP", "MTIME"))
PAGE = 0x1000

# RISC-V privileged spec 1.12: mcause codes and mstatus bits the trap entry needs.
CAUSE_ILLEGAL_INSN = 2
CAUSE_BREAKPOINT = 3
CAUSE_ECALL_U = 8
MSTATUS_MIE, MSTATUS_MPIE, MSTATUS_MPP = 1 << 3, 1 << 7, 3 << 11
PRIV_M = 3
EBREAK = 0x0010_0073


class RefSimError(Exception):
    """The ELF cannot be run (unreadable, or a segment outside RAM)."""


@dataclass(frozen=True)
class RefResult:
    """The architectural outcome of one run.

    ``tohost`` is the value stored to ``tohost`` (or SIMCTRL EXIT), None if
    the run did not end that way.  ``reason`` is ``"tohost"``, ``"simctrl"``,
    ``"max_instructions"`` or ``"error"`` (Unicorn stopped: ``error`` says
    why).  ``regs`` holds x0..x31 at the end; ``pc`` is the address of the
    store that ended the run (for other reasons: the next pc).  ``traps``
    counts the exceptions taken into mtvec.
    """

    tohost: int | None
    uart: bytes
    instructions: int
    regs: tuple[int, ...]
    pc: int
    reason: str
    error: str | None = None
    traps: int = 0

    @property
    def passed(self) -> bool:
        return self.tohost == 1

    @property
    def exit_code(self) -> int | None:
        """main's return value / exit() argument, or None (no or non-exit tohost)."""
        if self.tohost is None or not self.tohost & 1:
            return None
        return self.tohost >> 1

    @property
    def text(self) -> str:
        return self.uart.decode("utf-8", errors="replace")


class _Machine:
    def __init__(self, elf_path: Path, ram_size: int, uart_input: bytes, coprocs: int):
        self.ram_size = ram_size
        self.coprocs = coprocs
        self.uart_out = bytearray()
        self.uart_in = deque(uart_input)
        self.msip = 0
        self.mtimecmp = [0xFFFF_FFFF, 0xFFFF_FFFF]
        self.mtime_offset = 0
        self.tohost: int | None = None
        self.reason: str | None = None
        self.fault: str | None = None       # why an M-only device refused an access
        self.end_pc: int | None = None
        self.end_count: int | None = None
        self.max_instructions = 0
        self.traps = 0
        # Retired-instruction bookkeeping at basic-block granularity.
        self.retired = 0          # in blocks before the current one
        self.block_start = 0
        self.block_len = 0

        self.uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
        self.tohost_addr = self._load(elf_path)
        self._map_devices()

    # -- set-up ------------------------------------------------------------
    def _load(self, elf_path: Path) -> int | None:
        self.uc.mem_map(RAM_BASE, self.ram_size)
        try:
            with open(elf_path, "rb") as f:
                elf = ELFFile(f)
                if elf["e_machine"] != "EM_RISCV" or elf.elfclass != 32:
                    raise RefSimError(f"{elf_path}: not a 32-bit RISC-V ELF")
                for seg in elf.iter_segments():
                    if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                        continue
                    start, end = seg["p_paddr"], seg["p_paddr"] + seg["p_memsz"]
                    if start < RAM_BASE or end > RAM_BASE + self.ram_size:
                        raise RefSimError(
                            f"{elf_path}: segment {start:#x}..{end:#x} lies outside RAM "
                            f"{RAM_BASE:#x}..{RAM_BASE + self.ram_size:#x}")
                    self.uc.mem_write(start, seg.data()[:seg["p_filesz"]])
                symtab = elf.get_section_by_name(".symtab")
                syms = symtab.get_symbol_by_name("tohost") if symtab else None
                return syms[0]["st_value"] if syms else None
        except OSError as e:
            raise RefSimError(f"cannot read {elf_path}: {e}") from e
        except ELFError as e:
            raise RefSimError(f"{elf_path}: not a valid ELF file ({e})") from e

    def _map_devices(self) -> None:
        uc = self.uc
        models = {"UART": (self._uart_read, self._uart_write),
                  "SYSINFO": (self._sysinfo_read, self._ignore_write),
                  "SIMCTRL": (self._zero_read, self._simctrl_write),
                  "CLINT": (self._clint_read, self._clint_write)}
        for name, dev in DEVICES.items():
            read, write = models[name]
            if dev.m_only:
                read, write = self._m_only(name, read, write)
            uc.mmio_map(dev.base, dev.size, read, None, write, None)
        uc.hook_add(UC_HOOK_BLOCK, self._on_block)
        uc.hook_add(UC_HOOK_INTR, self._on_trap)
        if self.tohost_addr is not None:
            uc.hook_add(UC_HOOK_MEM_WRITE, self._on_tohost,
                        begin=self.tohost_addr, end=self.tohost_addr + 3)

    # -- instruction counting ----------------------------------------------
    def _on_block(self, uc, address, size, _ud):
        self.retired += self.block_len
        self.block_start = address
        self.block_len = size // 4        # no compressed instructions on Gluon

    def _retired_before(self, pc: int) -> int:
        """Instructions retired before the one at pc (which is in the current block)."""
        return self.retired + (pc - self.block_start) // 4

    def _end(self, reason: str, value: int) -> None:
        pc = self.uc.reg_read(rv.UC_RISCV_REG_PC)
        self.tohost = value
        self.reason = reason
        self.end_pc = pc
        self.end_count = self._retired_before(pc) + 1
        self.uc.emu_stop()

    # -- devices -----------------------------------------------------------
    def _uart_read(self, uc, offset, size, _ud):
        if offset == UART_STATUS:
            return UART_STATUS_TX_READY | (UART_STATUS_RX_VALID if self.uart_in else 0)
        if offset == UART_RXDATA:
            return self.uart_in.popleft() if self.uart_in else 0
        return 0

    def _uart_write(self, uc, offset, size, value, _ud):
        if offset == UART_TXDATA:
            self.uart_out.append(value & 0xFF)

    def _sysinfo_read(self, uc, offset, size, _ud):
        values = {"ID": SYSINFO_ID, "CLK_HZ": SYSINFO_CLK_HZ, "RAM_BASE": RAM_BASE,
                  "RAM_SIZE": self.ram_size, "COPROCS": self.coprocs}
        return {SYSINFO_REGS[n].offset: v for n, v in values.items()}.get(offset, 0)

    def _simctrl_write(self, uc, offset, size, value, _ud):
        if offset == SIMCTRL_EXIT:
            self._end("simctrl", value & 0xFFFF_FFFF)

    def _mtime(self) -> int:
        pc = self.uc.reg_read(rv.UC_RISCV_REG_PC)
        return (self._retired_before(pc) + self.mtime_offset) & (2**64 - 1)

    def _clint_read(self, uc, offset, size, _ud):
        if offset == CLINT_MSIP:
            return self.msip
        if offset in (CLINT_MTIMECMP, CLINT_MTIMECMP + 4):
            return self.mtimecmp[(offset - CLINT_MTIMECMP) // 4]
        if offset in (CLINT_MTIME, CLINT_MTIME + 4):
            return (self._mtime() >> (32 if offset == CLINT_MTIME + 4 else 0)) & 0xFFFF_FFFF
        return 0

    def _clint_write(self, uc, offset, size, value, _ud):
        value &= 0xFFFF_FFFF
        if offset == CLINT_MSIP:
            self.msip = value & 1
        elif offset in (CLINT_MTIMECMP, CLINT_MTIMECMP + 4):
            self.mtimecmp[(offset - CLINT_MTIMECMP) // 4] = value
        elif offset in (CLINT_MTIME, CLINT_MTIME + 4):
            now = self._mtime()
            shift = 32 if offset == CLINT_MTIME + 4 else 0
            new = (now & ~(0xFFFF_FFFF << shift)) | (value << shift)
            self.mtime_offset += new - now

    def _m_only(self, name, read, write):
        """An M-only device: a U-mode access is an access fault on the SoC; here it stops the
        run (``reason == "error"``), as an unmapped access does."""
        def refuse(kind):
            pc = self.uc.reg_read(rv.UC_RISCV_REG_PC)
            self.reason = "error"
            self.fault = f"U-mode {kind} of M-only {name} at pc={pc:#010x}"
            self.uc.emu_stop()

        def m_read(uc, offset, size, ud):
            if uc.reg_read(rv.UC_RISCV_REG_PRIV) != PRIV_M:
                refuse("load")
                return 0
            return read(uc, offset, size, ud)

        def m_write(uc, offset, size, value, ud):
            if uc.reg_read(rv.UC_RISCV_REG_PRIV) != PRIV_M:
                refuse("store")
                return
            write(uc, offset, size, value, ud)
        return m_read, m_write

    @staticmethod
    def _zero_read(uc, offset, size, _ud):
        return 0

    @staticmethod
    def _ignore_write(uc, offset, size, value, _ud):
        pass

    def _on_tohost(self, uc, _access, address, size, value, _ud):
        self._end("tohost", value & 0xFFFF_FFFF)

    # -- traps ---------------------------------------------------------------
    def _on_trap(self, uc, intno, _ud):
        """Unicorn raised an exception: ecall or an illegal instruction."""
        # Unicorn reports the pc after the trapping instruction here.
        pc = uc.reg_read(rv.UC_RISCV_REG_PC) - 4
        cause = intno
        if cause == CAUSE_ECALL_U:          # QEMU raises U-ecall and adds the mode itself
            cause += uc.reg_read(rv.UC_RISCV_REG_PRIV) & 3
        self._take_trap(pc, cause)

    def _take_trap(self, pc: int, cause: int) -> None:
        """Machine-mode trap entry (privileged spec 3.1.6.1, 3.3.1), done here
        because Unicorn does not: mepc, mcause, mtval, mstatus, pc = mtvec."""
        uc = self.uc
        tval = 0
        if cause == CAUSE_ILLEGAL_INSN:
            try:
                tval = int.from_bytes(uc.mem_read(pc, 4), "little")
            except UcError:
                tval = 0
        # The trapping instruction does not retire; count again from the handler.
        self.retired = self._retired_before(pc)
        self.block_len = 0
        self.traps += 1
        mstatus = uc.reg_read(rv.UC_RISCV_REG_MSTATUS)
        mie = (mstatus & MSTATUS_MIE) != 0
        mstatus = (mstatus & ~(MSTATUS_MIE | MSTATUS_MPIE | MSTATUS_MPP)) \
            | (MSTATUS_MPIE if mie else 0) | (PRIV_M << 11)
        uc.reg_write(rv.UC_RISCV_REG_MSTATUS, mstatus)
        uc.reg_write(rv.UC_RISCV_REG_MEPC, pc)
        uc.reg_write(rv.UC_RISCV_REG_MCAUSE, cause)
        uc.reg_write(rv.UC_RISCV_REG_MTVAL, tval)
        uc.reg_write(rv.UC_RISCV_REG_PRIV, PRIV_M)
        uc.reg_write(rv.UC_RISCV_REG_PC, uc.reg_read(rv.UC_RISCV_REG_MTVEC) & ~3)

    # -- running -----------------------------------------------------------
    def run(self, start: int, max_instructions: int) -> RefResult:
        self.max_instructions = max_instructions
        error = None
        pc = start
        while True:
            # A count makes Unicorn keep the pc exact in hooks (without one,
            # memory hooks see the start of the translation block) and
            # enforces the limit.  until: an address nothing executes.
            remaining = max_instructions - self.retired
            if remaining <= 0:
                break
            try:
                self.uc.emu_start(pc, 0xFFFF_FFFC, count=remaining)
                break
            except UcError as e:
                pc = self.uc.reg_read(rv.UC_RISCV_REG_PC)
                # Unicorn stops on ebreak instead of raising the breakpoint
                # exception: take the trap here and carry on.
                if e.errno == UC_ERR_INSN_INVALID and self._insn_at(pc) == EBREAK:
                    self._take_trap(pc, CAUSE_BREAKPOINT)
                    pc = self.uc.reg_read(rv.UC_RISCV_REG_PC)
                    continue
                self.reason = "error"
                error = f"{e} at pc={pc:#010x}"
                break
        if self.reason == "error" and error is None:
            error = self.fault
        pc = self.uc.reg_read(rv.UC_RISCV_REG_PC)
        if self.reason in ("tohost", "simctrl"):
            pc, count = self.end_pc, self.end_count
        elif self.reason == "error":
            in_block = self.block_start <= pc < self.block_start + 4 * self.block_len
            count = self._retired_before(pc) if in_block else self.retired + self.block_len
        else:
            # Unicorn ran out of its count.  It also counts instructions that
            # trapped, so this may overstate retired instructions by the
            # number of traps.
            self.reason = "max_instructions"
            count = max_instructions
        regs = tuple(self.uc.reg_read(rv.UC_RISCV_REG_X0 + i) for i in range(32))
        return RefResult(tohost=self.tohost, uart=bytes(self.uart_out), instructions=count,
                         regs=regs, pc=pc, reason=self.reason, error=error, traps=self.traps)

    def _insn_at(self, pc: int) -> int | None:
        try:
            return int.from_bytes(self.uc.mem_read(pc, 4), "little")
        except UcError:
            return None


def run_elf(elf: str | os.PathLike, *, max_instructions: int = DEFAULT_MAX_INSTRUCTIONS,
            ram_size: int = DEFAULT_RAM_SIZE, uart_input: bytes = b"",
            coprocs: int = 0, start: int = RAM_BASE) -> RefResult:
    """Run ``elf`` from the reset vector until it ends; see the module docstring.

    ``max_instructions`` bounds the run;
    ``ram_size`` is the RAM mapped at 0x8000_0000 (and what SYSINFO reports);
    ``uart_input`` is what the UART receives; ``coprocs`` is the SYSINFO
    COPROCS value (no coprocessor is modelled).
    """
    if max_instructions <= 0:
        raise ValueError(f"max_instructions must be positive, not {max_instructions}")
    if ram_size <= 0 or ram_size % PAGE:
        raise ValueError(f"ram_size must be a positive multiple of 4 KiB, not {ram_size:#x}")
    path = Path(elf)
    if not path.is_file():
        raise RefSimError(f"ELF file not found: {path}")
    return _Machine(path, ram_size, bytes(uart_input), coprocs).run(start, max_instructions)
