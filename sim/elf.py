"""The one ELF loader: reads an RV32 executable's PT_LOAD segments as-is (pyelftools).

Used by ``gluon sim`` (Verilator harness), the cocotb tests and the unicorn reference runner
alike, so they all see the same memory image.
"""

from dataclasses import dataclass, field
from pathlib import Path
import struct

from elftools.elf.elffile import ELFFile
from elftools.common.exceptions import ELFError


__all__ = ["ElfImage", "LoadError", "load_elf"]


EM_RISCV = 243


class LoadError(Exception):
    """The file is not an ELF the SoC can run; the message says why."""


@dataclass
class ElfImage:
    path: Path
    entry: int
    segments: list                         # [(address, bytes)]
    symbols: dict = field(default_factory=dict)   # name -> address (functions and objects)
    functions: list = field(default_factory=list) # [(start, size, name)] sorted

    @property
    def tohost(self):
        return self.symbols.get("tohost")

    def write_image(self, path):
        """Write the segment file the C++ harness reads."""
        with open(path, "wb") as f:
            for addr, data in self.segments:
                f.write(struct.pack("<II", addr, len(data)))
                f.write(data)

    def symbolize(self, pc):
        """Name of the function containing ``pc`` (or None)."""
        import bisect
        i = bisect.bisect_right(self.functions, (pc, float("inf"), "")) - 1
        if i >= 0:
            start, size, name = self.functions[i]
            if start <= pc < start + max(size, 1):
                return name
        return None


def load_elf(path, *, ram_base=0x8000_0000, ram_size=128 * 1024):
    path = Path(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise LoadError(f"{path}: cannot open: {e.strerror}") from None
    with f:
        try:
            elf = ELFFile(f)
        except ELFError as e:
            raise LoadError(f"{path}: not an ELF file ({e})") from None
        if elf.elfclass != 32 or elf["e_machine"] != "EM_RISCV":
            raise LoadError(f"{path}: not a 32-bit RISC-V ELF (class {elf.elfclass}, "
                            f"machine {elf['e_machine']})")
        if elf["e_flags"] & 0x1:
            raise LoadError(f"{path}: built with compressed instructions (RVC); Gluon runs "
                            f"RV32IM only: compile without +c")
        segments = []
        try:
            for seg in elf.iter_segments():
                if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
                    continue
                addr, memsz = seg["p_paddr"], seg["p_memsz"]
                data = seg.data() + bytes(memsz - seg["p_filesz"])
                if addr < ram_base or addr + memsz > ram_base + ram_size:
                    raise LoadError(f"{path}: segment [{addr:#010x}, {addr + memsz:#010x}) lies "
                                    f"outside RAM [{ram_base:#010x}, {ram_base + ram_size:#010x})")
                segments.append((addr, data))
        except (ELFError, struct.error, ValueError) as e:
            raise LoadError(f"{path}: malformed ELF ({e})") from None
        if not segments:
            raise LoadError(f"{path}: no loadable segments")
        symbols, functions = {}, []
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None:
            for sym in symtab.iter_symbols():
                if sym.name and sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE"):
                    symbols.setdefault(sym.name, sym["st_value"])
                if sym.name and sym["st_info"]["type"] == "STT_FUNC":
                    functions.append((sym["st_value"], sym["st_size"], sym.name))
        functions.sort()
        return ElfImage(path, elf["e_entry"], segments, symbols, functions)
