"""Firmware into block RAM: an ELF's loadable segments as the RAM's initial words, so the board
boots the program straight out of configuration.

The ELF is read by the project's one loader (:func:`gluon.firmware.elf.load_elf`), as the simulator
reads it, so a bitstream and a simulation start from the same memory image.
"""

from pathlib import Path

from gluon.firmware.elf import load_elf, LoadError
from gluon.hdl.soc import RAM_BASE


__all__ = ["ram_init_from_elf", "words_from_image", "default_firmware", "LoadError"]


def words_from_image(segments, *, ram_base=RAM_BASE, ram_size):
    """[(address, bytes)] -> list of little-endian 32-bit words from ``ram_base`` up to the last
    loaded word (the rest of RAM starts as zero). Gaps between segments are zero."""
    image = bytearray()
    for addr, data in segments:
        off = addr - ram_base
        if off < 0 or off + len(data) > ram_size:
            raise LoadError(f"segment [{addr:#010x}, {addr + len(data):#010x}) lies outside RAM "
                            f"[{ram_base:#010x}, {ram_base + ram_size:#010x})")
        if len(image) < off + len(data):
            image.extend(bytes(off + len(data) - len(image)))
        image[off:off + len(data)] = data
    image.extend(bytes(-len(image) % 4))
    return [int.from_bytes(image[i:i + 4], "little") for i in range(0, len(image), 4)]


def ram_init_from_elf(path, *, ram_size, ram_base=RAM_BASE):
    """The RAM initial contents (list of 32-bit words) holding the ELF at ``path``; raises
    :class:`LoadError` with a readable message when it is not a Gluon ELF or does not fit."""
    elf = load_elf(path, ram_base=ram_base, ram_size=ram_size)
    return words_from_image(elf.segments, ram_base=ram_base, ram_size=ram_size), elf


FW_DIR = Path(__file__).resolve().parent / "fw"


def default_firmware(out_dir, *, ram_size):
    """Build the firmware a board boots when none is given, into ``out_dir``; returns its path.

    With 32 KiB of RAM or more: the SDK's ``hello.c`` (greeting, printf, SYSINFO). Below that
    the SDK does not fit: ``hello.c`` at -Os ends at 8.1 KiB (its trap handler pulls printf
    in), the SDK's locked M-stack guard starts at the next 4 KiB boundary (12 KiB) and 4 KiB of
    stack come after it, past the top of a 16 KiB RAM. Smaller RAMs (the ULX3S-25F's 16 KiB,
    the 12F's 8 KiB) get ``fw/echo.c``: a bare-metal banner and UART echo with its own
    start-up code, a few hundred bytes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if ram_size >= 32 * 1024:
        from gluon.firmware import cc
        src = Path(cc.SDK_DIR) / "examples" / "hello.c"
        return cc.compile([src], out_dir / "hello.elf", opt="-Os", ram_size=ram_size)
    return compile_bare([FW_DIR / "start.S", FW_DIR / "echo.c"], out_dir / "echo.elf",
                        ram_size=ram_size)


def compile_bare(sources, output, *, ram_size, link_script="bare.ld", symbols=None, defines=()):
    """Compile a program without the SDK's runtime (own start-up code, ``fw/<link_script>``,
    ``__ram_size`` and the extra linker ``symbols`` defined, the preprocessor ``defines``) with
    the pip-installed Zig clang; includes the SDK's generated register header only."""
    import subprocess, sys, tempfile
    from gluon.firmware import cc
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gluon-fw-") as tmp:
        # Zig's linker driver has no --defsym: the RAM size goes in a wrapper script.
        script = Path(tmp) / "link.ld"
        defs = {"__ram_size": ram_size, **(symbols or {})}
        script.write_text("".join(f"{k} = {v:#x};\n" for k, v in defs.items())
                          + f"INCLUDE \"{FW_DIR / link_script}\"\n")
        cmd = [sys.executable, "-m", "ziglang", "cc", *cc.TARGET_FLAGS, "-Os", "-g",
               "-ffreestanding", "-nostdlib", "-fno-unwind-tables",
               "-fno-asynchronous-unwind-tables", "-fno-sanitize=all", "-ffunction-sections",
               "-fdata-sections", "-Wl,--gc-sections", f"-I{cc.INCLUDE_DIR}",
               *(f"-D{d}" for d in defines),
               "-T", str(script), *map(str, sources), "-o", str(output)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise LoadError(f"compiling {' '.join(map(str, sources))} failed:\n{proc.stderr.strip()}")
    return output
