"""`gluon cc`: build Gluon firmware with the pip-installed Zig toolchain.

Programs are RV32IM + Zicsr (no compressed instructions), machine mode,
linked at 0x8000_0000 with the SDK's ``crt0.S``, ``link.ld`` and libc subset
(``lib/*.c``).  The compiler is clang inside the ``ziglang`` wheel, run as
``sys.executable -m ziglang cc``.

Linking is always ``-nostdlib``: Zig's compiler_rt is never pulled in (at
-O0 it adds hundreds of KiB of debug code); the few helpers the compiler
calls on RV32IM (64-bit division) come from ``lib/int64.c``.  The SDK
library is always compiled at -O2 whatever the program's level, and its
objects are cached under ``$GLUON_CACHE_DIR`` (default
``~/.cache/gluon``), keyed by a hash of the SDK sources, headers, flags and
the Zig version.

Python use::

    from gluon.firmware.cc import compile
    elf = compile(["main.c"], "build/main.elf", opt="-O2", ram_size=64 * 1024)

Command line (wired into the ``gluon`` tool as ``gluon cc``)::

    gluon cc [-O0|-O1|-O2|-O3|-Os] [-o app.elf] [-I dir] [-D X] file.c/.S ...
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = [
    "CompileError",
    "compile",
    "elf_to_bin",
    "main",
    "sdk_objects",
    "SDK_DIR",
    "INCLUDE_DIR",
    "LINKER_SCRIPT",
    "DEFAULT_RAM_SIZE",
    "RAM_BASE",
]

SDK_DIR = Path(__file__).resolve().parent
INCLUDE_DIR = SDK_DIR / "include"
LINKER_SCRIPT = SDK_DIR / "link.ld"
CRT0 = SDK_DIR / "crt0.S"
LIB_DIR = SDK_DIR / "lib"
DRIVERS_DIR = SDK_DIR / "drivers"     # coprocessor drivers and software fallbacks (an archive)

RAM_BASE = 0x8000_0000
DEFAULT_RAM_SIZE = 128 * 1024

# -march=rv32im_zicsr is rejected by Zig's clang; this CPU spelling is the
# equivalent (generic_rv32 is RV32I without C).
TARGET_FLAGS = ("-target", "riscv32-freestanding-none", "-mcpu=generic_rv32+m+zicsr")
COMMON_FLAGS = TARGET_FLAGS + (
    "-g",                       # also keeps the symbol table (tohost) at -Os
    "-ffreestanding",
    "-nostdlib",
    "-ffunction-sections",      # with --gc-sections: unused SDK code is dropped
    "-fdata-sections",
    "-fno-unwind-tables",
    "-fno-asynchronous-unwind-tables",
    "-fno-sanitize=all",        # Zig's clang turns UBSan on at -O0: its runtime is not linked
)
SDK_OPT = "-O2"
# Zig's clang keeps frame pointers by default even at -O2; optimised builds
# drop them (3 instructions per call), -O0/-Og keep them for debugging.
NO_FRAME_POINTER = "-fomit-frame-pointer"
SDK_WARNINGS = ("-Wall", "-Wextra")
OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3", "-Os", "-Oz", "-Og")
SOURCE_SUFFIXES = (".c", ".S", ".s")
OBJECT_SUFFIXES = (".o", ".a")


class CompileError(Exception):
    """A program could not be built: missing file, bad option or compiler error.

    The message is meant for a person: it names the file or carries the
    compiler's own diagnostics.
    """


def _zig_cc() -> list[str]:
    return [sys.executable, "-m", "ziglang", "cc"]


def _run(cmd: Sequence[str], what: str, verbose: bool = False) -> None:
    if verbose:
        print(" ".join(str(c) for c in cmd), file=sys.stderr)
    try:
        proc = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
    except OSError as e:
        raise CompileError(f"cannot run the Zig toolchain ({e}); is the 'ziglang' package installed?") from e
    diagnostics = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise CompileError(f"{what} failed (exit status {proc.returncode}):\n{diagnostics}")
    if diagnostics:
        # Warnings: show them, as a compiler would.
        print(diagnostics, file=sys.stderr)


def _cache_root() -> Path:
    env = os.environ.get("GLUON_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gluon"


def _sdk_sources() -> list[Path]:
    return [CRT0] + sorted(LIB_DIR.glob("*.c")) + sorted(DRIVERS_DIR.glob("*.c"))


def _sdk_key(flags: Sequence[str]) -> str:
    h = hashlib.sha256()
    try:
        h.update(importlib.metadata.version("ziglang").encode())
    except importlib.metadata.PackageNotFoundError:
        pass
    h.update("\0".join(flags).encode())
    files = _sdk_sources() + sorted(INCLUDE_DIR.rglob("*.h"))
    for f in files:
        h.update(str(f.relative_to(SDK_DIR)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:20]


def sdk_objects(verbose: bool = False) -> list[Path]:
    """Compile (or fetch from the cache) the SDK's crt0 and library objects.

    crt0 comes first in the returned list.
    """
    flags = [*COMMON_FLAGS, SDK_OPT, NO_FRAME_POINTER, *SDK_WARNINGS, "-I", str(INCLUDE_DIR)]
    final = _cache_root() / f"sdk-{_sdk_key(flags)}"
    sources = _sdk_sources()
    objects = [final / (src.name + ".o") for src in sources]
    if all(o.is_file() for o in objects):
        return objects

    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=final.name + ".tmp-", dir=final.parent))
    except OSError as e:
        raise CompileError(f"cannot write the SDK object cache in {final.parent} ({e}); "
                           f"point GLUON_CACHE_DIR at a writable directory") from e
    try:
        for src in sources:
            _run([*_zig_cc(), *flags, "-c", src, "-o", tmp / (src.name + ".o")],
                 f"compiling SDK source {src.name}", verbose)
        try:
            os.replace(tmp, final)      # atomic: parallel builds cannot see half a cache
        except OSError:
            if not all(o.is_file() for o in objects):   # someone else won, or a real error
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return objects


def _check_opt(opt: str) -> str:
    if opt not in OPT_LEVELS:
        raise CompileError(f"unknown optimisation level {opt!r}; use one of {', '.join(OPT_LEVELS)}")
    return opt


def _check_ram_size(ram_size: int) -> int:
    if isinstance(ram_size, bool) or not isinstance(ram_size, int):
        raise CompileError(f"ram_size must be an integer number of bytes, not {ram_size!r}")
    if ram_size <= 0 or ram_size % 16 or ram_size > 0x8000_0000:
        raise CompileError(f"ram_size must be a positive multiple of 16 up to 2 GiB, not {ram_size:#x}")
    return ram_size


def compile(sources: Iterable[str | os.PathLike], output: str | os.PathLike,
            opt: str = "-O2", extra_flags: Iterable[str] = (),
            ram_size: int | None = None, *, verbose: bool = False) -> Path:
    """Compile and link C/assembly ``sources`` into the Gluon ELF ``output``.

    ``opt`` is one of ``-O0 -O1 -O2 -O3 -Os -Oz -Og`` and applies to the
    program's sources (the SDK library is always -O2).  ``extra_flags`` go to
    the compiler unchanged (``-I``, ``-D``, ``-W...``).  ``ram_size`` (bytes)
    moves the stack top and the link-time size check; default 128 KiB.
    Returns the output path.  Raises :class:`CompileError` with a readable
    message on any failure.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    sources = [Path(s) for s in sources]
    if not sources:
        raise CompileError("no source files given")
    for src in sources:
        if not src.is_file():
            raise CompileError(f"source file not found: {src}")
        if src.suffix not in SOURCE_SUFFIXES + OBJECT_SUFFIXES:
            raise CompileError(
                f"unsupported file type {src.suffix!r} for {src}; "
                f"expected {' '.join(SOURCE_SUFFIXES + OBJECT_SUFFIXES)}")
    _check_opt(opt)
    if isinstance(extra_flags, str):
        extra_flags = extra_flags.split()
    extra_flags = [str(f) for f in extra_flags]

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    objects = sdk_objects(verbose=verbose)

    with tempfile.TemporaryDirectory(prefix="gluon-cc-") as tmpdir:
        script = LINKER_SCRIPT
        if ram_size is not None:
            _check_ram_size(ram_size)
            # Zig's linker driver has no --defsym: define the symbol in a
            # wrapper script that link.ld's DEFINED() check picks up.
            script = Path(tmpdir) / "link.ld"
            script.write_text(f"__ram_size = {ram_size:#x};\nINCLUDE \"{LINKER_SCRIPT}\"\n")
        opt_flags = [opt] if opt in ("-O0", "-Og") else [opt, NO_FRAME_POINTER]
        # The program's own flags come first, so its -I directories are searched
        # before the SDK's.
        # Drivers go in an archive: only what the program uses is linked, and a program may
        # define a function of the same name itself.
        explicit = {src.resolve() for src in sources}
        drivers = [o for o in objects if o.name[:-2].endswith(".c") and
                   (DRIVERS_DIR / o.name[:-2]).exists() and
                   (DRIVERS_DIR / o.name[:-2]).resolve() not in explicit]
        explicit_drivers = [o for o in objects if (DRIVERS_DIR / o.name[:-2]).resolve() in explicit]
        core_objs = [o for o in objects if o not in drivers and o not in explicit_drivers]
        link_objs = core_objs
        if drivers:
            archive = Path(tmpdir) / "libgluon_drivers.a"
            _run([sys.executable, "-m", "ziglang", "ar", "rcs", str(archive), *map(str, drivers)],
                 "archiving the SDK drivers", verbose)
            link_objs = core_objs + [archive]
        cmd = [*_zig_cc(), *COMMON_FLAGS, *opt_flags, *extra_flags, "-I", str(INCLUDE_DIR),
               *sources, *link_objs,
               "-T", str(script), "-Wl,--gc-sections", "-o", str(output)]
        _run(cmd, "compiling " + " ".join(str(s) for s in sources), verbose)
    return output


def elf_to_bin(elf: str | os.PathLike, output: str | os.PathLike) -> Path:
    """Write the loadable image of ``elf`` as a flat binary starting at the RAM base."""
    elf, output = Path(elf), Path(output)
    if not elf.is_file():
        raise CompileError(f"ELF file not found: {elf}")
    output.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "ziglang", "objcopy", "-O", "binary", elf, output],
         f"converting {elf} to a binary")
    return output


def _parse_size(text: str) -> int:
    t = text.strip().lower()
    scale = 1
    if t.endswith(("k", "kib", "kb")):
        scale, t = 1024, t.rstrip("bi")[:-1]
    elif t.endswith(("m", "mib", "mb")):
        scale, t = 1024 * 1024, t.rstrip("bi")[:-1]
    try:
        return int(t, 0) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 65536, 0x10000 or 64K)") from None


parse_size = _parse_size           # `gluon sim --ram-size` reads sizes the same way


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gluon cc",
        description="Compile C/assembly for Gluon (RV32IM+Zicsr at 0x80000000) with the SDK.",
        epilog="Other options starting with '-' (-Wall, -std=c11, -fno-inline...) are passed to the compiler.",
        allow_abbrev=False)
    p.add_argument("sources", nargs="+", metavar="file", help="C (.c) or assembly (.S/.s) sources, objects (.o/.a)")
    p.add_argument("-o", dest="output", metavar="FILE", help="output ELF (default: first source's name with .elf)")
    p.add_argument("-O", dest="opt", default="2", choices=[o[2:] for o in OPT_LEVELS],
                   metavar="LEVEL", help="optimisation level: 0 1 2 3 s z g (default 2)")
    p.add_argument("-I", dest="include", action="append", default=[], metavar="DIR", help="add an include directory")
    p.add_argument("-D", dest="define", action="append", default=[], metavar="NAME[=VALUE]", help="define a macro")
    p.add_argument("--ram-size", type=_parse_size, metavar="SIZE",
                   help=f"RAM size in bytes, e.g. 64K (default {DEFAULT_RAM_SIZE // 1024}K)")
    p.add_argument("--bin", metavar="FILE", help="also write a flat binary image")
    p.add_argument("-v", "--verbose", action="store_true", help="print the compiler commands")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``gluon cc`` entry point; returns the process exit status (0 = success)."""
    parser = _parser()
    try:
        args, passthrough = parser.parse_known_intermixed_args(argv)
    except SystemExit as e:            # --help, or a usage error already printed
        return int(e.code or 0)
    stray = [a for a in passthrough if not a.startswith("-")]
    if stray:
        parser.print_usage(sys.stderr)
        print(f"gluon cc: error: unexpected argument(s): {' '.join(stray)}", file=sys.stderr)
        return 2
    flags = [f"-I{d}" for d in args.include] + [f"-D{d}" for d in args.define] + passthrough
    output = args.output or (Path(args.sources[0]).stem + ".elf")
    try:
        elf = compile(args.sources, output, opt="-O" + args.opt, extra_flags=flags,
                      ram_size=args.ram_size, verbose=args.verbose)
        if args.bin:
            elf_to_bin(elf, args.bin)
    except CompileError as e:
        print(f"gluon cc: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
