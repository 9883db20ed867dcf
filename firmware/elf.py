"""The one ELF loader: the SDK's output format, read with pyelftools.

Reads an RV32 executable's PT_LOAD segments as-is, its symbols and (when it was built with
``-g``, as ``gluon cc`` does) its DWARF line table. ``gluon sim`` (the Verilator harness), the
board builds (the block-RAM image, the UART boot loader), the cocotb tests and the unicorn
reference runner all load through it, so they all see the same memory image. It lives beside
the SDK that writes these files so that ``gluon.sim`` and ``gluon.boards`` both use it without
importing each other.

Every way a file can be unfit raises :class:`LoadError` with one line saying why: not an ELF,
not RV32, truncated (an interrupted copy), a segment whose bytes lie past the end of the file,
a segment outside RAM. An ELF whose header carries the RVC flag still loads (``image.rvc``):
the standard test suites set it routinely on code that is all 32-bit; a 16-bit instruction then
traps as illegal on the core.
"""

from dataclasses import dataclass, field
from pathlib import Path
import bisect
import struct

from elftools.elf.elffile import ELFFile
from elftools.common.exceptions import ELFError


__all__ = ["ElfImage", "LoadError", "load_elf", "EF_RISCV_RVC"]


EF_RISCV_RVC = 0x1          # e_flags: the file may contain compressed instructions


class LoadError(Exception):
    """The file is not an ELF the SoC can run; the message says why."""


@dataclass
class ElfImage:
    path: Path
    entry: int
    segments: list                         # [(address, bytes)]
    symbols: dict = field(default_factory=dict)   # name -> address (functions and objects)
    functions: list = field(default_factory=list) # [(start, size, name)] sorted
    rvc: bool = False                      # e_flags says compressed instructions may occur

    @property
    def tohost(self):
        return self.symbols.get("tohost")

    def write_image(self, path):
        """Write the segment file the C++ harness reads."""
        with open(path, "wb") as f:
            for addr, data in self.segments:
                f.write(struct.pack("<II", addr, len(data)))
                f.write(data)

    def _function_at(self, pc):
        i = bisect.bisect_right(self.functions, (pc, float("inf"), "")) - 1
        if i >= 0:
            start, size, name = self.functions[i]
            if start <= pc < start + max(size, 1):
                return start, name
        return None

    def symbolize(self, pc):
        """Name of the function containing ``pc`` (or None)."""
        f = self._function_at(pc)
        return f[1] if f else None

    def symbol_offset(self, pc):
        """``name+0xoff`` of the function containing ``pc`` (``name`` at its start), or None."""
        f = self._function_at(pc)
        if f is None:
            return None
        start, name = f
        return name if pc == start else f"{name}+{pc - start:#x}"

    def word_at(self, addr):
        """The 32-bit little-endian word the image holds at ``addr`` (None outside it)."""
        for base, data in self.segments:
            if base <= addr and addr + 4 <= base + len(data):
                return int.from_bytes(data[addr - base:addr - base + 4], "little")
        return None

    def source_line(self, pc):
        """``(file, line)`` of the instruction at ``pc`` from the DWARF line table (the file's
        full path as the compiler saw it), or None (no ``-g`` information, or ``pc`` outside
        every described sequence)."""
        if not hasattr(self, "_lines"):
            self._lines = _line_table(self.path)
        rows = self._lines
        i = bisect.bisect_right(rows, (pc, 2)) - 1
        if i < 0:
            return None
        _addr, starts, fname, line = rows[i]
        if not starts or line == 0:
            return None
        return fname, line

    def where(self, pc):
        """One phrase locating ``pc``: ``in main+0x10 (hello.c:5)``, or '' if nothing is known."""
        parts = []
        s = self.symbol_offset(pc)
        if s:
            parts.append(f"in {s}")
        loc = self.source_line(pc)
        if loc:
            name = Path(loc[0]).name
            parts.append(f"({name}:{loc[1]})" if parts else f"at {name}:{loc[1]}")
        return " ".join(parts)


def _line_table(path):
    """Sorted rows ``(address, 0 at an end of sequence else 1, file, line)`` of every line
    program in ``path``."""
    rows = []
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            if not elf.has_dwarf_info():
                return rows
            dwarf = elf.get_dwarf_info()
            for cu in dwarf.iter_CUs():
                lp = dwarf.line_program_for_CU(cu)
                if lp is None:
                    continue
                files = lp["file_entry"]
                dirs = lp["include_directory"]
                v5 = lp["version"] >= 5
                top = cu.get_top_DIE().attributes.get("DW_AT_comp_dir")
                comp_dir = top.value.decode(errors="replace") if top else ""
                names = {}
                for entry in lp.get_entries():
                    st = entry.state
                    if st is None:
                        continue
                    if st.file not in names:
                        idx = st.file if v5 else st.file - 1
                        name = "?"
                        if 0 <= idx < len(files):
                            fe = files[idx]
                            name = fe.name.decode(errors="replace")
                            d = fe.dir_index if v5 else fe.dir_index - 1
                            base = dirs[d].decode(errors="replace") if 0 <= d < len(dirs) else comp_dir
                            name = str(Path(comp_dir, base, name))
                        names[st.file] = name
                    # an end-of-sequence row sorts before a row starting at the same address
                    rows.append((st.address, 0 if st.end_sequence else 1, names[st.file], st.line))
    except (ELFError, OSError, struct.error, ValueError, KeyError, IndexError, AttributeError):
        return []                       # line info is a nicety: a file without it still runs
    rows.sort()
    return rows


def load_elf(path, *, ram_base=0x8000_0000, ram_size=128 * 1024):
    """The :class:`ElfImage` of the RV32 executable at ``path`` whose loadable segments lie in
    [``ram_base``, ``ram_base + ram_size``); :class:`LoadError` (one line) for anything else."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise LoadError(f"{path}: cannot open: {e.strerror}") from None
    with f:
        size = path.stat().st_size
        try:
            return _load(path, f, size, ram_base, ram_size)
        except (ELFError, struct.error, ValueError, EOFError) as e:
            raise LoadError(f"{path}: malformed or truncated ELF ({e})") from None


def _load(path, f, size, ram_base, ram_size):
    try:
        elf = ELFFile(f)
    except ELFError as e:
        raise LoadError(f"{path}: not an ELF file ({e})") from None
    if elf.elfclass != 32 or elf["e_machine"] != "EM_RISCV":
        raise LoadError(f"{path}: not a 32-bit RISC-V ELF (class {elf.elfclass}, "
                        f"machine {elf['e_machine']})")
    segments = []
    for seg in elf.iter_segments():
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        addr, memsz, filesz, off = seg["p_paddr"], seg["p_memsz"], seg["p_filesz"], seg["p_offset"]
        if off + filesz > size:
            raise LoadError(f"{path}: segment at {addr:#010x} needs file bytes "
                            f"[{off:#x}, {off + filesz:#x}) but the file ends at {size:#x} "
                            f"(truncated or corrupt)")
        if filesz > memsz:
            raise LoadError(f"{path}: segment at {addr:#010x} has p_filesz {filesz:#x} > "
                            f"p_memsz {memsz:#x}")
        data = seg.data()
        if len(data) != filesz:
            raise LoadError(f"{path}: segment at {addr:#010x}: read {len(data)} of {filesz} bytes")
        data += bytes(memsz - filesz)
        if addr < ram_base or addr + memsz > ram_base + ram_size:
            raise LoadError(f"{path}: segment [{addr:#010x}, {addr + memsz:#010x}) lies "
                            f"outside RAM [{ram_base:#010x}, {ram_base + ram_size:#010x})"
                            f" ({ram_size // 1024} KiB)")
        segments.append((addr, data))
    if not segments:
        raise LoadError(f"{path}: no loadable segments")
    for sec in elf.iter_sections():
        if sec["sh_type"] != "SHT_NOBITS" and sec["sh_offset"] + sec["sh_size"] > size:
            raise LoadError(f"{path}: section {sec.name or '?'} needs file bytes up to "
                            f"{sec['sh_offset'] + sec['sh_size']:#x} but the file ends at "
                            f"{size:#x} (truncated)")
    symbols, functions = {}, []
    symtab = elf.get_section_by_name(".symtab")
    if symtab is not None:
        for sym in symtab.iter_symbols():
            if sym.name and sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE"):
                symbols.setdefault(sym.name, sym["st_value"])
            if sym.name and sym["st_info"]["type"] == "STT_FUNC":
                functions.append((sym["st_value"], sym["st_size"], sym.name))
    functions.sort()
    return ElfImage(path, elf["e_entry"], segments, symbols, functions,
                    rvc=bool(elf["e_flags"] & EF_RISCV_RVC))
