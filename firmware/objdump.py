"""``gluon objdump``: a disassembly of an SDK ELF, with symbols and source lines interleaved.

Capstone decodes the instructions, pyelftools reads the sections, symbols and DWARF line table
(the SDK compiles with ``-g``). Branch and jump targets are printed as absolute addresses with
the symbol they land in (``jal 0x80000124 <main+0x10>``), as the instruction trace prints them.

    gluon objdump app.elf [-o out.txt] [--no-source]
"""

import argparse
import sys
from pathlib import Path


__all__ = ["Disassembler", "control_target", "main"]


def _sext(v, bits):
    return v - (1 << bits) if v >> (bits - 1) & 1 else v


def control_target(word, pc):
    """The absolute target of a JAL or a conditional branch at ``pc`` (None otherwise)."""
    op = word & 0x7F
    if op == 0x6F:                                       # JAL
        imm = ((word >> 31 & 1) << 20 | (word >> 12 & 0xFF) << 12 | (word >> 20 & 1) << 11
               | (word >> 21 & 0x3FF) << 1)
        return (pc + _sext(imm, 21)) & 0xFFFF_FFFF
    if op == 0x63:                                       # BEQ..BGEU
        imm = ((word >> 31 & 1) << 12 | (word >> 7 & 1) << 11 | (word >> 25 & 0x3F) << 5
               | (word >> 8 & 0xF) << 1)
        return (pc + _sext(imm, 13)) & 0xFFFF_FFFF
    return None


class Disassembler:
    """One instruction word at a time, with absolute targets named from ``image`` (an
    :class:`gluon.firmware.elf.ElfImage`, or None)."""

    def __init__(self, image=None):
        from capstone import Cs, CS_ARCH_RISCV, CS_MODE_RISCV32
        self.md = Cs(CS_ARCH_RISCV, CS_MODE_RISCV32)
        self.image = image
        self._cache = {}

    def text(self, word, pc):
        """``mnemonic operands`` of ``word`` at ``pc``; ``(illegal)`` if it decodes to nothing
        (a 16-bit instruction among them: the core runs RV32IM only)."""
        target = control_target(word, pc)
        key = word if target is None else (word, pc)
        if key in self._cache:
            return self._cache[key]
        if word & 3 != 3:
            t = "(illegal: a 16-bit RVC instruction)"
        else:
            d = next(self.md.disasm(word.to_bytes(4, "little"), pc), None)
            if d is None:
                t = "(illegal)"
            else:
                ops = d.op_str
                if target is not None:
                    # capstone prints the offset: replace the last operand by the address
                    head, _sep, _last = ops.rpartition(", ")
                    ops = (head + ", " if head else "") + f"0x{target:08x}"
                    name = self.image.symbol_offset(target) if self.image else None
                    if name:
                        ops += f" <{name}>"
                t = f"{d.mnemonic} {ops}".strip()
        if len(self._cache) < 1 << 16:
            self._cache[key] = t
        return t


def dump(path, out, *, source=True):
    """Write the disassembly of every executable section of ``path`` to the file ``out``."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.constants import SH_FLAGS
    from .elf import load_elf
    image = load_elf(path, ram_size=1 << 31)
    dis = Disassembler(image)
    starts = {}
    for start, _size, name in image.functions:
        starts.setdefault(start, name)
    for name, addr in image.symbols.items():
        starts.setdefault(addr, name)
    sources = {}

    def source_text(fname, line):
        if fname not in sources:
            try:
                sources[fname] = Path(fname).read_text(errors="replace").splitlines()
            except OSError:
                sources[fname] = None
        lines = sources[fname]
        if lines and 0 < line <= len(lines):
            return lines[line - 1].rstrip()
        return None

    out.write(f"{path}: RV32 ELF, entry 0x{image.entry:08x}\n")
    with open(path, "rb") as f:
        elf = ELFFile(f)
        for sec in elf.iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_EXECINSTR or sec["sh_type"] == "SHT_NOBITS":
                continue
            base, data = sec["sh_addr"], sec.data()
            out.write(f"\nsection {sec.name} (0x{base:08x}, {len(data)} bytes)\n")
            last_loc = None
            auipc = {}
            for off in range(0, len(data) - 3, 4):
                pc = base + off
                if pc in starts:
                    auipc = {}
                    out.write(f"\n{pc:08x} <{starts[pc]}>:\n")
                if source:
                    loc = image.source_line(pc)
                    if loc and loc != last_loc:
                        text = source_text(*loc)
                        out.write(f"; {Path(loc[0]).name}:{loc[1]}"
                                  + (f"    {text.strip()}" if text else "") + "\n")
                    last_loc = loc
                word = int.from_bytes(data[off:off + 4], "little")
                text = dis.text(word, pc)
                # a call or tail jump through AUIPC + JALR: name the target
                rd, rs1 = word >> 7 & 31, word >> 15 & 31
                if word & 0x7F == 0x67 and auipc.get(rs1) is not None:
                    t = (auipc[rs1] + _sext(word >> 20, 12)) & 0xFFFF_FFFE
                    name = image.symbol_offset(t)
                    text += f" -> 0x{t:08x}" + (f" <{name}>" if name else "")
                if word & 0x7F == 0x17:
                    auipc[rd] = (pc + (word & 0xFFFF_F000)) & 0xFFFF_FFFF
                elif rd:
                    auipc.pop(rd, None)
                out.write(f"{pc:08x}:  {word:08x}  {text}\n")


def main(argv=None):
    from .elf import LoadError
    p = argparse.ArgumentParser(prog="gluon objdump",
                                description="Disassemble an RV32 ELF with symbols and source lines.")
    p.add_argument("elf")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--no-source", action="store_true", help="leave out the source lines")
    args = p.parse_args(argv)
    try:
        if args.output:
            try:
                f = open(args.output, "w")
            except OSError as e:
                print(f"gluon objdump: error: cannot write {args.output}: {e.strerror}",
                      file=sys.stderr)
                return 2
            with f:
                dump(args.elf, f, source=not args.no_source)
        else:
            dump(args.elf, sys.stdout, source=not args.no_source)
    except LoadError as e:
        print(f"gluon objdump: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
